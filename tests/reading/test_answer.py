"""Answers quote the passages they cite, in the question's language, or honestly abstain."""

from __future__ import annotations

import pytest

from assistant.reading.answer import MESSAGES, contextualize


def test_korean_answer_quotes_the_cited_passage(assistant):
    ans = assistant.ask("엔비디아 주가는 하루에 얼마나 떨어졌나?")
    assert not ans.abstained and ans.lang == "ko"
    assert "17%" in ans.text
    assert ans.quotes and all(f"[{q.marker}]" in ans.text for q in ans.quotes)
    articles = assistant.retriever.index.articles
    for q in ans.quotes:
        cited = ans.citations[q.marker - 1]
        assert articles[q.doc_id].text[q.start : q.end] == q.text
        assert cited.doc_id == q.doc_id and cited.start <= q.start and q.end <= cited.end


def test_english_answer_says_the_source_is_korean(assistant):
    ans = assistant.ask("How much did Nvidia's market value drop in a single day?")
    assert not ans.abstained and ans.lang == "en"
    assert ans.text.startswith(MESSAGES["en"]["korean_source"])
    assert any(w in ans.text for w in ("840조", "6000억달러", "17%"))


@pytest.mark.parametrize(
    "question,lang",
    [("What's a good recipe for lasagna?", "en"), ("내일 부산 날씨 알려줘", "ko"),
     ("Who won the last Olympic marathon?", "en")],
)
def test_off_topic_questions_are_not_answered(assistant, question, lang):
    ans = assistant.ask(question)
    assert ans.abstained and ans.lang == lang
    assert ans.text == MESSAGES[lang]["abstain"]
    assert ans.citations == () and ans.related  # closest passages still shown, marked as not an answer


def test_follow_up_carries_the_previous_question():
    prev = "엔비디아 주가는 하루에 얼마나 떨어졌나?"
    assert contextualize("그럼 삼성전자와 비교하면?", [prev]) == f"{prev} 그럼 삼성전자와 비교하면?"
    assert contextualize("딥시크 V4는 언제 출시될 것으로 예상되나?", [prev]).startswith("딥시크")
    assert contextualize("what about Samsung?", ["How far did Nvidia fall?"]).startswith("How far")


def test_follow_up_answer_uses_context(assistant):
    ans = assistant.ask("그럼 삼성전자와 비교하면?", history=["엔비디아 시가총액은 하루에 얼마나 사라졌나?"])
    assert not ans.abstained
    assert "삼성전자" in " ".join(q.text for q in ans.quotes)
