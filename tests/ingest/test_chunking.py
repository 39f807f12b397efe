"""Every passage is a verbatim span of its article, found by its offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest.chunking import ChunkSettings, split_article
from assistant.ingest.corpus import Article, load_articles
from conftest import ARTICLES


@pytest.fixture(scope="module")
def articles():
    return load_articles(ARTICLES)[0]


@pytest.mark.parametrize("size,overlap", [(120, 20), (300, 60), (500, 100), (2000, 0)])
def test_offsets_point_at_the_passage_text(articles, size, overlap):
    chunk = ChunkSettings(size=size, overlap=overlap)
    for a in articles:
        passages = split_article(a, chunk)
        assert passages
        for p in passages:
            assert a.text[p.start : p.end] == p.text
            assert p.doc_id == a.doc_id and p.title == a.title
            assert len(p.text) <= size


def test_passages_cover_the_whole_article(articles):
    for a in articles:
        covered = [False] * len(a.text)
        for p in split_article(a, ChunkSettings()):
            covered[p.start : p.end] = [True] * (p.end - p.start)
        assert all(c or a.text[i].isspace() for i, c in enumerate(covered))


def test_korean_sentence_ends_are_preferred_cut_points(articles):
    a = articles[0]
    for p in split_article(a, ChunkSettings(size=150, overlap=0))[:-1]:
        assert p.text.endswith(("다.", "요.", "죠.", "?", "!", ".", "다", ",")) or len(p.text) > 100


pieces = st.sampled_from(list("가나다라마바사 아자차카타파하.?!\n") + ["다. ", "요. ", "\n\n", "AI", "17%", "  "])
text = st.lists(pieces, max_size=300).map("".join)


@given(body=text, size=st.integers(20, 400), overlap_share=st.floats(0, 0.5))
@settings(max_examples=150, deadline=None)
def test_offset_invariant_holds_for_any_text(body, size, overlap_share):
    article = Article(doc_id="x", title="t", text=body, source="x.txt")
    for p in split_article(article, ChunkSettings(size=size, overlap=int(size * overlap_share))):
        assert body[p.start : p.end] == p.text
        assert p.text.strip() == p.text and p.text
