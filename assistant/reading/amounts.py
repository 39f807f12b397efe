"""Numbers, amounts and dates in Korean and English text, as comparable values.

The verifier needs to know that 6000억달러 and "$600 billion" are the same claim,
that 50억달러 is 5 billion (not 50), and that 1월27일 is January 27. This module
finds such mentions and turns them into `Quantity` and `Day` values; it knows
nothing about answers or passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Units are normalised to a few classes; a claim's unit must match its evidence's.
UNIT_CLASSES = {
    "%": "percent", "퍼센트": "percent", "percent": "percent", "per cent": "percent", "pct": "percent",
    "%p": "points", "%포인트": "points", "포인트": "points", "percentage points": "points", "points": "points",
    "달러": "usd", "$": "usd", "dollars": "usd", "dollar": "usd", "usd": "usd", "us$": "usd",
    "원": "krw", "won": "krw", "krw": "krw", "₩": "krw",
    "위안": "cny", "yuan": "cny", "엔": "jpy", "yen": "jpy", "유로": "eur", "euros": "eur", "euro": "eur", "€": "eur",
    "년": "year", "배": "times", "times": "times", "fold": "times",
    "개": "", "명": "", "곳": "", "건": "", "가지": "",  # Korean counters: a bare count
}
_KO_BIG = {"만": 1e4, "억": 1e8, "조": 1e12, "경": 1e16}
_KO_SMALL = {"천": 1e3, "백": 1e2, "십": 1e1}
_EN_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9,
             "b": 1e9, "trillion": 1e12, "tn": 1e12, "t": 1e12}
_EN_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "fifty": 50,
             "hundred": 100, "half": 0.5, "twice": 2, "double": 2, "triple": 3}
_KO_NATIVE = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9


@dataclass(frozen=True)
class Quantity:
    """A number as said in text: its value, unit class ('' when bare) and where it stands."""

    value: float
    unit: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Day:
    """A calendar mention; missing parts are None (\"1월27일\" has no year)."""

    year: int | None
    month: int | None
    day: int | None
    start: int
    end: int
    text: str


_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?|\d*\.\d+"
_EN_SCALE_RE = "|".join(sorted(_EN_SCALE, key=len, reverse=True))
_UNIT_AFTER = re.compile(
    r"\s?(%포인트|%p|%|퍼센트|percentage points|per cent|percent|pct|points|달러|dollars?|usd|원|won|krw|"
    r"위안|yuan|엔(?![가-힣])|yen|유로|euros?|년(?!대)|배|times|fold|개|명|곳|건|가지)",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|₩|€)\s?$", re.IGNORECASE)
_TOKEN = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})(?:\s?(?P<ko>(?:[천백십]?\s?[만억조경]\s?(?:{_NUM})?\s?)+))?"
    rf"(?:\s?(?P<en>{_EN_SCALE_RE})\b)?",
    re.IGNORECASE,
)
_RANGE_SEP = re.compile(r"^\s?(?:~|–|—|-|to|에서|∼|〜)\s?")


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def korean_amount(text: str) -> float:
    """1조 2000억 -> 1.2e12; 3억5천만 -> 3.5e8; 560만 -> 5.6e6. Digits with Korean place words."""
    total, group = 0.0, 0.0
    for m in re.finditer(rf"({_NUM})?\s?([천백십만억조경])?", text.replace(" ", "")):
        digits, word = m.group(1), m.group(2)
        if not digits and not word:
            continue
        value = _num(digits) if digits else 1.0
        if word in _KO_SMALL:
            group += value * _KO_SMALL[word]
        elif word in _KO_BIG:
            total += (group + (value if digits else (0 if group else 1))) * _KO_BIG[word]
            group = 0.0
        else:
            group += value
    return total + group


