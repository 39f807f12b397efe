"""The FAISS store: an index directory on disk, written atomically and loaded with every check.

A build is written to `builds/.tmp-<id>`, fsynced, renamed to `builds/<id>`, and `current` is
swapped to it by one atomic rename, so a build killed at any moment leaves the previous index
loadable. Loading checks every file against the manifest; each failure names the command that fixes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from assistant.errors import IndexCorrupt, rebuild_hint
from assistant.index.lexical import LexicalIndex
from assistant.index.manifest import MANIFEST, passage_mismatch, read_manifest
from assistant.index.store import LoadedIndex, Sentence, StoreSpec
from assistant.ingest.chunking import Passage
from assistant.ingest.corpus import Article

# Exact search up to EXACT_LIMIT vectors, HNSW above: measured by `python -m assistant bench` on
# 2 cores (docs/scaling.md), one IndexFlatIP query takes ~1 ms at 10k vectors but ~50 ms at 100k
# and ~330 ms at 1M, while HNSW (M=32, efConstruction=80) answers in 0.1-0.5 ms at every size.
# efSearch=128 gave recall@10 0.9975 at 1M clustered vectors in 0.5 ms (64: 0.97; 256: 0.9985 in
# twice the time); the 1M index is 1.68 GiB. Applies to the passage and the sentence index.
EXACT_LIMIT = 10_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


class FaissVectors:
    """A `faiss.Index` as the store seam's `VectorIndex`: everything FAISS-specific (the ID selector, HNSW's
    search parameters) stays here, so the retriever never imports faiss."""

    def __init__(self, index) -> None:  # noqa: ANN001 - a faiss.Index
        self.index = index

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def d(self) -> int:
        return self.index.d

    def search(self, q: np.ndarray, k: int, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(q, k, **kwargs)

    def search_in(self, q: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's own ID selector; HNSW keeps its efSearch under it."""
        import faiss

        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((len(q), 0), dtype=np.float32), np.zeros((len(q), 0), dtype=np.int64)
        selector = faiss.IDSelectorBatch(ids)
        params = (faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
                  if isinstance(self.index, faiss.IndexHNSW) else faiss.SearchParameters(sel=selector))
        return self.index.search(q, min(k, len(ids)), params=params)

    def prefetch(self, ids: object) -> None:
        """Nothing to do: the vectors are in memory."""

    def reconstruct(self, i: int) -> np.ndarray:
        return self.index.reconstruct(i)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return self.index.reconstruct_n(start, n)


class FaissStore:
    """The index directory on disk: what the index has always been read from and written to."""

    def __init__(self, spec: StoreSpec, index_dir: Path) -> None:
        self.spec, self.index_dir = spec, index_dir

    def read_manifest(self) -> dict:
        return read_manifest(self.index_dir)[1]

    def load(self) -> LoadedIndex:
        return load_index(self.index_dir)

    def write_build(self, manifest: dict, passages: list[Passage], articles: list[Article],
                    sentences: list[Sentence], passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                    background: np.ndarray) -> Path:
        """FAISS over the passage and sentence vectors, BM25 over the passages, written as one build."""
        faiss_index, manifest["faiss"] = make_faiss(passage_vectors)
        sentence_index, manifest["sentence_faiss"] = make_faiss(sentence_vectors)
        lexical = LexicalIndex.build([p.text for p in passages])
        return _write_build(self.index_dir, manifest, faiss_index, passages, articles, sentences,
                            sentence_index, lexical, background)


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
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = manifest.get("faiss", {}).get("efSearch", HNSW_EF_SEARCH)
    return LoadedIndex(path, manifest, FaissVectors(vectors), passages, articles, sentences,
                       FaissVectors(sentence_faiss), lexical, background)


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
