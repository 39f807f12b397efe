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
from assistant.index.store import LoadedIndex, VectorIndex
from assistant.index.stores import open_store
from assistant.index.vectors import effective_method
from assistant.ingest.corpus import normalize
from assistant.ingest.dates import bound, question_period
from assistant.ingest.korean import has_hangul
from assistant.settings import Method, Settings

METHODS = tuple(m.value for m in Method)


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
    """Search one loaded index with one embedding model.

    `index` is the snapshot questions are answered from. It is replaced only by `swap`, in one assignment,
    after the checks `load` makes; a search reads `self.index` once and uses that object throughout, so a
    question in flight finishes on the index it started with. A caller that needs several lookups to agree
    (the Assistant: retrieval, quotes, the reader) takes `index = retriever.index` once and passes it in.
    """

    def __init__(self, index: LoadedIndex, embedder, settings: Settings | None = None) -> None:  # noqa: ANN001
        self._index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()  # the UI answers from several threads
        self._swap_lock = threading.Lock()

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None,
             embedder=None) -> Retriever:  # noqa: ANN001
        """Load an index and its model; fails with the command to run if they don't match."""
        from assistant.models.embedding import Embedder

        settings = settings or Settings()
        index_dir = Path(index_dir) if index_dir else settings.index_dir
        store = open_store(settings.store, index_dir)  # FAISS files or Milvus, by NEWSQA_STORE (store.py)
        manifest = store.read_manifest()  # fail fast, before loading the model
        check_compatible(manifest, index_dir, model=settings.model, weights_sha256=None, chunk=settings.chunk)
        index = store.load()
        embedder = embedder or Embedder(settings.model, **settings.runtime.embedder_options)
        retriever = cls(index, embedder, settings)
        retriever._check(index, index_dir)
        return retriever

    @property
    def index(self) -> LoadedIndex:
        """The index questions are answered from now (read it once per question)."""
        return self._index

    def swap(self, index: LoadedIndex, index_dir: str | Path | None = None) -> None:
        """Answer from `index` from the next question on, after the checks `load` makes (IndexMismatch if it was
        built for another model, chunking or sentence vectors; `index_dir` is named in the fix). Questions in
        flight finish on the old one."""
        self._check(index, index_dir if index_dir is not None else index.path)
        with self._swap_lock:
            self._index = index

    def reload(self, index_dir: str | Path) -> None:
        """Swap in the index built at `index_dir` (after an add, a removal or a sync), from this retriever's store."""
        self.swap(open_store(self.settings.store, index_dir).load(), index_dir)

    def _check(self, index: LoadedIndex, where: object) -> None:
        s = self.settings
        check_compatible(index.manifest, where, model=self.embedder.name, weights_sha256=self.embedder.weights_sha256,
                         chunk=s.chunk, sentence_vectors=effective_method(self.embedder, s.sentence_vectors))

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
               since: str | dt.date | None = None, until: str | dt.date | None = None,
               index: LoadedIndex | None = None) -> list[Hit]:
        """The k passages that best answer `question`, best first.

        `since`/`until` (a date, or "2025-01-31", "2025-01", "2025") keep only articles whose
        date falls in that range; undated articles are left out then. A question that names
        a period ("2025년 1월") lifts that period's articles a little, without excluding others.
        `index` is the snapshot to search (default: the current one, read once).
        """
        index = index if index is not None else self.index
        method = Method.parse(method).value
        if not isinstance(k, int) or k < 1:
            raise ValueError("k must be a positive whole number.")
        question, _ = clean_question(question, self.settings.max_question_chars)
        lo, hi = bound(since, end=False), bound(until, end=True)
        if lo and hi and lo > hi:
            raise ValueError(f"since ({since}) is after until ({until}).")
        allowed = _in_period(index, lo, hi) if lo or hi else None
        if method == "routed":
            method = route(question, self.settings)
        depth = max(self.settings.candidates, k)
        qvec = self.embed_query(question)
        dense_ids, dense_scores = self._dense(index, qvec, depth, allowed) if method != "bm25" else ((), ())
        lex_ids, lex_scores = _lexical(index, question, depth, allowed) if method != "dense" else ((), ())
        dense = dict(zip(map(int, dense_ids), map(float, dense_scores)))
        lexical = dict(zip(map(int, lex_ids), map(float, lex_scores)))

        if method == "dense":
            ranked = sorted(dense.items(), key=lambda kv: -kv[1])
        elif method == "bm25":
            ranked = sorted(lexical.items(), key=lambda kv: -kv[1])
        else:
            ranked = self._fuse(list(dense), list(lexical))
        ranked = self._prefer_period(index, question, ranked)
        hits = []
        for rank, (pid, score) in enumerate(ranked[:k], 1):
            p = index.passages[pid]
            cos = dense.get(pid)
            if cos is None:
                cos = _cosine(index, qvec, pid)
            article = index.articles[p.doc_id]
            hits.append(Hit(p.doc_id, p.title, p.start, p.end, p.text, float(score), rank,
                            cos, lexical.get(pid), method, article.date_iso, article.date_source))
        return hits

    def _prefer_period(self, index: LoadedIndex, question: str,
                       ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Lift passages of the period the question names by a share of the candidates' score spread."""
        period = question_period(question)
        if period is None or len(ranked) < 2 or not self.settings.period_boost:
            return ranked
        lift = self.settings.period_boost * (ranked[0][1] - ranked[-1][1])
        arts, passages = index.articles, index.passages
        boosted = [(pid, score + lift if (p := arts[passages[pid].doc_id].period) and p.overlaps(
            period.start, period.end) else score) for pid, score in ranked]
        return sorted(boosted, key=lambda kv: (-kv[1], kv[0]))

    def _dense(self, idx: LoadedIndex, qvec: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Passages by a blend of their own cosine and their best sentence's cosine.

        Candidates come from both the passage and the sentence vector indexes; a
        factoid question often matches one sentence far better than its passage.
        """
        vectors, sentence_vectors = idx.passage_index, idx.sentence_index
        n = vectors.ntotal
        if n == 0 or (allowed is not None and not len(allowed)):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = qvec[None, :].astype(np.float32)
        sentence_ids = None
        if allowed is not None:
            sentence_ids = np.array([r for p in allowed for r in idx.sentence_rows.get(int(p), ())], dtype=np.int64)
        _, pids = _search(vectors, q, min(k, n), allowed)
        candidates = {int(p) for p in pids[0] if p >= 0}
        if sentence_vectors.ntotal and (sentence_ids is None or len(sentence_ids)):
            _, sids = _search(sentence_vectors, q, min(k, sentence_vectors.ntotal), sentence_ids)
            candidates.update(idx.sentences[int(s)].passage for s in sids[0] if s >= 0)
        # A remote store (Milvus) fetches all candidates' vectors in one round trip; FAISS has nothing to do.
        vectors.prefetch(sorted(candidates))
        sentence_vectors.prefetch([r for p in candidates for r in idx.sentence_rows.get(p, ())])
        alpha = self.settings.sentence_weight
        scored = []
        for pid in candidates:
            cos = float(vectors.reconstruct(pid) @ qvec)
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


def _in_period(index: LoadedIndex, lo: dt.date | None, hi: dt.date | None) -> np.ndarray:
    """Ids of the passages whose article's date overlaps [lo, hi]."""
    docs = {d for d, a in index.articles.items() if a.period and a.period.overlaps(lo, hi)}
    return np.array([i for i, p in enumerate(index.passages) if p.doc_id in docs], dtype=np.int64)


def _lexical(index: LoadedIndex, question: str, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if allowed is None:
        return index.lexical.search(question, k)
    return index.lexical.search_in(question, k, allowed)


def _cosine(index: LoadedIndex, qvec: np.ndarray, pid: int) -> float | None:
    try:
        return float(index.passage_index.reconstruct(int(pid)) @ qvec)
    except RuntimeError:  # approximate indexes may not keep the vectors
        return None


def _search(vectors: VectorIndex, q: np.ndarray, k: int, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Search all of `vectors`, or only `ids` (the store's own subset search: FAISS's selector, Milvus's filter)."""
    return vectors.search(q, k) if ids is None else vectors.search_in(q, k, ids)
