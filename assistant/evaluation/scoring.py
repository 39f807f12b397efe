"""Score the short answer a person sees, the same way on the news eval and on KorQuAD.

- EM and F1 follow KorQuAD 1.0's own `evaluate-v1.0.py` (itself SQuAD 1.1's script, adapted): lower-case,
  quotes, brackets and punctuation removed, spaces folded; EM compares those strings, F1 counts the characters
  they share (spaces left out), and a question scores its best gold answer. A refusal or an empty short answer
  scores 0. Written out here rather than imported: the script is not a package, and it is twenty lines.
- "Short right" is what a reader would call right: a gold answer inside the short answer (after the same
  normalization) *and* a short answer that is brief, at most 20 characters or twice the gold's length, so that
  quoting a whole sentence does not count as answering.
- The risk-coverage curve (Geifman & El-Yaniv 2017): answers sorted by their confidence, the precision of the
  top share c of them against c. Summarized by AURC, the area under the risk (1 - precision) curve as
  Geifman & El-Yaniv define it (mean risk over the shown answers' points; lower is better), by the area under
  the precision curve over the coverage of *all* answerable questions (higher is better; it also rewards
  showing more), and by the precision at 60% coverage.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BRIEF_CHARS = 20
_REMOVE = re.compile("['\"《》<>〈〉()‘’]")  # replaced by a space, as the official script does
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """KorQuAD 1.0's normalization: quotes and brackets to spaces, lower-case, ASCII punctuation removed,
    whitespace folded to single spaces."""
    s = _REMOVE.sub(" ", s).lower()
    return " ".join("".join(ch for ch in s if ch not in _PUNCT).split())


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized gold answer; 0.0 for an empty prediction."""
    p = normalize_answer(prediction)
    return float(bool(p) and any(p == normalize_answer(g) for g in gold))


def f1(prediction: str, gold: Sequence[str]) -> float:
    """Character-level F1 (spaces left out) against the best gold answer."""
    pred = list(normalize_answer(prediction).replace(" ", ""))
    best = 0.0
    for g in gold:
        ref = list(normalize_answer(g).replace(" ", ""))
        same = sum((Counter(pred) & Counter(ref)).values())
        if same:
            p, r = same / len(pred), same / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def holds_gold(text: str, gold: Sequence[str]) -> bool:
    """A gold answer anywhere in `text` (normalized, spaces ignored): "right" for the whole answer shown."""
    flat = normalize_answer(text).replace(" ", "")
    return any((g := normalize_answer(alias).replace(" ", "")) and g in flat for alias in gold)


def brief(short: str, gold: str) -> bool:
    """Is `short` a short answer rather than a sentence: at most 20 characters or twice the gold's length?"""
    n = len(short.strip())
    return n <= BRIEF_CHARS or n <= 2 * len(gold.strip())


def short_right(short: str, gold: Sequence[str]) -> bool:
    """A gold answer inside the short answer (both normalized, spaces ignored), and the short answer brief."""
    return bool(short.strip()) and any(holds_gold(short, [alias]) and brief(short, alias) for alias in gold)


@dataclass(frozen=True)
class ShortCounts:
    answerable: int
    shown: int  # a non-empty short answer
    right: int
    em: float  # means over the answerable questions (a refusal scores 0)
    f1: float

    @property
    def wrong(self) -> int:
        return self.shown - self.right

    @property
    def precision(self) -> float:
        return self.right / self.shown if self.shown else 0.0

    @property
    def coverage(self) -> float:
        return self.shown / self.answerable if self.answerable else 0.0

    def as_dict(self) -> dict:
        return {"answerable": self.answerable, "shown": self.shown, "right": self.right, "wrong": self.wrong,
                "precision": round(self.precision, 4), "coverage": round(self.coverage, 4),
                "em": round(self.em, 4), "f1": round(self.f1, 4)}


def short_counts(pairs: Sequence[tuple[str, Sequence[str]]]) -> ShortCounts:
    """Shown / right / EM / F1 over (short answer or "" for none, gold answers) of answerable questions."""
    shorts = [(s.strip(), g) for s, g in pairs]
    n = len(shorts)
    return ShortCounts(
        answerable=n,
        shown=sum(1 for s, _ in shorts if s),
        right=sum(1 for s, g in shorts if s and short_right(s, g)),
        em=sum(exact_match(s, g) for s, g in shorts) / n if n else 0.0,
        f1=sum(f1(s, g) for s, g in shorts) / n if n else 0.0,
    )


def short_score(answer) -> float:  # noqa: ANN001 - reading.answer.Answer
    """How sure the reader is of its short answer: p_short when the reader gives it, else its P(answerable),
    else the answer's confidence."""
    extra = answer.extra or {}
    if extra.get("p_short") is not None:
        return float(extra["p_short"])
    p = (extra.get("decision") or {}).get("p_answerable")
    return float(p) if p is not None else float(answer.confidence)


@dataclass(frozen=True)
class RiskCoverage:
    coverage: tuple[float, ...]  # k / answerable for the k most confident short answers, k = 1..shown
    precision: tuple[float, ...]  # right among those k
    aurc: float  # mean risk (1 - precision) over the curve's points; 1.0 with no answer shown
    area: float  # area under precision over coverage in [0, 1] (the curve stops at the share shown)
    precision_at_60: float | None  # at 60% coverage of the answerable questions; None when fewer were shown

    def as_dict(self) -> dict:
        return {"aurc": round(self.aurc, 4), "area": round(self.area, 4),
                "precision_at_60": None if self.precision_at_60 is None else round(self.precision_at_60, 4),
                "max_coverage": round(self.coverage[-1], 4) if self.coverage else 0.0}


def risk_coverage(scored: Sequence[tuple[float, bool]], answerable: int) -> RiskCoverage:
    """The curve of the shown short answers, (confidence, right) each, most confident first; coverage is
    counted against every answerable question, so a reader that shows fewer answers ends its curve earlier."""
    if not scored or not answerable:
        return RiskCoverage((), (), 1.0, 0.0, None)
    order = sorted(scored, key=lambda sr: -sr[0])  # stable: ties keep their order
    right = np.cumsum([r for _, r in order], dtype=float)
    k = np.arange(1, len(order) + 1)
    coverage, precision = k / answerable, right / k
    at = int(np.searchsorted(coverage, 0.6 - 1e-12))
    p60 = float(precision[at]) if at < len(order) else None
    return RiskCoverage(tuple(map(float, coverage)), tuple(map(float, precision)), float((1 - precision).mean()),
                        float(precision.sum() / answerable), p60)


def shown_short(ans) -> str:  # noqa: ANN001
    """The short answer a person sees ("" for none, or for a refusal)."""
    return "" if ans.abstained else (ans.short or "").strip()
