"""The Sources list in Chromium: "Sync now" fetches a followed feed from a loopback site and lists its stories."""

from __future__ import annotations

import pytest

from conftest import open_page, serving
from newssite import RSS_STORIES, NewsSite, standard_site


@pytest.mark.browser
def test_sync_now_lists_the_new_articles(browser, library_home, embedder, monkeypatch):
    from assistant.index.sync import add_source
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    articles, index = library_home
    monkeypatch.setenv("NEWSQA_FETCH_DELAY", "0")  # read by the Settings the app loads with
    with NewsSite() as site:
        standard_site(site)
        add_source(articles, "feed", site.url("/rss.xml"), name="가상뉴스 경제", outlet="가상뉴스")
        assistant = Assistant(Retriever.load(index, embedder=embedder))
        with serving(assistant, (articles, index)) as url, open_page(browser, url, height=1600) as page:
            page.locator("#qa-library").get_by_text("기사 관리 / Articles").click()
            sources = page.locator("#qa-sources")
            page.wait_for_function("() => document.querySelector('#qa-sources').innerText.includes('가상뉴스 경제')")
            assert RSS_STORIES[0].title not in page.locator("#qa-articles").inner_text()

            page.locator("#qa-sync").click()
            page.locator("#qa-sync-status .progress-text, #qa-sync-status .eta-bar, "
                         "#qa-sync-status .progress-level").first.wait_for(state="attached", timeout=20_000)
            done = page.locator("#qa-sync-status .qa-added")
            done.wait_for(timeout=120_000)
            assert done.inner_text().startswith("sync: 3 added, 0 changed, 0 unchanged, 0 removed, 0 failed")
            listed = page.locator("#qa-articles").inner_text()
            assert all(s.title in listed for s in RSS_STORIES), listed
            row = sources.inner_text()
            assert "3·0·0·0·0" in row and "RSS/Atom" in row and "20" in row  # counts, kind, a last-sync date

            page.locator("#qa-sync").click()  # again: nothing new
            page.wait_for_function("() => document.querySelector('#qa-sync-status').innerText"
                                   ".includes('0 added, 0 changed, 3 unchanged')", timeout=60_000)
        assert {s.path for s in site.seen} >= {"/robots.txt", "/rss.xml", "/news/salmon.html"}
