"""The index on disk: build it atomically, load it with every check a user needs.

Layout of an index home (default `index/`)::

    index/
      current -> builds/<id>      symlink, swapped atomically when a build finishes
      builds/<id>/                one complete index:
        manifest.json             model, dimension, weights and corpus hashes, chunking, ...
        vectors.faiss             FAISS inner-product index over unit vectors
        passages.jsonl            one passage per line, in FAISS id order
        articles.jsonl            the cleaned articles the offsets point into
        sentences.jsonl/.faiss    sentence spans and vectors: sharper matching, and the answer's quotes
        background.npy            vectors of generic off-topic sentences: the abstention baseline
        bm25/                     the Korean BM25 state (bm25s)
      cache/embeddings.sqlite     vectors by content hash: rebuilds re-embed only what changed
      build.lock                  one build at a time

A build writes a temp directory and renames it into place, so a build that is
killed at any moment leaves the previous index loadable.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from . import korean
from .chunking import ChunkSettings, Passage, embedding_text, split_articles
from .corpus import Article, Skipped, corpus_sha256, load_articles
from .errors import BuildLocked, IndexCorrupt, NewsQAError, rebuild_hint
from .lexical import LexicalIndex
from .manifest import (
    FORMAT,
    MANIFEST,
    package_version,
    passage_mismatch,
    read_manifest,
)
from .precision import manifest_record

BACKGROUND = Path(__file__).parent / "data" / "background.txt"
# Exact search up to EXACT_LIMIT vectors, HNSW above: measured by `python -m assistant bench` on
# 2 cores (docs/scaling.md), one IndexFlatIP query takes ~1 ms at 10k vectors but ~50 ms at 100k
# and ~330 ms at 1M, while HNSW (M=32, efConstruction=80) answers in 0.1-0.5 ms at every size.
# efSearch=128 gave recall@10 0.9975 at 1M clustered vectors in 0.5 ms (64: 0.97; 256: 0.9985 in
# twice the time); the 1M index is 1.68 GiB. Applies to the passage and the sentence index.
EXACT_LIMIT = 10_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class Sentence:
    """A sentence inside a passage, with offsets into the article."""

    passage: int
    start: int
    end: int


@dataclass
class LoadedIndex:
    """Everything a retriever needs, read from one build directory."""

    path: Path
    manifest: dict
    faiss: object
    passages: list[Passage]
    articles: dict[str, Article]
    sentences: list[Sentence]
    sentence_faiss: object
    lexical: LexicalIndex
    background: np.ndarray
    sentence_rows: dict[int, range] = field(default_factory=dict)
    passage_ids: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.passage_ids = {(p.doc_id, p.start): i for i, p in enumerate(self.passages)}
        rows: dict[int, list[int]] = {}
        for row, s in enumerate(self.sentences):
            rows.setdefault(s.passage, []).append(row)
        self.sentence_rows = {p: range(r[0], r[-1] + 1) for p, r in rows.items()}

    def sentence_vectors(self, pid: int) -> tuple[range, np.ndarray]:
        """The rows and vectors of one passage's sentences (stored contiguously)."""
        rows = self.sentence_rows.get(pid, range(0))
        if not rows:
            return rows, np.zeros((0, self.sentence_faiss.d), dtype=np.float32)
        return rows, self.sentence_faiss.reconstruct_n(rows.start, len(rows))


def background_sentences() -> list[str]:
    """Generic sentences on other topics; how well a question matches them is its off-topic baseline."""
    lines = BACKGROUND.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


# --- FAISS ---------------------------------------------------------------------


