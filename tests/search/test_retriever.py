"""End to end on the real model and the real articles: the right span, in Korean and English."""

from __future__ import annotations

import pytest

from assistant.search.retriever import clean_question, route
from assistant.settings import Settings

SCRIPT, SCRAPED = "000_a64cfab21b31744d", "001_aa84c3a65afaa900"


def _found(hits, doc_id, phrase, k):
    return any(h.doc_id == doc_id and phrase in h.text for h in hits[:k])


@pytest.mark.parametrize(
    "question,doc_id,phrase",
    [
        ("엔비디아 주가는 하루에 얼마나 떨어졌나?", SCRIPT, "하루에만 17% 폭락"),
        ("딥시크가 주장한 학습 비용은 얼마야?", SCRAPED, "560만달러"),
        ("How much did Nvidia fall in one day?", SCRIPT, "17% 폭락"),
        ("Which expert said the $5.6 million is only the training cost?", SCRAPED, "단순 학습 비용일 뿐"),
        ("What did the Wall Street Journal say about DeepSeek's next model?", SCRIPT, "난관에 부딪혔다"),
    ],
)
def test_questions_find_the_passage_that_answers_them(retriever, question, doc_id, phrase):
    hits = retriever.search(question, k=5)
    assert _found(hits, doc_id, phrase, 5), [h.text[:40] for h in hits]


def test_hits_are_verbatim_spans_of_cleaned_bodies_best_first(retriever):
    articles = retriever.index.articles
    for q in ("코스피 5000 돌파", "Lockheed Martin defense stocks", "엔비디아", "scaling law"):
        hits = retriever.search(q, k=10)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
        for h in hits:
            assert articles[h.doc_id].text[h.start : h.end] == h.text
            assert "코스피" not in h.text and "Lockheed" not in h.text


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid", "routed"])
def test_every_method_returns_valid_hits(retriever, method):
    hits = retriever.search("엔비디아 시가총액 증발", k=3, method=method)
    assert 1 <= len(hits) <= 3
    assert all(h.method in ("dense", "bm25", "hybrid") for h in hits)


def test_english_questions_route_dense_korean_fused():
    s = Settings()
    assert route("How much did Nvidia fall?", s) == s.english_method == "dense"
    assert route("엔비디아 얼마나 떨어졌나?", s) == s.korean_method


def test_bad_arguments_are_clear_value_errors(retriever):
    with pytest.raises(ValueError, match="Please ask a question"):
        retriever.search("   ", k=5)
    with pytest.raises(ValueError, match="Unknown method"):
        retriever.search("엔비디아", method="magic")
    with pytest.raises(ValueError, match="positive"):
        retriever.search("엔비디아", k=0)


def test_clean_question_tidies_and_truncates():
    text, notices = clean_question("  엔비디아\x00 주가\u200b는?  ")
    assert text == "엔비디아 주가는?"
    long, notices = clean_question("가" * 10_000, max_chars=100)
    assert len(long) == 100 and notices
