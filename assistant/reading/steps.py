"""The reader's answer in small typed steps: evidence -> candidates -> choose -> decide -> render.

Each step returns a frozen dataclass, so the orchestrator (`answer.py`) only passes
values along and every step can be tested on its own. All of a question's lookups go
through the one index snapshot it was retrieved from (`Retrieved.index`), so an index
swapped in mid-answer never mixes with the old one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.index.store import LoadedIndex
from assistant.ingest.dates import annotate
from assistant.ingest.korean import has_hangul
from assistant.reading import candidates, decide, reader, verify
from assistant.reading.amounts import englishize
from assistant.reading.quotes import Quote
from assistant.search.retriever import Hit
from assistant.settings import Settings


@dataclass(frozen=True)
class Retrieved:
    """A question after retrieval: its hits, the sentences quoting would show, their margin over generic text."""

    question: str
    lang: str
    query: str
    hits: tuple[Hit, ...]
    focus: np.ndarray = field(compare=False)
    quotes: tuple[Quote, ...]
    margin: float
    notices: tuple[str, ...]
    ms: float
    index: LoadedIndex = field(compare=False, repr=False)  # the snapshot every lookup of this answer uses


@dataclass(frozen=True)
class Gathered:
    """The evidence the model reads, the spans it may choose, and each cited passage's years."""

    evidence: tuple[reader.Evidence, ...]
    candidates: tuple[candidates.Candidate, ...]
    years: Mapping[int, tuple[int, ...]]


@dataclass(frozen=True)
class Verdict:
    """Answer or refuse, and whether the short answer is likely enough right to be shown."""

    answer: bool
    show_short: bool
    p_answerable: float
    p_short: float
    signals: decide.Signals
    short_signals: decide.ShortSignals
    asks: str


@dataclass(frozen=True)
class English:
    """A translation and what checking it found: shown only when `ok`."""

    text: str
    ok: bool
    why: str = ""  # what failed, for the notice and the eval
    dropped: int = 0  # its sentences left out for facts not in the source


@dataclass(frozen=True)
class Diagnostics:
    """What the reader did with one question, for the eval report and the tests (replaces the old `extra`)."""

    candidates: tuple[str, ...] = ()
    chosen: str = ""
    chosen_kind: str = ""
    decision: Mapping[str, object] = field(default_factory=dict)
    p_short: float | None = None
    short_shown: bool = False
    margin: float = 0.0
    prompt_tokens: int = 0
    translation: str | None = None
    translation_ok: bool | None = None
    short_translation: str | None = None

    def as_dict(self) -> dict:
        return {"candidates": list(self.candidates), "chosen": self.chosen, "chosen_kind": self.chosen_kind,
                "decision": dict(self.decision), "p_short": self.p_short, "short_shown": self.short_shown,
                "margin": self.margin, "prompt_tokens": self.prompt_tokens, "translation": self.translation,
                "translation_verified": self.translation_ok, "short_translation": self.short_translation}


def years_of(date: str) -> tuple[int, ...]:
    m = re.match(r"\s*(\d{4})", date or "")
    return (int(m.group(1)),) if m else ()


def gather(r: Retrieved, s: Settings) -> Gathered:
    """Step 1-2: the evidence sentences of the top passages, and the spans of them an answer may be."""
    evidence = reader.pick_sentences(r.index, r.hits, r.focus, s.reader_depth, s.reader_sentences)
    cands = candidates.candidates(evidence, s.reader_candidates)
    articles = r.index.articles
    years = {n: years_of(articles[h.doc_id].date_iso) for n, h in enumerate(r.hits, 1)}
    return Gathered(tuple(evidence), tuple(cands), years)


def chosen_quote(r: Retrieved, cand: candidates.Candidate | None) -> Quote:
    """The article sentence the chosen span stands in; the best quote when the model chose NONE."""
    if cand is None:
        return r.quotes[0]
    hit = r.hits[cand.marker - 1]
    for st in r.index.passage_sentences(hit.doc_id, hit.start).items:
        if st.start <= cand.start and cand.end <= st.end:
            return Quote(cand.marker, hit.doc_id, st.start, st.end, st.text, 1.0)
    return r.quotes[0]


