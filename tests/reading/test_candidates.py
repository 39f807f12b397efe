"""Candidate spans on hand-written sentences: every kind of short answer is offered, each a slice of its text."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.reading import candidates as candidates_module
from assistant.reading.candidates import candidates, spans


def texts(sentence: str, kind: str | None = None) -> list[str]:
    return [sentence[s:e] for s, e, k, _ in spans(sentence) if kind in (None, k)]


def test_numbers_keep_their_units_and_ranges():
    s = "엔비디아 주가는 하루 17% 폭락했고 시가총액 6000억달러가 증발했으며, 자본은 미국 빅테크의 5~10%였다."
    found = texts(s, "number")
    assert "17%" in found and "6000억달러" in found and "5~10%" in found


def test_counts_of_people_are_typed_as_people():
    s = "딥시크 직원 120명이 V3.2를 만들었다."
    units = {s_[a:b]: u for s_ in [s] for a, b, k, u in spans(s_) if k == "number"}
    assert units.get("120명") == "person"


def test_dates_including_relative_ones():
    s = "딥시크는 지난해 5월 공개한 논문에서 1월27일의 일을 설명했다."
    found = texts(s, "date")
    assert "지난해 5월" in found and "1월27일" in found


def test_names_are_whole_words():
    s = "딥시크는 R1의 뼈대가 되는 V3 모델을 개발했다."
    names = texts(s, "name")
    assert "R1" in names and "V3" in names and "R" not in names and "V" not in names


def test_noun_phrases_with_modifiers_and_their_heads():
    s = "딥시크가 미국의 반도체 규제를 돌파할 수 있었던 비결은 극한의 효율화 전략이었습니다."
    phrases = texts(s, "phrase")
    assert "극한의 효율화 전략" in phrases and "미국의 반도체 규제" in phrases
    assert not any(p.startswith(("화 ", "1의", "% ")) for p in phrases)  # never from inside a word


def test_clauses_for_why_and_how():
    s = "딥시크는 꼭 필요한 연산 장치만 활성화해 통신 속도를 높였고 데이터를 압축해 메모리 사용량을 줄였습니다."
    clauses = texts(s, "clause")
    assert "통신 속도를 높였고" in clauses or any(c.endswith("높였고") for c in clauses)
    assert s.rstrip(".") in clauses


@dataclass(frozen=True)
class Ev:
    marker: int
    doc_id: str
    sentences: tuple


def test_candidates_are_article_slices_deduplicated_short_facts_first():
    article = "머리말. 엔비디아 주가는 하루 17% 폭락했다. 엔비디아는 17% 하락을 겪었다."
    a = article.index("엔비디아 주가")
    b = article.index("엔비디아는")
    first, second = article[a:article.index(".", a)], article[b:article.rindex(".")]
    ev = [Ev(1, "d", ((a, a + len(first), first), (b, b + len(second), second)))]
    cands = candidates(ev)
    assert cands[0].kind == "number" and cands[0].text == "17%"
    assert [c.text for c in cands].count("17%") == 1
    for c in cands:
        assert article[c.start:c.end] == c.text and c.marker == 1 and c.doc_id == "d"


def test_no_span_leaves_a_bracket_open():
    found = set(texts("딥시크는 6710억개 파라미터(학습 변수)를 가진 모델을 공개했다."))
    assert "6710억개 파라미터(학습 변수" not in found
    assert not [t for t in found if t.count("(") != t.count(")")]
    assert candidates_module.balanced("피어스 커리지(Piers Courage)")
    assert not candidates_module.balanced("3불선근(三不善根")


def test_a_phrase_offers_its_words_and_what_stands_before_a_bracket():
    found = set(texts("1970년 피어스 커리지(Piers Courage) 선수가 사망했다."))
    assert {"피어스 커리지", "Piers Courage"} <= found
    assert "킹" in texts("백 킹은 움직이지 않았다.")
    assert "9억4000여만원" in texts("불법 정치자금 9억4000여만원을 받은 혐의다.")


def test_a_full_date_offers_its_year_and_its_day():
    found = set(texts("그는 1953년 3월 24일 전라북도 고창군에서 태어났다."))
    assert {"1953년 3월 24일", "1953년", "3월 24일"} <= found


def test_quoted_terms_without_their_quotes():
    found = set(texts("7가지 원칙은 ‘공통성’, ‘명료성’ 등이며 윌슨의 논문 〈행정의 연구〉가 유명하다."))
    assert {"명료성", "행정의 연구"} <= found
