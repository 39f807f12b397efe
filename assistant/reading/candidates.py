"""The spans of the evidence an answer may be: the reader chooses one of these, it never writes its own.

From each evidence sentence: numbers with their units, dates, names, noun phrases (with
their modifiers: "극한의 효율화 전략"), and clauses, for why and how questions. Each is a
slice of the article (`start`, `end`), so whatever the model picks is verbatim by
construction and can be highlighted where it stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.ingest.korean import _lock, kiwi
from assistant.reading.amounts import days, quantities

NOUNS = frozenset({"NNG", "NNP", "NNB", "NR", "SN", "SL", "SH", "XSN", "XPN", "MM", "SW"})
# Inside a noun phrase: "의" between nouns, quotes and dots ('기술 자립', V3.2), "·" lists.
LINKS = frozenset({"JKG", "SSO", "SSC", "SP", "SO"})
# Clause ends: connective endings (고, 며, 면서, 지만, 어서), and the sentence's own end.
CLAUSE_END = frozenset({"EC", "EF"})
KINDS = ("number", "date", "name", "phrase", "clause")


@dataclass(frozen=True)
class Candidate:
    """One span of an evidence sentence: its text is `article.text[start:end]`."""

    text: str
    kind: str  # number | date | name | phrase | clause
    unit: str  # a number's unit class ("percent", "usd", "person", ...), else ""
    marker: int  # the passage it comes from, as cited
    doc_id: str
    start: int
    end: int
    sentence: int  # index of its sentence in the evidence


def spans(sentence: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, unit) of the candidate spans of one sentence, offsets into the sentence."""
    out: list[tuple[int, int, str, str]] = []
    for d in days(sentence):
        out.append((d.start, d.end, "date", ""))
    for m in re.finditer(r"(?:지난해|올해|작년|내년|지난달|이달|다음 달)\s?\d{1,2}\s?월(?:\s?\d{1,2}\s?일)?", sentence):
        out.append((m.start(), m.end(), "date", ""))
    for q in quantities(sentence):
        unit = q.unit
        after = sentence[q.end:q.end + 2]
        if unit == "" and (after.startswith("명") or sentence[q.start:q.end].endswith("명")):
            unit = "person"
        end = q.end + (1 if after.startswith("명") and not sentence[q.start:q.end].endswith("명") else 0)
        if not any(s <= q.start and q.end <= e for s, e, k, _ in out if k == "date"):
            out.append((q.start, end, "number", unit or "count"))
    numbers = sorted((s, e) for s, e, k, _ in out if k == "number")
    for (s1, e1), (s2, e2) in zip(numbers, numbers[1:]):
        if re.fullmatch(r"\s?[~∼-]\s?", sentence[e1:s2]):  # a range: 5~10%
            out.append((s1, e2, "number", next(u for s, e, k, u in out if (s, e) == (s2, e2))))
    out += _date_parts(sentence, [(s, e) for s, e, k, _ in out if k == "date"])
    with _lock:
        toks = kiwi().tokenize(sentence)
    out += _phrases(sentence, toks)
    out += _quoted(sentence)
    out += _clauses(sentence, toks)
    return [(s, e, k, u) for s, e, k, u in out if balanced(sentence[s:e])]


_OPEN, _CLOSE = "([{〈《「『‘“<", ")]}〉》」』’”>"


def balanced(text: str) -> bool:
    """No bracket or curly quote left open or closed alone: never "6710억개 파라미터(학습 변수"."""
    depth = {o: 0 for o in _OPEN}
    for ch in text:
        if ch in _OPEN:
            depth[ch] += 1
        elif ch in _CLOSE:
            o = _OPEN[_CLOSE.index(ch)]
            depth[o] -= 1
            if depth[o] < 0:
                return False
    return not any(depth.values()) and text.count('"') % 2 == 0


def _date_parts(sentence: str, dates: Sequence[tuple[int, int]]) -> list[tuple[int, int, str, str]]:
    """A full date's parts, since a question may ask for the year alone: 1953년, 1953년 3월, 3월 24일."""
    out = []
    for s, e in dates:
        for m in re.finditer(r"\d{1,4}\s?년(?:\s?\d{1,2}\s?월)?|\d{1,2}\s?월(?:\s?\d{1,2}\s?일)?", sentence[s:e]):
            out.append((s + m.start(), s + m.end(), "date", ""))
    return out


_QUOTED = re.compile(r"[‘“'\"「『〈《]([^‘’“”'\"「」『』〈〉《》]{1,40})[’”'\"」』〉》]")


def _quoted(sentence: str) -> list[tuple[int, int, str, str]]:
    """A quoted term or title, without its quotes: ‘명료성’ -> 명료성, 〈행정의 연구〉 -> 행정의 연구."""
    return [(m.start(1), m.end(1), "phrase", "") for m in _QUOTED.finditer(sentence) if m.group(1).strip()]


