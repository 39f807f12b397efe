"""The direction-and-negation check on hand-written pairs: contradicting translations rejected, faithful ones kept."""

from __future__ import annotations

import pytest

from assistant.reading.polarity import DOWN, UP, agrees, read_english, read_korean

NVIDIA = "엔비디아의 시가총액은 1월27일 하루 만에 6000억달러가 증발했다."
CHIPS = "딥시크는 미국의 수출 규제 때문에 최신 칩을 확보하지 못했다."

# (Korean source, English translation that says otherwise, what it got wrong)
CONTRADICTING = [
    (NVIDIA, "On January 27, Nvidia's market value increased by $600 billion in a single day.", "direction"),
    (CHIPS, "Because of US export controls, DeepSeek secured the latest chips.", "negation dropped"),
    ("엔비디아 주가는 17% 급락했다.", "Nvidia's stock jumped 17%.", "direction"),
    ("반도체 수출이 전년 대비 8% 감소했다.", "Chip exports grew 8% from a year earlier.", "direction"),
    ("오픈AI는 매출이 두 배로 늘었다고 밝혔다.", "OpenAI said its revenue fell by half.", "direction"),
    ("나스닥 지수는 3.1% 하락 마감했다.", "The Nasdaq index closed up 3.1%.", "direction"),
    ("회사는 투자 규모를 축소했다.", "The company expanded the size of its investment.", "direction"),
    ("브로드컴 주가는 오히려 올랐다.", "Broadcom shares dropped instead.", "direction"),
    ("마이크로소프트는 딥시크 모델의 사용을 금지하지 않았다.", "Microsoft banned the use of DeepSeek's model.",
     "negation dropped"),
    ("정부는 수출 규제를 완화하지 않겠다고 밝혔다.", "The government said it would ease export controls.",
     "negation dropped"),
    ("인수 협상은 결국 무산됐다.", "The acquisition talks were finally concluded.", "negation dropped"),
    ("딥시크는 인터뷰 요청을 거절했다.", "DeepSeek accepted the interview request.", "negation dropped"),
    ("삼성전자는 2월에 신제품을 출시했다.", "Samsung Electronics did not launch a new product in February.",
     "negation added"),
    ("트럼프 대통령은 딥시크의 등장이 미국 기업에 경종이 돼야 한다고 말했다.",
     "President Trump said DeepSeek's arrival should never be a wake-up call for American companies.",
     "negation added"),
]

# (Korean source, a faithful English translation, what makes it tricky)
FAITHFUL = [
    (NVIDIA, "On January 27, Nvidia's market value evaporated by $600 billion in a single day.", "the plain one"),
    (NVIDIA, "Nvidia lost $600 billion of market value in one day on January 27.", "another verb"),
    (CHIPS, "Because of US export controls, DeepSeek could not secure the latest chips.", "n't-less negation"),
    (CHIPS, "DeepSeek failed to secure the latest chips because of US export controls.", "failed"),
    ("엔비디아 주가는 17% 폭락했다가 다음 날 8.9% 반등했다.",
     "Nvidia's stock plunged 17% and then rebounded 8.9% the next day.", "both directions"),
    ("마이크론 주가는 예상보다 덜 하락했다.", "Micron's stock fell less than expected.", "fell less"),
    ("반도체주의 하락세가 멈췄다.", "The decline in chip stocks came to a halt.", "a fall that stopped"),
    ("엔비디아 주가는 하루 만에 17% 하락했다.", "Nvidia's stock: -17% in one day.", "a signed number"),
    ("엔비디아 주가는 하루 만에 -17%를 기록했다.", "Nvidia's stock dropped 17% in one day.", "signed in the source"),
    ("마이크로소프트는 딥시크 모델의 사용을 금지하지 않았다.", "Microsoft didn't ban the use of DeepSeek's model.",
     "n't"),
    ("삼성전자는 2월에 신제품을 출시했다.", "Samsung Electronics launched a new product in February.", "neutral"),
    ("인수 협상은 결국 무산됐다.", "The acquisition talks ultimately failed.", "무산"),
    ("오픈AI는 매출이 두 배로 늘었다고 밝혔다.", "OpenAI said its revenue doubled.", "늘 the verb"),
    ("엔비디아는 세계 1위 AI 칩 업체다.", "Nvidia is the world's No. 1 AI chipmaker.", "No. 1 is not a no"),
    ("딥시크는 논평 요청을 거절했다.", "DeepSeek declined to comment.", "declined to: a refusal, not a fall"),
    ("그는 늘 신중했다.", "He was always cautious.", "늘 the adverb"),
    ("이사회는 투자 결정을 내렸다.", "The board made an investment decision.", "결정을 내리다"),
    ("이 모델은 인상적인 성능을 보였다.", "The model showed impressive performance.", "인상적"),
]


@pytest.mark.parametrize("korean,english,wrong", CONTRADICTING, ids=[w for *_, w in CONTRADICTING])
def test_contradicting_translation_is_rejected(korean, english, wrong):
    a = agrees(korean, english)
    assert not a.ok, (english, a.why)
    assert wrong.split()[0] in a.why  # the reason names the axis that differs


@pytest.mark.parametrize("korean,english,tricky", FAITHFUL, ids=[t for *_, t in FAITHFUL])
def test_faithful_translation_passes(korean, english, tricky):
    a = agrees(korean, english)
    assert a.ok, (english, a.why)


def test_the_issue_examples_read_as_expected():
    source = read_korean(NVIDIA)
    assert source.directions == {DOWN} and not source.negated and "증발" in source.cues
    flipped = read_english("On January 27, Nvidia's market value increased by $600 billion in a single day.")
    assert flipped.directions == {UP}
    assert read_korean(CHIPS).negated and not read_english("DeepSeek secured the latest chips.").negated


def test_catch_rate_on_the_list():
    """The figures the module docstring reports."""
    caught = sum(not agrees(k, e).ok for k, e, _ in CONTRADICTING)
    kept = sum(agrees(k, e).ok for k, e, _ in FAITHFUL)
    assert (caught, kept) == (len(CONTRADICTING), len(FAITHFUL))
    assert len(CONTRADICTING) + len(FAITHFUL) >= 15


def test_dates_and_ranges_are_not_signs():
    assert read_english("Sales in 2024-2025 were flat.").directions == frozenset()
    assert read_korean("2024-2025년 매출은 제자리였다.").directions == frozenset()
