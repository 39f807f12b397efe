"""Answer a question from the retrieved passages, or say honestly that the articles don't.

The answer is extractive: the sentences of the top passages closest to the
question, each followed by the marker of the passage it comes from. A question
whose best sentence fits no better than generic off-topic text (a margin
calibrated on the eval dev split) is not answered. A generator (an LLM) can replace the wording later:
see `Generator`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .korean import has_hangul, tokens
from .retriever import Hit, Retriever, clean_question
from .settings import Settings

MESSAGES = {
    "ko": {
        "abstain": "기사에는 이 질문에 대한 답이 나와 있지 않습니다.",
        "empty": "질문을 입력해 주세요.",
        "korean_source": "",
    },
    "en": {
        "abstain": "The articles don't say.",
        "empty": "Please ask a question.",
        "korean_source": "The articles (in Korean) say: ",
    },
}
# Words that mark a follow-up leaning on the previous turn ("그럼 삼성전자와 비교하면?").
_FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그렇다면|그리고|또|그건|그것|이건|거기|그때|그 회사|what about|how about|and |then |"
    r"compared|what of|same for|and what|so what)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quote:
    """A sentence used in the answer: which citation it belongs to and where it is."""

    marker: int  # 1-based, into Answer.citations
    doc_id: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Answer:
    """What `ask()` returns. When `abstained`, `citations` is empty and `related` holds the closest passages."""

    question: str
    text: str
    citations: tuple[Hit, ...]
    abstained: bool
    lang: str
    confidence: float
    quotes: tuple[Quote, ...] = ()
    related: tuple[Hit, ...] = ()
    notices: tuple[str, ...] = ()
    retrieval_query: str = ""
    extra: dict = field(default_factory=dict)


class Generator(Protocol):
    """The seam for a generative answer: given the question and the cited passages, write the answer.

    It must only rephrase what the passages say, keep the [n] markers, and treat
    passage text as data, never as instructions (see SECURITY.md).
    """

    def generate(self, question: str, citations: Sequence[Hit], quotes: Sequence[Quote], lang: str) -> str: ...


def language(question: str) -> str:
    return "ko" if has_hangul(question) else "en"


def contextualize(question: str, history: Sequence[str]) -> str:
    """Carry the previous question's terms into retrieval when this one leans on it."""
    if not history:
        return question
    previous = history[-1]
    short = len(tokens(question)) <= 3 if has_hangul(question) else len(question.split()) <= 5
    if _FOLLOW_UP.match(question.strip()) or short:
        return f"{previous} {question}"
    return question


class Assistant:
    """Question in, cited answer out."""

    def __init__(self, retriever: Retriever, settings: Settings | None = None,
                 generator: Generator | None = None) -> None:
        self.retriever = retriever
        self.settings = settings or retriever.settings
        self.generator = generator

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None,
             generator: Generator | None = None) -> Assistant:
        retriever = Retriever.load(index_dir, settings=settings)
        return cls(retriever, settings, generator)

    def ask(self, question: str, k: int = 5, *, history: Sequence[str] = (),
            method: str = "routed", since: str | None = None, until: str | None = None) -> Answer:
        """Answer `question` from the articles, citing passages [1]..[k], or abstain."""
        question, notices = clean_question(question, self.settings.max_question_chars)
        lang = language(question)
        query = contextualize(question, _clean_history(history, self.settings.max_question_chars))
        _, truncated = self.retriever.embedder.truncate(query)
        if truncated:
            notices.append(
                "질문이 너무 길어 앞부분만 사용했습니다." if lang == "ko"
                else "The question was too long for the model; only its start was used."
            )
        hits = self.retriever.search(query, k=k, method=method, since=since, until=until)
        qvec = self.retriever.embed_query(" ".join(query.split()))
        # A follow-up's own words pick the sentence; the carried-over context picked the passages.
        focus = (qvec + self.retriever.embed_query(question)) / 2 if query != question else qvec
        quotes = self._quotes(focus, hits)
        best = self._confidence(focus, quotes)
        threshold = self.settings.abstain_below_ko if lang == "ko" else self.settings.abstain_below_en
        if not quotes or best < threshold:
            return Answer(question, MESSAGES[lang]["abstain"], (), True, lang, best,
                          related=tuple(hits), notices=tuple(notices), retrieval_query=query)
        text = self._compose(question, hits, quotes, lang)
        return Answer(question, text, tuple(hits), False, lang, best, tuple(quotes),
                      notices=tuple(notices), retrieval_query=query)

    def _confidence(self, qvec: np.ndarray, quotes: Sequence[Quote]) -> float:
        """How much better the best quote fits than generic off-topic text does.

        Raw cosines from e5 sit in a narrow band (an off-topic question still scores
        ~0.78 against the articles), so the margin over a background of unrelated
        news sentences is what separates "about the articles" from "not".
        """
        if not quotes:
            return -1.0
        background = self.retriever.index.background
        base = float((background @ qvec).max()) if len(background) else 0.0
        return quotes[0].score - base

    def _quotes(self, qvec: np.ndarray, hits: Sequence[Hit]) -> list[Quote]:
        """The top passages' sentences closest to the question: the best one, plus near ties."""
        index = self.retriever.index
        candidates: dict[tuple[str, int, int], Quote] = {}
        for marker, hit in enumerate(hits[: self.settings.answer_depth], 1):
            rows, vecs = index.sentence_vectors(index.passage_ids[(hit.doc_id, hit.start)])
            for row, score in zip(rows, vecs @ qvec):
                s = index.sentences[row]
                key = (hit.doc_id, s.start, s.end)
                if key not in candidates or candidates[key].score < score:
                    text = index.articles[hit.doc_id].text[s.start : s.end]
                    candidates[key] = Quote(marker, hit.doc_id, s.start, s.end, text, float(score))
        ranked = sorted(candidates.values(), key=lambda q: (-q.score, q.marker))
        if not ranked:
            return []
        chosen = [ranked[0]]
        for q in ranked[1:]:
            if len(chosen) >= self.settings.max_quotes or q.score < ranked[0].score - self.settings.quote_margin:
                break
            if not _overlaps(q, chosen):
                chosen.append(q)
        return chosen

    def _compose(self, question: str, hits: Sequence[Hit], quotes: Sequence[Quote], lang: str) -> str:
        if self.generator is not None:
            return self.generator.generate(question, hits, quotes, lang)
        ordered = sorted(quotes, key=lambda q: (q.doc_id, q.start))
        body = " ".join(f"{q.text} [{q.marker}]" for q in ordered)
        korean_sources = any(has_hangul(q.text) for q in quotes)
        prefix = MESSAGES[lang]["korean_source"] if korean_sources else ""
        return prefix + body


def _clean_history(history: Sequence[str], max_chars: int) -> list[str]:
    """Previous questions, tidied like a question; ones that aren't questions are dropped."""
    out = []
    for h in history if not isinstance(history, str) else [history]:
        try:
            out.append(clean_question(h, max_chars)[0])
        except ValueError:
            continue
    return out


def _overlaps(q: Quote, chosen: Sequence[Quote]) -> bool:
    return any(q.doc_id == c.doc_id and q.start < c.end and c.start < q.end for c in chosen)
