"""Adding and removing articles: each bad file refused in one line, nothing lost, removal re-embeds nothing."""

from __future__ import annotations

import json
import threading

import pytest

from assistant.index.faiss_store import load_index
from assistant.index.library import MAX_FILE_BYTES, Upload, add, indexed, prefill, remove
from conftest import cp949_story

QUESTION = "한빛전자 고체 배터리 공장의 연간 생산능력은?"


def test_prefill_reads_headline_dateline_and_date():
    d = prefill("hanbit.txt", cp949_story())
    assert d.outlet == "뉴스핌" and d.reporter == "김철수"
    assert d.title.startswith("한빛전자는 2025년 3월 14일") and "[서울" not in d.title
    assert (d.date, d.date_source) == ("2025-03-14", "text")
    html = ("<html><head><title>Nvidia slides</title><meta property='article:published_time' "
            "content='2025-01-28'></head><body><article><h1>Nvidia slides</h1><p>"
            + "Nvidia fell 17 percent in one day as investors weighed DeepSeek. " * 5 + "</p></article></body></html>")
    d = prefill("n.html", html.encode())
    assert d.title == "Nvidia slides" and (d.date, d.date_source) == ("2025-01-28", "dateline")


def test_add_saves_the_good_file_and_refuses_each_bad_one_in_a_line(library_home, embedder):
    articles, index = library_home
    shipped = (articles / "001_aa84c3a65afaa900.txt").read_bytes()
    uploads = [Upload("hanbit.txt", cp949_story()), Upload("blob.txt", bytes(range(256)) * 20),
               Upload("empty.md", b"  \n"), Upload("huge.txt", b"a" * (MAX_FILE_BYTES + 1)),
               Upload("copy.txt", shipped), Upload("photo.png", b"\x89PNG\r\n"),
               Upload("chrome.txt", "※ 본문 글자 크기 조정\n더 작게\n크게\n".encode()),
               Upload("dated.txt", "본문입니다. 충분히 긴 문장입니다.".encode(), date="someday")]
    stages = []
    report = add(uploads, articles, index, embedder=embedder, stage=stages.append)
    assert report.added == ("hanbit",)
    assert stages == ["waiting", "checking", "saving", "indexing"]
    reasons = {r.name: r.reason for r in report.rejected}
    assert set(reasons) == {u.name for u in uploads[1:]}
    assert "binary" in reasons["blob.txt"] and "empty" in reasons["empty.md"]
    assert "too large" in reasons["huge.txt"] and "duplicate" in reasons["copy.txt"] and "001_" in reasons["copy.txt"]
    assert "not a .txt" in reasons["photo.png"] and "no article text" in reasons["chrome.txt"]
    assert "not understood" in reasons["dated.txt"]
    assert all("\n" not in str(r) for r in report.rejected)
    assert 0 < report.build.embedded < 10  # only the new article's passage and sentences
    meta = json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    assert meta["hanbit.txt"]["outlet"] == "뉴스핌" and "date" not in meta["hanbit.txt"]
    assert "000_a64cfab21b31744d.txt" in meta  # nothing already there is lost
    assert (articles / "hanbit.txt").read_text(encoding="utf-8").startswith("[서울=뉴스핌]")  # stored as UTF-8
    loaded = load_index(index)
    a = loaded.articles["hanbit"]
    assert (a.date_iso, a.date_source, a.outlet) == ("2025-03-14", "text", "뉴스핌")
    assert {r.doc_id: r.passages for r in indexed(loaded)}["hanbit"] == 1
    assert not list(articles.glob(".upload-*"))


def test_remove_rebuilds_without_reembedding(library_home, embedder):
    from assistant.search.retriever import Retriever

    articles, index = library_home
    add([Upload("hanbit.txt", cp949_story())], articles, index, embedder=embedder)
    r = Retriever.load(index, embedder=embedder)
    assert r.search(QUESTION, k=1)[0].doc_id == "hanbit"
    report = remove("hanbit", articles, index, embedder=embedder)
    assert report.embedded == 0 and report.articles == 2
    assert not (articles / "hanbit.txt").exists()
    assert "hanbit.txt" not in json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    assert "hanbit" not in load_index(index).articles
    with pytest.raises(ValueError, match="No article"):
        remove("hanbit", articles, index, embedder=embedder)


def test_limits_are_enforced_by_the_library(library_home, embedder):
    articles, index = library_home
    uploads = [Upload(f"s{i}.txt", cp949_story(f"{i}0기가와트시")) for i in range(3)]
    report = add(uploads, articles, index, embedder=embedder, max_files=2)
    assert report.added == ("s0", "s1") and [r.name for r in report.rejected] == ["s2.txt"]
    assert "limit of 2 files" in report.rejected[0].reason
    report = add([Upload("s2.txt", uploads[2].data)], articles, index, embedder=embedder, max_articles=4)
    assert report.added == () and "full" in report.rejected[0].reason


@pytest.mark.slow
def test_two_uploads_at_once_both_land_and_nothing_is_corrupted(library_home, embedder):
    articles, index = library_home
    results, errors = {}, []

    def upload(name: str, fact: str) -> None:
        try:
            results[name] = add([Upload(f"{name}.txt", cp949_story(fact))], articles, index, embedder=embedder)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=a) for a in (("a", "11기가와트시"), ("b", "22기가와트시"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and {r.added for r in results.values()} == {("a",), ("b",)}
    meta = json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    assert {"a.txt", "b.txt", "000_a64cfab21b31744d.txt", "001_aa84c3a65afaa900.txt"} <= set(meta)
    assert {"a", "b"} <= set(load_index(index).articles)


@pytest.mark.slow
def test_two_processes_adding_at_once_both_land(library_home, tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    articles, index = library_home
    procs = []
    for name, fact in (("p1", "33기가와트시"), ("p2", "44기가와트시")):
        path = tmp_path / f"{name}.txt"
        path.write_bytes(cp949_story(fact))
        procs.append(subprocess.Popen([sys.executable, "-m", "assistant", "add", str(path), "--articles", str(articles),
                                       "--index", str(index), "--quiet"], cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    meta = json.loads((articles / "metadata.json").read_text(encoding="utf-8"))
    assert {"p1.txt", "p2.txt"} <= set(meta)
    assert {"p1", "p2", "000_a64cfab21b31744d", "001_aa84c3a65afaa900"} == set(load_index(index).articles)


def test_a_build_that_cannot_run_says_what_was_saved(library_home, embedder):
    from assistant.errors import NewsQAError
    from assistant.index.build import build_lock

    articles, index = library_home
    with build_lock(index), pytest.raises(NewsQAError, match="saved hanbit.txt, but the index was not rebuilt"):
        add([Upload("hanbit.txt", cp949_story())], articles, index, embedder=embedder)
    assert (articles / "hanbit.txt").exists()  # kept: the next build indexes it
