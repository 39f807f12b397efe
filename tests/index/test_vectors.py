"""Sentence vectors pooled from the passage's forward pass: the right tokens, close to the separate vectors.

The real e5 tokenizer and model throughout; the similarity floor was measured on the
shipped articles (pooled vs separate sentence vectors: mean cosine 0.906, min 0.860).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import IndexMismatch
from assistant.index.build import build_index
from assistant.index.faiss_store import load_index
from assistant.index.manifest import check_compatible, is_up_to_date, read_manifest
from assistant.index.vectors import sentence_method
from assistant.models.backends import span_tokens
from assistant.settings import Settings

PROMPT = "passage: "
ARTICLES = Path(__file__).resolve().parents[2] / "articles"


def _pieces(tokenizer, text: str, spans):  # noqa: ANN001
    enc = tokenizer.encode(PROMPT + text)
    rows = span_tokens(enc.offsets, spans, shift=len(PROMPT))
    return [[(PROMPT + text)[enc.offsets[t][0] : enc.offsets[t][1]] for t in r] for r in rows], enc


@pytest.mark.parametrize("text, sentences", [
    ("엔비디아 주가가 하루에 17% 떨어졌다. 시가총액 5890억 달러가 사라졌다.",
     ["엔비디아 주가가 하루에 17% 떨어졌다.", "시가총액 5890억 달러가 사라졌다."]),
    ("DeepSeek's R1 shocked markets.  Nvidia fell 17%!", ["DeepSeek's R1 shocked markets.", "Nvidia fell 17%!"]),
    ("제목\n딥시크 충격에 \"AI 거품\" 논란.", ["제목", "딥시크 충격에 \"AI 거품\" 논란."]),
])
def test_span_tokens_cover_exactly_their_sentence(embedder, text, sentences):
    tokenizer = embedder._impl.tokenizer
    spans = []
    for s in sentences:
        start = text.index(s)
        spans.append((start, start + len(s)))
    pieces, enc = _pieces(tokenizer, text, spans)
    for sentence, toks in zip(sentences, pieces):
        # The tokens put back together are the sentence (a token's leading space aside), nothing more.
        assert "".join(toks).strip() == sentence
    first, second = (set(r) for r in span_tokens(enc.offsets, spans, shift=len(PROMPT)))
    assert not first & second
    assert 0 not in first | second and len(enc.ids) - 1 not in first | second  # <s> and </s> never


def test_span_tokens_outside_the_text_are_empty(embedder):
    tokenizer = embedder._impl.tokenizer
    enc = tokenizer.encode(PROMPT + "짧은 문장.")
    prompt_only, past_end = span_tokens(enc.offsets, [(-len(PROMPT), 0), (100, 120)], shift=len(PROMPT))
    assert len(prompt_only) == 3 and len(past_end) == 0  # "▁passage", ":" and "▁" only; nothing past the text


def test_pooled_span_vector_is_the_mean_of_its_token_states(embedder):
    impl = embedder._impl
    text, span = "엔비디아 주가가 떨어졌다. 다음 문장.", (0, 14)
    vecs, pooled = impl.embed_passages_and_spans([text], [[span]])
    np.testing.assert_allclose(vecs[0], embedder.embed_passages([text])[0], atol=1e-5)  # the same passage vector
    enc = impl.tokenizer.encode(PROMPT + text)
    ids = np.asarray([enc.ids], dtype=np.int64)
    hidden = impl.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
    rows = span_tokens(enc.offsets, [span], shift=len(PROMPT))[0]
    want = hidden[rows].mean(axis=0)
    np.testing.assert_allclose(pooled[0][0], want / np.linalg.norm(want), atol=1e-5)


@pytest.fixture(scope="module")
def pooled_index(tmp_path_factory, embedder):
    home = tmp_path_factory.mktemp("pooled")
    report = build_index(ARTICLES, home, embedder=embedder, progress=False, sentence_vectors="pooled")
    return home, report


def test_pooled_build_is_close_to_separate(pooled_index, index_dir):
    home, report = pooled_index
    pooled, separate = load_index(home), load_index(index_dir)
    assert separate.manifest["sentence_vectors"] == "separate" and report.sentence_vectors == "pooled"
    assert [(s.passage, s.start, s.end) for s in pooled.sentences] == \
        [(s.passage, s.start, s.end) for s in separate.sentences]
    np.testing.assert_allclose(pooled.faiss.reconstruct_n(0, pooled.faiss.ntotal),
                               separate.faiss.reconstruct_n(0, separate.faiss.ntotal), atol=1e-5)
    a = pooled.sentence_faiss.reconstruct_n(0, pooled.sentence_faiss.ntotal)
    b = separate.sentence_faiss.reconstruct_n(0, separate.sentence_faiss.ntotal)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.8 and cos.mean() > 0.88, (cos.min(), cos.mean())
    assert cos.mean() < 0.99  # they are really pooled in context, not embedded again


def test_pooled_build_reuses_its_cache_and_records_the_method(pooled_index, embedder):
    home, _ = pooled_index
    again = build_index(ARTICLES, home, embedder=embedder, progress=False, sentence_vectors="pooled")
    assert again.embedded == 0 and again.reused == again.passages + again.sentences
    _, manifest = read_manifest(home)
    assert manifest["sentence_vectors"] == "pooled"
    chunk = Settings().chunk
    assert is_up_to_date(home, ARTICLES, model=embedder.name, chunk=chunk, sentence_vectors="pooled")
    assert not is_up_to_date(home, ARTICLES, model=embedder.name, chunk=chunk,
                             sentence_vectors="separate")
    with pytest.raises(IndexMismatch, match="NEWSQA_SENTENCE_VECTORS=pooled"):
        check_compatible(manifest, home, model=embedder.name, weights_sha256=None, chunk=None,
                         sentence_vectors="separate")


def test_sentence_method_setting(monkeypatch):
    monkeypatch.setenv("NEWSQA_SENTENCE_VECTORS", "pooled")
    assert sentence_method() == "pooled" and Settings().sentence_vectors == "pooled"
    monkeypatch.setenv("NEWSQA_SENTENCE_VECTORS", "both")
    with pytest.raises(ValueError, match="NEWSQA_SENTENCE_VECTORS='both'"):
        sentence_method()
