"""When a story was written, and what its "지난해 1월" means.

News is about time: an article's date lets a search keep to a period, and turns the
relative dates in its text ("지난해 1월", "어제", "last year") into absolute ones a
reader can use. A date may be known to the day, the month or only the year, so
every date here is a `Period` (a calendar span), never a made-up day.

Hand-rolled patterns rather than dateparser: we need the exact character offsets of
each expression in the article (answers quote verbatim spans), the Korean news
forms ("지난 27일", "[서울=뉴스핌]" headers) and an honest precision; month
arithmetic is python-dateutil's `relativedelta`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

SOURCES = ("metadata", "dateline", "text", "none")
MONTHS_EN = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
             "october", "november", "december")
_MONTH_EN = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
            r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"


@dataclass(frozen=True)
class Period:
    """A calendar span known to `precision` ("day", "month" or "year"); `start`/`end` are inclusive."""

    start: dt.date
    end: dt.date
    precision: str

    @classmethod
    def of(cls, year: int, month: int | None = None, day: int | None = None) -> Period:
        """The day, month or year named; raises ValueError for an impossible date."""
        if not 1900 <= year <= 2200:
            raise ValueError(f"year {year} out of range")
        if month is None:
            return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), "year")
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return cls(dt.date(year, month, 1), dt.date(year, month, last), "month")
        d = dt.date(year, month, day)
        return cls(d, d, "day")

    def iso(self) -> str:
        """ISO 8601 at its own precision: 2025-01-31, 2025-01 or 2025."""
        return self.start.isoformat()[: {"day": 10, "month": 7, "year": 4}[self.precision]]

    def overlaps(self, since: dt.date | None, until: dt.date | None) -> bool:
        return (since is None or self.end >= since) and (until is None or self.start <= until)

    def text(self, lang: str = "ko") -> str:
        """The period in words: "2025년 1월" / "January 2025"."""
        d = self.start
        if lang == "ko":
            return {"year": f"{d.year}년", "month": f"{d.year}년 {d.month}월",
                    "day": f"{d.year}년 {d.month}월 {d.day}일"}[self.precision]
        month = MONTHS_EN[d.month - 1].capitalize()
        return {"year": f"{d.year}", "month": f"{month} {d.year}", "day": f"{d.day} {month} {d.year}"}[self.precision]


# --- absolute dates -----------------------------------------------------------------

_ABSOLUTE = [
    # 2025년 1월 31일, 2025년 1월, 2025년
    re.compile(r"(?<!\d)(?P<y>(?:19|20|21)\d\d)\s*년(?:\s*(?P<m>1[0-2]|0?[1-9])\s*월(?:\s*(?P<d>3[01]|[12]\d|0?[1-9])"
               r"\s*일)?)?"),
    # 2025-01-31, 2025.01.31, 2025/1/31 (optionally followed by a time), 2025-01, 2025.1
    re.compile(r"(?<![\d.])(?P<y>(?:19|20|21)\d\d)(?P<sep>[-./])\s?(?P<m>1[0-2]|0?[1-9])"
               r"(?:(?P=sep)\s?(?P<d>3[01]|[12]\d|0?[1-9]))?\.?(?![\d])"),
    # January 31, 2025 / Jan. 31 2025 / January 2025
    re.compile(_MONTH_EN + r"\s+(?:(?P<d>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?,?\s+)?(?P<y>(?:19|20|21)\d\d)\b",
               re.IGNORECASE),
    # 31 January 2025
    re.compile(r"\b(?P<d>3[01]|[12]\d|0?[1-9])\s+" + _MONTH_EN + r",?\s+(?P<y>(?:19|20|21)\d\d)\b", re.IGNORECASE),
]
_ISO_FULL = re.compile(r"^\s*(\d{4})(?:-(\d\d)(?:-(\d\d))?)?(?:[T ][\d:.+\-Z]*)?\s*$")


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS_EN, 1) if m.startswith(name.lower().rstrip(".")[:3]))


def find_dates(text: str) -> list[tuple[int, int, Period]]:
    """Every absolute date with a year in `text`: (start, end, period), in order, not overlapping."""
    candidates: list[tuple[int, int, Period]] = []
    for pattern in _ABSOLUTE:
        for m in pattern.finditer(text):
            g = m.groupdict()
            try:
                month = _month_number(g["mon"]) if g.get("mon") else (int(g["m"]) if g.get("m") else None)
                day = int(g["d"]) if g.get("d") else None
                candidates.append((m.start(), m.end(), Period.of(int(g["y"]), month, day)))
            except ValueError:
                continue
    found: list[tuple[int, int, Period]] = []
    for s, e, p in sorted(candidates, key=lambda t: (t[0], t[0] - t[1])):  # the longest reading wins
        if not any(s < fe and fs < e for fs, fe, _ in found):
            found.append((s, e, p))
    return found


def parse_date(value: object) -> Period | None:
    """A metadata or user-typed date ("2025-01-31", "2026-01", "2025년 1월", "Jan 31, 2025") or None."""
    if isinstance(value, dt.date):
        return Period.of(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        return None
    m = _ISO_FULL.match(value)
    if m:
        try:
            return Period.of(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
        except ValueError:
            return None
    found = find_dates(value)
    return found[0][2] if found else None


def bound(value: str | dt.date | None, *, end: bool) -> dt.date | None:
    """A since/until bound as a day: "2025-01" means from its first day, or up to its last."""
    if value is None or value == "":
        return None
    period = parse_date(value)
    if period is None:
        raise ValueError(f"Not a date: {value!r} (use e.g. 2025-01-31, 2025-01 or 2025).")
    return period.end if end else period.start


def article_date(meta_date: object, header: str, body: str) -> tuple[Period | None, str]:
    """The article's date and where it came from: metadata, the header/dateline, a date in the text, or none.

    Only "metadata" and "dateline" are stated by the source; "text" is a guess (the
    latest full date the story mentions, which it cannot predate).
    """
    period = parse_date(meta_date)
    if period is not None:
        return period, "metadata"
    found = [p for _, _, p in find_dates(header)]
    if found:
        return found[0], "dateline"
    dated = [p for _, _, p in find_dates(body) if p.precision != "year"]
    if dated:
        return max(dated, key=lambda p: (p.start, p.precision == "day")), "text"
    return None, "none"


def question_period(question: str) -> Period | None:
    """The period a question names ("2025년 1월", "in January 2025"), for a soft preference."""
    found = find_dates(question)
    return found[0][2] if found else None


# --- relative dates ------------------------------------------------------------------

_REL_YEAR_KO = {"재작년": -2, "지지난해": -2, "지난해": -1, "작년": -1, "올해": 0, "금년": 0, "내년": 1, "명년": 1}
_REL_YEAR_EN = {"last year": -1, "this year": 0, "next year": 1}
_REL_MONTH = {"지난달": -1, "이번 달": 0, "이번달": 0, "이달": 0, "다음 달": 1, "다음달": 1, "내달": 1,
              "last month": -1, "this month": 0, "next month": 1}
_REL_DAY = {"그저께": -2, "그제": -2, "어제": -1, "오늘": 0, "내일": 1, "모레": 2,
            "the day before yesterday": -2, "yesterday": -1, "today": 0, "tomorrow": 1}

_RELATIVE = re.compile(
    r"(?P<year>재작년|지지난해|지난해|작년|올해|금년|내년|명년)(?:\s*(?P<ym>1[0-2]|[1-9])월(?:\s*(?P<yd>3[01]|[12]\d|[1-9])일)?)?"
    r"|(?<![가-힣])올\s+(?P<olm>1[0-2]|[1-9])월"
    r"|(?P<month>지난달|이번\s?달|이달|다음\s?달|내달)"
    r"|(?P<pastday>지난)\s+(?P<pd>3[01]|[12]\d|[1-9])일"
    r"|(?P<pastmon>지난)\s+(?P<pm>1[0-2]|[1-9])월"
    r"|(?P<day>그저께|그제|어제(?!오늘)|오늘(?!날)|내일|모레)"
    r"|\b(?P<yearen>last year|this year|next year)\b"
    r"|\b(?P<monthen>last month|this month|next month)\b"
    r"|\b(?P<dayen>the day before yesterday|yesterday|today|tomorrow)\b"
    r"|\blast\s+(?P<lastmon>january|february|march|april|may|june|july|august|september|october|november"
    r"|december)\b",
    re.IGNORECASE,
)
_RANK = {"year": 0, "month": 1, "day": 2}


def _resolve(m: re.Match, base: Period) -> Period | None:
    """The absolute period one relative expression names, or None when the base is too coarse."""
    g = {k: v for k, v in m.groupdict().items() if v}
    d, have = base.start, _RANK[base.precision]
    if "year" in g or "yearen" in g:
        offset = _REL_YEAR_KO[g["year"]] if "year" in g else _REL_YEAR_EN[g["yearen"].lower()]
        try:
            return Period.of(d.year + offset, int(g["ym"]) if "ym" in g else None, int(g["yd"]) if "yd" in g else None)
        except ValueError:
            return None
    if "olm" in g:
        return Period.of(d.year, int(g["olm"]))
    if "month" in g or "monthen" in g:
        if have < 1:
            return None
        key = (g.get("month") or g["monthen"]).lower()
        offset = _REL_MONTH.get(key, _REL_MONTH.get(key.replace(" ", ""), 0))
        shifted = d + relativedelta(months=offset)
        return Period.of(shifted.year, shifted.month)
    if "pastmon" in g or "lastmon" in g:
        if have < 1:
            return None
        month = int(g["pm"]) if "pm" in g else MONTHS_EN.index(g["lastmon"].lower()) + 1
        return Period.of(d.year if month < d.month else d.year - 1, month)
    if "pastday" in g:
        if have < 2:
            return None
        day = int(g["pd"])
        month = d if day < d.day else d - relativedelta(months=1)
        try:
            return Period.of(month.year, month.month, day)
        except ValueError:
            return None
    if "day" in g or "dayen" in g:
        if have < 2:
            return None
        key = g.get("day") or g["dayen"].lower()
        shifted = d + dt.timedelta(days=_REL_DAY[key])
        return Period.of(shifted.year, shifted.month, shifted.day)
    return None


def resolve_relative(text: str, article_date: Period | str | None, lang: str = "ko") -> list[tuple[int, int, str]]:
    """Relative date expressions in `text` resolved against the article's date: [(start, end, "2025년 1월")].

    Expressions finer than the article's date ("어제" in a story dated only to the month)
    are left out rather than guessed.
    """
    base = article_date if isinstance(article_date, Period) else parse_date(article_date)
    if base is None:
        return []
    out = []
    for m in _RELATIVE.finditer(text):
        period = _resolve(m, base)
        if period is not None:
            out.append((m.start(), m.end(), period.text(lang)))
    return out


def annotate(text: str, article_date: Period | str | None, lang: str = "ko") -> str:
    """`text` with each relative date followed by its resolution: "지난해 1월(2025년 1월)"."""
    parts, pos = [], 0
    for start, end, resolved in resolve_relative(text, article_date, lang):
        note = f"({resolved})" if lang == "ko" else f" ({resolved})"
        if text[start:end].strip() == resolved or text.startswith(note.strip(), end + (lang != "ko")):
            continue  # nothing to add, or said already (a sentence copied from annotated evidence)
        parts += [text[pos:end], note]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
