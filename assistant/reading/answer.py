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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.index.store import LoadedIndex
from assistant.ingest.korean import has_hangul, tokens
from assistant.models import readers as llms
from assistant.models.llm import LLM, LLMError, ModelInfo
from assistant.reading import decide, reader, steps
from assistant.reading import quotes as quoting
from assistant.reading.messages import MESSAGES
from assistant.reading.quotes import Quote
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
    diagnostics: steps.Diagnostics = field(default_factory=steps.Diagnostics)
    short: str = ""  # the direct answer: a number, name or date; "" when it is not likely enough right
    sentences: tuple[Sentence, ...] = ()
    reader: ModelInfo = EXTRACTIVE
    timings: dict = field(default_factory=dict)  # milliseconds: retrieve, queue, choose, short, total
    span: Quote | None = None  # the short answer where it stands in the article (highlighted in its sentence)

    @property
    def extra(self) -> dict:
        """The reader's diagnostics as a plain dict (the eval's rows)."""
        return self.diagnostics.as_dict()


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
            since: str | None = None, until: str | None = None, index: LoadedIndex | None = None) -> Answer:
        """Answer `question` from the articles of [since, until], citing passages [1]..[k], or abstain.

        `index`: the snapshot to answer from (default: the retriever's current one); a caller that also renders
        the cited articles passes the snapshot it renders from, so both read the same index."""
        for event in self.stream(question, k, history=history, method=method, since=since, until=until,
                                 index=index):
            if event.answer is not None:
                return event.answer
        raise AssertionError("stream() always ends with an answer")

    def stream(self, question: str, k: int = 5, *, history: Sequence[str] = (), method: str = "routed",
               since: str | None = None, until: str | None = None,
               index: LoadedIndex | None = None) -> Iterator[Event]:
        """The answer as it is made: the sources first, then its text once each step has checked it, then
        the final `Answer`. `index` as for `ask`."""
        t0 = time.perf_counter()
        r = self._retrieve(question, k, history, method, since, until, index)
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
                  since: str | None = None, until: str | None = None,
                  index: LoadedIndex | None = None) -> steps.Retrieved:
        t0 = time.perf_counter()
        index = index if index is not None else self.retriever.index  # one snapshot for the whole answer
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
        return steps.Retrieved(question, lang, query, tuple(hits), focus, tuple(quotes),
                               quoting.confidence(index, focus, quotes), tuple(notices),
                               (time.perf_counter() - t0) * 1000, index)

    def _abstain(self, r: steps.Retrieved, t0: float, diag: steps.Diagnostics | None = None,
                 timings: dict | None = None, notices: Sequence[str] = ()) -> Answer:
        return self._answer(r, t0, text=MESSAGES[r.lang]["abstain"], abstained=True, related=r.hits,
                            notices=(*r.notices, *notices), diagnostics=diag or steps.Diagnostics(margin=r.margin),
                            reader=self.reader_info, timings=timings)

    def _extractive(self, r: steps.Retrieved, t0: float, notices: Sequence[str] = (),
                    diag: steps.Diagnostics | None = None, timings: dict | None = None) -> Answer:
        return self._answer(r, t0, text=quoting.compose(r.index, r.quotes, r.lang), citations=r.hits,
                            quotes=r.quotes, notices=(*r.notices, *notices),
                            diagnostics=diag or steps.Diagnostics(margin=r.margin), timings=timings)

    def _read(self, r: steps.Retrieved, t0: float) -> Iterator[Event]:
        """evidence -> candidates -> choose -> decide -> render, holding the model for the whole exchange. A model
        that fails costs this answer only: the quotes, with a notice."""
        s = self.settings
        g = steps.gather(r, s)
        timings: dict = {"retrieve": r.ms}
        diag = steps.Diagnostics(candidates=tuple(c.text for c in g.candidates), margin=r.margin)
        try:
            waited = time.perf_counter()
            with self.llm.lock:
                timings["queue"] = (time.perf_counter() - waited) * 1000
                deadline = time.monotonic() + s.reader_timeout
                t = time.perf_counter()
                chosen = reader.choose(self.llm, r.question, g.evidence, g.candidates, deadline)
                timings["choose"] = (time.perf_counter() - t) * 1000
                cand = chosen.candidate
                quote = steps.chosen_quote(r, cand)
                verdict = steps.judge(r, g, chosen, quote)
                diag = replace(diag, chosen=cand.text if cand else reader.NONE, chosen_kind=cand.kind if cand else "",
                               decision={**decide.as_row(decide.Decision(verdict.answer, verdict.p_answerable,
                                                                         verdict.signals, verdict.asks)),
                                         "short": asdict(verdict.short_signals)},
                               p_short=verdict.p_short, prompt_tokens=chosen.new_tokens)
                if not verdict.answer:
                    yield Event("answer", answer=self._abstain(r, t0, diag, timings))
                    return
                # The sentence with its relative dates resolved: what is checked, and what is translated.
                sentence = steps.annotated(r.index, quote)
                short = steps.short_in(r.lang, cand, verdict, s.reader_short_chars)
                if r.lang == "en" and cand is not None and verdict.show_short and not short and \
                        len(cand.text) <= s.reader_short_chars:
                    reply = "".join(self.llm.stream(reader.translation_messages(steps.in_english(cand.text)),
                                                    s.reader_short_tokens, deadline))
                    checked = steps.check_english(reply, cand.text, quote.marker, g.years, whole=True)
                    short = checked.text if checked.ok else ""
                    diag = replace(diag, short_translation=reply.strip())
                diag = replace(diag, short_shown=bool(short))
                timings["short"] = timings["first_token"] = (time.perf_counter() - t0) * 1000
                yield Event("text", short + "\n\n" if short else "")
                english = None
                if r.lang == "en":
                    # Known names and amounts go in already in English (딥시크 -> DeepSeek, 6000억달러 -> $600
                    # billion): the converter is right where a 1.5B model guesses (DeepMind, "6000 billion").
                    # Nothing of it is shown before the whole of it is checked (numbers, names, direction, negation).
                    reply = "".join(self.llm.stream(reader.translation_messages(steps.in_english(sentence)),
                                                    s.reader_max_tokens, deadline))
                    english = steps.check_english(reply, sentence, quote.marker, g.years)
                    diag = replace(diag, translation=english.text or reply.strip(), translation_ok=english.ok)
        except LLMError as e:
            notice = MESSAGES[r.lang]["reader_failed"].format(why=e)
            yield Event("answer", answer=self._extractive(r, t0, [notice], diag, timings))
            return
        answer = self._finish(r, t0, quote, steps.span_quote(cand), short, english, diag, timings)
        rest = answer.text[len(short) + 2 if short else 0:]  # the checked body, after the short answer
        if rest:
            yield Event("text", rest)
        yield Event("answer", answer=answer)

    def _finish(self, r: steps.Retrieved, t0: float, quote: Quote, span: Quote | None, short: str,
                english: steps.English | None, diag: steps.Diagnostics, timings: dict) -> Answer:
        """The short answer (when shown), then the sentence it stands in: quoted, or for an English reader
        translated and checked with the Korean original beside it; without a short answer, under a plain
        heading. A Korean reader also sees the other near-tied quoted sentences."""
        m = MESSAGES[r.lang]
        notices = list(r.notices)
        quotes = steps.quotes_for(r, quote)
        lines = steps.quote_lines(r.index, quotes, self.settings.max_quotes)
        if english is None:
            sentences = tuple(Sentence(t, (q.marker,), True, (q,)) for t, q in lines)
            body = " ".join(x.text for x in sentences)
        elif english.ok:
            if english.dropped:
                notices.append(m["dropped"].format(n=english.dropped))
            sentences = (Sentence(f"{english.text} [{quote.marker}]", (quote.marker,), True, (quote,),
                                  kind="translation"),)
            body = sentences[0].text
        else:  # the translation failed a check: never shown; a plain pointer to the Korean sentence it rests on
            rejected = diag.translation or ""
            sentences = (Sentence(f"{rejected} [{quote.marker}]", (quote.marker,), False, (quote,),
                                  (english.why,), kind="translation"),)
            body = m["pointer"].format(marker=quote.marker)
            notices.append(m["unverified_english"])
        heading = "" if short else m["articles_say"]
        text = "\n\n".join(p for p in (short, heading, body) if p)
        return self._answer(r, t0, text=text, citations=tuple(r.hits), quotes=quotes, notices=notices, short=short,
                            sentences=sentences, reader=self.reader_info, span=span if short else None,
                            diagnostics=diag, timings=timings)

    def _answer(self, r: steps.Retrieved, t0: float, *, timings: dict | None = None, notices: Sequence[str] = (),
                **fields: Any) -> Answer:
        """Every Answer is built here, by keyword."""
        timings = {"retrieve": r.ms, **(timings or {}), "total": (time.perf_counter() - t0) * 1000}
        fields.setdefault("reader", EXTRACTIVE)
        return Answer(question=r.question, lang=r.lang, confidence=r.margin, retrieval_query=r.query,
                      abstained=fields.pop("abstained", False), text=fields.pop("text"),
                      citations=fields.pop("citations", ()), notices=tuple(notices), timings=timings, **fields)

def _clean_history(history: Sequence[str], max_chars: int) -> list[str]:
    """Previous questions, tidied like a question; ones that aren't questions are dropped."""
    out = []
    for h in history if not isinstance(history, str) else [history]:
        try:
            out.append(clean_question(h, max_chars)[0])
        except ValueError:
            continue
    return out
