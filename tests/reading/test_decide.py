"""Answer or refuse: the pure signals on hand-written questions and sentences, and the fitted model's shape."""

from __future__ import annotations

import pytest

from assistant.reading import decide
from assistant.reading.candidates import Candidate


def cand(text: str, kind: str, unit: str = "") -> Candidate:
    return Candidate(text, kind, unit, 1, "d", 0, len(text), 0)


@pytest.mark.parametrize("question,kind", [
    ("딥시크 직원수는 몇 명이에여?", "person_count"),
    ("How many employees does DeepSeek have?", "person_count"),
    ("엔비디아 작년 매출은 얼마나 됨?", "amount"),
    ("How much did Nvidia fall?", "amount"),
    ("딥시크 V4가 정식 출시된 날짜는 언제인가?", "date"),
    ("Who leads development of Alibaba's Qwen model?", "person"),
    ("딥시크 본사는 중국의 어느 도시에 있나?", "place"),
    ("Why did Nvidia fall?", ""),
])
def test_the_answer_type_a_question_asks_for(question, kind):
    assert decide.asks_for(question) == kind


def test_type_missing_needs_a_candidate_of_that_type():
    people = [cand("120명", "number", "person")]
    money = [cand("17%", "number", "percent"), cand("엔비디아", "name")]
    assert decide.type_missing("직원은 몇 명인가?", people) == ("person_count", 0.0)
    assert decide.type_missing("직원은 몇 명인가?", money) == ("person_count", 1.0)
    assert decide.type_missing("주가는 얼마나 떨어졌나?", money) == ("amount", 0.0)
    assert decide.type_missing("왜 떨어졌나?", money) == ("", 0.0)


def test_entity_missing_tells_samsung_from_nvidia():
    sentence = "엔비디아의 주가는 하루에만 17% 폭락했습니다."
    assert decide.entity_missing("How much did Nvidia fall?", sentence, (2025,)) == 0.0
    assert decide.entity_missing("How much did Samsung stock drop?", sentence, (2025,)) == 1.0
    assert decide.entity_missing("What was Nvidia's price on January 31?", sentence, (2025,)) == 0.5


def test_coverage_of_a_korean_questions_words():
    assert decide.coverage("엔비디아 주가는 얼마나 떨어졌나?", "엔비디아 주가는 17% 떨어졌다.") == 1.0
    assert decide.coverage("삼성전자 매출은?", "엔비디아 주가는 17% 떨어졌다.") == 0.0
    assert decide.coverage("How much?", "아무 문장") == 1.0


def test_probability_is_the_logistic_of_the_weighted_signals():
    model = {"coef": [-2.0, 10.0, -1.0, -1.0, 0.0], "intercept": 0.0, "threshold": 0.5}
    sure = decide.Signals(p_none=0.0, margin=0.1, type_missing=0.0, entity_missing=0.0, coverage=1.0)
    doubtful = decide.Signals(p_none=0.9, margin=0.0, type_missing=1.0, entity_missing=1.0, coverage=0.0)
    assert decide.probability(sure, model) == pytest.approx(1 / (1 + 2.718281828 ** -1.0), rel=1e-6)
    assert decide.decide(sure, "", model).answer and not decide.decide(doubtful, "", model).answer


def test_the_shipped_model_is_fitted_on_every_signal():
    w = decide.weights()
    assert w["features"] == list(decide.FEATURES) and len(w["coef"]) == len(decide.FEATURES)
    assert 0 < w["threshold"] < 1 and "dev" in w["fitted_on"]


def test_echo_is_the_share_of_the_span_the_question_already_says():
    assert decide.echo("엔비디아 주가는 하루에 얼마나 떨어졌나?", "엔비디아 주가") == 1.0
    assert decide.echo("엔비디아 주가는 하루에 얼마나 떨어졌나?", "17%") == 0.0
    assert decide.echo("How much did Nvidia fall?", "Nvidia shares") == 0.5


def test_short_signals_read_the_choice_and_the_type_asked():
    class Chosen:  # the fields of reader.Chosen that the signals read
        candidate = cand("17%", "number", "percent")
        p_chosen, logprob, gap = 0.8, -0.3, 25.0

    base = decide.Signals(0.1, 0.05, 0.0, 0.0, 1.0)
    s = decide.short_signals("How much did Nvidia fall?", Chosen, base, "amount")
    assert (s.number, s.type_match, s.asks_typed, s.gap, s.echo) == (1.0, 1.0, 1.0, 10.0, 0.0)
    s = decide.short_signals("Who leads Nvidia?", Chosen, base, "person")
    assert (s.type_match, s.asks_typed) == (0.0, 1.0)


def test_a_more_decisive_choice_is_more_likely_shown():
    model = {"coef": [2.0, 0.5] + [0.0] * (len(decide.SHORT_FEATURES) - 2), "intercept": -1.0, "threshold": 0.5}
    sure = decide.ShortSignals(0.9, 8.0, -0.1, 0.0, 1, 0, 0, 0, 1, 1, 0.0, 1.0, 0.1, 1.0, 1, 0.0)
    unsure = decide.ShortSignals(0.2, 0.1, -3.0, 0.4, 0, 0, 0, 1, 1, 0, 0.5, 0.3, 0.01, 3.0, 0, 0.5)
    assert decide.p_short(sure, model) > decide.short_threshold(model) > decide.p_short(unsure, model)
