"""Keyword search for Korean: kiwipiepy morphemes scored with BM25 (bm25s).

Korean glues particles and endings to words ("엔비디아의", "폭락하면서"), so
whitespace tokens rarely match; morphemes do ("엔비디아", "폭락").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.ingest.korean import tokens


class LexicalIndex:
    """BM25 over passages' morphemes; saved beside the FAISS file."""

    def __init__(self, bm25) -> None:  # noqa: ANN001 - bm25s.BM25
        self.bm25 = bm25
        self.size = int(bm25.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        corpus = [tokens(t) or ["\u2205"] for t in texts]  # bm25s needs a token per document
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        return cls(bm25)

    def save(self, directory: Path) -> None:
        self.bm25.save(str(directory))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(directory)))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, scores), best first; only passages sharing a term with the query."""
        q = [t for t in tokens(query) if t in self.bm25.vocab_dict]
        if not q or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.bm25.get_scores(q)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top].astype(np.float32)

    def search_in(self, query: str, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`search` over the given passage ids only: every match scored, the allowed ones kept."""
        found, scores = self.search(query, self.size)
        keep = np.isin(found, ids)
        return found[keep][:k], scores[keep][:k]
