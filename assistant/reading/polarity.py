"""Does an English translation keep its Korean source's direction (fell / rose) and negation (not / failed)?

The number, date and name checks (`verify.py`) pass "Nvidia's market value increased by $600 billion" for
"6000억달러가 증발했다": every fact is there, and what is said of them is the opposite. This check compares what
they say, on two axes, and rejects a translation when either differs:

- the SET of direction classes each side expresses ({"down"}, {"up"}, both, or none): fall, drop, plunge,
  evaporate, shrink, decline, cut ... vs rise, gain, jump, surge, increase, grow, expand ...; signed numbers
  ("-17%", "▼3%") count too;
- whether each side is negated at all: 않/못/없/아니/안/실패/거부/거절/무산 vs not/n't/never/no/failed/refused/
  denied/without ...

Why sets and presence, not counts or positions: a sentence may say both ("fell, then rebounded"), "fell less than
expected" is still a fall, and "하락세가 멈췄다" / "the decline halted" both name the decline; comparing which
classes occur keeps these, while a flipped verb (증발 -> increased) or a dropped or added "not" changes them.

Why a lexicon: no NLI model is available offline here, and the reader's 1.5B model is what made the error. Korean
is matched on Kiwi's morphemes (`ingest/korean.py`, kiwipiepy), so 떨어졌다 / 떨어지는 / 떨어져 are all the stem
떨어지 and 늘 (VV, grow) is told from 늘 (MAG, always); English on its inflected word forms, listed explicitly (a
stemmer would not tie fell to fall, and a prefix would take "cutting-edge" for a cut).

Measured on the hand-written pairs in tests/reading/test_polarity.py: 14 of 14 contradicting translations
rejected (8 with the direction flipped, 4 with a negation dropped, 2 with one added), 18 of 18 faithful ones passed
(among them both directions in one sentence, "fell less than expected", 하락세가 멈췄다, "-17%", "No. 1",
"declined to comment", 늘 the adverb, 결정을 내리다, 인상적).

Limits (what it cannot see): which thing moved ("A rose, B fell" vs "A fell, B rose" has the same sets);
double negation ("not without"); direction words outside the lexicon (a translation that says "shed" when the
lexicon lacks it is rejected, which costs a shown sentence, not a wrong one); words used in another sense
("give rise to", "cut ties", 결정을 내리다 is handled, others are not); comparatives (higher, lower, more, less) are
ignored on purpose, so a translation that turns "fell" into "was lower" is rejected as having lost its direction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.ingest.korean import morphemes

DOWN, UP = "down", "up"

# Korean: morpheme form -> direction. Verb stems count only as verbs (늘 MAG is "always", 줄 NNG a line);
# the Sino-Korean nouns only as nouns.
_KO_VERBS = {
    "떨어지": DOWN, "떨어뜨리": DOWN, "내리": DOWN, "밀리": DOWN, "줄": DOWN, "줄어들": DOWN, "줄이": DOWN,
    "낮추": DOWN, "잃": DOWN, "곤두박질치": DOWN, "빠지": DOWN,
    "오르": UP, "올리": UP, "치솟": UP, "뛰": UP, "늘": UP, "늘어나": UP, "늘리": UP, "높이": UP, "불어나": UP,
}
_KO_NOUNS = {
    "하락": DOWN, "하락세": DOWN, "급락": DOWN, "폭락": DOWN, "증발": DOWN, "감소": DOWN, "감소세": DOWN, "급감": DOWN,
    "축소": DOWN, "감축": DOWN, "삭감": DOWN, "추락": DOWN, "하향": DOWN, "약세": DOWN, "내림세": DOWN, "손실": DOWN,
    "인하": DOWN, "위축": DOWN, "낙폭": DOWN,
    "상승": UP, "상승세": UP, "급등": UP, "폭등": UP, "증가": UP, "증가세": UP, "급증": UP, "확대": UP, "확장": UP,
    "성장": UP, "상향": UP, "강세": UP, "오름세": UP, "반등": UP, "인상": UP, "부상": UP, "증액": UP,
}
_VERB_TAGS = frozenset({"VV", "VA"})
_NOUN_TAGS = frozenset({"NNG", "NNP", "XR"})
# Negation: (form, tags it counts under). 안 is negation as an adverb, "inside" as a noun; 못 likewise.
_KO_NEGATION = {
    "않": {"VX", "VV"}, "못": {"MAG"}, "못하": {"VX", "VV"}, "없": {"VA"}, "없이": {"MAG"}, "아니": {"VCN", "VA"},
    "안": {"MAG"}, "말": {"VX"}, "모르": {"VV"},
    "실패": _NOUN_TAGS, "거부": _NOUN_TAGS, "거절": _NOUN_TAGS, "무산": _NOUN_TAGS, "불발": _NOUN_TAGS,
}
# 결정을 내리다 is "make a decision", not "lower".
_NOT_LOWERING = frozenset({"결정", "판단", "결론", "명령", "지시", "평가", "조치", "처분", "진단"})


def _words(*groups: str) -> frozenset[str]:
    return frozenset(w for g in groups for w in g.split())


def _forms(direction: str, *groups: str) -> dict[str, str]:
    return dict.fromkeys(_words(*groups), direction)


_EN_DIRECTION = {
    **_forms(DOWN,
             "fall falls fell fallen falling drop drops dropped dropping plunge plunges plunged plunging",
             "plummet plummets plummeted plummeting evaporate evaporates evaporated evaporating evaporation",
             "shrink shrinks shrank shrunk shrinking decline declines declined declining decrease decreases",
             "decreased decreasing cut cuts sink sinks sank sunk sinking slide slides slid sliding slump slumps",
             "slumped slumping tumble tumbles tumbled tumbling tanked tanking crash crashed crashing lose loses lost",
             "losing loss losses wipe wiped wiping erase erased erasing slash slashed slashing reduce reduced",
             "reduces reducing reduction reductions lowered lowering weaken weakened weakening shed sheds shedding",
             "downgrade downgraded contraction"),
    **_forms(UP,
             "rise rises rose risen rising gain gains gained gaining jump jumps jumped jumping surge surges surged",
             "surging increase increases increased increasing grow grows grew grown growing growth expand expands",
             "expanded expanding expansion soar soars soared soaring climb climbs climbed climbing rally rallies",
             "rallied rallying rebound rebounds rebounded rebounding boost boosts boosted boosting raise raises",
             "raised raising hike hikes hiked spike spiked skyrocket skyrocketed double doubled doubling tripled",
             "upgrade upgraded strengthen strengthened"),
}
_EN_NEGATION = _words(
    "not never no none nothing nobody neither nor without cannot unable fail fails failed failing failure",
    "refuse refuses refused refusing refusal deny denies denied denying denial reject rejects rejected rejecting",
    "rejection")
_EN_WORD = re.compile(r"[a-z]+(?:[-'’][a-z]+)*")
_EN_CONTRACTION = re.compile(r"n['’]t\b")
_EN_NUMBER_NO = re.compile(r"\bno\.\s?\d")  # "No. 1" is a rank, not a negation
_EN_DECLINED_TO = re.compile(r"\bdeclin(?:e|es|ed|ing) to\b")  # "declined to comment": a refusal, not a fall
_EN_UP_DOWN_BY = re.compile(r"\b(up|down)\s+(?:by\s+)?(?:about\s+|some\s+|nearly\s+)?[$€£₩]?\d")
# Signed numbers and arrows, in either language: "-17%", "+3.2%", "▼2%". Not a hyphen inside "2024-2025".
_SIGNED = re.compile(r"(?<![\w.,])([-−–+])\s?\d|([▲△↑▼▽↓])")


@dataclass(frozen=True)
class Reading:
    """What one sentence says, on the two axes compared: the direction classes it names and whether it negates."""

    directions: frozenset[str]
    negated: bool
    cues: tuple[str, ...]  # the words that decided it, for the reason given


@dataclass(frozen=True)
class Agreement:
    """Whether a translation keeps its source's direction and negation; `why` says what differs, or what agrees."""

    ok: bool
    why: str
    korean: Reading
    english: Reading