def quantities(text: str) -> list[Quantity]:
    """Every number in `text` with its scale and unit; both ends of a range carry the range's unit."""
    found: list[Quantity] = []
    for m in _TOKEN.finditer(text):
        start, end = m.start(), m.end()
        if _is_date_part(text, start, end) or _is_name_part(text, start, end):
            continue
        raw = m.group(0)
        value = korean_amount(raw) if m.group("ko") else _num(m.group("num"))
        if m.group("en"):
            scale = _EN_SCALE[m.group("en").lower()]
            if m.group("en").lower() in ("m", "b", "t", "k") and not _CURRENCY_BEFORE.search(text[:start]):
                end = m.start("en")  # "5 m" is five metres, not five million, unless money is said
                end = start + len(raw[: m.start("en") - start].rstrip())
            else:
                value *= scale
        unit = ""
        before = _CURRENCY_BEFORE.search(text[max(0, start - 4):start])
        if before:
            unit = UNIT_CLASSES[before.group(1).lower()]
        after = _UNIT_AFTER.match(text, end)
        if after:
            unit = UNIT_CLASSES[after.group(1).lower()]
            end = after.end()
        found.append(Quantity(value, unit, start, end, text[start:end].strip()))
    return _spread_range_units(text, found)


def _spread_range_units(text: str, found: list[Quantity]) -> list[Quantity]:
    """In "5~10%", "5~10억달러" or "$5-6 billion" both ends share the unit and the scale word."""
    out = list(found)
    for i in range(len(found) - 1):
        a, b = out[i], out[i + 1]
        gap = text[a.end:b.start]
        if len(gap) > 6 or not _RANGE_SEP.match(gap) or not (a.unit or b.unit):
            continue
        unit = a.unit or b.unit
        scale_a, scale_b = _scale(a), _scale(b)
        value_a = a.value * (scale_b if scale_a == 1 and scale_b > 1 else 1)
        value_b = b.value * (scale_a if scale_b == 1 and scale_a > 1 else 1)
        out[i] = Quantity(value_a, unit, a.start, a.end, a.text)
        out[i + 1] = Quantity(value_b, unit, b.start, b.end, b.text)
    return out


def _scale(q: Quantity) -> float:
    """The place word's factor in a quantity ("10억달러" -> 1e8), 1 when it has none."""
    m = re.match(_NUM, q.text)
    base = _num(m.group(0)) if m else 0
    return q.value / base if base and m.end() < len(q.text.rstrip("%$")) and q.value != base else 1.0


_DATE_PATTERNS = [
    # 2025년 1월 27일 / 1월27일 / 2025년 1월
    re.compile(r"(?:(?P<y>\d{4})\s?년\s?)?(?P<m>\d{1,2})\s?월(?:\s?(?P<d>\d{1,2})\s?일)?"),
    # 2025-01-27, 2025.1.27, 2025/01/27
    re.compile(r"(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})"),
    # 27 January 2025
    re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mn>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
               r"[a-z]*)\.?(?:,?\s+(?P<y>\d{4}))?", re.IGNORECASE),
    # January 27, 2025 / Jan. 27 / January 2025
    re.compile(r"(?P<mn>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)\.?\s+"
               r"(?:(?P<d>\d{1,2})(?:st|nd|rd|th)?\b,?\s*)?(?P<y>\d{4})?", re.IGNORECASE),
]


