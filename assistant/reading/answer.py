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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.index.store import LoadedIndex
from assistant.ingest.dates import annotate
from assistant.ingest.korean import has_hangul, tokens
from assistant.models import readers as llms
from assistant.models.llm import LLM, LLMError, ModelInfo
from assistant.reading import candidates, decide, reader, verify
from assistant.reading import quotes as quoting
from assistant.reading.amounts import englishize
from assistant.reading.messages import MESSAGES
from assistant.reading.quotes import Quote, overlaps
from assistant.search.retriever import Hit, Retriever, clean_question
from assistant.settings import Settings

EXTRACTIVE = ModelInfo("extractive", "", "extractive")
# Words that mark a follow-up leaning on the previous turn ("그럼 삼성전자와 비교하면?").
_FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그렇다면|그리고|또|그건|그것|이건|거기|그때|그 회사|what about|how about|and |then |"
    r"compared|what of|same for|and what|so what)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a reader's answer: the passages it cites, whether its facts were found there,
    and the article sentences it rests on (for an English answer, the Korean original)."""

    text: str
    markers: tuple[int, ...]
    verified: bool
    quotes: tuple[Quote, ...] = ()
    missing: tuple[str, ...] = ()  # claims not found in the cited passages (never shown as the answer)
    kind: str = "quote"  # "quote": the article's own words; "translation": the model's English, checked


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
    timings: dict = field(default_factory=dict)  # milliseconds: retrieve, queue, choose, short, total
    span: Quote | None = None  # the short answer where it stands in the article (highlighted in its sentence)


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


@dataclass(frozen=True)
class _English:
    """A translated sentence: the text, whether its facts check out, and what was missing if not."""

    text: str
    verified: bool
    missing: tuple[str, ...]
    dropped: int = 0  # its sentences left out for facts not in the passage


@dataclass
class _Retrieved:
    index: LoadedIndex  # the one index this question reads, from retrieval to the last quote
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
        if llm is not None:
            llm.warm(reader.prefix())  # the prompt every question shares, evaluated while nobody waits

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
        r = self._retrieve(question, k, history, method, since, until, self.retriever.index)
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
                  since: str | None = None, until: str | None = None, index: LoadedIndex | None = None) -> _Retrieved:
        t0 = time.perf_counter()
        index = index if index is not None else self.retriever.index
        question, notices = clean_question(question, self.settings.max_question_chars)
        lang = language(question)
        query = contextualize(question, _clean_history(history, self.settings.max_question_chars))
        _, truncated = self.retriever.embedder.truncate(query)
        if truncated:
            notices.append(
                "질문이 너무 길어 앞부분만 사용했습니다." if lang == "ko"
                else "The question was too long for the model; only its start was used."
            )
        hits = self.retriever.search(query, k=k, method=method, since=since, until=until, index=index)
        qvec = self.retriever.embed_query(" ".join(query.split()))
        # A follow-up's own words pick the sentence; the carried-over context picked the passages.
        focus = (qvec + self.retriever.embed_query(question)) / 2 if query != question else qvec
        quotes = quoting.pick(index, focus, hits, self.settings)
        return _Retrieved(index, question, lang, query, hits, focus, quotes, quoting.confidence(index, focus, quotes),
                          notices, (time.perf_counter() - t0) * 1000)

    def _abstain(self, r: _Retrieved, t0: float, extra: dict | None = None, timings: dict | None = None,
                 notices: Sequence[str] = ()) -> Answer:
        return Answer(r.question, MESSAGES[r.lang]["abstain"], (), True, r.lang, r.margin,
                      related=tuple(r.hits), notices=tuple(r.notices) + tuple(notices), retrieval_query=r.query,
                      extra=extra or {}, reader=self.reader_info,
                      timings={"retrieve": r.ms, **(timings or {}), "total": (time.perf_counter() - t0) * 1000})

    def _extractive(self, r: _Retrieved, t0: float, notices: Sequence[str] = (), extra: dict | None = None,
                    timings: dict | None = None) -> Answer:
        text = quoting.compose(r.index, r.quotes, r.lang)
        return Answer(r.question, text, tuple(r.hits), False, r.lang, r.margin, tuple(r.quotes),
                      notices=tuple(r.notices) + tuple(notices), retrieval_query=r.query, extra=extra or {},
                      reader=EXTRACTIVE,
                      timings={"retrieve": r.ms, **(timings or {}), "total": (time.perf_counter() - t0) * 1000})

    def _read(self, r: _Retrieved, t0: float) -> Iterator[Event]:
        """Choose, decide, then (for an English reader) translate the chosen sentence, holding the model for
        the whole exchange. A model that fails costs this answer only: the quotes, with a notice."""
        s = self.settings
        index = r.index
        evidence = reader.pick_sentences(index, r.hits, r.focus, s.reader_depth, s.reader_sentences)
        cands = candidates.candidates(evidence, s.reader_candidates)
        articles = index.articles
        passages = {n: annotate(h.text, articles[h.doc_id].date_iso, "ko") for n, h in enumerate(r.hits, 1)}
        years = {n: _years(articles[h.doc_id].date_iso) for n, h in enumerate(r.hits, 1)}
        timings: dict = {"retrieve": r.ms}
        try:
            waited = time.perf_counter()
            with self.llm.lock:
                timings["queue"] = (time.perf_counter() - waited) * 1000
                deadline = time.monotonic() + s.reader_timeout
                t = time.perf_counter()
                chosen = reader.choose(self.llm, r.question, evidence, cands, deadline)
                timings["choose"] = (time.perf_counter() - t) * 1000
                quote = self._chosen_quote(chosen.candidate, r)
                # The sentence with its relative dates resolved: what is checked, and what is translated.
                sentence = annotate(quote.text, articles[quote.doc_id].date_iso, "ko")
                signals = self._signals(r, chosen, quote, sentence, cands, years)
                decision = decide.decide(signals, decide.asks_for(r.question))
                extra = {"candidates": [c.text for c in cands], "chosen": chosen.candidate.text if chosen.candidate
                         else reader.NONE, "decision": decide.as_row(decision), "margin": r.margin,
                         "prompt_tokens": chosen.new_tokens}
                if not decision.answer:
                    yield Event("answer", answer=self._abstain(r, t0, extra, timings))
                    return
                span = _span_quote(chosen.candidate)
                short = self._short(chosen.candidate, r.lang)
                timings["short"] = timings["first_token"] = (time.perf_counter() - t0) * 1000
                yield Event("text", short + "\n\n" if short else "")
                english = None
                if r.lang == "en":
                    gate, reply = reader.Gate({quote.marker: passages[quote.marker]}, years), ""
                    # Known names and amounts go in already in English (딥시크 -> DeepSeek, 6000억달러 -> $600
                    # billion): the converter is right where a 1.5B model guesses (DeepMind, "6000 billion").
                    source = _in_english(sentence)
                    for piece in self.llm.stream(reader.translation_messages(source), s.reader_max_tokens, deadline):
                        reply += piece
                        shown = gate.feed(piece)
                        if shown:
                            yield Event("text", shown)
                    tail = gate.close()
                    if tail:
                        yield Event("text", tail)
                    english = _check_english(reply, quote, passages, years)
        except LLMError as e:
            notice = MESSAGES[r.lang]["reader_failed"].format(why=e)
            yield Event("answer", answer=self._extractive(r, t0, [notice], timings=timings))
            return
        yield Event("answer", answer=self._finish(r, t0, quote, span, short, english, extra, timings))

    def _signals(self, r: _Retrieved, chosen: reader.Chosen, quote: Quote, sentence: str,
                 cands: Sequence[candidates.Candidate], years: dict[int, tuple[int, ...]]) -> decide.Signals:
        _, missing_type = decide.type_missing(r.question, cands)
        return decide.Signals(round(chosen.p_none, 4), round(r.margin, 4), missing_type,
                              decide.entity_missing(r.question, sentence, years.get(quote.marker, ())),
                              decide.coverage(r.question, quote.text), decide.polar(r.question))

    def _chosen_quote(self, cand: candidates.Candidate | None, r: _Retrieved) -> Quote:
        """The article sentence the chosen span stands in; the best quote when the model chose NONE."""
        if cand is None:
            return r.quotes[0]
        hit = r.hits[cand.marker - 1]
        for st in r.index.passage_sentences(hit.doc_id, hit.start).items:
            if st.start <= cand.start and cand.end <= st.end:
                return Quote(cand.marker, hit.doc_id, st.start, st.end, st.text, 1.0)
        return r.quotes[0]

    def _short(self, cand: candidates.Candidate | None, lang: str) -> str:
        """The chosen span as the short answer; for an English reader only what converts (amounts, dates,
        known names): the rest of it reaches them in the translated sentence."""
        if cand is None or (cand.kind == "clause" and len(cand.text) > self.settings.reader_short_chars):
            return ""
        if lang == "en":
            english = _in_english(cand.text)
            if has_hangul(english):  # "20% 이하": the amount or date in it, as an English reader writes it
                facts = [c.text for c in verify.claims(english) if c.kind in ("number", "date")]
                english = facts[0] if len(facts) == 1 else english
            return "" if has_hangul(english) else english
        return cand.text

    def _finish(self, r: _Retrieved, t0: float, quote: Quote, span: Quote | None, short: str,
                english: _English | None, extra: dict, timings: dict) -> Answer:
        """The short answer, then the sentence it stands in (quoted; for an English reader, translated and
        checked, the Korean original beside it), then any other near-tied quotes for a Korean reader."""
        notices = list(r.notices)
        articles = r.index.articles
        # The sentence the answer stands in first, then the quoting path's other (non-overlapping) sentences.
        quotes = (quote, *(q for q in r.quotes if not overlaps(q, [quote])))
        if english is not None:
            extra = {**extra, "translation": english.text, "translation_verified": english.verified}
            if not english.verified:
                if not short:  # nothing checked to say in English: the Korean original stays in the sources
                    timings["total"] = (time.perf_counter() - t0) * 1000
                    return Answer(r.question, MESSAGES[r.lang]["unverified_english"], tuple(r.hits), False, r.lang,
                                  r.margin, quotes, notices=tuple(notices), retrieval_query=r.query, extra=extra,
                                  reader=self.reader_info, timings=timings, span=span)
                notices.append(MESSAGES[r.lang]["dropped"].format(n=1))
            elif english.dropped:
                notices.append(MESSAGES[r.lang]["dropped"].format(n=english.dropped))
            sentence = Sentence(f"{english.text} [{quote.marker}]", (quote.marker,), english.verified, (quote,),
                                english.missing, kind="translation")
            sentences = (sentence,)
            shown = [x.text for x in sentences if x.verified]
        else:
            sentences = tuple(Sentence(f"{annotate(q.text, articles[q.doc_id].date_iso, 'ko')} [{q.marker}]",
                                       (q.marker,), True, (q,)) for q in quotes[: self.settings.max_quotes])
            shown = [x.text for x in sentences]
        text = "\n\n".join(p for p in (short, " ".join(shown)) if p)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(r.question, text, tuple(r.hits), False, r.lang, r.margin, quotes, notices=tuple(notices),
                      retrieval_query=r.query, extra=extra, short=short, sentences=sentences,
                      reader=self.reader_info, timings=timings, span=span)


def _clean_history(history: Sequence[str], max_chars: int) -> list[str]:
    """Previous questions, tidied like a question; ones that aren't questions are dropped."""
    out = []
    for h in history if not isinstance(history, str) else [history]:
        try:
            out.append(clean_question(h, max_chars)[0])
        except ValueError:
            continue
    return out


