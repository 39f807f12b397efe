"""The chat UI end to end: the real app on a free local port, called through gradio_client and driven in Chromium."""

from __future__ import annotations

import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from conftest import ask_in_page, open_page

# (question, article, evidence the answer must quote), from eval/questions.jsonl (ko-01, en-04).
KO = ("딥시크 R1의 등장은 냉전 시대의 어떤 사건에 견주어졌나?", "000_a64cfab21b31744d",
      "스푸트니크 위성 발사에 비유되며")
EN = ("How did DeepSeek make up for not having the newest chips?", "000_a64cfab21b31744d",
      "하드웨어의 열세를 소프트웨어를 쥐어짜 극복한 겁니다")
OFF_TOPIC_KO = "손흥민이 지난 시즌에 넣은 골은 몇 골이야?"
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>"


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def evidence_span(assistant, doc_id: str, evidence: str) -> tuple[int, int]:
    start = assistant.retriever.index.articles[doc_id].text.find(evidence)
    assert start >= 0, f"evidence not in {doc_id}: {evidence}"
    return start, start + len(evidence)


def assert_cites(assistant, result: dict, doc_id: str, evidence: str) -> None:
    """The answer quotes a sentence of `doc_id` covering the evidence, at the right offsets, and marks it [n]."""
    start, end = evidence_span(assistant, doc_id, evidence)
    text = assistant.retriever.index.articles[doc_id].text
    cited = [(c["n"], q) for c in result["citations"] if c["doc_id"] == doc_id for q in c["quotes"]
             if q["start"] <= start and end <= q["end"]]
    assert cited, f"no quote covers {evidence!r}: {result['answer']}"
    n, quote = cited[0]
    assert text[quote["start"]:quote["end"]] == quote["text"]
    assert f"[{n}]" in result["answer"]
    passage = result["citations"][n - 1]
    assert passage["start"] <= quote["start"] and quote["end"] <= passage["end"]
    assert text[passage["start"]:passage["end"]] == passage["text"]


# --- /ask through gradio_client ------------------------------------------------------


def test_ask_api_korean_cites_the_right_span(client, assistant):
    t = time.perf_counter()
    result = client.predict(KO[0], api_name="/ask")
    print(f"/ask Korean: {1000 * (time.perf_counter() - t):.0f} ms")
    assert result["lang"] == "ko" and not result["abstained"]
    assert_cites(assistant, result, KO[1], KO[2])


def test_ask_api_english_cites_the_right_span(client, assistant):
    result = client.predict(EN[0], api_name="/ask")
    assert result["lang"] == "en" and not result["abstained"]
    assert_cites(assistant, result, EN[1], EN[2])
    assert result["answer"].startswith("The articles (in Korean) say:")


def test_ask_api_abstains_and_rejects_empty(client):
    from gradio_client.exceptions import AppError

    result = client.predict(OFF_TOPIC_KO, api_name="/ask")
    assert result["abstained"] and result["citations"] == [] and result["related"]
    assert result["answer"] == "기사에는 이 질문에 대한 답이 나와 있지 않습니다."
    with pytest.raises(AppError, match="Please ask a question"):
        client.predict(" ?! ", api_name="/ask")


def test_ask_api_follow_up_carries_previous_question(client):
    result = client.predict("그럼 삼성전자와 비교하면?", 5, "엔비디아 주가는 하루에 얼마나 떨어졌나?", api_name="/ask")
    assert "엔비디아" in result["retrieval_query"]
    assert any("삼성전자 시가총액의 두 배" in c["text"] for c in result["citations"])


def test_ask_api_serves_concurrent_users(client):
    questions = [KO[0], EN[0]] * 3
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda q: client.submit(q, api_name="/ask").result(timeout=60), questions))
    assert [r["question"] for r in results] == questions
    assert all(r["citations"] for r in results)


# --- rendering, without a browser ------------------------------------------------------


