"""Property tests (hypothesis) on what every input goes through: decoding and cleaning
article text, cutting it into passages, and searching with any string at all."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.ingest.chunking import KOREAN_SEPARATORS, ChunkSettings, split_article
from assistant.ingest.corpus import Article, UnreadableFile, clean, decode, normalize
from assistant.search.retriever import METHODS

# No example database in the work tree; no per-example deadline (the model is shared, CPU is shared).
FAST = settings(database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MODEL = settings(database=None, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like what the cleaner has rules for, mixed with everything else Unicode has.
PIECES = [
    "다. ", "요. ", "? ", "! ", ". ", ", ", " ", "\n", "\n\n", "\r\n", "\t", "\u3000", "\u00a0",
    "[서울=뉴스핌] 황숙혜 기자 = ", "(서울=연합뉴스) ", "shhwang@newspim.com", "ⓒ 연합뉴스 무단전재",
    "[사진=블룸버그]", "(취재: 김진우 / 영상편집: 나홍희)", "※ 알림", "▶ 관련기사", "입력: 2025-01-31",
    "[베스트 기사]", "엔비디아 주가가 17% 폭락했습니다", "Nvidia fell 17%", "英伟达", "كم انخفض", "🚀📉",
    "\x00", "\x1b", "\x7f", "\u200b", "\u200d", "\ufeff", "\u202e", "\ud800", "\udfff", "e\u0301", "\u1100\u1161",
    "<script>alert(1)</script>", "[x](javascript:alert(1))", "&amp;", "\ufffd",
]
CHARS = st.characters(codec=None, exclude_categories=())  # everything, lone surrogates included
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(CHARS, max_size=8)), max_size=60).map("".join)


def words(text: str) -> str:
    return " ".join(text.split())


# --- decoding and cleaning ---------------------------------------------------------------


@FAST
@given(st.binary(max_size=4096))
def test_decode_any_bytes_is_text_or_a_clean_skip(data):
    try:
        text, encoding = decode(data)
    except UnreadableFile as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(text, str) and encoding


NO_NUL = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200).filter(
    lambda s: s.strip() and not s.startswith("\ufeff"))


@FAST
@given(NO_NUL)
def test_decode_round_trips_utf8_and_utf16_with_bom(text):
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8"))[0] == text
    assert decode(text.encode("utf-16"))[0] == text


@FAST
@given(TEXT, st.one_of(st.just(""), TEXT))
def test_clean_output_is_tidy_and_taken_from_the_input(raw, title):
    t, body, byline = clean(raw, title)
    source = words(normalize(raw))
    for out in (t if not title else "", body, byline):  # a given title is the caller's (read_article tidies it)
        assert isinstance(out, str)
        out.encode("utf-8")  # no lone surrogates survive
        assert not [c for c in out if unicodedata.category(c) in ("Cc", "Cf", "Cs") and c != "\n"]
        assert unicodedata.is_normalized("NFC", out)
    assert "\r" not in body and "\t" not in body
    assert body == body.strip()
    for para in body.split("\n\n") if body else []:
        assert para and para == para.strip() and "\n" not in para
        assert words(para) in source  # cleaning only drops text, it never invents any
    if t and not title:
        assert words(t.removesuffix("…")) in source


# --- chunking -------------------------------------------------------------------------------


@st.composite
def chunk_settings(draw) -> ChunkSettings:
    size = draw(st.integers(10, 600))
    return ChunkSettings(size=size, overlap=draw(st.integers(0, size // 2)),
                         separators=draw(st.sampled_from([KOREAN_SEPARATORS, ("\n\n", " ", ""), ("",)])),
                         title_in_embedding=draw(st.booleans()))


def check_passages(article: Article, cs: ChunkSettings) -> None:
    passages = split_article(article, cs)
    covered = [False] * len(article.text)
    prev = -1
    for p in passages:
        assert article.text[p.start : p.end] == p.text  # the offset invariant
        assert p.text and p.text == p.text.strip()
        assert p.doc_id == article.doc_id and p.title == article.title
        assert p.start > prev  # in order, each one further on
        prev = p.start
        for i in range(p.start, p.end):
            covered[i] = True
    missed = [c for c, hit in zip(article.text, covered) if not hit and not c.isspace()]
    assert not missed, missed[:20]  # every visible character is in some passage


@FAST
@given(TEXT, chunk_settings())
@example("다. 입력: 2025-01-31입력: 2025-01-31", ChunkSettings(size=26, overlap=13))  # found by this test
def test_chunking_offsets_on_cleaned_articles(raw, cs):
    title, body, _ = clean(raw)
    check_passages(Article("doc", title, body, "doc.txt"), cs)


@FAST
@given(st.text(st.sampled_from("가나다 .\n?!,ab"), max_size=2000), chunk_settings())
@example("?" * 11, ChunkSettings(size=10, overlap=0))  # found by this test: the last "?" was placed at 1, not 10
def test_chunking_offsets_on_repetitive_text(text, cs):
    """Repeated words and sentences are where locating a chunk by search could go wrong."""
    check_passages(Article("doc", "t", text, "doc.txt"), cs)


# --- search and ask ---------------------------------------------------------------------------


def check_hits(retriever, hits, k: int) -> None:
    index = retriever.index
    assert isinstance(hits, list) and len(hits) <= k
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len({(h.doc_id, h.start) for h in hits}) == len(hits)
    for h in hits:
        assert index.articles[h.doc_id].text[h.start : h.end] == h.text
        assert math.isfinite(h.score)
        assert h.dense is None or -1.01 <= h.dense <= 1.01


@MODEL
@given(q=TEXT, k=st.integers(1, 12), method=st.sampled_from(METHODS))
def test_search_any_string(retriever, q, k, method):
    try:
        hits = retriever.search(q, k=k, method=method)
    except ValueError as e:
        assert "Please ask a question" in str(e) and "\n" not in str(e)
        assert not any(unicodedata.category(c)[0] in "LN" for c in normalize(q))
        return
    check_hits(retriever, hits, k)
    assert hits or method == "bm25"  # the dense leg always finds something


@MODEL
@given(q=TEXT, history=st.lists(TEXT.map(lambda t: " ".join(normalize(t).split())), max_size=2))
def test_ask_any_string(assistant, q, history):
    """History as the UI keeps it: earlier questions, already cleaned (see the test below for raw ones)."""
    try:
        ans = assistant.ask(q, history=history)
    except ValueError as e:
        assert "Please ask a question" in str(e)
        return
    json.dumps(asdict(ans), ensure_ascii=False).encode("utf-8")
    check_hits(assistant.retriever, list(ans.citations), 5)
    check_hits(assistant.retriever, list(ans.related), 5)
    assert ans.abstained == (not ans.citations)
    for quote in ans.quotes:
        cited = ans.citations[quote.marker - 1]
        assert cited.doc_id == quote.doc_id and cited.start <= quote.start < quote.end <= cited.end


@pytest.mark.parametrize("history", [["\ud800 다."], ["\x00\udfff"]])
def test_ask_with_a_raw_hostile_history(assistant, history):
    """The /ask API passes the caller's `previous` question straight in as history."""
    ans = assistant.ask("다. 그럼 주가는?", history=history)
    json.dumps(asdict(ans), ensure_ascii=False).encode("utf-8")


@pytest.mark.slow
@settings(database=None, deadline=None, max_examples=1500, suppress_health_check=list(HealthCheck))
@given(TEXT, chunk_settings())
def test_chunking_offsets_long_run(raw, cs):
    title, body, _ = clean(raw)
    check_passages(Article("doc", title, body, "doc.txt"), cs)