def _phrases(sentence: str, toks: Sequence) -> list[tuple[int, int, str, str]]:  # noqa: ANN001 - kiwi tokens
    """Maximal noun phrases (nouns joined by 의, quotes, spaces), their proper-noun runs (names), and the
    phrase's last two nouns (the head: "구형 칩" of "미국산 구형 칩")."""
    out: list[tuple[int, int, str, str]] = []
    run: list = []

    def flush() -> None:
        while run and run[-1].tag in LINKS | {"MM", "XPN"}:
            run.pop()
        nouns = [t for t in run if t.tag not in LINKS]
        if nouns:
            start, end = run[0].start, run[-1].start + run[-1].len
            out.append((start, end, "phrase", ""))
            out.extend(_sub_phrases(sentence, run))
            for t in nouns:
                if t.tag in ("NNP", "SL"):
                    out.append((*_word(sentence, t.start, t.start + t.len), "name", ""))
        run.clear()

    for i, t in enumerate(toks):
        tag = t.tag.split("-")[0]
        if tag in NOUNS or (run and tag in LINKS and i + 1 < len(toks) and toks[i + 1].tag.split("-")[0] in NOUNS):
            run.append(t)
        else:
            flush()
    flush()
    singles = [(t.start, t.start + t.len, "phrase", "") for t in toks if t.len == 1 and t.tag in ("NNG", "NNP")
               and (t.start == 0 or sentence[t.start - 1] == " ")]  # a one-syllable word: 킹, 딸, 열
    return [(s, e, k, u) for s, e, k, u in out if (e - s >= 2 or k == "name") and _starts_word(sentence, s)] + singles


def _sub_phrases(sentence: str, run: Sequence, most: int = 4) -> list[tuple[int, int, str, str]]:  # noqa: ANN001
    """Every run of 1-`most` whole words of a noun phrase, brackets splitting words: "백 킹" -> 킹, "정치자금
    9억4000여만원" -> 9억4000여만원, "피어스 커리지(Piers Courage)" -> 피어스 커리지, Piers Courage."""
    words: list[list] = []
    for t in run:
        tag = t.tag.split("-")[0]
        if tag in ("SSO", "SSC") or t.form in ("·", ","):
            words.append([])
            continue
        if not words or not words[-1] or (t.start > 0 and sentence[t.start - 1] == " "):
            words.append([])
        words[-1].append(t)
    words = [w for w in words if w and any(t.tag.split("-")[0] not in LINKS for t in w)]
    groups: list[list[list]] = [[]]
    for w in words:  # words stay together only if nothing but a space stands between them
        if groups[-1] and sentence[groups[-1][-1][-1].start + groups[-1][-1][-1].len:w[0].start].strip():
            groups.append([])
        groups[-1].append(w)
    out = []
    for g in groups:
        for i in range(len(g)):
            for j in range(i + 1, min(len(g), i + most) + 1):
                toks = [t for w in g[i:j] for t in w]
                while toks and toks[-1].tag.split("-")[0] in LINKS | {"MM", "XPN"}:
                    toks.pop()
                if toks:
                    out.append((toks[0].start, toks[-1].start + toks[-1].len, "phrase", ""))
    return out


def _starts_word(sentence: str, start: int) -> bool:
    """Spans begin where a word does: never "1의 뼈대" out of "R1의 뼈대", nor "% 폭락"."""
    return start == 0 or not (sentence[start - 1].isalnum() or sentence[start].isdigit() and
                              sentence[start - 1] in ".,") and sentence[start] not in "%)]』’'\""


def _word(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A Latin or digit token widened to its whole word: Kiwi splits R1 into R and 1, V3.2 into V, 3, .2."""
    while start > 0 and re.match(r"[A-Za-z0-9.\-]", sentence[start - 1]):
        start -= 1
    while end < len(sentence) and re.match(r"[A-Za-z0-9\-]|\.(?=\d)", sentence[end:end + 2]):
        end += 1
    return start, end


def _clauses(sentence: str, toks: Sequence) -> list[tuple[int, int, str, str]]:  # noqa: ANN001
    """Clauses: from the sentence's start or a clause boundary to the next connective ending."""
    out: list[tuple[int, int, str, str]] = []
    begin = 0
    for t in toks:
        tag = t.tag.split("-")[0]
        if tag in CLAUSE_END or (tag == "SP" and t.form == ","):
            end = t.start + t.len
            text = sentence[begin:end].strip(" ,")
            if len(text) >= 6:
                s = begin + (len(sentence[begin:end]) - len(sentence[begin:end].lstrip(" ,")))
                out.append((s, s + len(text), "clause", ""))
            begin = end
    whole = sentence.strip().rstrip(".")
    if whole:
        out.append((0, len(whole), "clause", ""))
    return out


def candidates(evidence: Sequence, limit: int = 48) -> list[Candidate]:  # noqa: ANN001 - reader.Evidence
    """The candidate spans of all evidence sentences, deduplicated by text, short facts before clauses.

    `evidence` items have `marker`, `doc_id` and `sentences` of (start, end, text) in the article.
    """
    seen: dict[str, Candidate] = {}
    order = {k: i for i, k in enumerate(KINDS)}
    found: list[Candidate] = []
    n = 0
    for e in evidence:
        for start, _end, text in e.sentences:
            for s, t, kind, unit in spans(text):
                span = text[s:t].strip()
                if not span or len(span) > 200:
                    continue
                s = s + text[s:t].index(span)
                found.append(Candidate(span, kind, unit, e.marker, e.doc_id, start + s, start + s + len(span), n))
            n += 1
    for c in sorted(found, key=lambda c: (order[c.kind], c.sentence, c.start)):
        if c.text not in seen:
            seen[c.text] = c
    return sorted(seen.values(), key=lambda c: (order[c.kind], c.sentence, c.start))[:limit]
