"""Feeds parsed and pages fetched politely, against a made-up news site on loopback (no model)."""

from __future__ import annotations

import time

import pytest

from assistant.ingest.feeds import FeedError, parse_feed
from assistant.ingest.fetch import USER_AGENT, Fetcher, FetchError, decode_page
from conftest import free_port
from newssite import RSS_STORIES, NewsSite, Resource, Story, standard_site, story_html

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>테스트 뉴스</title><link>http://127.0.0.1/</link>
<item><title>첫 기사</title><link>/news/1.html</link><pubDate>Mon, 10 Mar 2025 09:00:00 +0900</pubDate></item>
<item><title>  둘째
 기사 </title><link>http://127.0.0.1/news/2.html</link></item>
<item><title>메일</title><link>mailto:desk@example.com</link></item>
</channel></rss>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>과학</title><id>urn:x</id><updated>2025-03-20T00:00:00Z</updated>
<entry><title>망원경</title><link rel="alternate" href="http://127.0.0.1/s/1.html"/><id>urn:1</id>
<updated>2025-03-16T23:30:00Z</updated></entry></feed>"""


def test_rss_entries_resolve_links_and_dates():
    feed = parse_feed(RSS.encode(), "http://127.0.0.1/rss.xml")
    assert feed.title == "테스트 뉴스"
    assert [(e.url, e.title, e.published) for e in feed.entries] == [
        ("http://127.0.0.1/news/1.html", "첫 기사", "2025-03-10"),  # relative link, date in UTC still the 10th
        ("http://127.0.0.1/news/2.html", "둘째 기사", "")]  # no date: the page's own date decides; mailto dropped


def test_atom_entries():
    feed = parse_feed(ATOM.encode("utf-8"))
    assert [(e.url, e.title, e.published) for e in feed.entries] == [("http://127.0.0.1/s/1.html", "망원경",
                                                                     "2025-03-16")]


@pytest.mark.parametrize("data, reason", [
    (RSS[: len(RSS) // 2].encode(), "malformed or truncated"),
    (b"<rss version='2.0'><channel><title>a & b</title></channel></rss>", "malformed or truncated"),
    ("<html><body><p>뉴스 홈</p></body></html>".encode(), "not an RSS or Atom feed"),
    (b"", "not an RSS or Atom feed"),
])
def test_a_broken_feed_is_refused_whole(data, reason):
    with pytest.raises(FeedError, match=reason) as e:
        parse_feed(data, "http://127.0.0.1/rss.xml")
    assert "\n" not in str(e.value)


def test_euc_kr_page_is_decoded_by_its_meta_charset_or_http_charset():
    story = Story("s", "한글 제목", ("가나다 뉴스의 본문입니다. 똠방각하와 펲시 같은 글자도 있습니다.",), "2025-03-01")
    data = story_html(story, charset="euc-kr")
    with pytest.raises(UnicodeDecodeError):
        data.decode("euc-kr")  # 똠 and 펲 are CP949's extra syllables: a strict EUC-KR decoder fails on them
    text, encoding = decode_page(data)
    assert "똠방각하와 펲시" in text and encoding == "cp949"
    assert "한글 제목" in decode_page(data, "euc-kr")[0]
    assert "한글 제목" in decode_page(story_html(story))[0]  # UTF-8, declared


@pytest.fixture()
def site():
    with NewsSite() as s:
        standard_site(s)
        yield s


def test_fetcher_names_itself_and_asks_conditionally(site):
    url = site.url("/news/salmon.html")
    with Fetcher(delay=0) as f:
        first = f.get(url)
        again = f.get(url, etag=first.etag)
        by_date = f.get(url, last_modified=first.last_modified)
    assert first.status == 200 and "연어" in decode_page(first.content, first.charset)[0]
    assert first.etag and first.last_modified
    assert again.not_modified and again.content == b"" and by_date.not_modified
    assert [(s.path, s.conditional, s.status) for s in site.seen] == [
        ("/robots.txt", False, 200), ("/news/salmon.html", False, 200), ("/news/salmon.html", True, 304),
        ("/news/salmon.html", True, 304)]  # robots.txt read once per origin
    assert {s.user_agent for s in site.seen} == {USER_AGENT} and "news-qa" in USER_AGENT


def test_robots_txt_is_cached_and_asked_for_conditionally(site):
    robots: dict = {}
    with Fetcher(delay=0, robots=robots) as f:
        f.get(site.url("/rss.xml"))
    with Fetcher(delay=0, robots=robots) as f:
        assert not f.allowed(site.url("/private/a.html"))
        with pytest.raises(FetchError, match="robots.txt .* disallows /private/a.html"):
            f.get(site.url("/private/a.html"))
    assert ("/robots.txt", True, 304) in [(s.path, s.conditional, s.status) for s in site.seen]
    assert not any(s.path.startswith("/private/") for s in site.seen)


def test_robots_txt_missing_allows_and_server_error_forbids():
    with NewsSite() as s:
        s.resources["/a.html"] = Resource(b"<p>a</p>")
        with Fetcher(delay=0) as f:
            assert f.get(s.url("/a.html")).status == 200  # no robots.txt (404): everything allowed
        s.resources["/robots.txt"] = Resource(b"oops", status=503)
        with Fetcher(delay=0) as f, pytest.raises(FetchError, match="robots.txt .* HTTP 503"):
            f.get(s.url("/a.html"))


@pytest.mark.parametrize("resource, reason", [
    (None, "HTTP 404"),
    (Resource(b"boom", status=500), "HTTP 500"),
    (Resource(b"x" * 5000), "larger than|too large"),
    (Resource(b"x" * 4000, truncate=True), "broke off"),
    (Resource(b"", status=302, validators=False, headers={"Location": "/loop.html"}), "more than 3 redirects"),
    (Resource(b"", status=302, validators=False, headers={"Location": "file:///etc/passwd"}), "only http and https"),
    (Resource(b"late", delay=2.0), "did not answer in time"),
])
def test_each_fault_is_one_line(site, resource, reason):
    if resource is not None:
        site.resources["/loop.html"] = resource
    with Fetcher(delay=0, max_bytes=4096, max_redirects=3, timeout=1.0) as f, \
            pytest.raises(FetchError, match=reason) as e:
        f.get(site.url("/loop.html"))
    assert "\n" not in str(e.value)


def test_down_host_and_other_schemes():
    with Fetcher(delay=0, timeout=2) as f:
        with pytest.raises(FetchError, match="could not be reached"):
            f.get(f"http://127.0.0.1:{free_port()}/rss.xml")
        with pytest.raises(FetchError, match="only http and https"):
            f.get("ftp://127.0.0.1/rss.xml")


def test_redirects_are_followed_to_the_page(site):
    site.resources["/old.html"] = Resource(b"", status=301, validators=False, headers={"Location": "/news/flu.html"})
    with Fetcher(delay=0) as f:
        r = f.get(site.url("/old.html"))
    assert r.status == 200 and r.url.endswith("/news/flu.html") and RSS_STORIES[1].title in r.content.decode()


def test_one_host_is_asked_one_request_at_a_time_with_a_delay(site):
    with Fetcher(delay=0.3) as f:
        f.allowed(site.url("/"))  # robots.txt first
        t = time.monotonic()
        for slug in ("salmon", "flu", "airline"):
            f.get(site.url(f"/news/{slug}.html"))
        assert time.monotonic() - t >= 0.85  # three requests, each waiting its turn after the last one
