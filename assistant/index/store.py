"""Where an index's searchable parts live: FAISS files on disk (the default) or Milvus.

`NEWSQA_STORE` picks the store, so the same code serves a laptop and a cluster:

    faiss                      the index directory on disk (embedded; the default)
    milvus:./path.db           a Milvus Lite file (embedded Milvus, same client code as a server)
    http://host:19530          a Milvus server or cluster (https:// too; NEWSQA_MILVUS_TOKEN for auth)

The retriever talks to a store through two small shapes, each declaring every capability it uses:
a `VectorIndex` (FAISS's names; faiss_store.py wraps a `faiss.Index`, milvus_store.py a collection)
searches, searches within a subset of ids and prefetches vectors (a no-op where they are local); a
`KeywordIndex` (BM25) searches and searches within a subset. No caller probes for a capability.
A `Store` reads the manifest, loads a `LoadedIndex` and writes a build; every build is complete
before readers can see it.

This module is the seam: it owns the protocols and the types every store shares (`LoadedIndex`,
`Sentence`, `StoreSpec`) and imports no store. faiss_store.py and milvus_store.py implement it;
stores.py picks one; building (index.py) and searching (retriever.py) talk only to the seam.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant import env_settings as environment

if TYPE_CHECKING:
    from collections.abc import Sequence

    from assistant.ingest.chunking import Passage
    from assistant.ingest.corpus import Article

DEFAULT_COLLECTION = "newsqa"


class VectorIndex(Protocol):
    """Inner-product search over unit vectors, with the vectors kept (FAISS's names)."""

    ntotal: int
    d: int

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...  # (scores, ids), -1 pads

    def search_in(self, q: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like `search`, over the given ids only (a date filter)."""
        ...

    def prefetch(self, ids: Sequence[int]) -> None:
        """Fetch these vectors in one round trip before `reconstruct` asks for them one by one (a remote store);
        a no-op where vectors are local."""
        ...

    def reconstruct(self, i: int) -> np.ndarray: ...

    def reconstruct_n(self, start: int, n: int) -> np.ndarray: ...


class KeywordIndex(Protocol):
    """BM25 over passages: top-k (ids, scores), best first."""

    size: int

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def search_in(self, query: str, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like `search`, over the given passage ids only."""
        ...


@dataclass(frozen=True)
class Sentence:
    """A sentence inside a passage, with offsets into the article."""

    passage: int
    start: int
    end: int


@dataclass(frozen=True)
class SentenceText:
    """A sentence of a passage with its text: its row in the sentence vectors, its offsets in the article."""

    row: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PassageSentences:
    """One passage's sentences as the reading steps use them: the rows, their vectors (one per row, in order)
    and each sentence with its text."""

    rows: range
    vectors: np.ndarray
    items: tuple[SentenceText, ...]

    def scored(self, qvec: np.ndarray) -> list[tuple[SentenceText, float]]:
        """Each sentence with its cosine to `qvec` (unit vectors), in passage order."""
        return [(s, float(score)) for s, score in zip(self.items, self.vectors @ qvec)]


@dataclass
class LoadedIndex:
    """Everything a retriever needs, read from one build. Treated as immutable once loaded: a new build is a new
    `LoadedIndex`, swapped in whole (`Retriever.swap`), so one question reads one of them from start to end."""

    path: Path
    manifest: dict
    passage_index: VectorIndex
    passages: list[Passage]
    articles: dict[str, Article]
    sentences: list[Sentence]
    sentence_index: VectorIndex
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

    @property
    def faiss(self) -> VectorIndex:
        """The passages' vector index under its first name (kept for callers written when FAISS was the only store)."""
        return self.passage_index

    @property
    def sentence_faiss(self) -> VectorIndex:
        """The sentences' vector index under its first name."""
        return self.sentence_index

    def sentence_vectors(self, pid: int) -> tuple[range, np.ndarray]:
        """The rows and vectors of one passage's sentences (stored contiguously)."""
        rows = self.sentence_rows.get(pid, range(0))
        if not rows:
            return rows, np.zeros((0, self.sentence_index.d), dtype=np.float32)
        return rows, self.sentence_index.reconstruct_n(rows.start, len(rows))

    def passage_sentences(self, doc_id: str, start: int) -> PassageSentences:
        """The sentences of the passage at (doc_id, start) (a hit's place): the one walk from a hit to its
        sentences' rows, vectors and text that quoting, the reader and the answer share."""
        rows, vecs = self.sentence_vectors(self.passage_ids[(doc_id, start)])
        text = self.articles[doc_id].text
        items = tuple(SentenceText(row, (s := self.sentences[row]).start, s.end, text[s.start:s.end]) for row in rows)
        return PassageSentences(rows, vecs, items)


class Store(Protocol):
    """One index's home: read its manifest, load it, and say how to rebuild it."""

    spec: StoreSpec

    def read_manifest(self) -> dict: ...

    def load(self) -> LoadedIndex: ...

    def write_build(self, manifest: dict, passages: list[Passage], articles: list[Article],
                    sentences: list[Sentence], passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                    background: np.ndarray) -> object: ...  # the new build's path (a Milvus alias for Milvus)


class StoreKind(environment.Choice):
    """Where an index lives: FAISS files under the index directory, or Milvus (Lite or a server)."""

    FAISS = "faiss"
    MILVUS = "milvus"


@dataclass(frozen=True)
class StoreSpec:
    """A parsed NEWSQA_STORE: kind "faiss" or "milvus", and for Milvus its URI and alias."""

    kind: StoreKind = StoreKind.FAISS
    uri: str = ""
    collection: str = DEFAULT_COLLECTION
    token: str = field(default="", repr=False, compare=False)  # a Milvus server's (NEWSQA_MILVUS_TOKEN)

    @property
    def is_milvus(self) -> bool:
        return self.kind == StoreKind.MILVUS

    def __str__(self) -> str:
        if not self.is_milvus:
            return "faiss"
        return self.uri if "://" in self.uri else f"milvus:{self.uri}"


def parse_store(spec: str | None = None, collection: str = "", token: str | None = None) -> StoreSpec:
    """`faiss`, `milvus:<file.db>` or `http(s)://host:port`; anything else is a ValueError naming the forms.
    What is not given comes from NEWSQA_STORE, NEWSQA_MILVUS_COLLECTION and NEWSQA_MILVUS_TOKEN."""
    spec = (spec if spec is not None else environment.value("NEWSQA_STORE")).strip()
    collection = (collection or environment.value("NEWSQA_MILVUS_COLLECTION") or DEFAULT_COLLECTION).strip()
    token = token if token is not None else environment.value("NEWSQA_MILVUS_TOKEN")
    if spec in ("", "faiss"):
        return StoreSpec()
    if spec.startswith("milvus:") and not spec.startswith("milvus://"):
        path = spec[len("milvus:"):]
        if not path.endswith(".db"):
            raise ValueError(f"NEWSQA_STORE={spec}: a Milvus Lite store is a file ending in .db, "
                             "e.g. milvus:./index/milvus.db")
        return StoreSpec(StoreKind.MILVUS, str(Path(path).expanduser().absolute()), collection, token)
    if spec.startswith(("http://", "https://", "tcp://", "grpc://")):
        return StoreSpec(StoreKind.MILVUS, spec, collection, token)
    raise ValueError(f"NEWSQA_STORE={spec!r} is not a store; use faiss, milvus:./path.db, or http://host:19530.")


def store_hint(spec: StoreSpec, index_dir: object) -> str:
    """The command that (re)builds this store."""
    env = f"NEWSQA_STORE={spec} " if spec.is_milvus else ""
    return f"Rebuild it with: {env}python -m assistant build --index {index_dir}"
