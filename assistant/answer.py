"""Answer a question from the retrieved passages, or say honestly that the articles don't.

`ask()` and `stream()` orchestrate: retrieve, then either the reader (a local LLM
or an OpenAI-compatible endpoint: `reader.py`, `llm.py`) writes a short answer whose
every number, date and name is checked against the cited passages (`verify.py`), or,
when no reader is available or it fails, the extractive answer quotes the passages'
best sentences. A question whose evidence does not answer it is not answered: off-topic
ones by the retrieval margin over generic text, on-topic ones by the reader's own
judgement, both calibrated on the eval dev split.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import llm as llms
from . import reader, verify
from .amounts import englishize
from .dates import annotate
from .korean import has_hangul, tokens
from .llm import LLM, LLMError, ModelInfo
from .messages import MESSAGES
from .retriever import Hit, Retriever, clean_question
from .settings import Settings

EXTRACTIVE = ModelInfo("extractive", "", "extractive")
# Words that mark a follow-up leaning on the previous turn ("그럼 삼성전자와 비교하면?").
_FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그렇다면|그리고|또|그건|그것|이건|거기|그때|그 회사|what about|how about|and |then |"
    r"compared|what of|same for|and what|so what)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quote:
    """A sentence of an article that the answer rests on: which citation it belongs to and where it is."""

    marker: int  # 1-based, into Answer.citations
    doc_id: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Sentence:
    """One sentence of a reader's answer: the passages it cites, whether its facts were found there,
    and the article sentences it rests on (for an English answer, the Korean original)."""

    text: str
    markers: tuple[int, ...]
    verified: bool
    quotes: tuple[Quote, ...] = ()
    missing: tuple[str, ...] = ()  # claims not found in the cited passages (never shown as the answer)


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
    short: str = ""  # the direct answer: a number, name or date
    sentences: tuple[Sentence, ...] = ()
    reader: ModelInfo = EXTRACTIVE
    timings: dict = field(default_factory=dict)  # milliseconds: retrieve, queue, decide, first_token, total


@dataclass(frozen=True)
class Event:
    """A step of a streamed answer: the sources (at once), released text (as it is checked), the answer."""

    kind: str  # "sources" | "text" | "answer"
    text: str = ""
    hits: tuple[Hit, ...] = ()
    answer: Answer | None = None


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


@dataclass
class _Retrieved:
    question: str
    lang: str
    query: str
    hits: list[Hit]
    focus: np.ndarray
    quotes: list[Quote]
    margin: float
    notices: list[str]
    ms: float


class Assistant:
    """Question in, cited answer out."""

    def __init__(self, retriever: Retriever, settings: Settings | None = None, llm: LLM | None = None,
                 reader_notice: str = "") -> None:
        self.retriever = retriever
        self.settings = settings or retriever.settings
        self.llm = llm
        self.reader_notice = reader_notice  # why the requested reader is unavailable, said with every answer

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None,
             reader: str | None = None) -> Assistant:
        """Load the index, its model and the reader (`local`, `openai` or `extractive`; default: the
        NEWSQA_READER setting, else the local model). A reader that can't load is reported, not faked."""
        retriever = Retriever.load(index_dir, settings=settings)
        try:
            return cls(retriever, settings, llms.load(reader))
        except LLMError as e:
            return cls(retriever, settings, None, reader_notice=str(e))

    @property
    def reader_info(self) -> ModelInfo:
        return self.llm.info if self.llm is not None else EXTRACTIVE

    def ask(self, question: str, k: int = 5, *, history: Sequence[str] = (), method: str = "routed",
            since: str | None = None, until: str | None = None) -> Answer:
        """Answer `question` from the articles of [since, until], citing passages [1]..[k], or abstain."""
        for event in self.stream(question, k, history=history, method=method, since=since, until=until):
            if event.answer is not None:
                return event.answer
        raise AssertionError("stream() always ends with an answer")

    def stream(self, question: str, k: int = 5, *, history: Sequence[str] = (), method: str = "routed",
               since: str | None = None, until: str | None = None) -> Iterator[Event]:
        """The answer as it is made: the sources first, then checked text as the reader writes it, then
        the final `Answer` (whose sentences are the verified ones only)."""
        t0 = time.perf_counter()
        r = self._retrieve(question, k, history, method, since, until)
        yield Event("sources", hits=tuple(r.hits))
        threshold = self.settings.abstain_below_ko if r.lang == "ko" else self.settings.abstain_below_en
        if self.llm is not None:
            threshold -= self.settings.reader_margin_slack
        if not r.quotes or r.margin < threshold:
            yield Event("answer", answer=self._abstain(r, t0))
            return
        if self.llm is None:
            notices = [MESSAGES[r.lang]["reader_missing"].format(why=self.reader_notice)] if self.reader_notice \
                else []
            yield Event("answer", answer=self._extractive(r, t0, notices))
            return
        yield from self._read(r, t0)

    def translate(self, text: str) -> str:
        """A machine translation of a Korean passage into English, by the reader's own model."""
        if self.llm is None:
            raise LLMError(self.reader_notice or "no reader model is loaded (NEWSQA_READER=extractive)")
        with self.llm.lock:
            return reader.translate(self.llm, text, deadline=time.monotonic() + 4 * self.settings.reader_timeout)

    def _retrieve(self, question: str, k: int, history: Sequence[str], method: str,
                  since: str | None = None, until: str | None = None) -> _Retrieved:
        t0 = time.perf_counter()
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
        return _Retrieved(question, lang, query, hits, focus, quotes, self._confidence(focus, quotes), notices,
                          (time.perf_counter() - t0) * 1000)

    def _abstain(self, r: _Retrieved, t0: float, extra: dict | None = None, timings: dict | None = None,
                 notices: Sequence[str] = ()) -> Answer:
        return Answer(r.question, MESSAGES[r.lang]["abstain"], (), True, r.lang, r.margin,
                      related=tuple(r.hits), notices=tuple(r.notices) + tuple(notices), retrieval_query=r.query,
                      extra=extra or {}, reader=self.reader_info,
                      timings={"retrieve": r.ms, **(timings or {}), "total": (time.perf_counter() - t0) * 1000})

    def _extractive(self, r: _Retrieved, t0: float, notices: Sequence[str] = (), extra: dict | None = None,
                    timings: dict | None = None) -> Answer:
        text = self._compose(r.hits, r.quotes, r.lang)
        return Answer(r.question, text, tuple(r.hits), False, r.lang, r.margin, tuple(r.quotes),
                      notices=tuple(r.notices) + tuple(notices), retrieval_query=r.query, extra=extra or {},
                      reader=EXTRACTIVE,
                      timings={"retrieve": r.ms, **(timings or {}), "total": (time.perf_counter() - t0) * 1000})

    def _read(self, r: _Retrieved, t0: float) -> Iterator[Event]:
        """Decide, then write and check, holding the model for the whole exchange."""
        s = self.settings
        evidence = reader.pick_sentences(self.retriever.index, r.hits, r.focus, s.reader_depth,
                                         s.reader_sentences)
        articles = self.retriever.index.articles
        # Facts are checked against the passages with their relative dates resolved (지난해 5월(2025년 5월)).
        passages = {n: annotate(h.text, articles[h.doc_id].date_iso, "ko") for n, h in enumerate(r.hits, 1)}
        years = {n: _years(articles[h.doc_id].date_iso) for n, h in enumerate(r.hits, 1)}
        gate = reader.Gate(passages, years)
        timings: dict = {"retrieve": r.ms}
        reply, first = "", None
        try:
            waited = time.perf_counter()
            with self.llm.lock:
                timings["queue"] = (time.perf_counter() - waited) * 1000
                deadline = time.monotonic() + s.reader_timeout
                t = time.perf_counter()
                p_yes = reader.decide(self.llm, r.question, evidence, r.lang)
                timings["decide"] = (time.perf_counter() - t) * 1000
                extra = {"p_yes": p_yes, "margin": r.margin,
                         "prompt_tokens": self.llm.prompt_tokens(reader.messages(r.question, evidence, r.lang))}
                if p_yes < (s.reader_yes_ko if r.lang == "ko" else s.reader_yes_en):
                    yield Event("answer", answer=self._abstain(r, t0, extra, timings))
                    return
                for piece in reader.write(self.llm, r.question, evidence, r.lang, deadline=deadline,
                                          max_tokens=s.reader_max_tokens):
                    reply += piece
                    shown = gate.feed(piece)
                    if shown:
                        first = first or (time.perf_counter() - t0) * 1000
                        yield Event("text", shown)
        except LLMError as e:
            notice = MESSAGES[r.lang]["reader_failed"].format(why=e)
            yield Event("answer", answer=self._extractive(r, t0, [notice], timings=timings))
            return
        tail = gate.close()
        if tail:
            first = first or (time.perf_counter() - t0) * 1000
            yield Event("text", tail)
        timings["first_token"] = first
        extra["reply"] = reply
        yield Event("answer", answer=self._finish(r, t0, reply, passages, years, extra, timings))

    def _finish(self, r: _Retrieved, t0: float, reply: str, passages: dict[int, str],
                years: dict[int, tuple[int, ...]], extra: dict, timings: dict) -> Answer:
        """Keep the verified sentences in the reader's language; no verified sentence, no reader answer."""
        draft = reader.parse(reply)
        if draft.declined and not draft.sentences:
            return self._abstain(r, t0, {**extra, "declined": True}, timings)
        texts = list(draft.sentences[: self.settings.reader_max_sentences]) or [draft.short]
        short = draft.short if draft.sentences else ""
        if r.lang == "en":
            texts = [_in_english(t) for t in texts]
            short = _in_english(short)
        sentences: list[Sentence] = []
        for text in texts:
            c = verify.check(text, passages, years)
            body = verify.strip_markers(text)
            if c.verified and not c.markers and len(body) > 3:  # no marker, no fact to place it by: cite the
                closest = self._ground(body, range(1, min(len(r.hits), self.settings.reader_depth) + 1), r.hits)
                c = replace(c, markers=(closest[0].marker,), repointed=True) if closest else c  # closest passage
            marked = body + "".join(f" [{m}]" for m in c.markers)
            ok = c.verified and bool(c.markers) and not _wrong_language(body, r.lang) and not _echo(body, r.question)
            quotes = self._ground(body, c.markers, r.hits) if ok else ()
            if ok:  # "지난해 5월" in an answer means the cited article's last year: say which
                marked = annotate(marked, self.retriever.index.articles[r.hits[c.markers[0] - 1].doc_id].date_iso,
                                  r.lang)
            sentences.append(Sentence(marked, c.markers, ok, quotes, tuple(m.text for m in c.missing)))
        kept = [x for x in sentences if x.verified]
        extra = {**extra, "dropped": [x.text for x in sentences if not x.verified]}
        if not kept:
            # Nothing the reader wrote could be checked (made-up facts, the wrong language, the question said
            # back): the articles' own sentences instead, saying why; unless the reader was unsure the evidence
            # answers at all and then made facts up, which on dev marked unanswerable questions only.
            made_up = any(x.missing for x in sentences)
            if made_up and extra.get("p_yes", 1.0) < self.settings.reader_made_up_refuse_below:
                return self._abstain(r, t0, {**extra, "made_up": True}, timings)
            notice = MESSAGES[r.lang]["made_up" if made_up else "unverified"]
            return self._extractive(r, t0, [notice], {**extra, "made_up": made_up}, timings)
        cited = tuple(dict.fromkeys(m for x in kept for m in x.markers))
        if short and (_wrong_language(short, r.lang) or
                      not verify.check(short, {m: passages[m] for m in cited}, years).verified):
            short = ""
        if short and any(verify.strip_markers(x.text).rstrip(".").strip() == short for x in kept):
            short = ""  # a one-line reply: the sentence is the short answer
        notices = list(r.notices)
        if len(kept) < len(sentences):
            notices.append(MESSAGES[r.lang]["dropped"].format(n=len(sentences) - len(kept)))
        text = "\n\n".join(p for p in (short, " ".join(x.text for x in kept)) if p)
        quotes = tuple(q for x in kept for q in x.quotes)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(r.question, text, tuple(r.hits), False, r.lang, r.margin, quotes, notices=tuple(notices),
                      retrieval_query=r.query, extra=extra, short=short, sentences=tuple(sentences),
                      reader=self.reader_info, timings=timings)

    def _ground(self, sentence: str, markers: Sequence[int], hits: Sequence[Hit]) -> tuple[Quote, ...]:
        """The article sentence an answer sentence rests on: the cited passage's sentence with its facts,
        else the one closest in meaning (e5 is multilingual, so this finds the Korean original)."""
        index = self.retriever.index
        qvec = self.retriever.embed_query(sentence)
        claims = verify.claims(sentence)
        best: Quote | None = None
        for m in markers:
            hit = hits[m - 1]
            rows, vecs = index.sentence_vectors(index.passage_ids[(hit.doc_id, hit.start)])
            text = index.articles[hit.doc_id].text
            for row, score in zip(rows, vecs @ qvec):
                st = index.sentences[row]
                original = text[st.start:st.end]
                found = sum(verify.supported(c, original) for c in claims)
                q = Quote(m, hit.doc_id, st.start, st.end, original, float(score) + 0.1 * found)
                if best is None or q.score > best.score:
                    best = q
        return (best,) if best else ()

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

    def _compose(self, hits: Sequence[Hit], quotes: Sequence[Quote], lang: str) -> str:
        ordered = sorted(quotes, key=lambda q: (q.doc_id, q.start))
        articles = self.retriever.index.articles
        body = " ".join(f"{annotate(q.text, articles[q.doc_id].date_iso, lang)} [{q.marker}]" for q in ordered)
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


def _years(date: str) -> tuple[int, ...]:
    m = re.match(r"\s*(\d{4})", date or "")
    return (int(m.group(1)),) if m else ()


def _in_english(text: str) -> str:
    """Korean amounts, dates and known names in an English sentence, written for an English reader."""
    return verify.english_names(englishize(text))


def _echo(sentence: str, question: str) -> bool:
    """A question, or the question said back: not an answer, whatever its facts."""
    words = re.findall(r"\w+", sentence.lower())
    asked = set(re.findall(r"\w+", question.lower()))
    return sentence.rstrip().endswith("?") or (len(words) > 3 and sum(w in asked for w in words) / len(words) > 0.8)


def _wrong_language(text: str, lang: str) -> bool:
    """An English answer line in Korean script (or the reverse) is not shown."""
    return has_hangul(text) if lang == "en" else not has_hangul(text) and len(text) > 40
