"""The reading steps' pure parts on hand-written strings: checking a translation as a whole."""

from __future__ import annotations

from assistant.reading.steps import check_english

FALL = "엔비디아의 시가총액은 1월27일 하루 만에 6000억달러가 증발했다."
BOTH = "삼성전자 주가는 3% 올랐고 SK하이닉스 주가는 2% 떨어졌다."


def test_a_flipped_direction_is_refused_whole():
    e = check_english("On January 27, Nvidia's market value increased by $600 billion in a single day.", FALL, 1,
                      {1: (2025,)})
    assert not e.ok and e.text == "" and "direction" in e.why.lower()


def test_a_faithful_translation_passes():
    e = check_english("On January 27, $600 billion of Nvidia's market value evaporated in a single day.", FALL, 1,
                      {1: (2025,)})
    assert e.ok and "evaporated" in e.text


def test_a_source_saying_both_directions_may_be_split_into_two_sentences():
    e = check_english("Samsung rose 3%. SK Hynix fell 2%.", BOTH, 1, {1: ()})
    assert e.ok and e.dropped == 0


def test_a_wrong_number_drops_its_sentence_and_says_so():
    e = check_english("Samsung rose 4%. SK Hynix fell 2%.", BOTH, 1, {1: ()})
    assert not e.ok or "4%" not in e.text
    assert e.dropped >= 1 and "4%" in e.why
