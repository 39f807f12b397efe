"""Korean BM25 matches morphemes, not space-separated words."""

from __future__ import annotations

from assistant.index.lexical import LexicalIndex
from assistant.ingest.korean import has_hangul, sentences, tokens


def test_tokens_strip_particles_and_endings():
    toks = tokens("엔비디아의 주가는 하루에만 17% 폭락하면서")
    assert {"엔비디아", "주가", "하루", "17", "폭락"} <= set(toks)
    assert "의" not in toks and "는" not in toks


def test_sentences_are_offsets_into_the_text():
    text = "딥시크는 가성비가 압도적이었습니다. 그렇다면, 어떤 모습일까요? 끝"
    spans = sentences(text)
    assert [text[s:e] for s, e in spans] == ["딥시크는 가성비가 압도적이었습니다.", "그렇다면, 어떤 모습일까요?", "끝"]


def test_bm25_finds_inflected_forms_and_round_trips(tmp_path):
    docs = ["엔비디아 주가가 폭락했다", "딥시크는 R1을 공개했다", "삼성전자 시가총액"]
    index = LexicalIndex.build(docs)
    ids, scores = index.search("엔비디아의 주가 폭락은?", 3)
    assert ids[0] == 0 and scores[0] > 0
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.size == 3
    assert list(loaded.search("딥시크가 공개한 모델", 1)[0]) == [1]
    assert len(loaded.search("관계없는 질문입니다", 3)[0]) == 0


def test_has_hangul():
    assert has_hangul("Nvidia 주가") and not has_hangul("Nvidia stock")
