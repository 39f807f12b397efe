"""`follow URL`, `add URL`, `watch DIR`, `sync`: one line per error (exit 2), a summary line per sync."""

from __future__ import annotations

import pytest

from assistant.cli import main
from assistant.cli_sources import interval_seconds
from assistant.index.sources import read_sources
from newssite import RSS_STORIES, NewsSite, standard_site


@pytest.fixture()
def same_embedder(monkeypatch, embedder):
    """The CLI builds its own Embedder; hand it the session's (the same real model, loaded once)."""
    monkeypatch.setattr("assistant.models.embedding.Embedder", lambda *a, **k: embedder)
    monkeypatch.setenv("NEWSQA_FETCH_DELAY", "0")


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("1h", 3600), ("2", 120), ("1.5m", 90)])
def test_intervals(text, seconds):
    assert interval_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "0m", "soon", "15 minutes", "-5m"])
def test_bad_intervals_are_refused(text):
    with pytest.raises(ValueError, match="30s, 15m or 1h"):
        interval_seconds(text)


def test_follow_and_watch_write_sources_and_refuse_in_one_line(tmp_path, capsys):
    articles = tmp_path / "articles"
    assert main(["follow", "http://127.0.0.1:9/rss.xml", "--name", "경제", "--outlet", "가상뉴스",
                 "--articles", str(articles)]) == 0
    (tmp_path / "inbox").mkdir()
    assert main(["watch", str(tmp_path / "inbox"), "--articles", str(articles)]) == 0
    assert "following '경제'" in capsys.readouterr().out
    assert [(s.name, s.kind) for s in read_sources(articles)] == [("경제", "feed"), ("inbox", "folder")]
    for argv in (["follow", "ftp://127.0.0.1/rss.xml"], ["follow", "http://127.0.0.1:9/rss.xml"],
                 ["watch", str(tmp_path / "missing")], ["watch", str(tmp_path)], ["sync", "--every", "soon"]):
        assert main([*argv, "--articles", str(articles)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_add_url_fetches_the_page_and_sync_prints_a_summary(library_home, same_embedder, capsys):
    articles, index = library_home
    where = ["--articles", str(articles), "--index", str(index), "--quiet"]
    with NewsSite() as site:
        standard_site(site)
        assert main(["add", site.url("/news/airline.html"), *where]) == 0
        out = capsys.readouterr().out
        assert out.startswith("sync: 1 added, 0 changed, 0 unchanged, 0 removed, 0 failed; index 3 articles"), out
        assert main(["add", site.url("/news/nope.html"), *where]) == 0  # followed; its fetch failed, and says so
        captured = capsys.readouterr()
        assert captured.err == f"failed {site.url('/news/nope.html')}: HTTP 404 from {site.url('/news/nope.html')}\n"
        assert "0 added" in captured.out and "1 failed" in captured.out
        assert main(["sync", "--once", *where]) == 0
        captured = capsys.readouterr()
        assert "0 added, 0 changed, 1 unchanged, 0 removed, 1 failed" in captured.out and captured.err.count("\n") == 1
    assert main(["list", "--index", str(index)]) == 0
    assert RSS_STORIES[2].title in capsys.readouterr().out
