"""What a reply's labels claim: quotes are labelled as the article's words, translations name the checks they
passed, and a translation that says the opposite of its source is neither shown nor badged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant import Answer, Quote
from assistant.models.llm import ModelInfo
from assistant.reading.answer import Sentence

NVIDIA = "엔비디아의 시가총액은 1월27일 하루 만에 6000억달러가 증발했다."
CHIPS = "딥시크는 미국의 수출 규제 때문에 최신 칩을 확보하지 못했다."
READER = ModelInfo("qwen2.5-1.5b", "0" * 64, "llama.cpp")
NO_ARTICLES = SimpleNamespace(retriever=SimpleNamespace(index=SimpleNamespace(articles={})))


def quote_of(text: str) -> Quote:
    return Quote(1, "d1", 100, 100 + len(text), text, 1.0)


def english_answer(source: str, translation: str, short: str = "") -> Answer:
    """An English reader's answer as answer.py builds it: one translation, verified by its facts only."""
    q = quote_of(source)
    sentence = Sentence(f"{translation} [1]", (1,), True, (q,), kind="translation")
    return Answer("q", "\n\n".join(p for p in (short, sentence.text) if p), (), False, "en", 0.9, (q,),
                  short=short, sentences=(sentence,), reader=READER)


def korean_answer(short: str) -> Answer:
    q = quote_of(NVIDIA)
    sentence = Sentence(f"{NVIDIA} [1]", (1,), True, (q,), kind="quote")
    return Answer("q", "\n\n".join(p for p in (short, sentence.text) if p), (), False, "ko", 0.9, (q,),
                  short=short, sentences=(sentence,), reader=READER)


def render(ans: Answer) -> str:
    from ui.render import render_reply

    return render_reply(NO_ARTICLES, ans)


@pytest.mark.parametrize("source,translation", [
    (NVIDIA, "On January 27, Nvidia's market value increased by $600 billion in a single day."),
    (CHIPS, "Because of US export controls, DeepSeek secured the latest chips."),
])
def test_a_contradicting_translation_is_neither_shown_nor_badged(source, translation):
    from ui.render import answer_json, esc

    ans = english_answer(source, translation, short="$600 billion")
    page = render(ans)
    assert esc(translation) not in page and "increased" not in page and "secured" not in page and "qa-check" not in page
    assert "did not pass the check" in page and "[1]" in page  # a pointer to the quoted source instead
    assert source in page and "$600 billion" in page  # the Korean original and the short answer stay
    payload = answer_json(NO_ARTICLES, ans)
    assert payload["sentences"] == [] and payload["unverified_dropped"] == 1


@pytest.mark.parametrize("source,translation", [
    (NVIDIA, "On January 27, Nvidia's market value evaporated by $600 billion in a single day."),
    (CHIPS, "Because of US export controls, DeepSeek could not secure the latest chips."),
])
def test_a_faithful_translation_is_badged_with_what_was_checked(source, translation):
    from ui.render import answer_json, esc

    ans = english_answer(source, translation)
    page = render(ans)
    assert esc(translation) in page
    assert "checked: numbers, names, direction, negation" in page and "verified" not in page
    assert f"Original Korean [1] · from the article: {source}" in page
    assert "The articles say:" in page  # no short answer: a plain heading, not a bold answer
    payload = answer_json(NO_ARTICLES, ans)
    assert [s["kind"] for s in payload["sentences"]] == ["translation"]
    assert "direction" in payload["sentences"][0]["checks"]


def test_a_quoted_sentence_is_labelled_from_the_article_never_verified():
    page = render(korean_answer("6000억달러"))
    assert "기사 원문" in page and "확인됨" not in page and "verified" not in page and "qa-check" not in page
    assert "<div class='qa-short'>6000억달러</div>" in page and "기사 내용:" not in page


def test_without_a_short_answer_the_quotes_come_under_a_plain_heading():
    from ui.render import answer_json

    ans = korean_answer("")
    page = render(ans)
    assert "기사 내용:" in page and "qa-short" not in page
    assert page.index("기사 내용:") < page.index("기사 원문") < page.index("6000억달러가 증발했다")
    assert [s["kind"] for s in answer_json(NO_ARTICLES, ans)["sentences"]] == ["quote"]
