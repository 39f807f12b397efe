"""Where an index's searchable parts live: FAISS files on disk (the default) or Milvus.

`NEWSQA_STORE` picks the store, so the same code serves a laptop and a cluster:

    faiss                      the index directory on disk (embedded; the default)
    milvus:./path.db           a Milvus Lite file (embedded Milvus, same client code as a server)
    http://host:19530          a Milvus server or cluster (https:// too; NEWSQA_MILVUS_TOKEN for auth)

The retriever talks to a store through two small shapes. A `VectorIndex` is the part of a FAISS
index it calls (a `faiss.Index` is one as it is); a `KeywordIndex` is what `LexicalIndex` offers.
Milvus provides both over its collections (see milvus_store.py). A `Store` reads the manifest,
loads a `LoadedIndex` and writes a build; every build is complete before readers can see it.

This module is the seam: it owns the protocols and the types every store shares (`LoadedIndex`,
`Sentence`, `StoreSpec`) and imports no store. faiss_store.py and milvus_store.py implement it;
stores.py picks one; building (index.py) and searching (retriever.py) talk only to the seam.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from assistant.ingest.chunking import Passage
    from assistant.ingest.corpus import Article

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
    faiss: VectorIndex
    passages: list[Passage]
    articles: dict[str, Article]
    sentences: list[Sentence]
    sentence_faiss: VectorIndex
    lexical: KeywordIndex
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


class Store(Protocol):
    """One index's home: read its manifest, load it, and say how to rebuild it."""

    spec: StoreSpec

    def read_manifest(self) -> dict: ...

    def load(self) -> LoadedIndex: ...

    def write_build(self, manifest: dict, passages: list[Passage], articles: list[Article],
                    sentences: list[Sentence], passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                    background: np.ndarray) -> object: ...  # the new build's path (a Milvus alias for Milvus)


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