def judge(r: Retrieved, g: Gathered, chosen: reader.Chosen, quote: Quote) -> Verdict:
    """Step 4: answer or refuse (`decide.decide`), then whether the chosen span is shown as the short answer."""
    asks, missing_type = decide.type_missing(r.question, g.candidates)
    signals = decide.Signals(round(chosen.p_none, 4), round(r.margin, 4), missing_type,
                             decide.entity_missing(r.question, quote.text, g.years.get(quote.marker, ())),
                             decide.coverage(r.question, quote.text), decide.polar(r.question))
    verdict = decide.decide(signals, asks)
    short = decide.short_signals(r.question, chosen, signals, asks)
    p_short = decide.p_short(short) if chosen.candidate is not None else 0.0
    return Verdict(verdict.answer, verdict.answer and p_short >= decide.short_threshold(), verdict.p_answerable,
                   round(p_short, 4), signals, short, asks)


def in_english(text: str) -> str:
    """Korean amounts, dates and known names in an English sentence, written for an English reader."""
    return verify.english_names(englishize(text))


def converted_short(cand: candidates.Candidate) -> str:
    """The chosen span as an English reader writes it, where the converter alone can (amounts, dates, known
    names); "" when words remain that need translating."""
    english = in_english(cand.text)
    if has_hangul(english):  # "20% 이하": the amount or date in it
        facts = [c.text for c in verify.claims(english) if c.kind in ("number", "date")]
        english = facts[0] if len(facts) == 1 and cand.kind in ("number", "date") else english
    return "" if has_hangul(english) else english


# What `check_english` checks of a translation against its Korean sentence (its other wording is not checked).
TRANSLATION_CHECKS = ("numbers", "dates", "names", "direction", "negation")


def check_english(reply: str, source: str, marker: int, years: Mapping[int, tuple[int, ...]],
                  whole: bool = False) -> English:
    """The translation's sentences whose every number, date and name is in `source` (the others are dropped and
    said to be), shown only if together they keep its direction and negation (`polarity.agrees`: checked on the
    whole, since a source that says both may be split into two English sentences). `whole`: a short answer,
    kept or refused as one piece."""
    from assistant.reading import polarity

    english = in_english(" ".join(reply.split())).strip()
    parts = [english] if whole else re.split(r"(?<=[.!?])\s+(?=[A-Z\"'“])", english)
    kept, why, dropped = [], [], 0
    for part in parts:
        c = verify.check(f"{part} [{marker}]", {marker: source}, years)
        if c.verified and len(part) > (0 if whole else 3) and not has_hangul(part):
            kept.append(part)
        else:
            why += [f"not in the source: {m.text}" for m in c.missing] or [f"unchecked: {part[:40]}"]
            dropped += 1
    agreement = polarity.agrees(source, " ".join(kept))
    if kept and not agreement.ok:
        return English("", False, "; ".join([*why, agreement.why]), dropped + len(kept))
    return English(" ".join(kept), bool(kept), "; ".join(why), dropped)


def short_in(lang: str, cand: candidates.Candidate | None, verdict: Verdict, max_chars: int) -> str:
    """The short answer a Korean reader sees: the chosen span, when it is shown at all."""
    if cand is None or not verdict.show_short or (cand.kind == "clause" and len(cand.text) > max_chars):
        return ""
    return cand.text if lang == "ko" else converted_short(cand)


def quotes_for(r: Retrieved, quote: Quote) -> tuple[Quote, ...]:
    """The sentence the answer stands in first, then the quoting path's other (non-overlapping) sentences."""
    from assistant.reading.quotes import overlaps

    return (quote, *(q for q in r.quotes if not overlaps(q, [quote])))


def span_quote(cand: candidates.Candidate | None) -> Quote | None:
    """The answer's own span in the article, for highlighting inside its sentence."""
    if cand is None:
        return None
    return Quote(cand.marker, cand.doc_id, cand.start, cand.end, cand.text, 1.0)


def annotated(index: LoadedIndex, q: Quote) -> str:
    return annotate(q.text, index.articles[q.doc_id].date_iso, "ko")


def quote_lines(index: LoadedIndex, quotes: Sequence[Quote], limit: int) -> list[tuple[str, Quote]]:
    return [(f"{annotated(index, q)} [{q.marker}]", q) for q in quotes[:limit]]
