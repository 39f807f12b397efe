"""Find the passages that answer a question, in Korean or English.

Dense search (multilingual e5 + FAISS) finds Korean passages for English
questions. For Hangul questions a Korean BM25 leg is fused in with reciprocal
rank fusion; English questions stay dense-only, because BM25 on English words
only matches the few Latin terms in Korean text (see eval/report.md).
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import normalize
from .index import LoadedIndex, check_compatible, load_index, read_manifest
from .korean import has_hangul
from .settings import Settings, default_index_dir
from .vectors import effective_method

METHODS = ("dense", "bm25", "hybrid", "routed")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage: where it is, what it says, and how it scored."""

    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    rank: int
    dense: float | None = None  # cosine similarity to the question
    lexical: float | None = None  # BM25 score, when the keyword leg found it
    method: str = "dense"


def clean_question(question: object, max_chars: int = 4000) -> tuple[str, list[str]]:
    """Validate and tidy a question; returns (question, notices). Empty input is a ValueError."""
    if not isinstance(question, str):
        raise ValueError("The question must be text.")
    notices = []
    if len(question) > max_chars:
        question = question[:max_chars]
        notices.append(f"The question was longer than {max_chars} characters; only the start was used.")
    text = " ".join(normalize(question).split())
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        raise ValueError("Please ask a question: it is empty or has no letters or digits.")
    return text, notices


def route(question: str, settings: Settings) -> str:
    """The method a question is answered with, by its script (chosen per language on the dev split)."""
    return settings.korean_method if has_hangul(question) else settings.english_method


class Retriever:
    """Search one loaded index with one embedding model."""

    def __init__(self, index: LoadedIndex, embedder, settings: Settings | None = None) -> None:  # noqa: ANN001
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()  # the UI answers from several threads

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None,
             embedder=None) -> Retriever:  # noqa: ANN001
        """Load an index and its model; fails with the command to run if they don't match."""
        from .embedding import Embedder

        settings = settings or Settings()
        index_dir = Path(index_dir) if index_dir else default_index_dir()
        _, manifest = read_manifest(index_dir)  # fail fast, before loading the model
        check_compatible(manifest, index_dir, model=settings.model, weights_sha256=None, chunk=settings.chunk)
        index = load_index(index_dir)
        embedder = embedder or Embedder(settings.model)
        check_compatible(manifest, index_dir, model=embedder.name, weights_sha256=embedder.weights_sha256,
                         chunk=None, sentence_vectors=effective_method(embedder, settings.sentence_vectors))
        return cls(index, embedder, settings)

    @property
    def passages(self):  # noqa: ANN201
        return self.index.passages

    def embed_query(self, question: str) -> np.ndarray:
        """The question's vector; the last few are kept, since ask() and search() share them."""
        with self._cache_lock:
            vec = self._query_cache.get(question)
            if vec is not None:
                self._query_cache.move_to_end(question)
                return vec
        text, _ = self.embedder.truncate(question)
        vec = self.embedder.embed_queries([text])[0]
        with self._cache_lock:
            self._query_cache[question] = vec
            if len(self._query_cache) > 256:
                self._query_cache.popitem(last=False)
        return vec

    def search(self, question: str, k: int = 5, method: str = "routed") -> list[Hit]:
        """The k passages that best answer `question`, best first."""
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
        if not isinstance(k, int) or k < 1:
            raise ValueError("k must be a positive whole number.")
        question, _ = clean_question(question, self.settings.max_question_chars)
        if method == "routed":
            method = route(question, self.settings)
        depth = max(self.settings.candidates, k)
        qvec = self.embed_query(question)
        dense_ids, dense_scores = self._dense(qvec, depth) if method != "bm25" else ((), ())
        lex_ids, lex_scores = self.index.lexical.search(question, depth) if method != "dense" else ((), ())
        dense = dict(zip(map(int, dense_ids), map(float, dense_scores)))
        lexical = dict(zip(map(int, lex_ids), map(float, lex_scores)))

        if method == "dense":
            ranked = sorted(dense.items(), key=lambda kv: -kv[1])
        elif method == "bm25":
            ranked = sorted(lexical.items(), key=lambda kv: -kv[1])
        else:
            ranked = self._fuse(list(dense), list(lexical))
        hits = []
        for rank, (pid, score) in enumerate(ranked[:k], 1):
            p = self.index.passages[pid]
            cos = dense.get(pid)
            if cos is None:
                cos = self._cosine(qvec, pid)
            hits.append(Hit(p.doc_id, p.title, p.start, p.end, p.text, float(score), rank,
                            cos, lexical.get(pid), method))
        return hits

    def _dense(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Passages by a blend of their own cosine and their best sentence's cosine.

        Candidates come from both the passage and the sentence FAISS indexes; a
        factoid question often matches one sentence far better than its passage.
        """
        idx = self.index
        n = idx.faiss.ntotal
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = qvec[None, :].astype(np.float32)
        _, pids = idx.faiss.search(q, min(k, n))
        candidates = {int(p) for p in pids[0] if p >= 0}
        if idx.sentence_faiss.ntotal:
            _, sids = idx.sentence_faiss.search(q, min(k, idx.sentence_faiss.ntotal))
            candidates.update(idx.sentences[int(s)].passage for s in sids[0] if s >= 0)
        alpha = self.settings.sentence_weight
        scored = []
        for pid in candidates:
            cos = float(idx.faiss.reconstruct(pid) @ qvec)
            _, vecs = idx.sentence_vectors(pid)
            best = float((vecs @ qvec).max()) if len(vecs) else cos
            scored.append(((1 - alpha) * cos + alpha * best, pid))
        scored.sort(key=lambda t: (-t[0], t[1]))
        scored = scored[:k]
        return (np.array([p for _, p in scored], dtype=np.int64),
                np.array([s for s, _ in scored], dtype=np.float32))

    def _fuse(self, dense_ids: list[int], lexical_ids: list[int]) -> list[tuple[int, float]]:
        """Reciprocal rank fusion of the two ranked lists."""
        s = self.settings
        fused: dict[int, float] = {}
        for weight, ids in ((s.dense_weight, dense_ids), (s.lexical_weight, lexical_ids)):
            for rank, pid in enumerate(ids, 1):
                fused[pid] = fused.get(pid, 0.0) + weight / (s.rrf_k + rank)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))

    def _cosine(self, qvec: np.ndarray, pid: int) -> float | None:
        try:
            return float(self.index.faiss.reconstruct(int(pid)) @ qvec)
        except RuntimeError:  # approximate indexes may not keep the vectors
            return None
