"""One question, one index: an index swapped in mid-question never mixes two indexes in one answer.

Threads ask about article 001 while another thread swaps in an index built without it, one with an extra
article, and the original, as the Articles panel does. Every answer must be whole, and every span it shows
must be a span of one of those indexes. The extractive reader keeps it fast.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from assistant.index.faiss_store import load_index
from assistant.index.library import Upload, add, remove
from conftest import cp949_story

QUESTIONS = ("엔비디아의 시가총액은 1월27일 얼마나 증발했나?", "How much market value did Nvidia lose on January 27?",
             "엔비디아 주가는 하루에 얼마나 떨어졌나?")
REMOVED = "001_aa84c3a65afaa900"


@pytest.fixture(scope="module")
def three_indexes(tmp_path_factory, index_dir, embedder) -> tuple:
    """The shipped index, one without article 001, one with an extra article (each its own directory)."""
    from conftest import ARTICLES

    root = tmp_path_factory.mktemp("snapshots")
    dirs = []
    for name in ("full", "without", "extra"):
        articles, index = root / name / "articles", root / name / "index"
        shutil.copytree(ARTICLES, articles)
        shutil.copytree(index_dir, index, symlinks=True)
        dirs.append((articles, index))
    remove(REMOVED, *dirs[1], embedder=embedder)
    add([Upload("hanbit.txt", cp949_story())], *dirs[2], embedder=embedder)
    return tuple(load_index(index) for _, index in dirs)


def _consistent_with(answer, index) -> bool:  # noqa: ANN001
    """Every span the answer shows is that index's own text."""
    spans = [*answer.citations, *answer.related, *answer.quotes]
    for s in spans:
        article = index.articles.get(s.doc_id)
        if article is None or article.text[s.start:s.end] != s.text:
            return False
    return True


def test_questions_in_flight_survive_index_swaps(three_indexes, index_dir, embedder):
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    full, without, extra = three_indexes
    assert REMOVED in full.articles and REMOVED not in without.articles and "hanbit" in extra.articles
    retriever = Retriever.load(index_dir, embedder=embedder)  # its own: the session's stays untouched
    assistant = Assistant(retriever)
    for q in QUESTIONS:  # warm the query cache so the swaps land inside answers, not inside the model
        assistant.ask(q)
    answers, errors, stop = [], [], threading.Event()

    def ask() -> None:
        n = 0
        while not stop.is_set():
            try:
                answers.append(assistant.ask(QUESTIONS[n % len(QUESTIONS)]))
            except Exception as e:  # noqa: BLE001 - the failure under test, reported below
                errors.append(f"{type(e).__name__}: {e}")
            n += 1

    def swap() -> None:
        for i in range(60):
            retriever.swap((without, extra, full)[i % 3])
            time.sleep(0.005)
        stop.set()

    threads = [threading.Thread(target=ask) for _ in range(3)] + [threading.Thread(target=swap)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert len(answers) >= 10
    for a in answers:
        assert a.text and (a.citations or a.abstained)
        assert any(_consistent_with(a, ix) for ix in three_indexes), a.citations
    # The swaps really changed what was answered from: some answers cite 001, and some could not.
    assert any(any(h.doc_id == REMOVED for h in a.citations + a.related) for a in answers)
    assert any(all(h.doc_id != REMOVED for h in a.citations + a.related) for a in answers)


def test_search_reads_the_snapshot_it_is_given(three_indexes, retriever):
    full, without, _ = three_indexes
    question = QUESTIONS[0]
    assert any(h.doc_id == REMOVED for h in retriever.search(question, k=10, index=full))
    hits = retriever.search(question, k=10, index=without)
    assert hits and all(h.doc_id != REMOVED and without.articles[h.doc_id].text[h.start:h.end] == h.text
                        for h in hits)


def test_swap_checks_the_new_index_like_load(three_indexes, index_dir, embedder):
    """An index built for another model is refused, and the running one stays."""
    import dataclasses

    from assistant.errors import IndexMismatch
    from assistant.search.retriever import Retriever

    retriever = Retriever.load(index_dir, embedder=embedder)
    before = retriever.index
    other = dataclasses.replace(three_indexes[1], manifest={**three_indexes[1].manifest,
                                                            "model": {**three_indexes[1].manifest["model"],
                                                                      "name": "someone/else"}})
    with pytest.raises(IndexMismatch):
        retriever.swap(other)
    assert retriever.index is before
    retriever.swap(three_indexes[1])
    assert retriever.index is three_indexes[1]


def test_ask_answers_from_the_snapshot_its_caller_renders_from(three_indexes, index_dir, embedder):
    """The UI and the MCP server take the index once and pass it: the answer comes from that snapshot even when
    another index has been swapped in since (article 001 gone), so every citation slices the caller's articles."""
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    full, without, _ = three_indexes
    retriever = Retriever.load(index_dir, embedder=embedder)
    retriever.swap(full)
    assistant = Assistant(retriever)
    snapshot = retriever.index
    retriever.swap(without)  # the Articles panel removed article 001 after the request began
    ans = assistant.ask(QUESTIONS[2], index=snapshot)
    assert not ans.abstained and any(h.doc_id == REMOVED for h in ans.citations)
    assert _consistent_with(ans, full)
    later = assistant.ask(QUESTIONS[2])  # the next request, without a snapshot, sees the new index
    assert all(h.doc_id != REMOVED for h in later.citations) and _consistent_with(later, without)
