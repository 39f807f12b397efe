"""The KorQuAD loader: counts, splits and gold offsets in the cleaned articles (pure, no model)."""

from __future__ import annotations

import pytest

from assistant.ingest import korquad
from assistant.ingest.corpus import load_articles


@pytest.fixture(scope="module")
def data():
    return korquad.load_korquad()


def test_counts_by_split(data):
    assert len(data.articles) == 70
    assert sum(a.split == "dev" for a in data.articles) == 35
    assert sum(a.split == "test" for a in data.articles) == 35
    assert (len(data.split("dev")), len(data.split("test")), len(data.split("both"))) == (1567, 1749, 3316)
    assert data.unmapped == ()
    assert [a.doc_id for a in data.articles[:3]] == ["kq000", "kq001", "kq002"]
    assert {a.split for a in data.articles if a.pos % 2} == {"test"}


def test_every_gold_span_is_in_the_cleaned_article(data):
    for q in data.questions:
        text = data.cleaned[q.doc_id].text
        assert text[q.start:q.end] == q.gold[0].strip(), q.id  # two golds end in a space
        assert q.split == data.articles[int(q.doc_id[2:])].split


def test_a_dropped_control_character_shifts_offsets(data):
    # kq029 has a left-to-right mark in one paragraph; the cleaner drops it, so offsets after it move by one.
    art = next(a for a in data.articles if a.doc_id == "kq029")
    assert any("\u200e" in p for p in art.paragraphs)
    assert "\u200e" not in data.cleaned["kq029"].text
    mine = [q for q in data.questions if q.doc_id == "kq029"]
    assert mine and all(data.cleaned["kq029"].text[q.start:q.end] == q.gold[0].strip() for q in mine)


def test_article_file_layout(data):
    art = data.articles[0]
    assert art.text.startswith(art.title + "\n\n" + art.paragraphs[0])
    assert art.text.count("\n\n") == len(art.paragraphs)


def test_left_out_and_spread_are_deterministic_and_spread(data):
    out = korquad.left_out(data.articles)
    assert out == korquad.left_out(data.articles)
    split = {a.doc_id: a.split for a in data.articles}
    assert sum(split[d] == "dev" for d in out) == sum(split[d] == "test" for d in out) == 10
    sample = korquad.spread(data.split("dev"), 100)
    assert len(sample) == 100 and len({q.id for q in sample}) == 100
    assert {q.doc_id for q in sample} == {a.doc_id for a in data.articles if a.split == "dev"}
    assert korquad.spread(data.split("dev"), None) == data.split("dev")
    few = korquad.spread(data.split("test"), 7)
    assert len({q.doc_id for q in few}) == 7


def test_written_articles_load_as_the_index_reads_them(data, tmp_path):
    few = data.articles[:4]
    korquad.write_articles(few, tmp_path, exclude={"kq001"})
    articles, skipped = load_articles(tmp_path)
    assert not skipped
    assert [a.doc_id for a in articles] == ["kq000", "kq002", "kq003"]
    for a in articles:
        assert a.text == data.cleaned[a.doc_id].text
        assert a.title == data.articles[int(a.doc_id[2:])].title
    korquad.write_articles(few, tmp_path)  # the left-out one comes back, the others stay as they are
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == ["kq000.txt", "kq001.txt", "kq002.txt", "kq003.txt"]


def test_a_file_that_is_not_korquad_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"version": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a KorQuAD"):
        korquad.load_korquad(bad)
