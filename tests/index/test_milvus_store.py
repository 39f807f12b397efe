"""The Milvus store on Milvus Lite (the same client code a Milvus cluster gets), against the FAISS store."""

from __future__ import annotations

import re

import pytest

from assistant.errors import IndexMismatch, IndexMissing
from assistant.index.store import StoreSpec, parse_store
from conftest import ARTICLES

QUESTIONS = ["엔비디아 주가는 하루에 얼마나 떨어졌나?", "How much did Nvidia fall in one day?",
             "삼성전자 반도체 실적", "AI 칩 수출 규제", "what did the analysts say about the outlook?"]


@pytest.fixture(scope="module")
def milvus(tmp_path_factory, embedder, index_dir):
    """The shipped articles built into a Milvus Lite file (vectors reused from the FAISS build's cache)."""
    from assistant.index.build import build_index
    from assistant.index.milvus_store import close_clients

    spec = parse_store(f"milvus:{tmp_path_factory.mktemp('milvus') / 'store.db'}")
    build_index(ARTICLES, index_dir, embedder=embedder, progress=False, store=spec)
    yield spec
    close_clients()


@pytest.fixture(scope="module")
def milvus_retriever(milvus, embedder, index_dir):
    from assistant.search.retriever import Retriever
    from assistant.settings import Settings

    return Retriever.load(index_dir, settings=Settings(store=str(milvus)), embedder=embedder)


def test_parse_store_names_the_forms():
    assert parse_store("faiss") == StoreSpec() and not parse_store("").is_milvus
    assert parse_store("http://127.0.0.1:19530").uri == "http://127.0.0.1:19530"
    assert parse_store("milvus:./x.db").uri.endswith("/x.db")
    for bad in ("milvus:./x.sqlite", "qdrant://x", "milvus"):
        with pytest.raises(ValueError, match="milvus:./"):
            parse_store(bad)


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid", "routed"])
def test_milvus_search_equals_faiss(milvus_retriever, retriever, method):
    for q in QUESTIONS:
        ours, theirs = milvus_retriever.search(q, k=5, method=method), retriever.search(q, k=5, method=method)
        assert [(h.doc_id, h.start, h.end) for h in ours] == [(h.doc_id, h.start, h.end) for h in theirs], q
        for a, b in zip(ours, theirs):
            assert a.score == pytest.approx(b.score, abs=1e-4) and a.dense == pytest.approx(b.dense, abs=1e-5)
            assert (a.lexical is None) == (b.lexical is None)
            if a.lexical is not None:
                assert a.lexical == pytest.approx(b.lexical, rel=1e-3)  # Milvus BM25 = bm25s's, k1 1.5, b 0.75


@pytest.mark.slow  # ~10-20 s: every eval question, four methods, both stores
def test_eval_figures_equal_faiss(milvus_retriever, retriever):
    from assistant.evaluation.evaluate import load_questions, score_methods

    questions, methods = load_questions(), ("dense", "bm25", "hybrid", "routed")
    ours, theirs = score_methods(milvus_retriever, questions, methods), score_methods(retriever, questions, methods)
    assert ours == theirs and ours[0]["routed"]["all"]["recall@5"] > 0.9


def test_search_within_ids_keeps_to_them(milvus_retriever, retriever):
    """What a date filter needs: the same ranking as FAISS restricted to a subset of passages."""
    import faiss

    q = retriever.embed_query(QUESTIONS[1])[None, :]
    allowed = list(range(1, milvus_retriever.index.faiss.ntotal, 2))
    _, ours = milvus_retriever.index.faiss.search_in(q, 5, allowed)
    params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
    _, theirs = retriever.index.faiss.search(q, 5, params=params)
    assert ours.tolist() == theirs.tolist() and set(ours[0]) <= set(allowed)

    ids, _ = milvus_retriever.index.lexical.search_in(QUESTIONS[0], 5, allowed)
    every, _ = retriever.index.lexical.search(QUESTIONS[0], retriever.index.lexical.size)
    assert len(ids) and ids.tolist() == [i for i in every.tolist() if i in allowed][:5]