def test_article_and_question_text_is_rendered_inert():
    """An article carrying markup or a Markdown link is escaped wherever it is shown."""
    from assistant import Answer, Article, Hit, Quote
    from ui.app import esc, render_article, render_reply, sources_of

    text = f"첫 문단입니다.\n\n{HOSTILE} 위험한 문장입니다.\n\n끝."
    start, end = text.index("<script>"), text.index("끝.")
    article = Article("d1", "<b>제목</b>", text, "d1.txt", outlet="뉴스", date="2025-01-31")
    fake = SimpleNamespace(retriever=SimpleNamespace(index=SimpleNamespace(articles={"d1": article})))
    hit = Hit("d1", article.title, start, end, text[start:end], 1.0, 1)
    quote = Quote(1, "d1", start, end - 2, text[start:end - 2], 0.9)
    ans = Answer("q", f"{quote.text} [1]", (hit,), False, "en", 0.9, (quote,))
    pages = [render_reply(fake, ans), render_article(fake, sources_of(ans, 0)[0]), esc(HOSTILE)]
    for page in pages:
        assert "<script" not in page and "<img" not in page and "<a " not in page and "<b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "[x](javascript:alert(2))" in page
    assert "<mark>&lt;script&gt;" in pages[0]
    assert "This source is in Korean" in pages[0] and "Paragraph 2 of 3" in pages[0]


def test_reply_labels_follow_the_question_language(assistant):
    from ui.app import render_reply

    ko = render_reply(assistant, assistant.ask(KO[0]))
    en = render_reply(assistant, assistant.ask(EN[0]))
    off = render_reply(assistant, assistant.ask(OFF_TOPIC_KO))
    assert "<summary>출처" in ko and "번째 문단" in ko and "Sources" not in ko and "in Korean" not in ko
    assert "<summary>Sources" in en and "This source is in Korean" in en and "Paragraph" in en
    assert "qa-abstain" in off and "답변하지 않음" in off and "<details class='qa-sources'>" in off


def test_serve_binds_locally_and_never_shares(monkeypatch, assistant):
    import gradio as gr

    import ui.app

    launched = {}
    monkeypatch.setattr(ui.app, "load", lambda index_dir=None: assistant)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(kw))
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    ui.app.serve()
    assert launched["server_name"] == "127.0.0.1" and launched["share"] is False


def test_serve_reports_a_taken_port(monkeypatch):
    import ui.app
    from assistant.errors import NewsQAError

    monkeypatch.setattr(ui.app, "load", lambda index_dir=None: pytest.fail("loaded the model before the port check"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(NewsQAError, match="--port"):
            ui.app.serve(port=taken.getsockname()[1])


# --- the page, in headless Chromium -----------------------------------------------------


def _collect_dialogs(page) -> None:
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))


@pytest.fixture()
def page(browser, server):
    with open_page(browser, server, timeout_ms=15_000, before_load=_collect_dialogs) as page:
        yield page


def last_reply(page):
    return page.locator("#qa-chat .qa-reply").last


@pytest.mark.browser
def test_browser_korean_answer_with_expanded_source(page, tmp_path):
    ask_in_page(page, KO[0])
    reply = last_reply(page)
    assert "[1]" in reply.locator(".qa-answer").inner_text() or "[2]" in reply.locator(".qa-answer").inner_text()
    source = reply.locator("details.qa-sources[open] .qa-source mark").first
    assert source.is_visible() and KO[2] in source.inner_text()
    assert reply.locator("details.qa-sources > summary").inner_text().startswith("출처")
    assert "번째 문단" in reply.locator(".qa-pos").first.inner_text()
    article = page.locator("#qa-article")
    assert KO[2] in article.locator("mark").first.inner_text()
    assert "기사 전문" in article.inner_text()
    # Show the start of the exchange, sources open, for the screenshot.
    page.wait_for_timeout(500)  # let the chat's own autoscroll finish first
    page.locator("#qa-chat .user-row").last.evaluate(
        "row => { const box = row.closest('.bubble-wrap');"
        " box.scrollTop += row.getBoundingClientRect().top - box.getBoundingClientRect().top; }")
    page.screenshot(path=tmp_path / "chat.png", full_page=True)
    assert (tmp_path / "chat.png").stat().st_size > 20_000


