"""Where an index's searchable parts live: FAISS files on disk (the default) or Milvus.

`NEWSQA_STORE` picks the store, so the same code serves a laptop and a cluster:

    faiss                      the index directory on disk (embedded; the default)
    milvus:./path.db           a Milvus Lite file (embedded Milvus, same client code as a server)
    http://host:19530          a Milvus server or cluster (https:// too; NEWSQA_MILVUS_TOKEN for auth)

The retriever talks to a store through two small shapes. A `VectorIndex` is the part of a FAISS
index it calls (a `faiss.Index` is one as it is); a `KeywordIndex` is what `LexicalIndex` offers.
Milvus provides both over its collections (see milvus_store.py). A `Store` reads the manifest,
loads a `LoadedIndex` and writes a build; every build is complete before readers can see it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .index import LoadedIndex

DEFAULT_COLLECTION = "newsqa"


class VectorIndex(Protocol):
    """Inner-product search over unit vectors, with the vectors kept (FAISS's names)."""

    ntotal: int
    d: int

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...  # (scores, ids), -1 pads

    # A remote index may add: prefetch(ids) (fetch vectors in one round trip) and search_in(q, k, ids).

    def reconstruct(self, i: int) -> np.ndarray: ...

    def reconstruct_n(self, start: int, n: int) -> np.ndarray: ...


class KeywordIndex(Protocol):
    """BM25 over passages: top-k (ids, scores), best first."""

    size: int

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class Store(Protocol):
    """One index's home: read its manifest, load it, and say how to rebuild it."""

    spec: StoreSpec

    def read_manifest(self) -> dict: ...

    def load(self) -> LoadedIndex: ...


@dataclass(frozen=True)
class StoreSpec:
    """A parsed NEWSQA_STORE: kind "faiss" or "milvus", and for Milvus its URI and alias."""

    kind: str = "faiss"
    uri: str = ""
    collection: str = DEFAULT_COLLECTION

    @property
    def is_milvus(self) -> bool:
        return self.kind == "milvus"

    def __str__(self) -> str:
        if not self.is_milvus:
            return "faiss"
        return self.uri if "://" in self.uri else f"milvus:{self.uri}"


def parse_store(spec: str | None = None) -> StoreSpec:
    """`faiss`, `milvus:<file.db>` or `http(s)://host:port`; anything else is a ValueError naming the forms."""
    spec = (spec if spec is not None else os.environ.get("NEWSQA_STORE", "")).strip()
    collection = os.environ.get("NEWSQA_MILVUS_COLLECTION", "").strip() or DEFAULT_COLLECTION
    if spec in ("", "faiss"):
        return StoreSpec()
    if spec.startswith("milvus:") and not spec.startswith("milvus://"):
        path = spec[len("milvus:"):]
        if not path.endswith(".db"):
            raise ValueError(f"NEWSQA_STORE={spec}: a Milvus Lite store is a file ending in .db, "
                             "e.g. milvus:./index/milvus.db")
        return StoreSpec("milvus", str(Path(path).expanduser().absolute()), collection)
    if spec.startswith(("http://", "https://", "tcp://", "grpc://")):
        return StoreSpec("milvus", spec, collection)
    raise ValueError(f"NEWSQA_STORE={spec!r} is not a store; use faiss, milvus:./path.db, or http://host:19530.")


def store_hint(spec: StoreSpec, index_dir: object) -> str:
    """The command that (re)builds this store."""
    env = f"NEWSQA_STORE={spec} " if spec.is_milvus else ""
    return f"Rebuild it with: {env}python -m assistant build --index {index_dir}"


class FaissStore:
    """The index directory on disk: what index.py has always read and written."""

    def __init__(self, spec: StoreSpec, index_dir: Path) -> None:
        self.spec, self.index_dir = spec, index_dir

    def read_manifest(self) -> dict:
        from .manifest import read_manifest

        return read_manifest(self.index_dir)[1]

    def load(self) -> LoadedIndex:
        from .index import load_index

        return load_index(self.index_dir)


def open_store(spec: str | StoreSpec | None, index_dir: Path) -> Store:
    """The store NEWSQA_STORE (or `spec`) names; `index_dir` stays home to the build lock and cache."""
    spec = spec if isinstance(spec, StoreSpec) else parse_store(spec)
    if spec.is_milvus:
        from .milvus_store import MilvusStore

        return MilvusStore(spec, index_dir)
    return FaissStore(spec, index_dir)


def is_up_to_date(spec: StoreSpec, index_dir: Path, articles_dir: Path, *, model: str, chunk: object,
                  sentence_vectors: str | None = None) -> bool:
    """`build --if-stale` for any store: built from these articles with this model, chunking and vectors."""
    if not spec.is_milvus:
        from .manifest import is_up_to_date as faiss_up_to_date

        return faiss_up_to_date(index_dir, articles_dir, model=model, chunk=chunk, sentence_vectors=sentence_vectors)
    from .corpus import corpus_sha256, load_articles
    from .errors import NewsQAError
    from .manifest import check_compatible

    try:
        manifest = open_store(spec, index_dir).read_manifest()
        check_compatible(manifest, index_dir, model=model, weights_sha256=None, chunk=chunk,
                         sentence_vectors=sentence_vectors)
    except NewsQAError:
        return False
    articles, _ = load_articles(articles_dir)
    return manifest.get("corpus", {}).get("sha256") == corpus_sha256(articles)
