"""The index in Milvus: passages, their vectors, sentence vectors and BM25, behind one alias.

One build is three collections named after it (`<alias>_<build>_passages`, `_sentences`,
`_meta`). The build fills and indexes all three, checks their counts, and only then points the
alias `<alias>` at the new meta collection, whose manifest names the other two; readers resolve
the alias once, so they see the old build or the new one, never half of one. Old builds are
dropped after the switch. A failed build drops what it made and leaves the alias alone.

The keyword leg is Milvus's own BM25 full-text search over Kiwi morphemes: each passage's
morphemes (`korean.tokens`, as bm25s gets them) are joined by spaces into a `tokens` field, and a
BM25 function turns them into sparse vectors; questions are tokenised the same way. Milvus Lite
offers only the "standard" and "jieba" tokenizers (no "whitespace"), and "standard" would split a
morpheme such as "3.5" at its dot, so a morpheme that is not all letters and digits is written as
`0x` + its UTF-8 hex (`term`). k1/b match bm25s's defaults. Milvus Lite (`milvus:./file.db`) runs the same client
code in-process; a server URI talks to a Milvus cluster.

The serving process keeps passage and sentence offsets and the articles in memory, as the FAISS store
does (the answer quotes from them); vectors stay in Milvus, fetched per question in one round trip (`prefetch`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing, NewsQAError
from assistant.index.store import LoadedIndex, Sentence, StoreSpec, store_hint
from assistant.ingest.chunking import Passage
from assistant.ingest.corpus import Article

# Same policy as the FAISS store (faiss_store.py): exact below EXACT_LIMIT vectors, HNSW above.
EXACT_LIMIT = 10_000
HNSW = {"M": 32, "efConstruction": 80}
EF_SEARCH = 128
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, so both keyword legs rank alike
INSERT_ROWS = 2_000
MAX_LIMIT = 16_384  # Milvus's cap on one search's top-k
TEXT_PART = 16_000  # characters per VARCHAR row: 4 bytes each at most, under Milvus's 65,535-byte cap
_BUILD_NAME = re.compile(r"^(?P<alias>.+)_(?P<build>b\d{8}t\d{6}_[0-9a-f]{6})_(passages|sentences|meta)$")
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def client(spec: StoreSpec) -> object:
    """One MilvusClient per URI per process (Milvus Lite allows one opener of a file)."""
    from pymilvus import MilvusClient

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # not a warning per query_iterator call
    with _clients_lock:
        c = _clients.get(spec.uri)
        if c is None:
            if not spec.uri.startswith(("http://", "https://", "tcp://", "grpc://")):
                Path(spec.uri).parent.mkdir(parents=True, exist_ok=True)
            from pymilvus.exceptions import MilvusException

            try:
                c = MilvusClient(uri=spec.uri, token=spec.token)
            except MilvusException as e:
                raise NewsQAError(f"Cannot open Milvus at {spec} ({e.message}). Start it, fix NEWSQA_STORE, "
                                  "or set NEWSQA_STORE=faiss for the files under index/.") from None
            _clients[spec.uri] = c
        return c


def close_clients() -> None:
    """Close every client this process opened (tests, and before a Milvus Lite file is reopened)."""
    with _clients_lock:
        for c in _clients.values():
            c.close()
        _clients.clear()


# --- build -----------------------------------------------------------------------------


def write_build(spec: StoreSpec, manifest: dict, passages: Sequence[Passage], articles: Sequence[Article],
                sentences: Sequence, passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                background: np.ndarray) -> str:
    """Write a complete build into new collections, then switch the alias to it; returns its name."""
    from assistant.ingest import korean

    c = client(spec)
    dim = int(passage_vectors.shape[1])
    build = "b" + dt.datetime.now(dt.UTC).strftime("%Y%m%dt%H%M%S") + "_" + uuid.uuid4().hex[:6]
    names = {part: f"{spec.collection}_{build}_{part}" for part in ("passages", "sentences", "meta")}
    try:
        _create(c, names["passages"], dim, len(passages), keyword=True)
        _insert(c, names["passages"], (
            {"id": i, "doc_id": p.doc_id, "data": json.dumps(asdict(p), ensure_ascii=False),
             "tokens": _terms(korean.tokens(p.text)), "vector": passage_vectors[i].tolist()}
            for i, p in enumerate(passages)))
        _create(c, names["sentences"], dim, len(sentences))
        _insert(c, names["sentences"], (
            {"id": i, "doc_id": "", "data": json.dumps([s.passage, s.start, s.end]),
             "vector": sentence_vectors[i].tolist()}
            for i, s in enumerate(sentences)))
        manifest = manifest | {"store": {"kind": "milvus", "uri": str(spec), "alias": spec.collection,
                                         "build": build, "collections": names, "index": _index_info(0)}}
        manifest["faiss"] = {"type": "milvus", "passages": _index_info(len(passages))}
        manifest["sentence_faiss"] = {"type": "milvus", "sentences": _index_info(len(sentences))}
        _create(c, names["meta"], dim, len(background) + 1)
        rows = [{"id": i, "doc_id": "background", "data": "", "vector": v.tolist()} for i, v in enumerate(background)]
        rows += _blob_rows("manifest", json.dumps(manifest, ensure_ascii=False), len(rows), dim)
        for a in articles:
            rows += _blob_rows(a.doc_id, json.dumps(asdict(a), ensure_ascii=False), len(rows), dim)
        _insert(c, names["meta"], iter(rows))
        for name in names.values():
            c.flush(name)
        counts = {part: _count(c, names[part]) for part in names}
        want = {"passages": len(passages), "sentences": len(sentences), "meta": len(rows)}
        if counts != want:
            raise IndexCorrupt(f"Milvus holds {counts} rows after the build, expected {want}; "
                               "the alias was not switched.")
        for name in names.values():
            c.load_collection(name)
        old = _resolve(c, spec.collection)
        if old:
            c.alter_alias(collection_name=names["meta"], alias=spec.collection)
        else:
            c.create_alias(collection_name=names["meta"], alias=spec.collection)
    except BaseException:
        for name in names.values():
            if c.has_collection(name):
                c.drop_collection(name)
        raise
    _drop_old_builds(c, spec.collection, keep=build)
    return names["meta"]


def term(token: str) -> str:
    """A morpheme as one token of Milvus's standard tokenizer (it splits at anything but letters and digits)."""
    return token if token.isalnum() else "0x" + token.encode("utf-8").hex()


