"""The Articles panel in Chromium: a CP949 upload becomes answerable, a binary one is refused, removal undoes it.

Runs on temp copies of the articles and the index, never the repository's.
"""

from __future__ import annotations

import os

import pytest

from conftest import INPUT, ask_in_page, cp949_story, open_page, serving

QUESTION = "한빛전자 고체 배터리 공장의 연간 생산능력은?"
FACT = "40기가와트시"


@pytest.fixture()
def library_page(browser, library_home, embedder):
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    articles, index = library_home
    assistant = Assistant(Retriever.load(index, embedder=embedder))
    with serving(assistant, (articles, index)) as url, open_page(browser, url, height=1400) as page:
        yield page, articles


def ask(page, question: str) -> str:
    ask_in_page(page, question)
    return page.locator("#qa-chat .qa-reply").last.inner_text()


@pytest.mark.browser
def test_upload_answer_refuse_and_remove(library_page, tmp_path):
    page, articles = library_page
    story, blob = tmp_path / "hanbit.txt", tmp_path / "scan.txt"
    story.write_bytes(cp949_story(FACT))
    blob.write_bytes(os.urandom(4096))
    assert FACT not in ask(page, QUESTION)  # not known yet

    page.locator("#qa-library").get_by_text("기사 관리 / Articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(story), str(blob)])
    status = page.locator("#qa-library-status")
    refused = status.locator(".qa-refused")
    refused.first.wait_for()
    assert refused.count() == 1 and "scan.txt" in refused.inner_text() and "binary" in refused.inner_text()
    form = page.locator("#qa-form")
    page.wait_for_function("() => document.querySelector('#qa-form').innerText.includes('hanbit.txt')")
    assert "뉴스핌" in form.inner_text() and "2025-03-14" in form.inner_text()  # prefilled, editable

    page.locator("#qa-add").click()
    page.locator("#qa-library .progress-text, #qa-library .eta-bar, #qa-library .progress-level").first.wait_for(
        state="attached", timeout=20_000)  # the build's progress bar
    # While the build runs, questions are answered from the index already loaded.
    during = ask(page, QUESTION)
    assert status.locator(".qa-added").count() == 0, "the build finished before the question was answered"
    assert FACT not in during
    status.locator(".qa-added").wait_for(timeout=120_000)
    assert "hanbit" in status.locator(".qa-added").inner_text()
    assert "scan.txt" in status.inner_text() and status.locator(".qa-refused").count() == 1
    assert "hanbit" in page.locator("#qa-articles").inner_text()
    assert (articles / "hanbit.txt").exists() and not (articles / "scan.txt").exists()

    reply = page.locator("#qa-chat .qa-reply").last
    text = ask(page, QUESTION)
    assert FACT in reply.locator(".qa-answer").inner_text(), text
    assert "한빛전자" in reply.locator(".qa-source").first.inner_text()
    assert "2025-03-14 (추정)" in reply.inner_text()  # the date found in the text, marked as a guess
    assert "지난해 1월 → 2024년 1월" in reply.inner_text()  # relative dates resolved against it

    pick = page.locator("#qa-remove-pick input")
    pick.click()
    pick.fill("hanbit")
    page.locator("[data-testid='dropdown-option']", has_text="hanbit").first.click()
    page.locator("#qa-remove").click()
    page.wait_for_function(
        "() => document.querySelector('#qa-library-status').innerText.includes('removed: hanbit')", timeout=120_000)
    assert "0 texts embedded" in status.inner_text()
    assert "hanbit" not in page.locator("#qa-articles").inner_text()
    assert FACT not in ask(page, QUESTION)


@pytest.mark.browser
def test_since_until_inputs_filter_the_sources(browser, server):
    with open_page(browser, server) as page:
        page.locator("#qa-since input, #qa-since textarea").first.fill("2026-01")
        ask(page, "엔비디아 주가는 하루에 얼마나 떨어졌나?")
        metas = page.locator("#qa-chat .qa-reply").last.locator(".qa-meta").all_inner_texts()
        assert metas and all("2026-01" in m for m in metas), metas
        page.locator("#qa-until input, #qa-until textarea").first.fill("someday")
        page.locator(INPUT).fill("엔비디아 주가는?")
        page.locator(INPUT).press("Enter")
        page.wait_for_function("() => document.querySelector('#qa-notice').innerText.includes('Not a date')")
        assert page.locator("#qa-chat .qa-reply").count() == 1


@pytest.mark.browser
def test_hostile_file_names_and_titles_show_as_text(library_page, tmp_path):
    page, articles = library_page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    name = "<img src=x onerror=alert(1)>.txt"
    evil = tmp_path / name
    evil.write_text("<script>alert(2)</script> 광양 공장 <img src=x onerror=alert(3)>\n\n"
                    "포스코퓨처엠이 전남 광양에 양극재 공장을 새로 짓는다고 밝혔습니다.\n", encoding="utf-8")
    bad = tmp_path / "<b onmouseover=alert(4)>.txt"
    bad.write_bytes(b"")
    page.locator("#qa-library").get_by_text("기사 관리 / Articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(evil), str(bad)])
    page.wait_for_function("() => document.querySelector('#qa-form').innerText.includes('onerror')")
    # (Gradio itself strips < and > from uploaded file names.)
    assert "onmouseover=alert(4).txt: empty file" in page.locator("#qa-library-status").inner_text()
    page.locator("#qa-add").click()
    page.locator("#qa-library-status .qa-added").wait_for(timeout=120_000)
    assert "<script>alert(2)</script>" in page.locator("#qa-articles").inner_text()
    panel = page.locator("#qa-library")
    assert panel.locator("img[src='x'], script, b[onmouseover]").count() == 0 and dialogs == []
    saved = [p.name for p in articles.iterdir() if p.suffix == ".txt"]
    assert all("<" not in n and "/" not in n for n in saved) and len(saved) == 3
