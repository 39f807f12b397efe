"""Load article files and clean each down to the article's own body.

Everything downstream (passages, citations, answers) points into `Article.text`,
so this module decides what may ever be cited: page chrome, photo captions and
"best stories" teasers that ride along with a scraped page are cut here.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from assistant.ingest.dates import Period, article_date, parse_date

SUFFIXES = (".txt", ".md", ".html", ".htm")
METADATA_FILE = "metadata.json"
MAX_FILE_BYTES = 5 * 1024 * 1024  # a longer "article" is a dump, not a story; see README


@dataclass(frozen=True)
class Article:
    """One cleaned article. `text` is the body that passages' offsets index into."""

    doc_id: str
    title: str
    text: str
    source: str
    outlet: str = ""
    reporter: str = ""
    date: str = ""  # as given (metadata), else `date_iso`: what the UI shows
    encoding: str = "utf-8"
    date_iso: str = ""  # parsed: 2025-01-31, 2025-01 or 2025 (see dates.Period)
    date_source: str = "none"  # metadata | dateline | text (a guess) | none

    @property
    def period(self) -> Period | None:
        return parse_date(self.date_iso)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A file the loader did not ingest, and why (shown to the user as one line)."""

    path: str
    reason: str

    def __str__(self) -> str:  # always one line, whatever the file is called
        return _one_line(f"skipped {self.path}: {self.reason}")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class UnreadableFile(Exception):
    """Raised for a file that is not article text (binary, empty, too large)."""


# --- reading bytes ------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes as text, detecting the encoding; return (text, encoding).

    A BOM or valid UTF-8 is taken as is; anything else (CP949/EUC-KR, UTF-16
    without a BOM, ...) is detected by charset-normalizer, not guessed.
    """
    if not data.strip():
        raise UnreadableFile("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    if b"\x00" not in data:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        # Mostly UTF-8 with a few broken bytes (a cut-off download): keep it, marking the damage.
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") * 200 <= len(text):  # at most 0.5% damaged; CP949 is far above
            return text, "utf-8"
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise UnreadableFile("binary file or unknown text encoding")
    text = str(best)
    if _control_ratio(text) > 0.01:
        raise UnreadableFile("binary file (control characters in the text)")
    return text, best.encoding


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f")
    return bad / max(1, len(sample))


# --- cleaning -----------------------------------------------------------------

# A dateline opens the body of a Korean wire story: "[서울=뉴스핌] 황숙혜 기자 =", "(서울=연합뉴스) ...".
_DATELINE = re.compile(r"^[\[(（][^\])）\n]{1,20}=[^\])）\n]{1,20}[\])）]")
# Lines after which nothing belongs to the article: the reporter's e-mail, teaser and copyright blocks.
_END = re.compile(
    r"^(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\[[^\]]*(?:베스트\s*기사|관련\s*기사|많이\s*본|인기\s*기사|추천\s*기사)[^\]]*\]"
    r"|(?:관련\s*기사|저작권자|Copyright|ⓒ|©|무단\s*전재).*)$",
    re.IGNORECASE,
)
# Page chrome seen before a headline or body: widgets, bullets, timestamps labels.
_CHROME = re.compile(
    r"^(?:※.*|[•·▪◦▶►■□◆◇]\s*.*|(?:기사\s*입력|최종\s*수정|입력|수정|승인|업데이트)\s*[:：].*"
    r"|(?:더\s*)?(?:작게|크게|보통)|글자\s*크기.*|(?:기사\s*)?번역.*|공유하기|프린트|스크랩|구독)$"
)
# Photo and chart captions: short lines that end with a credit like "[사진=블룸버그]".
_CAPTION = re.compile(r"\[(?:사진|자료|그래픽|이미지|출처|영상|사진제공|자료제공|제공)\s*[=:：][^\]]{0,30}\]\s*$")
# A broadcast script's closing credits: "(취재: 김진우 / 영상편집: ...)".
_CREDITS = re.compile(r"^[(（](?:취재|기자|글|촬영|영상취재|편집)\s*[:：].*[)）]$")
_SENTENCE_END = re.compile(r"[.!?。…\"'”’)\]]$|[다요죠]$")


def normalize(text: str) -> str:
    """NFC, one kind of newline, no stray control or zero-width characters."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u3000", " ")
    return "".join(
        c for c in text if c in "\n\t" or (unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    )


def paragraphs(text: str) -> list[str]:
    """Split text into paragraphs: one per line, or per block when lines are hard-wrapped."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        wrapped = len(lines) > 1 and all(
            len(ln) >= 50 and not _SENTENCE_END.search(ln) for ln in lines[:-1]
        )
        out.extend([" ".join(lines)] if wrapped else lines)
    return [re.sub(r"[ \t]+", " ", p) for p in out]


def clean(text: str, title: str = "") -> tuple[str, str, str]:
    """Cut a raw article down to (title, body, byline).

    The body keeps the story's own paragraphs verbatim (joined by blank lines)
    and drops navigation, widgets, captions, credits and whatever follows the
    reporter's sign-off.
    """
    paras = paragraphs(normalize(text))
    byline = ""
    for i, p in enumerate(paras):
        if _END.match(p):
            if "@" in p and " " not in p:
                byline = p
            paras = paras[:i]
            break

    start = next((i for i, p in enumerate(paras) if _DATELINE.match(p)), None)
    if start is not None:
        header = [p for p in paras[:start] if not _CHROME.match(p)]
        title_at = _find_title(header, title)
        if not title:
            title = header[title_at] if title_at is not None else ""
        deck = header[title_at + 1 :] if title_at is not None else []
        body = deck + paras[start:]
    else:
        body = paras
        while body and _CHROME.match(body[0]):
            body = body[1:]

    body = [p for p in body if not (_CAPTION.search(p) and len(p) <= 80) and not _CHROME.match(p)]
    if body and _CREDITS.match(body[-1]):
        byline = byline or body[-1]
        body = body[:-1]
    if not title and body:
        first = body[0]
        title = first if len(first) <= 80 else first[:60].rstrip() + "…"
    return title, "\n\n".join(body), byline


