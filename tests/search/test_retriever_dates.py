"""Dates in search: hits carry them, since/until filter, a question naming a period prefers it softly."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.search.retriever import Retriever

SCRIPT, SCRAPED = "000_a64cfab21b31744d", "001_aa84c3a65afaa900"  # dated 2026-01 and 2025-01-31
Q = "엔비디아 주가는 하루에 얼마나 떨어졌나?"


def test_both_bundled_articles_have_parsed_dates(retriever):
    arts = retriever.index.articles
    assert (arts[SCRIPT].date_iso, arts[SCRIPT].date_source) == ("2026-01", "metadata")
    assert (arts[SCRAPED].date_iso, arts[SCRAPED].date_source) == ("2025-01-31", "metadata")


def test_hits_carry_their_article_date(retriever):
    for h in retriever.search(Q, k=5):
        assert h.date == retriever.index.articles[h.doc_id].date_iso and h.date_source == "metadata"


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid", "routed"])
def test_since_and_until_keep_to_the_period(retriever, method):
    assert {h.doc_id for h in retriever.search(Q, k=10, method=method)} == {SCRIPT, SCRAPED}
    later = retriever.search(Q, k=10, method=method, since="2025-06")
    earlier = retriever.search(Q, k=10, method=method, until="2025-12-31")
    assert later and {h.doc_id for h in later} == {SCRIPT}
    assert earlier and {h.doc_id for h in earlier} == {SCRAPED}
    assert retriever.search(Q, k=5, method=method, since="2025-01-31", until="2025-01-31")[0].doc_id == SCRAPED
    assert retriever.search(Q, k=5, method=method, since="2030") == []


def test_bad_bounds_are_value_errors(retriever):
    with pytest.raises(ValueError, match="Not a date"):
        retriever.search(Q, since="last tuesday")
    with pytest.raises(ValueError, match="after until"):
        retriever.search(Q, since="2026", until="2025")


def test_a_named_period_lifts_its_articles_without_excluding_others(retriever):
    flat = Retriever(retriever.index, retriever.embedder, dataclasses.replace(retriever.settings, period_boost=0.0))
    question = "2025년 1월 엔비디아 주가는 하루에 얼마나 떨어졌나?"
    before = {(h.doc_id, h.start): h.score for h in flat.search(question, k=15)}
    after = retriever.search(question, k=15)
    assert {h.doc_id for h in after} == {SCRIPT, SCRAPED}  # a preference, not a filter
    lifts = {h.doc_id: round(h.score - before[(h.doc_id, h.start)], 6) for h in after if (h.doc_id, h.start) in before}
    assert lifts[SCRAPED] > 0 and lifts[SCRIPT] == 0
    ranks = [i for i, h in enumerate(after) if h.doc_id == SCRAPED]
    flat_ranks = [i for i, h in enumerate(flat.search(question, k=15)) if h.doc_id == SCRAPED]
    assert sum(ranks) <= sum(flat_ranks)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_faiss_id_selector_keeps_to_the_allowed_ids(kind):
    import faiss
    import numpy as np

    from assistant.index.faiss_store import FaissVectors

    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((300, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(16) if kind == "flat" else faiss.IndexHNSWFlat(16, 16, faiss.METRIC_INNER_PRODUCT)
    index.add(vecs)
    allowed = np.arange(0, 300, 7, dtype=np.int64)
    _, ids = FaissVectors(index).search_in(vecs[:1], 10, allowed)
    assert len(ids[0]) == 10 and set(ids[0].tolist()) <= set(allowed.tolist())
    _, ids = FaissVectors(index).search_in(vecs[7:8], 1, allowed)
    assert ids[0][0] == 7
