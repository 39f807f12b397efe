"""Short-answer scoring shared by the news eval and KorQuAD: hand-written strings, no model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.evaluation import scoring

GOLD = ["1989년 2월 15일"]


def test_normalization_follows_korquad():
    assert scoring.normalize_answer("《삼국사기》") == "삼국사기"
    assert scoring.normalize_answer("  Apple,  Inc. ") == "apple inc"
    assert scoring.normalize_answer("‘임종석’(任鍾晳)") == "임종석 任鍾晳"


def test_exact_match():
    assert scoring.exact_match("1989년 2월 15일", GOLD) == 1.0
    assert scoring.exact_match("'1989년 2월 15일'", GOLD) == 1.0  # quotes are not part of the answer
    assert scoring.exact_match("1989년 2월 15일에", GOLD) == 0.0  # a particle attached is a different span
    assert scoring.exact_match("", GOLD) == 0.0
    assert scoring.exact_match("2월", ["3월", "2월"]) == 1.0  # the best gold answer


def test_f1_is_character_level():
    # 11 characters against 10 (spaces left out), all 10 shared: P = 10/11, R = 1.
    assert scoring.f1("1989년 2월 15일에", GOLD) == pytest.approx(20 / 21)
    assert scoring.f1("1989년 2월 15일", GOLD) == 1.0
    assert scoring.f1("서울", GOLD) == 0.0
    assert scoring.f1("", GOLD) == 0.0
    assert scoring.f1("2월", ["1989년 2월 15일", "2월"]) == 1.0


def test_short_right_needs_the_gold_inside_and_a_brief_answer():
    assert scoring.short_right("1989년 2월 15일에", GOLD)
    assert scoring.short_right("1989년 2월15일", GOLD)  # spacing differs
    assert not scoring.short_right("2월 15일", GOLD)  # part of the gold only
    sentence = "임종석은 1989년 2월 15일 여의도 농민 폭력 시위를 주도한 혐의로 지명수배되었다"
    assert not scoring.short_right(sentence, GOLD)  # the gold is inside, but this is a sentence
    assert not scoring.short_right("", GOLD)


def test_holds_gold_ignores_spacing_and_punctuation():
    assert scoring.holds_gold("임종석은 1989년 2월15일, 지명수배되었다.", GOLD)
    assert not scoring.holds_gold("임종석은 1989년 3월 12일 구속되었다.", GOLD)


def test_brief_rule():
    assert scoring.brief("가" * 20, "나")
    assert not scoring.brief("가" * 21, "나")
    assert scoring.brief("가" * 30, "나" * 15)  # twice the gold's length
    assert not scoring.brief("가" * 31, "나" * 15)


def test_short_counts():
    c = scoring.short_counts([("1989년 2월 15일", GOLD), ("1990년", GOLD), ("", GOLD), ("2월 15일", ["2월 15일"])])
    assert (c.answerable, c.shown, c.right, c.wrong) == (4, 3, 2, 1)
    assert c.precision == pytest.approx(2 / 3)
    assert c.coverage == pytest.approx(3 / 4)
    assert c.em == pytest.approx(2 / 4)
    d = c.as_dict()
    assert set(d) >= {"shown", "right", "wrong", "em", "f1", "precision", "coverage"}


def test_risk_coverage_on_a_hand_made_list():
    rc = scoring.risk_coverage([(0.3, True), (0.9, True), (0.5, False), (0.8, True)], answerable=5)
    assert rc.coverage == pytest.approx((0.2, 0.4, 0.6, 0.8))
    assert rc.precision == pytest.approx((1.0, 1.0, 2 / 3, 3 / 4))
    assert rc.aurc == pytest.approx((0 + 0 + 1 / 3 + 1 / 4) / 4)
    assert rc.area == pytest.approx((1 + 1 + 2 / 3 + 3 / 4) / 5)
    assert rc.precision_at_60 == pytest.approx(2 / 3)


def test_risk_coverage_when_few_are_shown():
    rc = scoring.risk_coverage([(0.1, False)], answerable=4)
    assert rc.precision_at_60 is None
    assert rc.aurc == 1.0
    empty = scoring.risk_coverage([], answerable=4)
    assert (empty.coverage, empty.aurc, empty.area) == ((), 1.0, 0.0)


def test_short_score_prefers_p_short_then_p_answerable_then_confidence():
    a = SimpleNamespace(extra={"p_short": 0.7, "decision": {"p_answerable": 0.2}}, confidence=0.05)
    b = SimpleNamespace(extra={"decision": {"p_answerable": 0.2}}, confidence=0.05)
    c = SimpleNamespace(extra={}, confidence=0.05)
    assert [scoring.short_score(x) for x in (a, b, c)] == [0.7, 0.2, 0.05]


def _answer(short: str, text: str, abstained: bool = False) -> SimpleNamespace:
    return SimpleNamespace(short=short, text=text, abstained=abstained, quotes=(), sentences=(), extra={},
                           confidence=0.1, timings={}, reader=SimpleNamespace(backend="local"))


def test_news_eval_reports_short_shown_right_wrong_and_em_f1():
    from assistant.evaluation import eval_answers
    from assistant.evaluation.evaluate import Question

    qs = [Question(f"k{i}", "ko", "single", "plain", "test", "질문", (), "", gold)
          for i, gold in enumerate([("17%", "17 percent"), ("6000억달러", "$600 billion"), ("딥시크",), ("1월 27일",)])]
    answers = {"k0": _answer("17%", "17% [1]"),
               "k1": _answer("엔비디아 주가는 하루 만에 6000억달러가 증발하며 17% 폭락했다",
                             "엔비디아 주가는 하루 만에 6000억달러가 증발했다 [1]"),  # gold inside, not brief
               "k2": _answer("", "딥시크가 R1을 공개했다 [1]"),  # no short answer
               "k3": _answer("", "기사에 없습니다.", abstained=True)}
    out = eval_answers.score(qs, answers)
    c = out["short_counts_ko"]
    assert (c["answerable"], c["shown"], c["right"], c["wrong"]) == (4, 2, 1, 1)
    assert c["em"] == pytest.approx(1 / 4)
    assert 1 / 4 < c["f1"] < 2 / 4  # k1 shares some characters with its gold
    assert out["correct_ko"] == pytest.approx(3 / 4)  # "right" still counts the text shown
    assert "2 / 1 / 1" in eval_answers.table({"local": {"test": out}})


def _row(i: int, short: str, ranks: tuple, *, index: str = "full", left_out: bool = False, abstained: bool = False,
         score: float = 0.5):
    from assistant.evaluation.korquad import Row

    return Row(f"q{i}", "질문", tuple(GOLD), "dev", "kq000", index, left_out, short, abstained, "", bool(short), ranks,
               score,
               {}, {}, 10.0 * (i + 1))


def test_korquad_split_figures_from_hand_made_rows():
    from assistant.evaluation.korquad import score_split

    full = [_row(0, "1989년 2월 15일", (1,), score=0.9), _row(1, "서울", (3,), score=0.8), _row(2, "", ())]
    held = [_row(0, "", (), index="left-out", left_out=True, abstained=True),
            _row(1, "서울", (), index="left-out", left_out=True),
            _row(2, "1989년 2월 15일", (2,), index="left-out")]
    s = score_split(full, held)
    assert s["retrieval"] == {"recall@1": pytest.approx(1 / 3, abs=1e-4), "recall@5": pytest.approx(2 / 3, abs=1e-4)}
    assert (s["short"]["shown"], s["short"]["right"], s["short"]["wrong"]) == (2, 1, 1)
    assert s["short"]["em"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["curve"]["precision"] == [1.0, 0.5]  # the right answer was the more confident one
    assert s["abstention"] == {"left_out_questions": 2, "left_out_refused": 0.5, "kept_questions": 1,
                               "false_refusals": 0.0}
    assert s["refused_full_index"] == 0.0
    assert s["answer_holds_gold"] == pytest.approx(2 / 3, abs=1e-4)