def _find_title(header: list[str], title: str) -> int | None:
    """Index of the headline among the lines before the dateline."""
    if not header:
        return None
    if title:
        for i, line in enumerate(header):
            if line == title or title in line:
                return i
        return None
    return max(range(len(header)), key=lambda i: len(header[i]))


def extract_html(html: str) -> tuple[str, str, str]:
    """Main text, title and publication date of an HTML page, via trafilatura (no regex scraping)."""
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=False, with_metadata=True, favor_precision=True
        )
    except Exception as e:  # a page the parser chokes on is skipped, never the whole build
        raise UnreadableFile(f"HTML could not be parsed ({type(e).__name__}: {str(e)[:120]})") from e
    if doc is None:
        return "", "", ""
    data = doc if isinstance(doc, dict) else doc.as_dict()
    return data.get("text") or "", data.get("title") or "", data.get("date") or ""


# --- loading ------------------------------------------------------------------


def read_article(path: Path, meta: dict | None = None) -> Article:
    """Read and clean one article file. Raises UnreadableFile with the reason."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnreadableFile(f"file too large ({size / 2**20:.1f} MB > {MAX_FILE_BYTES / 2**20:.0f} MB)")
    return parse_article(path.read_bytes(), path.name, meta)


def parse_article(data: bytes, name: str, meta: dict | None = None) -> Article:
    """Decode and clean one article's bytes; `name` gives its id and type. Raises UnreadableFile."""
    meta = meta or {}
    suffix = Path(name).suffix.lower()
    raw, encoding = decode(data)
    title = str(meta.get("title", ""))
    page_date = ""
    if suffix in (".html", ".htm"):
        raw, html_title, page_date = extract_html(raw)
        title = title or html_title
    elif suffix == ".md":
        raw, md_title = _markdown_title(raw)
        title = title or md_title
    title, body, byline = clean(raw, title)
    if not body.strip():
        raise UnreadableFile("no article text found after cleaning")
    period, source = article_date(meta.get("date"), "\n".join([page_date, *header_lines(raw)]), body)
    return Article(
        doc_id=Path(name).stem,
        title=normalize(title).strip(),
        text=body,
        source=name,
        outlet=str(meta.get("outlet", "")),
        reporter=str(meta.get("reporter", "") or byline),
        date=str(meta.get("date", "") or (period.iso() if period else "")),
        encoding=encoding,
        date_iso=period.iso() if period else "",
        date_source=source,
    )


_STAMP = re.compile(r"^(?:기사\s*)?(?:입력|등록|수정|송고|발행|승인|업데이트|최종\s*수정)(?:\s*일시?)?\s*[:：]?\s*\d")
_EN_DATELINE = re.compile(r"^[A-Z][A-Z .'-]{1,30},\s")


def header_lines(raw: str) -> list[str]:
    """The lines that state when a story was filed: timestamps and the dateline before the body."""
    paras = paragraphs(normalize(raw))[:40]
    start = next((i for i, p in enumerate(paras) if _DATELINE.match(p)), None)
    if start is not None:  # the lines above the dateline, and the dateline itself, not the sentence after it
        return [*paras[:start], _DATELINE.match(paras[start]).group(0)]
    lead = [re.split(r"\s(?:--|—|–)\s", p, maxsplit=1)[0][:60] for p in paras[:1] if _EN_DATELINE.match(p)]
    return [p for p in paras if _STAMP.match(p)] + lead


def _markdown_title(text: str) -> tuple[str, str]:
    lines = text.lstrip("\ufeff").split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            if line.startswith("# "):
                return "\n".join(lines[i + 1 :]), line[2:].strip()
            break
    return text, ""


def article_files(directory: Path) -> list[Path]:
    """Article files under `directory`, in a stable order."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def load_metadata(directory: Path) -> dict[str, dict]:
    """Optional per-file metadata (title, outlet, reporter, date) from metadata.json."""
    path = directory / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid UTF-8 JSON ({e})") from e
    return data if isinstance(data, dict) else {}


def load_articles(directory: Path | str) -> tuple[list[Article], list[Skipped]]:
    """Load every article under `directory`; unreadable or duplicate files are skipped, not fatal."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"articles directory not found: {directory}")
    meta = load_metadata(directory)
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen_text: dict[str, str] = {}
    seen_id: set[str] = set()
    for path in article_files(directory):
        rel = str(path.relative_to(directory))
        try:
            entry = meta.get(rel) or meta.get(path.name)
            article = read_article(path, entry if isinstance(entry, dict) else None)
        except (UnreadableFile, OSError) as e:
            skipped.append(Skipped(rel, str(e)))
            continue
        if article.sha256 in seen_text:
            skipped.append(Skipped(rel, f"duplicate of {seen_text[article.sha256]}"))
            continue
        if article.doc_id in seen_id:
            skipped.append(Skipped(rel, f"another file already has the id {article.doc_id!r}"))
            continue
        seen_text[article.sha256] = rel
        seen_id.add(article.doc_id)
        articles.append(article)
    return articles, skipped


def corpus_sha256(articles: Iterable[Article]) -> str:
    """One hash for the whole cleaned corpus: the index manifest records it."""
    h = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.doc_id):
        for part in (a.doc_id, a.title, a.text, a.outlet, a.date, a.date_iso, a.date_source):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
    return h.hexdigest()