def _terms(tokens: Sequence[str]) -> str:
    return " ".join(term(t) for t in tokens) or "0x00"  # a passage with no content morpheme still gets a row


def _index_info(n: int) -> dict:
    if n <= EXACT_LIMIT:
        return {"type": "FLAT", "metric": "IP"}
    return {"type": "HNSW", "metric": "IP", **HNSW, "ef": EF_SEARCH}


def _create(c: object, name: str, dim: int, n: int, *, keyword: bool = False) -> None:
    """A collection of (id, doc_id, data JSON, vector) rows; the passages add tokens and BM25."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("data", DataType.VARCHAR, max_length=65_535)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = c.prepare_index_params()
    info = _index_info(n)
    params = {k: v for k, v in info.items() if k in ("M", "efConstruction")}
    index.add_index(field_name="vector", index_type=info["type"], metric_type="IP", params=params)
    if keyword:
        schema.add_field("tokens", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=BM25_PARAMS)
    c.create_collection(collection_name=name, schema=schema, index_params=index)


def _insert(c: object, name: str, rows: Iterator[dict]) -> None:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= INSERT_ROWS:
            c.insert(collection_name=name, data=batch)
            batch = []
    if batch:
        c.insert(collection_name=name, data=batch)


def _blob_rows(key: str, text: str, first_id: int, dim: int) -> list[dict]:
    """A long JSON text as numbered VARCHAR parts (Milvus caps one at 65,535 bytes)."""
    parts = [text[i : i + TEXT_PART] for i in range(0, len(text), TEXT_PART)] or [""]
    zero = [0.0] * dim
    return [{"id": first_id + n, "doc_id": key, "data": part, "vector": zero} for n, part in enumerate(parts)]


def _count(c: object, name: str) -> int:
    return int(c.query(collection_name=name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _resolve(c: object, alias: str) -> str | None:
    """The collection an alias points at, or None."""
    if alias not in c.list_aliases().get("aliases", []):
        return None
    return c.describe_alias(alias=alias).get("collection_name")


def _drop_old_builds(c: object, alias: str, keep: str) -> None:
    current = _resolve(c, alias)
    for name in c.list_collections():
        m = _BUILD_NAME.match(name)
        if m and m["alias"] == alias and m["build"] != keep and name != current:
            c.drop_collection(name)


# --- load ----------------------------------------------------------------------------


class MilvusStore:
    """A Milvus-held index, read through its alias (see store.Store)."""

    def __init__(self, spec: StoreSpec, index_dir: Path) -> None:
        self.spec, self.index_dir = spec, index_dir
        self._manifest: dict | None = None

    @property
    def hint(self) -> str:
        return store_hint(self.spec, self.index_dir)

    def read_manifest(self) -> dict:
        if self._manifest is not None:
            return self._manifest
        c = client(self.spec)
        meta = _resolve(c, self.spec.collection)
        if meta is None:
            raise IndexMissing(f"No index in Milvus at {self.spec} (alias {self.spec.collection!r}). "
                               f"Build it with: NEWSQA_STORE={self.spec} python -m assistant build")
        c.load_collection(meta)
        text = "".join(r["data"] for r in _blob(c, meta, "manifest"))
        try:
            manifest = json.loads(text)
        except ValueError as e:
            raise IndexCorrupt(f"The manifest in Milvus collection {meta} is unreadable ({e}). {self.hint}") from e
        from assistant.index.manifest import FORMAT

        if manifest.get("format") != FORMAT:
            raise IndexMismatch(f"The index in Milvus at {self.spec} has format {manifest.get('format')}, "
                                f"this version reads {FORMAT}. {self.hint}")
        self._manifest = manifest
        return manifest

    def write_build(self, manifest: dict, passages: Sequence[Passage], articles: Sequence[Article],
                    sentences: Sequence[Sentence], passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                    background: np.ndarray) -> str:  # new collections, then the alias switches to them
        return write_build(self.spec, manifest, passages, articles, sentences, passage_vectors, sentence_vectors,
                           background)

    def load(self) -> LoadedIndex:
        from assistant.index.manifest import passage_mismatch

        manifest = self.read_manifest()
        c = client(self.spec)
        names = manifest["store"]["collections"]
        for name in names.values():
            if not c.has_collection(name):
                raise IndexCorrupt(f"Milvus collection {name} of this index is gone. {self.hint}")
            c.load_collection(name)
        rows = sorted(_scan(c, names["passages"], ["id", "data"]), key=lambda r: r["id"])
        passages = [Passage(**json.loads(r["data"])) for r in rows]
        rows = sorted(_scan(c, names["sentences"], ["id", "data"]), key=lambda r: r["id"])
        sentences = [Sentence(*json.loads(r["data"])) for r in rows]
        meta = sorted(_scan(c, names["meta"], ["id", "doc_id", "data", "vector"]), key=lambda r: r["id"])
        background = np.array([r["vector"] for r in meta if r["doc_id"] == "background"], dtype=np.float32)
        blobs: dict[str, list[str]] = {}
        for r in meta:
            if r["doc_id"] not in ("background", "manifest"):
                blobs.setdefault(r["doc_id"], []).append(r["data"])
        articles = {k: Article(**json.loads("".join(parts))) for k, parts in blobs.items()}

        dim = int(manifest["model"]["dim"])
        corpus = manifest.get("corpus", {})
        problems = []
        if len(passages) != corpus.get("passages"):
            problems.append(f"{len(passages)} passages, the manifest says {corpus.get('passages')}")
        if len(sentences) != corpus.get("sentences"):
            problems.append(f"{len(sentences)} sentences, the manifest says {corpus.get('sentences')}")
        if len(articles) != corpus.get("articles"):
            problems.append(f"{len(articles)} articles, the manifest says {corpus.get('articles')}")
        problems += passage_mismatch(passages, articles)
        if problems:
            raise IndexCorrupt(f"The index in Milvus at {self.spec} is inconsistent: "
                               f"{'; '.join(problems)}. {self.hint}")
        return LoadedIndex(Path(names["meta"]), manifest,
                           MilvusVectors(c, names["passages"], dim, len(passages)), passages, articles, sentences,
                           MilvusVectors(c, names["sentences"], dim, len(sentences)),
                           MilvusKeyword(c, names["passages"], len(passages)), background)


def _blob(c: object, collection: str, key: str) -> list[dict]:
    rows = c.query(collection_name=collection, filter=f'doc_id == "{key}"', output_fields=["id", "data"])
    return sorted(rows, key=lambda r: r["id"])


def _scan(c: object, collection: str, fields: list[str], batch: int = 5_000) -> Iterator[dict]:
    it = c.query_iterator(collection_name=collection, batch_size=batch, filter="", output_fields=fields)
    try:
        while rows := it.next():
            yield from rows
    finally:
        it.close()


class MilvusVectors:
    """A Milvus collection through the FAISS calls the retriever makes (store.VectorIndex).

    Vectors fetched for a question are kept in a small LRU, so `prefetch` of all candidates
    costs one round trip and the per-passage `reconstruct` calls after it cost none.
    """

    def __init__(self, c: object, collection: str, dim: int, ntotal: int, cache_size: int = 20_000) -> None:
        self.client, self.collection, self.d, self.ntotal = c, collection, dim, ntotal
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def search(self, q: np.ndarray, k: int, expr: str = "") -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(q, dtype=np.float32).reshape(-1, self.d)
        res = self.client.search(collection_name=self.collection, data=q.tolist(), anns_field="vector", filter=expr,
                                 limit=min(k, MAX_LIMIT),
                                 search_params={"metric_type": "IP", "params": {"ef": max(EF_SEARCH, k)}},
                                 output_fields=["id"])
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        for row, hits in enumerate(res):
            for j, h in enumerate(hits[:k]):
                ids[row, j], scores[row, j] = int(h["id"]), float(h["distance"])
        return scores, ids

    def search_in(self, q: np.ndarray, k: int, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """`search` restricted to `ids` (a date range, say): Milvus filters on the primary key."""
        ids = [int(i) for i in ids]
        if not ids:
            return np.zeros((1, 0), dtype=np.float32), np.zeros((1, 0), dtype=np.int64)
        return self.search(q, min(k, len(ids)), expr=f"id in {ids}")

    def prefetch(self, ids: Sequence[int]) -> None:
        with self._lock:
            missing = sorted({int(i) for i in ids} - self._cache.keys())
        for b in range(0, len(missing), 1_000):
            part = missing[b : b + 1_000]
            rows = self.client.query(collection_name=self.collection, ids=part, output_fields=["id", "vector"])
            with self._lock:
                for r in rows:
                    self._cache[int(r["id"])] = np.asarray(r["vector"], dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        ids = list(range(int(start), int(start) + int(n)))
        self.prefetch(ids)
        with self._lock:
            found = [self._cache.get(i) for i in ids]
        if any(v is None for v in found):  # evicted between the fetch and now, or absent
            rows = self.client.query(collection_name=self.collection, ids=ids, output_fields=["id", "vector"])
            by_id = {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}
            if len(by_id) != len(ids):
                raise RuntimeError(f"Milvus collection {self.collection} lacks vectors {ids[0]}..{ids[-1]}")
            found = [by_id[i] for i in ids]
        return np.stack(found) if found else np.zeros((0, self.d), dtype=np.float32)

    def reconstruct(self, i: int) -> np.ndarray:
        return self.reconstruct_n(int(i), 1)[0]


class MilvusKeyword:
    """Milvus BM25 full-text search over Kiwi morphemes (store.KeywordIndex)."""

    def search_in(self, query: str, k: int, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """`search` restricted to `ids`, filtered inside Milvus."""
        return self.search(query, k, expr=f"id in {[int(i) for i in ids]}")

    def __init__(self, c: object, collection: str, size: int) -> None:
        self.client, self.collection, self.size = c, collection, size

    def search(self, query: str, k: int, expr: str = "") -> tuple[np.ndarray, np.ndarray]:
        from assistant.ingest.korean import tokens

        terms = [term(t) for t in tokens(query)]
        if not terms or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        res = self.client.search(collection_name=self.collection, data=[" ".join(terms)], anns_field="sparse",
                                 limit=min(k, self.size, MAX_LIMIT), search_params={"metric_type": "BM25"},
                                 filter=expr, output_fields=["id"])
        # Milvus Lite 3.2 reports BM25 as a distance (the negated score); abs() reads the score either way.
        # Milvus keeps BM25's (k1 + 1) numerator, bm25s (Lucene's variant) drops it: same ranking, and
        # dividing it out gives the keyword leg the same scores under either store.
        scale = 1 + BM25_PARAMS["bm25_k1"]
        hits = [(int(h["id"]), abs(float(h["distance"])) / scale) for h in res[0] if float(h["distance"]) != 0]
        return (np.array([i for i, _ in hits], dtype=np.int64), np.array([s for _, s in hits], dtype=np.float32))
