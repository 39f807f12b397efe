"""Find the passages that answer a question, in Korean or English.

Dense search (multilingual e5 + FAISS) finds Korean passages for English
questions. For Hangul questions a Korean BM25 leg is fused in with reciprocal
rank fusion; English questions stay dense-only, because BM25 on English words
only matches the few Latin terms in Korean text (see eval/report.md).
"""

from __future__ import annotations

import datetime as dt
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.index.manifest import check_compatible
from assistant.index.store import LoadedIndex
from assistant.index.stores import open_store
from assistant.index.vectors import effective_method
from assistant.ingest.corpus import normalize
from assistant.ingest.dates import bound, question_period
from assistant.ingest.korean import has_hangul
from assistant.settings import Settings, default_index_dir

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
    date: str = ""  # the article's date, ISO at its precision (2025-01-31, 2026-01), "" if unknown
    date_source: str = "none"  # metadata | dateline | text (guessed) | none


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
        from assistant.models.embedding import Embedder

        settings = settings or Settings()
        index_dir = Path(index_dir) if index_dir else default_index_dir()
        store = open_store(settings.store, index_dir)  # FAISS files or Milvus, by NEWSQA_STORE (store.py)
        manifest = store.read_manifest()  # fail fast, before loading the model
        check_compatible(manifest, index_dir, model=settings.model, weights_sha256=None, chunk=settings.chunk)
        index = store.load()
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

    def search(self, question: str, k: int = 5, method: str = "routed", *,
               since: str | dt.date | None = None, until: str | dt.date | None = None) -> list[Hit]:
        """The k passages that best answer `question`, best first.

        `since`/`until` (a date, or "2025-01-31", "2025-01", "2025") keep only articles whose
        date falls in that range; undated articles are left out then. A question that names
        a period ("2025년 1월") lifts that period's articles a little, without excluding others.
        """
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
        if not isinstance(k, int) or k < 1:
            raise ValueError("k must be a positive whole number.")
        question, _ = clean_question(question, self.settings.max_question_chars)
        lo, hi = bound(since, end=False), bound(until, end=True)
        if lo and hi and lo > hi:
            raise ValueError(f"since ({since}) is after until ({until}).")
        allowed = self._in_period(lo, hi) if lo or hi else None
        if method == "routed":
            method = route(question, self.settings)
        depth = max(self.settings.candidates, k)
        qvec = self.embed_query(question)
        dense_ids, dense_scores = self._dense(qvec, depth, allowed) if method != "bm25" else ((), ())
        lex_ids, lex_scores = self._lexical(question, depth, allowed) if method != "dense" else ((), ())
        dense = dict(zip(map(int, dense_ids), map(float, dense_scores)))
        lexical = dict(zip(map(int, lex_ids), map(float, lex_scores)))

        if method == "dense":
            ranked = sorted(dense.items(), key=lambda kv: -kv[1])
        elif method == "bm25":
            ranked = sorted(lexical.items(), key=lambda kv: -kv[1])
        else:
            ranked = self._fuse(list(dense), list(lexical))
        ranked = self._prefer_period(question, ranked)
        hits = []
        for rank, (pid, score) in enumerate(ranked[:k], 1):
            p = self.index.passages[pid]
            cos = dense.get(pid)
            if cos is None:
                cos = self._cosine(qvec, pid)
            article = self.index.articles[p.doc_id]
            hits.append(Hit(p.doc_id, p.title, p.start, p.end, p.text, float(score), rank,
                            cos, lexical.get(pid), method, article.date_iso, article.date_source))
        return hits

    def _in_period(self, lo: dt.date | None, hi: dt.date | None) -> np.ndarray:
        """Ids of the passages whose article's date overlaps [lo, hi]."""
        docs = {d for d, a in self.index.articles.items() if a.period and a.period.overlaps(lo, hi)}
        return np.array([i for i, p in enumerate(self.index.passages) if p.doc_id in docs], dtype=np.int64)

    def _prefer_period(self, question: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Lift passages of the period the question names by a share of the candidates' score spread."""
        period = question_period(question)
        if period is None or len(ranked) < 2 or not self.settings.period_boost:
            return ranked
        lift = self.settings.period_boost * (ranked[0][1] - ranked[-1][1])
        arts, passages = self.index.articles, self.index.passages
        boosted = [(pid, score + lift if (p := arts[passages[pid].doc_id].period) and p.overlaps(
            period.start, period.end) else score) for pid, score in ranked]
        return sorted(boosted, key=lambda kv: (-kv[1], kv[0]))

    def _lexical(self, question: str, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if allowed is None:
            return self.index.lexical.search(question, k)
        if hasattr(self.index.lexical, "search_in"):
            return self.index.lexical.search_in(question, k, allowed)
        ids, scores = self.index.lexical.search(question, self.index.lexical.size)
        keep = np.isin(ids, allowed)
        return ids[keep][:k], scores[keep][:k]

    def _dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passages by a blend of their own cosine and their best sentence's cosine.

        Candidates come from both the passage and the sentence FAISS indexes; a
        factoid question often matches one sentence far better than its passage.
        """
        idx = self.index
        n = idx.faiss.ntotal
        if n == 0 or (allowed is not None and not len(allowed)):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = qvec[None, :].astype(np.float32)
        sentence_ids = None
        if allowed is not None:
            sentence_ids = np.array([r for p in allowed for r in idx.sentence_rows.get(int(p), ())], dtype=np.int64)
        _, pids = _search(idx.faiss, q, min(k, n), allowed)
        candidates = {int(p) for p in pids[0] if p >= 0}
        if idx.sentence_faiss.ntotal and (sentence_ids is None or len(sentence_ids)):
            _, sids = _search(idx.sentence_faiss, q, min(k, idx.sentence_faiss.ntotal), sentence_ids)
            candidates.update(idx.sentences[int(s)].passage for s in sids[0] if s >= 0)
        if hasattr(idx.faiss, "prefetch"):  # a remote store (Milvus): all candidates' vectors in one round trip
            idx.faiss.prefetch(sorted(candidates))
            idx.sentence_faiss.prefetch([r for p in candidates for r in idx.sentence_rows.get(p, ())])
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


def _search(index, q: np.ndarray, k: int, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """FAISS search, restricted to `ids` with FAISS's own ID selector when given (a Milvus store: its own)."""
    if ids is None:
        return index.search(q, k)
    if hasattr(index, "search_in"):
        return index.search_in(q, k, ids)
    import faiss

    selector = faiss.IDSelectorBatch(ids)
    params = (faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch) if hasattr(index, "hnsw")
              else faiss.SearchParameters(sel=selector))
    return index.search(q, min(k, len(ids)), params=params)