def days(text: str) -> list[Day]:
    """Every calendar mention (a month with a day, year or both, or a month alone) in `text`."""
    found: list[Day] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            parts = m.groupdict()
            month = int(parts["m"]) if parts.get("m") else MONTHS.get((parts.get("mn") or "").lower().rstrip("."))
            if month is None:
                name = (parts.get("mn") or "").lower()
                month = next((i for k, i in MONTHS.items() if name.startswith(k)), None)
                if month is None or (len(name) > 3 and name not in MONTHS):
                    continue
            if not 1 <= month <= 12:
                continue
            day = int(parts["d"]) if parts.get("d") else None
            year = int(parts["y"]) if parts.get("y") else None
            if day is not None and not 1 <= day <= 31:
                continue
            if parts.get("mn") and parts["mn"].lower() == "may" and day is None and year is None:
                continue  # the verb "may"
            taken.append((m.start(), m.end()))
            text_ = m.group(0).strip().rstrip(",")
            found.append(Day(year, month, day, m.start(), m.start() + len(m.group(0).rstrip().rstrip(",")), text_))
    for m in re.finditer(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s?년(?!\s?\d{1,2}\s?월)", text):
        if not any(m.start() < e and s < m.end() for s, e in taken):
            found.append(Day(int(m.group("y")), None, None, m.start(), m.end(), m.group(0)))
    return sorted(found, key=lambda d: d.start)


def _is_date_part(text: str, start: int, end: int) -> bool:
    return any(d.start <= start and end <= d.end and (d.month is not None) for d in _days_cached(text))


_cache: dict[str, list[Day]] = {}


def _days_cached(text: str) -> list[Day]:
    if text not in _cache:
        if len(_cache) > 512:
            _cache.clear()
        _cache[text] = days(text)
    return _cache[text]


def _is_name_part(text: str, start: int, end: int) -> bool:
    """The 1 in R1, the 200 in H200, the 5 in GPT-5 belong to names, not amounts."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return (before.isascii() and before.isalpha()) or (before == "-" and start > 1 and text[start - 2].isalpha()
                                                        and text[start - 2].isascii()) \
        or (after.isascii() and after.isalpha() and after.lower() not in "kmbt%")


def same_value(a: float, b: float) -> bool:
    """Equal up to rounding in the last shown digit (6.71e11 vs 671 billion), never across scales."""
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return abs(a - b) / max(abs(a), abs(b)) < 1e-6


def word_numbers(text: str) -> list[Quantity]:
    """Spelled-out numbers: English words and Korean native numerals before a counter (두 가지)."""
    out = []
    for m in re.finditer(r"\b(" + "|".join(_EN_WORDS) + r")\b", text, re.IGNORECASE):
        out.append(Quantity(float(_EN_WORDS[m.group(1).lower()]), "", m.start(), m.end(), m.group(0)))
    for m in re.finditer(r"(?<![가-힣])(" + "|".join(_KO_NATIVE) + r")\s(?=[가-힣])", text):
        out.append(Quantity(float(_KO_NATIVE[m.group(1)]), "", m.start(), m.end(), m.group(0).strip()))
    return out


_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December"]
_CURRENCY_EN = {"usd": ("$", ""), "krw": ("", " won"), "cny": ("", " yuan"), "jpy": ("", " yen"), "eur": ("€", "")}


def english_number(value: float) -> str:
    """6e11 -> '600 billion', 5.6e6 -> '5.6 million', 142.62 -> '142.62', 12600 -> '12,600'."""
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= scale:
            return f"{value / scale:.6g} {word}"
    return f"{value:,.6g}" if value != int(value) else f"{int(value):,}"


def english_quantity(q: Quantity) -> str:
    """A quantity as an English reader writes it: $5 billion, 840 trillion won, 17%, 3 percentage points."""
    number = english_number(q.value)
    if q.unit in _CURRENCY_EN:
        before, after = _CURRENCY_EN[q.unit]
        return f"{before}{number}{after}"
    return {"percent": f"{number}%", "points": f"{number} percentage points", "times": f"{number} times",
            "year": f"{number} year{'' if q.value == 1 else 's'}"}.get(q.unit, number)  # 5년: a duration


def english_day(d: Day) -> str:
    month = _MONTH_NAMES[d.month - 1] if d.month else ""
    if month and d.day and d.year:
        return f"{month} {d.day}, {d.year}"
    if month and d.day:
        return f"{month} {d.day}"
    if month and d.year:
        return f"{month} {d.year}"
    return str(d.year or month)


def englishize(text: str) -> str:
    """Rewrite Korean-written amounts and dates in an English sentence (50억달러 -> $5 billion,
    1월27일 -> January 27), by the same conversion the verifier checks with."""
    spans: list[tuple[int, int, str]] = []
    for d in days(text):
        if _hangul(d.text):
            spans.append((d.start, d.end, english_day(d)))
    for q in quantities(text):
        if _hangul(q.text) and not any(s < q.end and q.start < e for s, e, _ in spans):
            spans.append((q.start, q.end, english_quantity(q)))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)
