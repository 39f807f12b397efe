"""Dates: parsing at an honest precision, the article's date and its source, relative dates resolved."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.ingest.dates import (
    Period,
    annotate,
    article_date,
    bound,
    find_dates,
    parse_date,
    question_period,
    resolve_relative,
)


@pytest.mark.parametrize("text, iso, precision", [
    ("2025-01-31", "2025-01-31", "day"), ("2026-01", "2026-01", "month"), ("2025", "2025", "year"),
    ("2025.01.31", "2025-01-31", "day"), ("2025/1/5", "2025-01-05", "day"), ("2025년 1월 31일", "2025-01-31", "day"),
    ("2025년 1월", "2025-01", "month"), ("Jan. 31, 2025", "2025-01-31", "day"), ("January 2025", "2025-01", "month"),
    ("31 January 2025", "2025-01-31", "day"), ("2025-01-31T08:13:00+09:00", "2025-01-31", "day"),
])
def test_parse_date_keeps_its_precision(text, iso, precision):
    p = parse_date(text)
    assert p is not None and p.iso() == iso and p.precision == precision


@pytest.mark.parametrize("text", ["", "javascript:alert(1)", "2025-02-30", "어제", "13월", None, 20250131])
def test_parse_date_refuses_what_is_not_a_date(text):
    assert parse_date(text) is None


def test_month_period_spans_the_month():
    p = parse_date("2024-02")
    assert (p.start, p.end) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert p.overlaps(dt.date(2024, 2, 15), None) and not p.overlaps(dt.date(2024, 3, 1), None)
    assert bound("2025-01", end=False) == dt.date(2025, 1, 1) and bound("2025-01", end=True) == dt.date(2025, 1, 31)
    with pytest.raises(ValueError, match="Not a date"):
        bound("soon", end=True)


def test_find_dates_gives_offsets():
    text = "딥시크는 2025년 1월 20일 R1을 공개했고, 2026-01에 후속작을 냈다."
    found = find_dates(text)
    assert [(text[s:e], p.iso()) for s, e, p in found] == [("2025년 1월 20일", "2025-01-20"), ("2026-01", "2026-01")]


def test_article_date_sources():
    assert article_date("2025-01-31", "", "")[1] == "metadata"
    p, source = article_date("", "기사입력 : 2025년01월31일 08:13\n[서울=뉴스핌] 황숙혜 기자 =", "본문")
    assert (p.iso(), source) == ("2025-01-31", "dateline")
    p, source = article_date("not a date", "", "2024년 3월 2일 발표에 이어 2024년 5월 9일에도 발표했다.")
    assert (p.iso(), source) == ("2024-05-09", "text")
    assert article_date(None, "", "날짜가 없는 글") == (None, "none")


def test_question_period():
    assert question_period("2025년 1월에 엔비디아 주가는?").iso() == "2025-01"
    assert question_period("What happened to Nvidia in January 2025?").iso() == "2025-01"
    assert question_period("엔비디아 주가는?") is None


@pytest.mark.parametrize("text, date, expected", [
    ("지난해 1월을 잊지 못할 겁니다", "2026-01", [("지난해 1월", "2025년 1월")]),
    ("작년 매출", "2025-01-31", [("작년", "2024년")]),
    ("지난달 발표", "2025-01-31", [("지난달", "2024년 12월")]),
    ("어제 폭락했다", "2025-01-31", [("어제", "2025년 1월 30일")]),
    ("지난 27일 폭락", "2025-01-31", [("지난 27일", "2025년 1월 27일")]),
    ("지난 27일 폭락", "2025-01-10", [("지난 27일", "2024년 12월 27일")]),
    ("올 3월 출시", "2025-01-31", [("올 3월", "2025년 3월")]),
    ("어제 폭락했다", "2026-01", []),  # a story dated to the month: "yesterday" stays unresolved
    ("오늘날 AI", "2025-01-31", []),
])
def test_resolve_relative_korean(text, date, expected):
    assert [(text[s:e], r) for s, e, r in resolve_relative(text, date, "ko")] == expected


def test_resolve_relative_english_and_output_language():
    text = "Shares fell yesterday, after last year's rally and last January's launch."
    got = [(text[s:e], r) for s, e, r in resolve_relative(text, "2025-01-31", "en")]
    assert got == [("yesterday", "30 January 2025"), ("last year", "2024"), ("last January", "January 2024")]
    assert resolve_relative("지난해 1월", Period.of(2026, 1), "en")[0][2] == "January 2025"
    assert resolve_relative("지난해 1월", None) == []


def test_annotate_appends_the_resolution():
    assert annotate("트럼프 대통령 (지난해 1월) : 경고", "2026-01") == "트럼프 대통령 (지난해 1월(2025년 1월)) : 경고"
    assert annotate("It fell yesterday.", "2025-01-31", "en") == "It fell yesterday (30 January 2025)."
    assert annotate("날짜 없는 글", "") == "날짜 없는 글"


def test_annotate_twice_adds_nothing():
    """A reader's sentence copied from annotated evidence is annotated again before it is shown."""
    once = annotate("딥시크는 지난해 5월 공개한 논문에서 설명했다.", "2026-01")
    assert once == "딥시크는 지난해 5월(2025년 5월) 공개한 논문에서 설명했다."
    assert annotate(once, "2026-01") == once
    en = annotate("It fell yesterday.", "2025-01-31", "en")
    assert annotate(en, "2025-01-31", "en") == en