def agrees(korean: str, english: str) -> Agreement:
    """Compare a Korean sentence with its English translation: the sets of direction classes, and negation."""
    ko, en = read_korean(korean), read_english(english)
    problems = []
    if ko.directions != en.directions:
        problems.append(f"direction: source {_name(ko.directions)}, translation {_name(en.directions)}")
    if ko.negated != en.negated:
        problems.append("negation: " + ("the source negates, the translation does not" if ko.negated
                                        else "the translation negates, the source does not"))
    if problems:
        cues = ", ".join(ko.cues + en.cues)
        return Agreement(False, "; ".join(problems) + (f" ({cues})" if cues else ""), ko, en)
    return Agreement(True, f"same direction ({_name(ko.directions)}) and negation "
                           f"({'negated' if ko.negated else 'affirmative'})", ko, en)


def read_korean(text: str) -> Reading:
    """Direction classes and negation of a Korean sentence, from its Kiwi morphemes."""
    directions, cues, negated = set(), [], False
    morphs = morphemes(text)
    for i, (form, tag) in enumerate(morphs):
        following = morphs[i + 1] if i + 1 < len(morphs) else ("", "")
        direction = None
        if tag in _VERB_TAGS and form in _KO_VERBS:
            lowering_a_decision = form == "내리" and any(f in _NOT_LOWERING for f, _ in morphs[max(0, i - 3):i])
            direction = None if lowering_a_decision else _KO_VERBS[form]
        elif tag in _NOUN_TAGS and form in _KO_NOUNS and following != ("적", "XSN"):  # 인상적: impressive
            direction = _KO_NOUNS[form]
        if direction:
            directions.add(direction)
            cues.append(form)
        if tag in _KO_NEGATION.get(form, ()):
            negated = True
            cues.append(form)
    signed = _signed(text)
    return Reading(frozenset(directions | signed), negated, tuple(dict.fromkeys(cues)))


def read_english(text: str) -> Reading:
    """Direction classes and negation of an English sentence, from its word forms."""
    lower = text.lower()
    declined_to = bool(_EN_DECLINED_TO.search(lower))
    without_ranks = _EN_NUMBER_NO.sub(" ", lower)
    directions, cues, negated = set(), [], bool(_EN_CONTRACTION.search(lower)) or declined_to
    if negated:
        cues.append("n't" if not declined_to else "declined to")
    for word in _EN_WORD.findall(without_ranks):
        if word in _EN_DIRECTION and not (declined_to and word.startswith("declin")):
            directions.add(_EN_DIRECTION[word])
            cues.append(word)
        if word in _EN_NEGATION:
            negated = True
            cues.append(word)
    for m in _EN_UP_DOWN_BY.finditer(lower):
        directions.add(UP if m.group(1) == "up" else DOWN)
        cues.append(m.group(1))
    return Reading(frozenset(directions | _signed(text)), negated, tuple(dict.fromkeys(cues)))


def _signed(text: str) -> set[str]:
    out = set()
    for m in _SIGNED.finditer(text):
        mark = m.group(1) or m.group(2)
        out.add(UP if mark in "+▲△↑" else DOWN)
    return out


def _name(directions: frozenset[str]) -> str:
    return " and ".join(sorted(directions)) if directions else "none"
