"""The verifier, on hand-written sentences and passages: cross-language facts pass, made-up ones fail."""

from __future__ import annotations

import pytest

from assistant.reading.verify import check, claims, markers

EVIDENCE = {
    1: "엔비디아(NVDA) 주가가 하루 17% 폭락하는 장면을 목격한 투자자들은 말 그대로 얼어 붙었다.",
    2: "1월27일 엔비디아의 시가총액은 6000억달러 증발했다. 오픈AI가 투입하는 자본이 매년 50억달러에 이르고",
    3: "딥시크(DeepSeek)는 미국 빅테크의 5~10%에 불과한 자본으로 R1을 개발했다. 비용은 560만달러였다.",
    4: "업체의 주가는 1월24일 142.62달러에서 1월27일 118.42달러까지 주저앉았다.",
}
YEARS = {n: (2025,) for n in EVIDENCE}


@pytest.mark.parametrize("sentence,marker", [
    ("Nvidia's stock fell 17% in a single day [1].", 1),
    ("Nvidia's shares fell 17 percent in one day [1].", 1),
    ("Nvidia lost $600 billion in market value on January 27 [2].", 2),
    ("On Jan. 27, 2025, Nvidia lost 600 billion dollars [2].", 2),
    ("OpenAI spends $5 billion a year [2].", 2),
    ("DeepSeek built R1 with 5–10% of the capital of US big tech [3].", 3),
    ("DeepSeek said it spent $5.6 million [3].", 3),
    ("The stock fell from $142.62 to $118.42 [4].", 4),
    ("엔비디아 주가는 하루에 17% 떨어졌습니다 [1].", 1),
    ("1월 27일 시가총액 6000억달러가 사라졌다 [2].", 2),
])
def test_supported_sentences_pass(sentence, marker):
    c = check(sentence, EVIDENCE, YEARS)
    assert c.verified and c.markers == (marker,) and not c.missing


@pytest.mark.parametrize("sentence,bad", [
    ("OpenAI spends 50 billion dollars a year [2].", "50 billion dollars"),  # 50억 is five billion
    ("DeepSeek's model has 6710 billion parameters [3].", "6710 billion"),
    ("DeepSeek built R1 with 5-15% of the capital [3].", "15%"),
    ("Nvidia's stock fell 18% in a single day [1].", "18%"),
    ("Nvidia lost $600 billion on January 28 [2].", "January 28"),
    ("Nvidia lost $600 billion on January 27, 2024 [2].", "January 27, 2024"),
    ("Liang Wenfeng founded DeepSeek [3].", "Liang"),
    ("DeepSeek said it spent $56 million [3].", "56 million"),
    ("엔비디아 주가는 하루에 27% 떨어졌습니다 [1].", "27%"),
])
def test_made_up_facts_fail(sentence, bad):
    c = check(sentence, EVIDENCE, YEARS)
    assert not c.verified
    assert bad in [m.text for m in c.missing]


def test_wrong_marker_is_repointed_to_where_the_fact_is():
    c = check("Nvidia lost $600 billion in market value [1].", EVIDENCE, YEARS)
    assert c.verified and c.repointed and c.markers == (2,)


def test_marker_out_of_range_is_not_trusted():
    c = check("Nvidia's stock fell 17% [9].", EVIDENCE, YEARS)
    assert c.verified and c.markers == (1,) and c.repointed


def test_a_fact_split_over_two_passages_cites_both():
    c = check("Shares fell 17% as $600 billion vanished [1].", EVIDENCE, YEARS)
    assert c.verified and set(c.markers) == {1, 2}


def test_sentence_without_facts_keeps_its_marker():
    c = check("The investors were stunned [1].", EVIDENCE, YEARS)
    assert c.verified and c.markers == (1,) and c.claims == ()


def test_claims_found_in_english_sentence():
    kinds = {(c.kind, c.text) for c in claims("On January 27, Nvidia lost $600 billion, per Bloomberg [2].")}
    assert ("date", "January 27") in kinds
    assert ("name", "Nvidia") in kinds and ("name", "Bloomberg") in kinds
    assert any(k == "number" and "600 billion" in t for k, t in kinds)


def test_sentence_openers_are_not_names():
    assert [c.text for c in claims("The shares fell.")] == []
    assert [c.text for c in claims("However, Nvidia fell.")] == ["Nvidia"]


def test_markers_parsed():
    assert markers("It fell 17% [1][2].") == (1, 2)


def test_names_transliterated_into_hangul_are_found():
    ev = {1: "브래드 스미스 마이크로소프트 사장은 저스틴 린이 이끄는 큐원과 에릭 슈미트를 언급했다. "
             "금융 시장의 사장들."}
    assert check("Brad Smith of Microsoft mentioned Justin Lin and Eric Schmidt [1].", ev).verified
    for made_up in ("Kim Hyun-sung", "Zhang Wei", "Sundar Pichai"):
        c = check(f"{made_up} said so [1].", ev)
        assert not c.verified, made_up
