"""Check a generated sentence against the passages it cites: every number, date and Latin-script name.

A small LLM translating 50억달러 writes "50 billion dollars" with confidence. The
reader's sentences are therefore never trusted: each claim in one (an amount with
its unit, a calendar date, a name in Latin script) must be found in the cited
passages, across languages (6000억달러 = $600 billion, 1월27일 = January 27). The
markers are checked too: a sentence whose facts sit in another passage is re-pointed
there, and one whose facts are in none is unverified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.reading.amounts import Day, Quantity, days, quantities, same_value, word_numbers

NAMES_FILE = Path(__file__).parents[1] / "data" / "names.tsv"
MARKER = re.compile(r"\s?\[(\d{1,2})\]")
# Capitalised words that are not names even in the middle of a sentence.
_NOT_NAMES = {"I", "I'm", "I'd", "It's", "Korean-language", "English", "Q", "A", "Yes", "No"}
_NAME = re.compile(r"(?<![\w$])[A-Za-z][A-Za-z0-9&.'’-]*[A-Za-z0-9]|(?<![\w$])[A-Z]\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(]\s+|\n)$")


@dataclass(frozen=True)
class Claim:
    """A checkable fact inside a sentence: 'number', 'date' or 'name', with its place in the sentence."""

    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Check:
    """The verdict on one sentence: which claims were found, and the markers its evidence really has."""

    verified: bool
    claims: tuple[Claim, ...]
    missing: tuple[Claim, ...]
    markers: tuple[int, ...]
    repointed: bool = False


@cache
def _entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, its forms) per line of names.tsv, read once for both the check and the English rewrite."""
    out = []
    for line in NAMES_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, forms = line.partition("\t")
            out.append((name.strip(), tuple(f.strip() for f in forms.split(",") if f.strip())))
    return tuple(out)


@cache
def glossary() -> dict[str, tuple[str, ...]]:
    """name (lower case) -> the forms a Korean article may write it in."""
    out: dict[str, tuple[str, ...]] = {}
    for name, found in _entries():
        for key in {name.lower(), *name.lower().split()}:
            out[key] = out.get(key, ()) + found
    return out


def markers(sentence: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(m.group(1)) for m in MARKER.finditer(sentence)))


def claims(sentence: str) -> list[Claim]:
    """The numbers, dates and Latin-script names a sentence asserts (markers excluded)."""
    text = MARKER.sub(lambda m: " " * len(m.group(0)), sentence)
    found: list[Claim] = [Claim("date", d.text, d.start, d.end) for d in days(text) if d.month]
    taken = [(c.start, c.end) for c in found]

    def free(s: int, e: int) -> bool:
        return not any(s < te and ts < e for ts, te in taken)

    for q in quantities(text) + [w for w in word_numbers(text) if w.value >= 2]:
        if free(q.start, q.end):
            found.append(Claim("number", q.text, q.start, q.end))
            taken.append((q.start, q.end))
    for m in _NAME.finditer(text):
        word = m.group(0).rstrip(".'’").removesuffix("'s").removesuffix("’s")
        if not word or not free(m.start(), m.start() + len(word)) or not _is_name(text, m.start(), word):
            continue
        found.append(Claim("name", word, m.start(), m.start() + len(word)))
    return sorted(found, key=lambda c: c.start)


def _is_name(text: str, start: int, word: str) -> bool:
    if word in _NOT_NAMES or word.lower() in _MONTH_WORDS:
        return False
    if any(c.isdigit() for c in word) or (len(word) > 1 and word.isupper()):
        return True  # R1, GPT-5, H200, NVDA, AI
    if not word[0].isupper():
        return False
    if _SENTENCE_START.search(text[:start]):  # "The", "Shares", ... open sentences; known names still count
        return word.lower() in glossary() or any(c.isupper() for c in word[1:])
    return True


_MONTH_WORDS = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
                "sept", "oct", "nov", "dec"}


def supported(claim: Claim, evidence: str, years: tuple[int, ...] = ()) -> bool:
    """Is this one claim found in `evidence`? `years` are the cited articles' years (for "1월27일")."""
    if claim.kind == "name":
        return _name_in(claim.text, evidence)
    if claim.kind == "date":
        return any(_same_day(d, e, evidence, years) for d in days(claim.text) for e in days(evidence))
    return any(_same_quantity(q, e) for q in (quantities(claim.text) or word_numbers(claim.text))
               for e in quantities(evidence) + word_numbers(evidence))


def _name_in(name: str, evidence: str) -> bool:
    low = evidence.lower()
    if re.search(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])", low):
        return True
    if any(form.lower() in low for form in glossary().get(name.lower(), ())):
        return True
    return _transliterated_in(name, evidence)


