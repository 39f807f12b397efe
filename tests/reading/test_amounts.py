"""Numbers, amounts and dates read from hand-written Korean and English strings."""

from __future__ import annotations

import pytest

from assistant.reading.amounts import days, korean_amount, quantities, same_value, word_numbers


def values(text: str) -> list[tuple[float, str]]:
    return [(q.value, q.unit) for q in quantities(text)]


@pytest.mark.parametrize("text,value", [
    ("560만", 5.6e6), ("50억", 5e9), ("6000억", 6e11), ("1조 2000억", 1.2e12), ("1조2000억", 1.2e12),
    ("3억5천만", 3.5e8), ("6710억", 6.71e11), ("2조", 2e12),
])
def test_korean_place_words(text, value):
    assert same_value(korean_amount(text), value)


@pytest.mark.parametrize("text,value,unit", [
    ("시가총액은 6000억달러 증발했다", 6e11, "usd"),
    ("lost $600 billion in value", 6e11, "usd"),
    ("매년 50억달러에 이르고", 5e9, "usd"),
    ("spends $5 billion a year", 5e9, "usd"),
    ("5 billion dollars", 5e9, "usd"),
    ("142.62달러에서", 142.62, "usd"),
    ("$142.62", 142.62, "usd"),
    ("$5.6 million", 5.6e6, "usd"),
    ("560만달러", 5.6e6, "usd"),
    ("1조 2000억원", 1.2e12, "krw"),
    ("1억 달러", 1e8, "usd"),
    ("하루 17% 폭락", 17, "percent"),
    ("fell 17 percent", 17, "percent"),
    ("12.6% 떨어진", 12.6, "percent"),
    ("3%p 올랐다", 3, "points"),
    ("1,117,320,768 bytes", 1117320768, ""),
    ("671 billion parameters", 6.71e11, ""),
])
def test_amounts_with_units(text, value, unit):
    (got,) = values(text)
    assert same_value(got[0], value) and got[1] == unit


@pytest.mark.parametrize("text,expected", [
    ("5~10%에 불과한", [(5, "percent"), (10, "percent")]),
    ("5–10%", [(5, "percent"), (10, "percent")]),
    ("5-10 percent", [(5, "percent"), (10, "percent")]),
    ("5~10억달러", [(5e8, "usd"), (1e9, "usd")]),
    ("$5-6 billion", [(5e9, "usd"), (6e9, "usd")]),
])
def test_ranges_share_unit_and_scale(text, expected):
    got = values(text)
    assert len(got) == 2
    for (v, u), (ev, eu) in zip(got, expected):
        assert same_value(v, ev) and u == eu


def test_near_misses_differ():
    assert not same_value(korean_amount("50억"), 50e9)  # 50억 is five billion, not fifty
    assert not same_value(korean_amount("6710억"), 6710e9)
    assert not same_value(5.6e6, 5.6e7)
    assert same_value(6.71e11, 671 * 1e9)


def test_names_are_not_amounts():
    assert values("R1 and V3 beat GPT-5 on H200 chips") == []


@pytest.mark.parametrize("text,ymd", [
    ("1월27일", (None, 1, 27)), ("1월 27일", (None, 1, 27)), ("2025년 1월 27일", (2025, 1, 27)),
    ("January 27", (None, 1, 27)), ("Jan. 27, 2025", (2025, 1, 27)), ("27 January 2025", (2025, 1, 27)),
    ("2025-01-27", (2025, 1, 27)), ("in January 2025", (2025, 1, None)), ("2025년 1월", (2025, 1, None)),
])
def test_dates(text, ymd):
    (d,) = days(text)
    assert (d.year, d.month, d.day) == ymd


def test_may_the_verb_is_not_a_date():
    assert days("prices may fall") == []


def test_dates_are_not_amounts():
    assert values("1월27일") == []


def test_spelled_numbers():
    assert [q.value for q in word_numbers("two issues")] == [2]
    assert [q.value for q in word_numbers("쟁점은 두 가지로")] == [2]