def _years(date: str) -> tuple[int, ...]:
    m = re.match(r"\s*(\d{4})", date or "")
    return (int(m.group(1)),) if m else ()


def _in_english(text: str) -> str:
    """Korean amounts, dates and known names in an English sentence, written for an English reader."""
    return verify.english_names(englishize(text))


def _span_quote(cand: candidates.Candidate | None) -> Quote | None:
    """The answer's own span in the article, for highlighting inside its sentence."""
    if cand is None:
        return None
    return Quote(cand.marker, cand.doc_id, cand.start, cand.end, cand.text, 1.0)


def _check_english(reply: str, quote: Quote, passages: dict[int, str], years: dict[int, tuple[int, ...]]) -> _English:
    """The translation's sentences whose every number, date and name is in the passage it translates; the
    others are dropped (and said to be), so nothing unchecked is shown."""
    english = _in_english(" ".join(reply.split()))
    kept, missing, dropped = [], [], 0
    for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'“])", english):
        c = verify.check(f"{part} [{quote.marker}]", {quote.marker: passages[quote.marker]}, years)
        if c.verified and len(part) > 3 and not has_hangul(part):
            kept.append(part)
        else:
            missing += [m.text for m in c.missing] or [part[:40]]
            dropped += 1
    return _English(" ".join(kept), bool(kept), tuple(missing), dropped)