def test_milvus_holds_the_same_index(milvus_retriever, retriever):
    ours, theirs = milvus_retriever.index, retriever.index
    assert ours.passages == theirs.passages and ours.sentences == theirs.sentences
    assert ours.articles == theirs.articles
    assert ours.faiss.ntotal == theirs.faiss.ntotal and ours.sentence_faiss.ntotal == theirs.sentence_faiss.ntotal
    import numpy as np

    np.testing.assert_allclose(ours.sentence_faiss.reconstruct_n(0, ours.sentence_faiss.ntotal),
                               theirs.sentence_faiss.reconstruct_n(0, theirs.sentence_faiss.ntotal), atol=1e-6)
    np.testing.assert_allclose(ours.background, theirs.background, atol=1e-6)
    assert ours.manifest["model"] == theirs.manifest["model"] and ours.manifest["store"]["kind"] == "milvus"


def test_answers_from_milvus_cite_verbatim_spans(milvus_retriever):
    from assistant.reading.answer import Assistant

    ans = Assistant(milvus_retriever).ask(QUESTIONS[0])
    assert not ans.abstained and ans.citations
    for c in ans.citations:
        assert milvus_retriever.index.articles[c.doc_id].text[c.start : c.end] == c.text


def test_another_model_fails_with_the_command(milvus, index_dir, monkeypatch):
    from assistant.search.retriever import Retriever
    from assistant.settings import Settings

    monkeypatch.setenv("NEWSQA_STORE", str(milvus))
    with pytest.raises(IndexMismatch, match=re.escape(f"NEWSQA_STORE={milvus} python -m assistant build")):
        Retriever.load(index_dir, settings=Settings(model="use-multilingual-v3", store=str(milvus)))


def test_an_empty_store_says_how_to_build(tmp_path):
    from assistant.index.milvus_store import MilvusStore

    spec = parse_store(f"milvus:{tmp_path / 'empty.db'}")
    with pytest.raises(IndexMissing, match=re.escape(f"NEWSQA_STORE={spec} python -m assistant build")):
        MilvusStore(spec, tmp_path).read_manifest()


def test_rebuild_switches_the_alias_and_a_failed_build_changes_nothing(milvus, embedder, index_dir, monkeypatch):
    from assistant.index import milvus_store
    from assistant.index.build import build_index

    c = milvus_store.client(milvus)
    before = milvus_store._resolve(c, milvus.collection)
    build_index(ARTICLES, index_dir, embedder=embedder, progress=False, store=milvus)
    after = milvus_store._resolve(c, milvus.collection)
    assert after != before and before not in c.list_collections()  # the old build is dropped
    assert sorted(c.list_collections()) == sorted(milvus_store.MilvusStore(milvus, index_dir).read_manifest()
                                                   ["store"]["collections"].values())

    def broken_insert(client, name, rows):  # noqa: ANN001
        if name.endswith("_sentences"):
            raise RuntimeError("node lost mid-build")
        return real_insert(client, name, rows)

    real_insert = milvus_store._insert
    monkeypatch.setattr(milvus_store, "_insert", broken_insert)
    with pytest.raises(RuntimeError, match="node lost"):
        build_index(ARTICLES, index_dir, embedder=embedder, progress=False, store=milvus)
    assert milvus_store._resolve(c, milvus.collection) == after
    assert len(c.list_collections()) == 3  # the half-written collections were dropped


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    from assistant.errors import NewsQAError
    from assistant.index.milvus_store import MilvusStore
    from conftest import free_port

    spec = parse_store(f"http://127.0.0.1:{free_port()}")  # loopback, nothing listening
    with pytest.raises(NewsQAError, match="Cannot open Milvus at http://127.0.0.1"):
        MilvusStore(spec, tmp_path).read_manifest()


def test_list_goes_through_the_store_seam(milvus, tmp_path, monkeypatch, capsys):
    """`python -m assistant list` lists a Milvus index (no FAISS files under --index at all)."""
    import json

    from assistant.cli import main

    monkeypatch.setenv("NEWSQA_STORE", str(milvus))
    assert main(["list", "--index", str(tmp_path / "empty"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["doc_id"] for r in rows} == {"000_a64cfab21b31744d", "001_aa84c3a65afaa900"}
