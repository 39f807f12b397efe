"""Answer or refuse: several signals, one small logistic model fitted on the eval's dev half.

A 1.5B model's NONE alone refuses too little and too much (issue 14's probe). So the
decision also weighs what the retrieval and the text say:
- `p_none`: the model's first-step lean to NONE over every candidate, for a question that asks for
  something (a yes-or-no question has no span to name: there NONE says nothing, and counts 0);
- `margin`: how far the best sentence beats generic off-topic text;
- `type_missing`: the question asks for a kind of answer (몇 명 / how many people, 누구 / who,
  언제 / when, 어디 / where, 얼마 / how much) that no candidate of the evidence is;
- `entity_missing`: the share of the question's names, numbers and dates that the chosen
  sentence does not contain (Samsung's stock fall is not Nvidia's);
- `coverage`: for a Korean question, the share of its content words in the chosen sentence.
The weights live in data/decide.json (and data/short.json for showing the short answer), written by
eval/tune_short.py from KorQuAD dev and the news dev half; its thresholds are read off cross-validated
probabilities.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from assistant.ingest.korean import has_hangul, tokens
from assistant.reading import verify
from assistant.reading.candidates import Candidate

WEIGHTS_FILE = Path(__file__).parents[1] / "data" / "decide.json"
FEATURES = ("p_none", "margin", "type_missing", "entity_missing", "coverage")
_POLAR_EN = re.compile(r"^\W*(?:so |ok |and |but )?(does|did|do|is|are|was|were|had|has|have|can|could|will|would|"
                       r"should)\b", re.I)
_WH = re.compile(r"\b(what|who|whom|whose|when|where|which|why|how)\b|무엇|뭐|뭘|누구|누가|언제|어디|얼마|몇|어떤|"
                 r"어느|왜|어떻게|무슨", re.I)

# What a question asks for -> the candidate kinds (and number units) that can answer it. Order matters.
_ASKS = [
    ("person_count", re.compile(r"몇\s?명|직원\s?수|인원|how many (people|employees|staff|workers|users)", re.I)),
    ("amount", re.compile(r"얼마|몇\s?(조|억|만|원|달러|퍼센트|%)|how much|what (price|amount|share price)|"
                          r"revenue|매출|가격은|주가는 얼마|percent|몇 배", re.I)),
    ("count", re.compile(r"몇\s?(개|곳|건|가지|대|번)|how many", re.I)),
    ("date", re.compile(r"언제|며칠|몇\s?월|몇\s?년|날짜|when\b|what date|which (day|month|year)|"
                        r"in what year|what year", re.I)),
    ("person", re.compile(r"누구|누가|이름은|\bwho\b|whom|whose", re.I)),
    ("place", re.compile(r"어디|어느 (도시|나라|지역)|where\b|which (city|country|region)", re.I)),
]
_ANSWERS = {
    "person_count": lambda c: c.kind == "number" and c.unit == "person",
    "amount": lambda c: c.kind == "number" and c.unit not in ("count", "person"),
    "count": lambda c: c.kind == "number",
    "date": lambda c: c.kind == "date",
    "person": lambda c: c.kind == "name",
    "place": lambda c: c.kind == "name",
}


@dataclass(frozen=True)
class Signals:
    p_none: float
    margin: float
    type_missing: float
    entity_missing: float
    coverage: float

    polar: float = 0.0  # a yes-or-no question

    def vector(self) -> list[float]:
        out = [float(getattr(self, f)) for f in FEATURES]
        out[0] *= 1 - self.polar
        return out


@dataclass(frozen=True)
class Decision:
    answer: bool
    p_answerable: float
    signals: Signals
    asks: str  # the answer type the question asks for, "" when it names none


def polar(question: str) -> float:
    """1 for a yes-or-no question (Does Wall Street believe ...? / 참신하다고 보나?): it names no wh-word."""
    if _WH.search(question):
        return 0.0
    if has_hangul(question):  # a verb's question ending: 보나? 있나요? 했습니까? (not 모델명은?)
        return 1.0 if re.search(r"(나|니|냐|까|가|나요|가요|까요|습니까|는지)\s*\?\s*$", question) else 0.0
    return 1.0 if _POLAR_EN.search(question) else 0.0


def asks_for(question: str) -> str:
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return ""


def type_missing(question: str, cands: Sequence[Candidate]) -> tuple[str, float]:
    kind = asks_for(question)
    if not kind:
        return "", 0.0
    return kind, 0.0 if any(_ANSWERS[kind](c) for c in cands) else 1.0


def key_claims(question: str) -> list[verify.Claim]:
    """The question's names, numbers and dates: what an answer must be about."""
    return [c for c in verify.claims(question) if not (c.kind == "name" and c.text.lower() in _QUESTION_WORDS)]


_QUESTION_WORDS = {"what", "who", "how", "when", "where", "which", "why", "does", "did", "is", "are", "was", "were",
                   "do", "had", "has", "have", "can", "could", "would", "will", "should", "according", "so", "ok",
                   "and", "if", "even", "rather", "in", "on", "for", "the", "a", "an", "as", "per", "ai"}