@pytest.mark.browser
def test_browser_hostile_question_shows_as_text(page):
    question = f"{HOSTILE} 엔비디아 주가는?"
    ask_in_page(page, question)
    page.wait_for_timeout(300)  # time for an onerror handler to fire, if one had been created
    user = page.locator("#qa-chat [data-testid='user']").last
    assert user.inner_text().strip() == question
    chat = page.locator("#qa-chat")
    assert chat.locator("img[src='x'], script, a[href^='javascript']").count() == 0
    assert page.dialogs == []


@pytest.mark.browser
def test_browser_english_abstain_and_keyboard_only(page):
    # Keyboard only: Tab to the question box, type, Enter.
    for _ in range(40):
        if page.evaluate("!!document.activeElement.closest('#qa-question')"):
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the question box is not reachable with Tab")
    page.keyboard.type(EN[0])
    page.keyboard.press("Enter")
    page.wait_for_selector("#qa-chat .qa-reply")
    reply = last_reply(page)
    assert reply.locator("summary").inner_text().startswith("Sources")
    assert "This source is in Korean" in reply.inner_text()
    # Tab on to the source picker, then to its second passage, and choose it with Space.
    heading = page.locator("#qa-article h3").inner_text()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('#qa-pick')"):
            break
    else:
        pytest.fail("the source picker is not reachable with Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.wait_for_function("h => document.querySelector('#qa-article h3').innerText !== h", arg=heading)
    assert page.locator("#qa-article .qa-span").is_visible()
    # Back to the question box (Shift+Tab): an empty question gets a notice, not a reply.
    for _ in range(60):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("!!document.activeElement.closest('#qa-question')"):
            break
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#qa-notice').innerText.includes('질문을 입력해 주세요')")
    assert page.locator("#qa-chat .qa-reply").count() == 1
    # A question the articles don't answer: a visible abstention notice.
    page.keyboard.type(OFF_TOPIC_KO)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-reply').length == 2")
    assert page.locator("#qa-notice .qa-abstain").is_visible()
    assert "답변하지 않음" in page.locator("#qa-notice").inner_text()


@pytest.mark.browser
def test_browser_p50_question_to_rendered_answer(page, capsys):
    questions = [KO[0], EN[0], "엔비디아 주가는 하루에 얼마나 떨어졌나?", "그럼 삼성전자와 비교하면?",
                 "What is DeepSeek's mHC technique designed to improve?", "V4 언제쯤 나온대?",
                 "Who leads development of Alibaba's Qwen model?", "스케일링 법칙을 이루는 세 가지 요소는?",
                 "How do I bake sourdough bread at home?", "뉴스핌의 딥시크 쇼크 기사를 쓴 사람은 누구인가?"]
    times = [ask_in_page(page, q) for q in questions]
    follow_up = page.locator("#qa-chat .qa-reply").nth(3)
    assert "이전 질문과 함께 검색" in follow_up.locator(".qa-follow-up").inner_text()
    assert "삼성전자" in follow_up.inner_text()
    assert page.locator("#qa-chat .qa-reply").first.locator(".qa-follow-up").count() == 0
    page.get_by_role("button", name="How much did Nvidia's stock fall in one day?").click()
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=len(times))
    assert "17%" in last_reply(page).inner_text()
    p50 = statistics.median(times)
    with capsys.disabled():
        print(f"\nbrowser question->rendered answer over {len(times)} questions: p50 {1000 * p50:.0f} ms, "
              f"max {1000 * max(times):.0f} ms")
    assert p50 < 5.0
