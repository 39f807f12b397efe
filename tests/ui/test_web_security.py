"""The web page never runs what an article or a question contains.

A real index is built from an article full of markup (scripts, event handlers, a Markdown
`javascript:` link, tag breakouts) with hostile metadata, served by the real app on a free
loopback port, and driven in headless Chromium: every payload shows up as text, nothing
runs, and no `javascript:` link exists to click. The server binds to loopback, makes no
share link, and its file routes cannot read outside what Gradio itself serves."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import INPUT, ask_in_page, free_port, open_page, serving

REPO = Path(__file__).resolve().parents[2]

# Every payload sets window.__pwned (or opens a dialog) if it ever runs.
HOSTILE_ARTICLE = "\n\n".join([
    "포스코퓨처엠이 전남 광양에 양극재 공장을 새로 짓는다고 밝혔습니다. <script>window.__pwned='script'</script>",
    "회사 관계자는 <img src=x onerror=\"window.__pwned='img'\"> 라고 말했습니다. "
    "자세한 내용은 [여기를 누르세요](javascript:window.__pwned='md') 에서 볼 수 있습니다.",
    "<a href=\"javascript:window.__pwned='a'\" id=\"evil-link\">광양 공장 안내 링크</a> "
    "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe> <svg onload=\"window.__pwned='svg'\"></svg> "
    "<details open ontoggle=\"window.__pwned='toggle'\">",
    "</div></details></mark></span><script>window.__pwned='breakout'</script> 양극재 생산능력은 연 10만 톤 규모입니다. "
    "&lt;b&gt;굵게&lt;/b&gt; {{constructor.constructor('window.__pwned=1')()}} javascript:alert('bare')",
    "<style>body { display: none }</style><form action=\"javascript:window.__pwned='form'\">"
    "<button>포스코퓨처엠 투자 확인</button></form> 투자 규모는 2조 원입니다.",
]) + "\n"
HOSTILE_META = {
    "title": "<img src=x onerror=\"window.__pwned='title'\">포스코퓨처엠 광양 공장 <script>alert('title')</script>",
    "outlet": "<script>window.__pwned='outlet'</script>",
    "date": "javascript:window.__pwned='date'",
    "reporter": "<b onmouseover=\"window.__pwned='reporter'\">기자</b>",
}
HOSTILE_QUESTION = ("포스코퓨처엠 광양 양극재 공장 <script>window.__pwned='q'</script> "
                    "[x](javascript:window.__pwned='qmd') <img src=x onerror=\"window.__pwned='qimg'\">")
RUNNABLE = ("script, img[src='x'], iframe, svg, form, style, a[href^='javascript'], [onerror], [onload], "
            "[onclick], [ontoggle], [onmouseover]")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, embedder, index_dir) -> Path:
    from assistant.index.build import build_index

    root = tmp_path_factory.mktemp("hostile")
    articles = root / "articles"
    shutil.copytree(REPO / "articles", articles)
    (articles / "<img src=x onerror=alert(1)>.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    meta = json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    meta["<img src=x onerror=alert(1)>.txt"] = HOSTILE_META
    (articles / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    shutil.copytree(index_dir / "cache", root / "index" / "cache")
    build_index(articles, root / "index", embedder=embedder, progress=False)
    return root / "index"


@pytest.fixture(scope="module")
def hostile_assistant(hostile_index, embedder):
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    return Assistant(Retriever.load(hostile_index, embedder=embedder))


@pytest.fixture(scope="module")
def server(hostile_assistant):
    """This module's app serves the hostile index, not the shipped one."""
    with serving(hostile_assistant) as url:
        yield url


def test_the_hostile_article_is_indexed_verbatim(hostile_assistant):
    index = hostile_assistant.retriever.index
    article = index.articles["<img src=x onerror=alert(1)>"]
    assert "<script>window.__pwned='script'</script>" in article.text
    assert "[여기를 누르세요](javascript:window.__pwned='md')" in article.text
    assert article.title.startswith("<img src=x")
    hits = hostile_assistant.retriever.search("포스코퓨처엠 광양 양극재 공장", k=3)
    assert hits[0].doc_id == article.doc_id