def entity_missing(question: str, sentence: str, years: tuple[int, ...]) -> float:
    """The share of the question's key names, numbers and dates that `sentence` lacks (0 when it has none);
    for a Korean question its proper nouns count too."""
    found = [verify.supported(c, sentence, years) for c in key_claims(question)]
    if has_hangul(question):
        found += [n in sentence for n in _proper_nouns(question)]
    return round(1 - sum(found) / len(found), 4) if found else 0.0


@cache
def _proper_nouns(question: str) -> tuple[str, ...]:
    from assistant.ingest.korean import proper_nouns

    return tuple(n for n in proper_nouns(question) if len(n) >= 2)


def coverage(question: str, sentence: str) -> float:
    """For a Korean question, the share of its content words found in the sentence; 1 otherwise."""
    if not has_hangul(question):
        return 1.0
    words = {w for w in tokens(question) if len(w) >= 2 and w not in _KO_QUESTION_WORDS}
    if not words:
        return 1.0
    have = set(tokens(sentence))
    return round(sum(w in have for w in words) / len(words), 4)


_KO_QUESTION_WORDS = {"얼마나", "얼마", "어떻게", "무엇", "누구", "언제", "어디", "어느", "무슨", "어떤",
                      "정확히", "가장", "이름", "무엇이", "뭐", "뭘로"}


@cache
def weights() -> dict:
    """The fitted model: {"coef": [...], "intercept": b, "threshold": t, "fitted_on": ...}."""
    return json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))


def logistic(model: dict, x: Sequence[float]) -> float:
    """A fitted logistic regression's probability for the signal vector `x`."""
    z = model["intercept"] + sum(w * v for w, v in zip(model["coef"], x))
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def probability(signals: Signals, model: dict | None = None) -> float:
    return logistic(model or weights(), signals.vector())


def decide(signals: Signals, asks: str, model: dict | None = None) -> Decision:
    m = model or weights()
    p = probability(signals, m)
    return Decision(p >= m["threshold"], round(p, 4), signals, asks)


def as_row(d: Decision) -> dict:
    return {"answer": d.answer, "p_answerable": d.p_answerable, "asks": d.asks, **asdict(d.signals)}


# --- Whether the chosen span is shown as the short answer ------------------------------------------------
SHORT_FILE = Path(__file__).parents[1] / "data" / "short.json"
SHORT_FEATURES = ("p_chosen", "gap", "logprob", "p_none", "number", "date", "name", "phrase", "asks_typed",
                  "type_match", "entity_missing", "coverage", "margin", "length", "first_passage", "echo")


@dataclass(frozen=True)
class ShortSignals:
    """What says a chosen span is the right answer, not just a span of the right sentence."""

    p_chosen: float  # the model's first-step probability for the chosen option's first token
    gap: float  # its narrowest fork: chosen token's log-probability over the runner-up's (capped at 10)
    logprob: float  # the chosen option's log-probability among the options (floored at -15)
    p_none: float
    number: float
    date: float
    name: float
    phrase: float  # (a clause is the baseline kind)
    asks_typed: float  # the question asks for a type of answer (몇 명, 누구, 언제, how much ...)
    type_match: float  # ... and the chosen span is of that type
    entity_missing: float
    coverage: float
    margin: float
    length: float  # log(1 + characters)
    first_passage: float  # the span is in the top passage
    echo: float  # the share of the span's words that the question already says (an echo is no answer)

    def vector(self) -> list[float]:
        return [float(getattr(self, f)) for f in SHORT_FEATURES]


def echo(question: str, span: str) -> float:
    q = re.sub(r"\s+", "", question.lower())
    words = [w for w in re.split(r"\s+", span.lower()) if w]
    if not words:
        return 0.0
    return round(sum(re.sub(r"\W", "", w)[:2] in q for w in words if re.sub(r"\W", "", w)) / len(words), 4)


def short_signals(question: str, chosen: Any, signals: Signals, asks: str) -> ShortSignals:
    """`chosen` is reader.Chosen (kept untyped here: reader imports this module's stage)."""
    c = chosen.candidate
    if c is None:
        return ShortSignals(0.0, 0.0, -15.0, signals.p_none, 0, 0, 0, 0, float(bool(asks)), 0.0,
                            signals.entity_missing, signals.coverage, signals.margin, 0.0, 0.0, 0.0)
    return ShortSignals(
        round(chosen.p_chosen, 4), round(min(chosen.gap, 10.0), 4), round(max(chosen.logprob, -15.0), 4),
        signals.p_none, float(c.kind == "number"), float(c.kind == "date"), float(c.kind == "name"),
        float(c.kind == "phrase"), float(bool(asks)), float(bool(asks) and _ANSWERS[asks](c)),
        signals.entity_missing, signals.coverage, signals.margin, round(math.log1p(len(c.text)), 4),
        float(c.marker == 1), echo(question, c.text))


@cache
def short_model() -> dict:
    return json.loads(SHORT_FILE.read_text(encoding="utf-8"))


def p_short(s: ShortSignals, model: dict | None = None) -> float:
    """P(the chosen span is the right short answer), fitted on KorQuAD dev and the news dev half."""
    return logistic(model or short_model(), s.vector())


def short_threshold(model: dict | None = None) -> float:
    return float((model or short_model())["threshold"])