# How a Latin name and the romanized Hangul spelling of it sound alike: consonant classes, vowels dropped
# (Korean adds "eu" between consonants: 스미스 seumiseu = Smith). Order matters: digraphs first.
_SOUND = [("chr", "kr"), ("sch", "s"), ("tch", "s"), ("ch", "s"), ("sh", "s"), ("th", "s"), ("ph", "p"), ("ck", "k"),
          ("ng", "n"), ("x", "s"), ("z", "s"), ("j", "s"), ("c", "k"), ("q", "k"), ("g", "k"), ("f", "p"),
          ("v", "p"), ("b", "p"), ("d", "t"), ("l", "r")]
def skeleton(word: str) -> str:
    """Consonant classes of a Latin word, repeats collapsed: Schmidt -> smt, Nvidia -> npt."""
    w = re.sub(r"[^a-z]", "", word.lower())
    for a, b in _SOUND:
        w = w.replace(a, b)
    w = re.sub(r"[aeiouyhw]", "", w)
    return re.sub(r"(.)\1+", r"\1", w)


def _transliterated_in(name: str, evidence: str) -> bool:
    """Is `name` written in Hangul among the evidence's proper nouns? Brad = 브래드, Schmidt = 슈미트.

    Only words Kiwi tags as proper nouns count, compared by consonant sounds: equal, or (4+ sounds)
    one apart. A made-up "Kim" is not vouched for by 금융, nor "Zhang" by 사장.
    """
    want = skeleton(name)
    if len(want) < 2:
        return False
    return any(word == want or (len(want) >= 4 and _close(want, word)) or (len(want) >= 3 and word == want + "s")
               for word in _proper_noun_skeletons(evidence))  # "s": Barron's = 배런스


def _close(a: str, b: str) -> bool:
    """One substitution apart (퓨처럼 pyucheoreom ~ Futurum)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= 1


@cache
def _proper_noun_skeletons(evidence: str) -> frozenset[str]:
    from korean_romanizer.romanizer import Romanizer

    from assistant.ingest.korean import proper_nouns

    return frozenset(skeleton(Romanizer(word).romanize()) for noun in proper_nouns(evidence)
                     for word in noun.split() if re.fullmatch("[가-힣]+", word))


def _same_quantity(claim: Quantity, ev: Quantity) -> bool:
    if not same_value(claim.value, ev.value):
        return False
    return not claim.unit or claim.unit == ev.unit or (claim.unit == "year" and not ev.unit)


def _same_day(claim: Day, ev: Day, evidence: str, years: tuple[int, ...]) -> bool:
    if claim.month != ev.month or (claim.day is not None and claim.day != ev.day):
        return False
    if claim.year is None or claim.year == ev.year:
        return True
    # "January 27, 2025" against "1월27일": the year must be in the passage or be the article's own.
    return ev.year is None and (claim.year in years or re.search(rf"{claim.year}\s?년", evidence) is not None)


def check(sentence: str, evidence: Mapping[int, str], years: Mapping[int, tuple[int, ...]] | None = None) -> Check:
    """Verify one sentence against the numbered evidence; re-point its markers if its facts are elsewhere.

    A sentence with no checkable claim keeps its (valid) markers and counts as verified:
    there is nothing in it that could be made up beyond the wording.
    """
    years = years or {}
    cited = tuple(m for m in markers(sentence) if m in evidence)
    found = claims(sentence)
    if not found:
        return Check(bool(cited) or not markers(sentence), (), (), cited)

    def missing_in(ms: tuple[int, ...]) -> list[Claim]:
        ys = tuple(y for m in ms for y in years.get(m, ()))
        return [c for c in found if not any(supported(c, evidence[m], ys) for m in ms)]

    if cited and not missing_in(cited):
        return Check(True, tuple(found), (), cited)
    for m in evidence:  # all facts in one other passage: cite that one instead
        if not missing_in((m,)):
            return Check(True, tuple(found), (), (m,), repointed=True)
    everywhere = tuple(evidence)
    missing = missing_in(everywhere)
    if not missing:
        ms = tuple(m for m in everywhere if any(supported(c, evidence[m], years.get(m, ())) for c in found))
        return Check(True, tuple(found), (), ms, repointed=ms != cited)
    return Check(False, tuple(found), tuple(missing), cited)


def english_names(text: str) -> str:
    """Korean spellings of known names in an English sentence, written the English way (딥시크 -> DeepSeek)."""
    for name, form in _name_forms():
        if form in text:
            text = re.sub(rf"{re.escape(form)}(\([^)]*\))?", name, text)
    return text


@cache
def _name_forms() -> tuple[tuple[str, str], ...]:
    """(name as written in English, one Hangul form), longest forms first so 오픈AI wins over AI."""
    display: dict[str, tuple[str, ...]] = {}
    for name, forms in _entries():
        hangul = tuple(f for f in forms if re.search("[가-힣]", f))
        if hangul and name[0].isupper():
            display.setdefault(name, hangul)
    return tuple(sorted(((n, f) for n, fs in display.items() for f in fs), key=lambda p: -len(p[1])))
