"""Cleaning keeps each article's own body, verbatim, and nothing else."""

from __future__ import annotations

import codecs

import pytest

from assistant.ingest.corpus import clean, decode, load_articles, normalize, paragraphs, read_article
from conftest import ARTICLES

SCRAPED = ARTICLES / "001_aa84c3a65afaa900.txt"
SCRIPT = ARTICLES / "000_a64cfab21b31744d.txt"


@pytest.fixture(scope="module")
def shipped():
    articles, skipped = load_articles(ARTICLES)
    assert skipped == []
    return {a.doc_id: a for a in articles}


@pytest.mark.parametrize(
    "chrome",
    ["전체기사 최신뉴스 GAM", "KYD 라이브", "※ 본문 글자 크기 조정", "더 작게", "기사입력 :", "[사진=블룸버그]",
     "[자료=블룸버그]", "[뉴스핌 베스트 기사]", "코스피", "5000", "관세", "상호관세", "Lockheed", "Caterpillar",
     "종목 추적기", "shhwang@newspim.com", "안다쇼핑", "Top으로 이동", "(취재:", "영상편집"],
)
def test_page_chrome_teasers_and_credits_are_not_in_any_body(shipped, chrome):
    assert all(chrome not in a.text for a in shipped.values())


def test_scraped_page_keeps_headline_deck_and_every_body_paragraph(shipped):
    a = shipped["001_aa84c3a65afaa900"]
    assert a.title == "[딥시크 쇼크] NVDA 밀어올린 'AI 규모의 법칙' 흔들①"
    assert a.text.startswith("'저비용 고성능' AI 두 가지 쟁점\n\n560만달러 둘러싼 의혹들")
    assert "[서울=뉴스핌] 황숙혜 기자 = 중국 인공지능(AI) 스타트업 딥시크(DeepSeek)의 충격이" in a.text
    assert a.text.endswith("모델이 한계에 도달하고 있을 가능성을 배제할 수 없다는 얘기다.")
    raw = normalize(SCRAPED.read_text(encoding="utf-8"))  # NFC, no-break spaces as spaces
    for para in a.text.split("\n\n"):
        assert para in raw  # verbatim, never rewritten


def test_broadcast_script_drops_credits_and_keeps_paragraphs(shipped):
    a = shipped["000_a64cfab21b31744d"]
    assert a.text.startswith("엔비디아 주식을 오랫동안 갖고 있던 사람들은")
    assert a.text.endswith("핵심이 될 전망입니다.")
    assert "\n\n\n" not in a.text
    assert a.reporter == "김진우"  # from articles/metadata.json


def test_title_is_found_without_metadata():
    a = read_article(SCRAPED, None)
    assert a.title == "[딥시크 쇼크] NVDA 밀어올린 'AI 규모의 법칙' 흔들①"
    assert a.reporter == "shhwang@newspim.com"  # the sign-off line becomes the byline


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949", "euc-kr", "utf-16"])
def test_decode_detects_korean_encodings(encoding):
    text = SCRIPT.read_text(encoding="utf-8")
    decoded, found = decode(text.encode(encoding))
    assert decoded.lstrip("\ufeff") == text
    if encoding in ("cp949", "euc-kr"):
        assert found.replace("_", "-") in ("cp949", "euc-kr", "johab", "uhc")


def test_decode_rejects_binary_and_empty():
    with pytest.raises(Exception, match="binary"):
        decode(bytes(range(256)) * 40)
    with pytest.raises(Exception, match="empty"):
        decode(b"  \n ")
    assert decode(codecs.BOM_UTF16_LE + "가나다".encode("utf-16-le"))[0] == "가나다"


def test_hard_wrapped_paragraphs_are_joined_but_short_lines_are_not():
    wrapped = "This is a long line of a hard wrapped paragraph that goes on\nand ends here.\n\nNext."
    joined = "This is a long line of a hard wrapped paragraph that goes on and ends here."
    assert paragraphs(wrapped) == [joined, "Next."]
    assert paragraphs("제목\n부제") == ["제목", "부제"]


def test_clean_cuts_everything_after_the_sign_off():
    raw = "헤드라인\n\n[서울=연합뉴스] 홍길동 기자 = 본문입니다.\n\nhong@yna.co.kr\n\n관련기사 다른 이야기"
    title, body, byline = clean(raw)
    assert body == "[서울=연합뉴스] 홍길동 기자 = 본문입니다."
    assert title == "헤드라인"
    assert byline == "hong@yna.co.kr"


def test_html_is_extracted_with_trafilatura(tmp_path):
    page = tmp_path / "page.html"
    body = "".join(f"<p>엔비디아 주가가 하루 만에 크게 떨어졌다는 소식이 {i}번째 문단에 있습니다.</p>"
                   for i in range(6))
    page.write_text(
        f"<html><head><title>테스트 기사</title><script>alert('x')</script></head>"
        f"<body><nav>메뉴 로그인</nav><article><h1>테스트 기사</h1>{body}</article></body></html>",
        encoding="utf-8",
    )
    a = read_article(page)
    assert "엔비디아 주가가 하루 만에" in a.text
    assert "alert" not in a.text and "로그인" not in a.text
