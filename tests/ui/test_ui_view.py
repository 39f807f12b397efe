"""The answer in view: after a question, the chat shows the top of the new answer, not the end of its sources.

Real app on loopback, real Chromium, a small window (1000x700) where an answer and its five sources overflow the
chat. With NEWSQA_SCREENSHOT_DIR set, the reader test also saves docs' pictures of an English and a Korean answer:
    NEWSQA_SCREENSHOT_DIR=docs python -m pytest -q tests/ui/test_ui_view.py -k reader -m slow
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import ask_in_page, open_page, serving

# Where the newest reply's first line sits against the chat's scrolling box (and the window).
GEOMETRY = """() => {
  const replies = document.querySelectorAll('#qa-chat .qa-reply');
  const reply = replies[replies.length - 1];
  const first = reply.querySelector('.qa-answer, .qa-abstain');
  const box = reply.closest('.bubble-wrap');
  const a = first.getBoundingClientRect(), b = box.getBoundingClientRect();
  return {top: a.top, boxTop: b.top, boxBottom: b.bottom, window: window.innerHeight,
          scrollTop: box.scrollTop, clientHeight: box.clientHeight, scrollHeight: box.scrollHeight};
}"""
# Every condition the assertions below check: the UI scrolls a few tens of ms after the reply renders, so wait for
# all of them (the chat's own box and the window), not for part of them.
IN_VIEW = (f"() => {{ const g = ({GEOMETRY})(); return g.top >= g.boxTop - 1 && g.top + 24 <= g.boxBottom"
           " && g.top >= 0 && g.top + 24 <= g.window && g.scrollTop + g.clientHeight < g.scrollHeight - 50; }")


def assert_answer_in_view(page) -> dict:
    """The top of the newest answer is inside the chat's visible area, while its sources run on below it."""
    with contextlib.suppress(PlaywrightTimeout):  # the scroll runs just after the reply renders
        page.wait_for_function(IN_VIEW, timeout=5_000)  # (if it never does, the assertions say how)
    g = page.evaluate(GEOMETRY)
    assert g["scrollHeight"] > g["clientHeight"] + 200, f"the chat does not overflow, nothing to test: {g}"
    assert g["boxTop"] - 1 <= g["top"] and g["top"] + 24 <= g["boxBottom"], f"answer's top not in the chat: {g}"
    assert g["top"] >= 0 and g["top"] + 24 <= g["window"], f"answer's top outside the window: {g}"
    assert g["scrollTop"] + g["clientHeight"] < g["scrollHeight"] - 50, f"scrolled to the end of the sources: {g}"
    return g


@pytest.fixture()
def small_page(browser, server):
    with open_page(browser, server, width=1000, height=700, timeout_ms=20_000) as page:
        yield page


@pytest.mark.browser
def test_browser_each_new_answer_is_in_view(small_page):
    page = small_page
    ask_in_page(page, "엔비디아 주가는 하루에 얼마나 떨어졌나?")
    first = assert_answer_in_view(page)
    ask_in_page(page, "How did DeepSeek make up for not having the newest chips?")  # below the first exchange
    second = assert_answer_in_view(page)
    assert second["scrollTop"] > first["scrollTop"]  # it moved down to the new answer, not stayed on the old one


@pytest.fixture(scope="module")
def reader_server(reader_assistant):
    with serving(reader_assistant) as url:
        yield url


@pytest.mark.slow  # about 10 s a question on an idle laptop, minutes on a busy shared CPU
@pytest.mark.browser
@pytest.mark.parametrize("lang,question,locale", [
    ("en", "How much did Nvidia fall the day DeepSeek R1 came out?", "en-US"),
    ("ko", "엔비디아 주가는 하루에 얼마나 떨어졌나?", "ko-KR"),
])
def test_browser_reader_answer_in_view(browser, reader_server, lang, question, locale):
    """With the real reader (the answer streams in under its sources): the finished answer's top is in view."""
    shots = os.environ.get("NEWSQA_SCREENSHOT_DIR")
    size = {"width": 1400, "height": 1000} if shots else {"width": 1000, "height": 700}
    with open_page(browser, reader_server, locale=locale, timeout_ms=120_000, **size) as page:
        ask_in_page(page, question, timeout_ms=600_000 if shots else 180_000)
        reply = page.locator("#qa-chat .qa-reply").last
        assert "17%" in reply.locator(".qa-answer").inner_text()
        assert_answer_in_view(page)
        if not shots:
            return
        fallback = reply.locator(".qa-fallback")
        assert fallback.count() == 0, f"the reader fell back to quoting, no picture of that: {fallback.inner_text()}"
        page.wait_for_timeout(300)
        path = Path(shots) / f"screenshot-{lang}.png"
        page.screenshot(path=path, full_page=True)
        assert path.stat().st_size > 20_000