# --- in the browser ------------------------------------------------------------------------


def _record_events(page) -> None:
    page.events = []
    page.on("dialog", lambda d: (page.events.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: page.events.append(f"pageerror: {e}"))
    page.on("console", lambda m: page.events.append(f"console: {m.text}") if "pwned" in m.text else None)


@pytest.fixture()
def page(browser, server):
    with open_page(browser, server, locale=None, before_load=_record_events) as page:
        yield page


def ask(page, question: str) -> None:
    ask_in_page(page, question, timeout_ms=60_000)
    page.wait_for_timeout(500)  # time for any onerror/onload handler to fire, if one had been created


def assert_nothing_ran(page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert [e for e in page.events if "dialog" in e or "pwned" in e] == []
    # Where article and question text is shown (the chat's own icons live outside these).
    for panel in ("#qa-chat .qa-reply", "#qa-chat [data-testid='user']", "#qa-article", "#qa-pick label",
                  "#qa-notice"):
        found = page.locator(panel).locator(RUNNABLE)
        assert found.count() == 0, (panel, [found.nth(i).evaluate("e => e.outerHTML")
                                            for i in range(found.count())])
    assert page.locator("a[href^='javascript' i], [href^='javascript' i], [src^='javascript' i]").count() == 0
    assert page.locator("body").is_visible()  # the injected <style> did not apply


@pytest.mark.browser
def test_article_and_question_markup_shows_as_text_and_never_runs(page):
    ask(page, HOSTILE_QUESTION)
    assert_nothing_ran(page)
    # The question, in the user's bubble, exactly as typed.
    user = page.locator("#qa-chat [data-testid='user']").last
    assert user.inner_text().strip() == HOSTILE_QUESTION
    # The reply's sources and the article panel show the article's markup as characters.
    reply = page.locator("#qa-chat .qa-reply").last.inner_text()
    assert "광양" in reply
    article = page.locator("#qa-article").inner_text()
    for text in ("<script>window.__pwned='script'</script>", "<img src=x onerror=\"window.__pwned='img'\">",
                 "[여기를 누르세요](javascript:window.__pwned='md')", "</div></details></mark></span><script>",
                 "&lt;b&gt;굵게&lt;/b&gt;", "<style>body { display: none }</style>", "{{constructor.constructor("):
        assert text in article, text
    assert HOSTILE_META["title"] in article  # the title, from metadata, as text
    assert HOSTILE_META["outlet"] in article and HOSTILE_META["date"] in article
    # The source picker lists the hostile title as text too.
    assert HOSTILE_META["title"] in page.locator("#qa-pick").inner_text()


@pytest.mark.browser
def test_javascript_links_are_not_clickable(page):
    ask(page, "포스코퓨처엠 광양 양극재 공장 안내 링크는?")
    panel = page.locator("#qa-article")
    for text in ("[여기를 누르세요](javascript:window.__pwned='md')", "광양 공장 안내 링크", "javascript:alert('bare')",
                 "포스코퓨처엠 투자 확인"):
        target = panel.get_by_text(text, exact=False).first
        assert target.count() == 1, text
        tag = target.evaluate("e => e.tagName.toLowerCase()")
        assert tag not in ("a", "button", "form"), (text, tag)
        assert target.evaluate("e => e.closest('a, [href], button, form') === null"), text
        target.click()
    page.wait_for_timeout(300)
    assert_nothing_ran(page)
    assert page.url.startswith("http://127.0.0.1:")  # no navigation happened


@pytest.mark.browser
@pytest.mark.parametrize("question", ["", "   ", "?!…", "\u3000\t"])
def test_empty_question_gets_a_message_not_an_error_toast(page, question):
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    page.wait_for_function("() => document.querySelector('#qa-notice').innerText.includes('질문을 입력해 주세요')")
    notice = page.locator("#qa-notice").inner_text()
    assert "Please ask a question" in notice  # both languages: the UI's chrome is bilingual
    assert page.locator("#qa-chat .qa-reply").count() == 0  # no search, no reply
    assert page.locator(".toast-body, .toast-wrap [data-testid='toast-body']").count() == 0
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body


# --- the server ----------------------------------------------------------------------------


def test_file_routes_cannot_read_outside(server, hostile_index):
    secret_build = next((hostile_index / "builds").iterdir())
    targets = ["/etc/passwd", str(REPO / "articles" / "metadata.json"), str(secret_build / "articles.jsonl"),
               str(REPO / "pyproject.toml")]
    paths = []
    for t in targets:
        paths += [f"gradio_api/file={t}", f"gradio_api/file={t.replace('/', '%2F')}",
                  "gradio_api/file=" + "../" * 8 + t.lstrip("/"), "gradio_api/file=" + "..%2F" * 8 + t.lstrip("/"),
                  "file=" + t, "static/" + "../" * 8 + t.lstrip("/"), "assets/" + "..%2F" * 8 + t.lstrip("/"),
                  "gradio_api/file=" + "....//" * 8 + t.lstrip("/")]
    leaked = []
    with httpx.Client(base_url=server, timeout=10) as http:
        for path in paths:
            r = http.get(path)
            if r.status_code == 200 and ("root:" in r.text or "포스코" in r.text or "news-qa" in r.text):
                leaked.append(path)
    assert leaked == []


def test_uploads_are_never_served_as_a_page(server):
    """Gradio accepts uploads on its own route; what comes back is a download, not HTML that runs."""
    with httpx.Client(base_url=server, timeout=10) as http:
        r = http.post("gradio_api/upload", files={"files": ("x.html", b"<script>alert(1)</script>", "text/html")})
        if r.status_code != 200:
            return  # uploads refused: nothing to serve
        served = http.get("gradio_api/file=" + r.json()[0])
        assert "text/html" not in served.headers.get("content-type", "")
        assert served.headers.get("content-disposition", "").startswith("attachment")


def test_api_takes_no_file_or_path_parameter(server):
    info = httpx.get(server + "gradio_api/info", timeout=10).json()
    endpoints = info["named_endpoints"]
    assert sorted(endpoints) == ["/ask", "/ask_stream"]  # the chat's own events are private
    for name in endpoints:
        for p in endpoints[name]["parameters"]:
            kind = json.dumps(p.get("type", {})) + json.dumps(p.get("python_type", {}))
            assert "file" not in kind.lower() and "path" not in kind.lower(), p
    assert info["unnamed_endpoints"] == {}


def test_server_defaults_to_loopback_and_no_share():
    import inspect

    from assistant.cli import _parser
    from ui.app import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    args = _parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"
    source = inspect.getsource(serve)
    assert "share=False" in source and "share=True" not in source


def non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


@pytest.mark.slow
def test_real_ui_process_listens_on_loopback_only(index_dir, tmp_path):
    """`python -m assistant ui` as a user starts it: reachable on 127.0.0.1, not on the machine's
    other address, and it prints no public share link."""
    port = free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1",
                        "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(tmp_path / "ui.log", "w+")  # noqa: SIM115 - read back after the process ends
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "ui", "--index", str(index_dir), "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the UI did not come up")
        listeners = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        local = [f[1] for f in listeners if f[3] == "0A" and int(f[1].split(":")[1], 16) == port]
        assert local == ["0100007F:" + f"{port:04X}"], local  # 127.0.0.1 only, not 0.0.0.0
        ip = non_loopback_ip()
        if ip:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{ip}:{port}/config", timeout=3)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    out = (tmp_path / "ui.log").read_text()
    assert "gradio.live" not in out and "share" not in out.lower().replace("never a public share", "")
