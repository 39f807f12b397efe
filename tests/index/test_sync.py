"""Sync with feeds, pages and a watched folder: only what changed is embedded; every fault is one line.

All against a made-up Korean news site on a loopback port (tests/newssite.py), on temp copies of the
shipped articles and their index (with its vector cache).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from assistant.index.faiss_store import load_index
from assistant.index.sources import STATE_FILE, read_sources
from assistant.index.sync import add_source, sync
from assistant.ingest.fetch import Fetcher
from conftest import REPO, cp949_story, free_port
from newssite import (
    ATOM_STORIES,
    CHANGED_FLU,
    NEW_STORY,
    RSS_STORIES,
    NewsSite,
    Resource,
    Story,
    rss,
    standard_site,
    story_html,
)


def run_sync(articles, index, embedder, **kw):
    with Fetcher(delay=0, timeout=3) as f:  # a fresh client per sync, as the CLI makes one
        return sync(articles, index, embedder=embedder, fetcher=f, **kw)


def cache_rows(index) -> int:
    with sqlite3.connect(index / "cache" / "embeddings.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def doc(report_ids, slug: str) -> str:
    [d] = [d for d in report_ids if d.startswith(slug + "_")]
    return d


@pytest.fixture()
def site():
    with NewsSite() as s:
        standard_site(s)
        yield s


@pytest.fixture()
def followed(library_home, site):
    articles, index = library_home
    add_source(articles, "feed", site.url("/rss.xml"), outlet="가상뉴스")
    add_source(articles, "feed", site.url("/atom.xml"), name="과학", outlet="가상뉴스")
    return articles, index


def test_sources_file_round_trip_and_refusals(tmp_path, site):
    articles = tmp_path / "articles"
    add_source(articles, "feed", site.url("/rss.xml"), name="경제", outlet="가상뉴스")
    add_source(articles, "page", site.url("/news/salmon.html"))
    (tmp_path / "inbox").mkdir()
    add_source(articles, "folder", str(tmp_path / "inbox"))
    assert [(s.name, s.kind, s.outlet) for s in read_sources(articles)] == [
        ("경제", "feed", "가상뉴스"), ("127.0.0.1/news/salmon.html", "page", ""), ("inbox", "folder", "")]
    for kind, where, reason in (("feed", site.url("/rss.xml"), "already followed"),
                                ("feed", "file:///etc/passwd", "only http and https"),
                                ("folder", str(tmp_path / "nope"), "not a folder"),
                                ("folder", str(articles), "the articles directory"),
                                ("folder", str(tmp_path), "the articles directory")):
        with pytest.raises(ValueError, match=reason):
            add_source(articles, kind, where)
    (articles / "sources.toml").write_text("[[source]\nkind=", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_sources(articles)


def test_feeds_added_then_one_new_one_changed_then_only_304s(followed, site, embedder):
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    articles, index = followed
    first = run_sync(articles, index, embedder)
    assert len(first.added) == 5 and not first.changed and not first.failed, first.summary()
    assert first.summary().startswith("sync: 5 added, 0 changed, 0 unchanged, 0 removed, 0 failed")
    salmon, flu = doc(first.added, "salmon"), doc(first.added, "flu")
    loaded = load_index(index)
    assert len(loaded.articles) == 2 + 5  # the shipped articles are still there
    a = loaded.articles[salmon]
    assert (a.title, a.outlet, a.date_iso, a.date_source) == (RSS_STORIES[0].title, "가상뉴스", "2025-03-10",
                                                             "metadata")
    assert "무단 전재" not in a.text and "광고문의" not in a.text  # the page's chrome is not the article

    ans = Assistant(Retriever.load(index, embedder=embedder)).ask("푸른바다수산 연어 양식장의 연간 생산량은?")
    assert not ans.abstained and "3200톤" in ans.text
    assert ans.citations[0].doc_id == salmon

    # The feed gains a story and one page changes: one added, one re-indexed, only those embedded.
    site.resources["/rss.xml"] = Resource(rss("가상뉴스 경제", site.base, [*RSS_STORIES, NEW_STORY]),
                                          "application/rss+xml")
    site.resources["/news/robots.html"] = Resource(story_html(NEW_STORY))
    site.resources["/news/flu.html"] = Resource(story_html(CHANGED_FLU))
    rows = cache_rows(index)
    second = run_sync(articles, index, embedder)
    assert second.changed == (flu,) and len(second.added) == 1 and second.added[0].startswith("robots_")
    assert (second.unchanged, second.failed) == (4, ())
    loaded = load_index(index)
    assert "2100명" in loaded.articles[flu].text and "1850명" not in loaded.articles[flu].text
    touched = {flu, second.added[0]}
    texts = sum(1 for p in loaded.passages if p.doc_id in touched) + sum(
        1 for s in loaded.sentences if loaded.passages[s.passage].doc_id in touched)
    assert 0 < second.build.embedded <= texts  # nothing else was embedded ...
    assert cache_rows(index) - rows == second.build.embedded  # ... as the vector cache counts it

    # Nothing new: only conditional GETs, each answered 304, and no build.
    site.reset_log()
    rows = cache_rows(index)
    third = run_sync(articles, index, embedder)
    assert (third.added, third.changed, third.unchanged, third.failed, third.build) == ((), (), 6, (), None)
    assert site.seen and all(s.conditional and s.status == 304 for s in site.seen), site.seen
    assert sorted(s.path for s in site.seen) == ["/atom.xml", "/robots.txt", "/rss.xml"]
    assert cache_rows(index) == rows
    state = json.loads((articles / STATE_FILE).read_text(encoding="utf-8"))
    assert state["sources"]["과학"]["articles"] == 2 and state["sources"]["과학"]["unchanged"] == 2


def test_watched_folder_add_change_delete(library_home, tmp_path, embedder):
    articles, index = library_home
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "battery.txt").write_bytes(cp949_story("40기가와트시"))
    (inbox / "bakery.md").write_text("# 동네 빵집의 새 메뉴\n\n[서울=가상뉴스] 윤가람 기자 = 마포구의 작은 빵집이 "
                                     "쑥 크림빵을 새로 내놓았다.\n\n하루 200개만 굽는다.\n", encoding="utf-8")
    (inbox / "notes.png").write_bytes(b"\x89PNG\r\n")  # not an article file: not looked at
    add_source(articles, "folder", str(inbox), outlet="동네소식")
    first = run_sync(articles, index, embedder)
    assert len(first.added) == 2 and not first.failed, first.summary()
    battery, bakery = doc(first.added, "battery"), doc(first.added, "bakery")
    assert load_index(index).articles[bakery].outlet == "동네소식"

    (inbox / "battery.txt").write_bytes(cp949_story("125기가와트시"))
    (inbox / "bakery.md").unlink()
    (inbox / "news.txt").write_text("[서울=가상뉴스] 윤가람 기자 = 망원시장에 무인 반찬 가게가 문을 열었다.\n\n"
                                    "가게는 밤 11시까지 운영한다.\n", encoding="utf-8")
    second = run_sync(articles, index, embedder)
    assert (second.changed, second.removed, second.unchanged) == ((battery,), (bakery,), 0)
    assert len(second.added) == 1 and second.added[0].startswith("news_")
    loaded = load_index(index)
    assert "125기가와트시" in loaded.articles[battery].text and bakery not in loaded.articles
    assert not list(articles.glob(f"{bakery}.*"))
    meta = json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    assert not any(k.startswith(bakery) for k in meta) and "000_a64cfab21b31744d.txt" in meta

    third = run_sync(articles, index, embedder)
    assert (third.added, third.changed, third.removed, third.unchanged, third.build) == ((), (), (), 2, None)


FAULTS = {
    "/gone.xml": None,  # 404
    "/broken.xml": Resource(b"oops", status=500),
    "/cut.xml": Resource(rss("잘린 피드", "http://127.0.0.1", RSS_STORIES)[:300], "application/rss+xml"),
    "/hangup.xml": Resource(rss("끊긴 피드", "http://127.0.0.1", RSS_STORIES), "application/rss+xml", truncate=True),
    "/bad.xml": Resource(b"<rss version='2.0'><channel><title>a & b</title></channel></rss>", "application/rss+xml"),
    "/home.xml": Resource("<html><body><p>가상뉴스 홈</p></body></html>".encode(), "text/html"),
}
EUCKR = Story("market", "전통시장 상인회, 온라인 장보기 시작", (
    "[대구=가상뉴스] 문태호 기자 = 대구 서문시장 상인회가 온라인 장보기 서비스를 2025년 3월 19일 시작했다.",
    "첫 주에만 주문이 2700건 들어왔고, 똠양꿍 재료를 찾는 손님도 많았다고 상인회는 밝혔다.",
    "배달은 시장에서 5킬로미터 안쪽까지 당일에 해 준다."), "2025-03-19")


def test_each_fault_is_one_line_and_loses_nothing(followed, site, embedder):
    articles, index = followed
    for path, res in FAULTS.items():
        if res is not None:
            site.resources[path] = res
        add_source(articles, "feed", site.url(path))
    down = f"http://127.0.0.1:{free_port()}/rss.xml"
    add_source(articles, "feed", down, name="down")
    site.resources["/news/market.html"] = Resource(story_html(EUCKR, "euc-kr"), "text/html")  # charset in the page
    site.resources["/news/empty.html"] = Resource(  # a video page: menus, a player, the footer
        '<html><head><title>가상뉴스</title></head><body><nav><a href="/">홈</a> <a href="/e">경제</a></nav>'
        '<div id="player"></div><footer>가상뉴스 무단 전재 및 재배포 금지</footer></body></html>'.encode())
    site.resources["/mixed.xml"] = Resource(rss("섞인 피드", site.base, [
        EUCKR, Story("empty", "빈 기사", (), "2025-03-19"), Story("missing", "없는 기사", (), "2025-03-19")]),
        "application/rss+xml")
    add_source(articles, "feed", site.url("/mixed.xml"))
    add_source(articles, "page", site.url("/private/memo.html"))

    first = run_sync(articles, index, embedder)
    lines = [str(f) for f in first.failed]
    assert all("\n" not in line and line.startswith("failed http://127.0.0.1:") for line in lines)
    expect = {site.url("/gone.xml"): "HTTP 404", site.url("/broken.xml"): "HTTP 500",
              site.url("/cut.xml"): "malformed or truncated", site.url("/hangup.xml"): "broke off",
              site.url("/bad.xml"): "malformed or truncated", site.url("/home.xml"): "not an RSS or Atom feed",
              down: "could not be reached", site.url("/news/empty.html"): "no article text",
              site.url("/news/missing.html"): "HTTP 404", site.url("/private/memo.html"): "robots.txt"}
    assert len(lines) == len(expect), "\n".join(lines)
    for url, reason in expect.items():
        [line] = [ln for ln in lines if ln.startswith(f"failed {url}:")]
        assert reason in line, line
    assert len(first.added) == 5 + 1, first.summary()  # the good feeds, and the EUC-KR page read right
    market = load_index(index).articles[doc(first.added, "market")]
    assert "똠양꿍 재료" in market.text and market.title == EUCKR.title
    before = {d: a.text for d, a in load_index(index).articles.items()}

    # Later a feed goes down and a known page breaks: each says so, and what was indexed stays.
    site.resources["/rss.xml"] = Resource(b"", status=503)
    site.resources["/atom.xml"] = Resource(site.resources["/atom.xml"].body.replace(b"</feed>", b" </feed>"),
                                           "application/atom+xml")
    site.resources["/science/telescope.html"] = Resource(story_html(ATOM_STORIES[0]) + b"<!-- v2 -->", truncate=True)
    second = run_sync(articles, index, embedder)
    lines = [str(f) for f in second.failed]
    assert any(ln.startswith(f"failed {site.url('/rss.xml')}: HTTP 503") for ln in lines)
    assert any(ln.startswith(f"failed {site.url('/science/telescope.html')}: ") for ln in lines)
    assert not second.added and not second.changed and second.build is None
    assert {d: a.text for d, a in load_index(index).articles.items()} == before

    # The broken page is tried again on the next sync even though its feed answers 304.
    site.resources["/science/telescope.html"] = Resource(story_html(ATOM_STORIES[0]))
    site.reset_log()
    third = run_sync(articles, index, embedder)
    assert not any(site.url("/science/") in str(f) for f in third.failed)
    assert ("/atom.xml", True, 304) in [(s.path, s.conditional, s.status) for s in site.seen]
    assert "/science/telescope.html" in [s.path for s in site.seen]


@pytest.mark.slow
def test_two_syncs_at_once_wait_for_each_other(followed, embedder):
    articles, index = followed
    reports, errors = [], []

    def one() -> None:
        try:
            reports.append(run_sync(articles, index, embedder))
        except Exception as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and len(reports) == 2
    assert sorted(len(r.added) for r in reports) == [0, 5]  # the second saw what the first had done
    assert sorted(r.unchanged for r in reports) == [0, 5]
    assert len(load_index(index).articles) == 7


@pytest.mark.slow
def test_a_killed_sync_leaves_the_index_loadable_and_the_next_one_finishes(followed, site, embedder):
    articles, index = followed
    before = set(load_index(index).articles)
    for path, res in list(site.resources.items()):
        if path.endswith(".html"):
            res.delay = 1.0  # slow pages: the kill lands between them
    cmd = [sys.executable, "-m", "assistant", "sync", "--once", "--articles", str(articles), "--index", str(index),
           "--quiet"]
    env = os.environ | {"NEWSQA_FETCH_DELAY": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = articles / STATE_FILE
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if state.exists() and len(json.loads(state.read_text(encoding="utf-8") or "{}").get("items", {})) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert set(load_index(index).articles) == before  # the previous index, whole
    for res in site.resources.values():
        res.delay = 0
    done = run_sync(articles, index, embedder)
    assert not done.failed and len(done.added) + done.unchanged == 5 and done.build is not None
    assert len(done.added) < 5  # what the killed sync had stored was kept
    assert len(set(load_index(index).articles) - before) == 5
