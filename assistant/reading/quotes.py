"""The extractive path: the sentences an answer quotes, how well they fit, and the quoted answer.

Every quote is a verbatim span of its cleaned article. `pick` chooses the top passages' sentences
closest to the question, `confidence` is the margin the abstention threshold is compared with,
and `compose` writes the quoted answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.index.store import LoadedIndex
from assistant.ingest.dates import annotate
from assistant.ingest.korean import has_hangul
from assistant.reading.messages import MESSAGES
from assistant.search.retriever import Hit
from assistant.settings import Settings


@dataclass(frozen=True)
class Quote:
    """A sentence of an article that the answer rests on: which citation it belongs to and where it is."""

    marker: int  # 1-based, into Answer.citations
    doc_id: str
    start: int
    end: int
    text: str
    score: float


def confidence(index: LoadedIndex, qvec: np.ndarray, quotes: Sequence[Quote]) -> float:
    """How much better the best quote fits than generic off-topic text does.

    Raw cosines from e5 sit in a narrow band (an off-topic question still scores
    ~0.78 against the articles), so the margin over a background of unrelated
    news sentences is what separates "about the articles" from "not".
    """
    if not quotes:
        return -1.0
    background = index.background
    base = float((background @ qvec).max()) if len(background) else 0.0
    return quotes[0].score - base


def pick(index: LoadedIndex, qvec: np.ndarray, hits: Sequence[Hit], settings: Settings) -> list[Quote]:
    """The top passages' sentences closest to the question: the best one, plus near ties."""
    candidates: dict[tuple[str, int, int], Quote] = {}
    for marker, hit in enumerate(hits[: settings.answer_depth], 1):
        for s, score in index.passage_sentences(hit.doc_id, hit.start).scored(qvec):
            key = (hit.doc_id, s.start, s.end)
            if key not in candidates or candidates[key].score < score:
                candidates[key] = Quote(marker, hit.doc_id, s.start, s.end, s.text, score)
    ranked = sorted(candidates.values(), key=lambda q: (-q.score, q.marker))
    if not ranked:
        return []
    chosen = [ranked[0]]
    for q in ranked[1:]:
        if len(chosen) >= settings.max_quotes or q.score < ranked[0].score - settings.quote_margin:
            break
        if not overlaps(q, chosen):
            chosen.append(q)
    return chosen


def compose(index: LoadedIndex, quotes: Sequence[Quote], lang: str) -> str:
    """The quoted answer: the chosen sentences in article order, relative dates resolved, each with its marker."""
    ordered = sorted(quotes, key=lambda q: (q.doc_id, q.start))
    articles = index.articles
    body = " ".join(f"{annotate(q.text, articles[q.doc_id].date_iso, lang)} [{q.marker}]" for q in ordered)
    korean_sources = any(has_hangul(q.text) for q in quotes)
    prefix = MESSAGES[lang]["korean_source"] if korean_sources else ""
    return prefix + body


def overlaps(q: Quote, chosen: Sequence[Quote]) -> bool:
    return any(q.doc_id == c.doc_id and q.start < c.end and c.start < q.end for c in chosen)