def make_faiss(vectors: np.ndarray) -> tuple[object, dict]:
    """An inner-product index sized to the corpus: exact when small, HNSW when large."""
    import faiss

    n, dim = vectors.shape
    if n <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(dim)
        info = {"type": "IndexFlatIP"}
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        info = {"type": "IndexHNSWFlat", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION,
                "efSearch": HNSW_EF_SEARCH}
    if n:
        index.add(vectors)
    return index, info | {"ntotal": int(n), "exact_limit": EXACT_LIMIT}


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock; a second build fails fast instead of corrupting anything."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / "build.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise BuildLocked(
                f"Another build of {index_dir} is running ({holder}); wait for it to finish."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- build -------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    path: Path
    articles: int
    passages: int
    sentences: int
    embedded: int
    reused: int
    skipped: list[Skipped]
    seconds: float
    sentence_vectors: str = "separate"

    @property
    def passages_per_s(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0


def build_index(
    articles_dir: Path,
    index_dir: Path,
    *,
    embedder,  # noqa: ANN001 - embedding.Embedder (typed loosely to keep imports light)
    chunk: ChunkSettings | None = None,
    progress: bool = True,
    batch_size: int = 64,
    cache_dir: Path | None = None,
    embed=None,  # noqa: ANN001 - embed_with_cache's signature; distributed.RayEmbedding spreads it over Ray
    store=None,  # noqa: ANN001 - store.StoreSpec; None or faiss: this directory, milvus: a Milvus alias
    sentence_vectors: str | None = None,
) -> BuildReport:
    """Clean, split, embed and index every article; swap the result in atomically.

    `sentence_vectors` is "pooled" or "separate" (see vectors.py; default NEWSQA_SENTENCE_VECTORS).
    """
    from .embedding import EmbeddingCache
    from .vectors import effective_method, embed_corpus, sentence_method, work_units

    milvus = store is not None and store.is_milvus  # issue 11: where the build's parts are written

    chunk = chunk or ChunkSettings()
    method = effective_method(embedder, sentence_method(sentence_vectors))
    t0 = time.perf_counter()
    with build_lock(index_dir):
        articles, skipped = load_articles(articles_dir)
        if not articles:
            raise NewsQAError(f"No readable articles in {articles_dir} (.txt, .md, .html).")
        passages = split_articles(articles, chunk)
        texts = [embedding_text(p, chunk) for p in passages]
        spans = []  # per passage: its sentences as offsets into the text the model reads
        for p, text in zip(passages, texts):
            shift = len(text) - len(p.text)  # the title in front, if any
            spans.append([(shift + s, shift + e) for s, e in korean.sentences(p.text)])
        sentences = []
        for i, (p, text, ss) in enumerate(zip(passages, texts, spans)):
            base = p.start - (len(text) - len(p.text))  # embedding-text offsets -> article offsets
            sentences += [Sentence(i, base + s, base + e) for s, e in ss]
        n_vectors = len(passages) + len(sentences)

        cache = EmbeddingCache((cache_dir or index_dir / "cache") / "embeddings.sqlite")
        try:
            with _progress_bar(work_units(method, len(passages), len(sentences)), progress,
                               "passages" if method == "pooled" else "text") as bar:
                passage_vectors, sentence_vectors, embedded = embed_corpus(
                    embedder, texts, spans, cache, method=method, batch_size=batch_size, progress=bar, embed=embed
                )
        finally:
            cache.close()
        faiss_index, faiss_info = make_faiss(passage_vectors) if not milvus else (None, {})
        sentence_index, sentence_info = make_faiss(sentence_vectors) if not milvus else (None, {})
        lexical = LexicalIndex.build([p.text for p in passages]) if not milvus else None  # Milvus: its own BM25
        background = embedder.embed_passages(background_sentences())

        manifest = {
            "format": FORMAT,
            "package_version": package_version(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": {"name": embedder.name, "dim": embedder.dim, "weights_sha256": embedder.weights_sha256,
                      **manifest_record(embedder, method)},
            "corpus": {
                "sha256": corpus_sha256(articles),
                "articles": len(articles),
                "passages": len(passages),
                "sentences": len(sentences),
                "skipped": [str(s) for s in skipped],
            },
            "chunking": chunk.to_dict(),
            "sentence_vectors": method,
            "faiss": faiss_info,
            "sentence_faiss": sentence_info,
        }
        if milvus:  # a new set of collections, then the alias switches to them (milvus_store.py)
            from .milvus_store import write_build

            path = Path(write_build(store, manifest, passages, articles, sentences, passage_vectors,
                                    sentence_vectors, background))
        else:
            path = _write_build(index_dir, manifest, faiss_index, passages, articles, sentences,
                                sentence_index, lexical, background)
    return BuildReport(path, len(articles), len(passages), len(sentences), embedded,
                       n_vectors - embedded, skipped, time.perf_counter() - t0, method)


@contextmanager
def _progress_bar(total: int, enabled: bool, unit: str = "text") -> Iterator:
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, desc="embedding", disable=not enabled, dynamic_ncols=True) as bar:
        yield bar.update


def _write_build(index_dir: Path, manifest: dict, faiss_index: object, passages: list[Passage],
                 articles: list[Article], sentences: list[Sentence], sentence_index: object,
                 lexical: LexicalIndex, background: np.ndarray) -> Path:
    import faiss

    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    for stale in builds.glob(".tmp-*"):  # left by a killed build; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    for stale in index_dir.glob(".current-*"):  # a link a killed build made but did not swap in
        stale.unlink(missing_ok=True)
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    faiss.write_index(faiss_index, str(tmp / "vectors.faiss"))
    _write_jsonl(tmp / "passages.jsonl", (asdict(p) for p in passages))
    _write_jsonl(tmp / "articles.jsonl", (asdict(a) for a in articles))
    _write_jsonl(tmp / "sentences.jsonl", (asdict(s) for s in sentences))
    faiss.write_index(sentence_index, str(tmp / "sentences.faiss"))
    np.save(tmp / "background.npy", background)
    lexical.save(tmp / "bm25")
    manifest["files"] = {
        str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    _fsync_tree(tmp)

    final = builds / build_id
    os.rename(tmp, final)
    link = index_dir / f".current-{build_id}"
    os.symlink(Path("builds") / build_id, link)
    os.replace(link, index_dir / "current")
    _fsync_dir(index_dir)
    for old in builds.iterdir():
        if old.name != build_id and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write_jsonl(path: Path, rows: Iterator[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- load ----------------------------------------------------------------------------


def load_index(index_dir: Path) -> LoadedIndex:
    """Read a build and check its parts agree; every failure names the command that fixes it."""
    import faiss

    path, manifest = read_manifest(index_dir)
    hint = rebuild_hint(index_dir)
    for name, size in manifest.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise IndexCorrupt(f"The index at {index_dir} is missing {name}. {hint}")
        if f.stat().st_size != size:
            raise IndexCorrupt(
                f"The index file {name} at {index_dir} is {f.stat().st_size} bytes, "
                f"the manifest says {size} (truncated or modified). {hint}"
            )
    try:
        vectors = faiss.read_index(str(path / "vectors.faiss"))
        passages = [_typed(Passage, row) for row in _read_jsonl(path / "passages.jsonl")]
        articles = {a.doc_id: a for a in (_typed(Article, row) for row in _read_jsonl(path / "articles.jsonl"))}
        sentences = [_typed(Sentence, row) for row in _read_jsonl(path / "sentences.jsonl")]
        sentence_faiss = faiss.read_index(str(path / "sentences.faiss"))
        background = np.load(path / "background.npy")
        lexical = LexicalIndex.load(path / "bm25")
    except (RuntimeError, OSError, ValueError, TypeError, KeyError) as e:
        raise IndexCorrupt(f"The index at {index_dir} is unreadable ({_short(e)}). {hint}") from e

    dim = manifest.get("model", {}).get("dim")
    problems = []
    if vectors.ntotal != len(passages):
        problems.append(f"{vectors.ntotal} vectors but {len(passages)} passages")
    if vectors.d != dim:
        problems.append(f"vectors have dimension {vectors.d}, the manifest says {dim}")
    if lexical.size != len(passages):
        problems.append(f"BM25 covers {lexical.size} passages, not {len(passages)}")
    if background.ndim != 2 or background.shape[1] != dim:
        problems.append(f"background vectors have shape {background.shape}, not (n, {dim})")
    if manifest.get("sentence_vectors", "separate") not in ("pooled", "separate"):
        problems.append(f"unknown sentence vectors {manifest.get('sentence_vectors')!r}")
    if len(sentences) != sentence_faiss.ntotal:
        problems.append(f"{len(sentences)} sentences but {sentence_faiss.ntotal} sentence vectors")
    if any(not 0 <= s.passage < len(passages) for s in sentences):
        problems.append("a sentence belongs to no passage")
    problems += passage_mismatch(passages, articles)
    if problems:
        raise IndexCorrupt(f"The index at {index_dir} is inconsistent: {'; '.join(problems)}. {hint}")
    for index in (vectors, sentence_faiss):
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = manifest.get("faiss", {}).get("efSearch", HNSW_EF_SEARCH)
    return LoadedIndex(path, manifest, vectors, passages, articles, sentences, sentence_faiss, lexical, background)


def _typed(cls: type, row: object) -> object:
    """A dataclass from a JSON row, refusing wrong types now rather than deep inside a query."""
    if not isinstance(row, dict):
        raise ValueError(f"a {cls.__name__} row is {type(row).__name__}, not an object")
    obj = cls(**row)
    for f in fields(cls):
        want = {"str": str, "int": int}.get(f.type)
        value = getattr(obj, f.name)
        if want and (not isinstance(value, want) or isinstance(value, bool)):
            raise ValueError(f"{cls.__name__}.{f.name} is {type(value).__name__}, not {f.type}")
    return obj


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path.name} line {n}: {e.msg}") from e
    return rows


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:200] if text else type(e).__name__
