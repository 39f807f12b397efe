"""Third-party text nobody here wrote, installed from Debian: a retrieval check and a build-speed corpus.

- `debian-faq-ko` + `debian-faq`: the Debian FAQ in Korean and English, sections with
  matching ids. Each Korean section is an article; each section title, Korean or
  English, is a question whose gold answer is that Korean section. A cross-lingual
  retrieval check on text in another register than news (`eval --dataset debian-faq`).
- `libreoffice-help-ko`: ~2,500 Korean HTML help pages, a build-speed and HTML-cleaning
  check at a real scale (`bench --sections build --build-corpus libreoffice-help-ko`).

The pages are parsed with lxml (already installed with trafilatura): the FAQ is regular
DocBook output, so its sections are read by their markup, not cleaned like a news page.
Nothing here is used to tune the defaults.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from assistant import env_settings as environment
from assistant.errors import NewsQAError

DEBIAN_FAQ_KO = Path("/usr/share/doc/debian/FAQ/ko")
DEBIAN_FAQ_EN = Path("/usr/share/doc/debian/FAQ")
LIBREOFFICE_HELP_KO = Path("/usr/share/libreoffice/help/ko/text")
DATASETS = ("debian-faq",)
BUILD_CORPORA = ("libreoffice-help-ko",)
# About the size of the Wikipedia corpus (140 articles, 1,502 passages): 560 pages
# spread over every module gave ~1,500 passages.
LIBREOFFICE_DEFAULT_PAGES = 560
_NUMBER = re.compile(r"^\s*(?:\d+\s*장\.|Chapter\s+\d+\.|[\d.]+)\s*")  # "1.2. ", "1장. " in front of a title
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class DatasetMissing(NewsQAError):
    """A corpus whose Debian package is not installed; the message names the apt-get command."""


def cache_root() -> Path:
    return environment.cache_root() / "datasets"


def _require(path: Path, package: str) -> None:
    if not path.is_dir():
        raise DatasetMissing(f"{path} is missing: install it with `apt-get install {package}` (or `make datasets`)")


# --- Debian FAQ ------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqSection:
    id: str
    chapter: str  # the Korean chapter title: the article's title
    title_ko: str
    title_en: str
    text: str  # the Korean section's own text, without its title and subsections


@dataclass(frozen=True)
class FaqQuestion:
    id: str
    lang: str
    question: str
    gold: str  # the section id (= doc_id) that answers it


def _sections(directory: Path, pattern: str) -> dict[str, tuple[str, str, str]]:
    """section id -> (chapter title, section title, section text) of every page in `directory`."""
    import lxml.html

    out = {}
    for page in sorted(directory.glob(pattern)):
        root = lxml.html.parse(str(page)).getroot()
        heads = root.xpath('//div[@class="chapter"]/div[@class="titlepage"]//h1')
        chapter = _NUMBER.sub("", heads[0].text_content()).strip() if heads else page.stem
        for div in root.xpath('//div[@class="section"]'):
            head = div.xpath('./div[@class="titlepage"]//*[self::h2 or self::h3 or self::h4]')
            anchor = head[0].xpath(".//a[@id]") if head else []
            if not anchor:
                continue
            title = _NUMBER.sub("", " ".join(head[0].text_content().split()))
            body = []
            for child in div:  # its own blocks only: nested sections are sections of their own
                if child.get("class") in ("titlepage", "section"):
                    continue
                text = " ".join(child.text_content().split())
                if text:
                    body.append(text)
            out[anchor[0].get("id")] = (chapter, title, "\n\n".join(body))
    return out


def debian_faq_sections(ko_dir: Path = DEBIAN_FAQ_KO, en_dir: Path = DEBIAN_FAQ_EN) -> list[FaqSection]:
    """Sections present in both languages whose Korean text is long enough to answer anything."""
    _require(ko_dir, "debian-faq-ko")
    _require(en_dir, "debian-faq")
    ko, en = _sections(ko_dir, "*.ko.html"), _sections(en_dir, "*.en.html")
    return [FaqSection(sid, chapter, title, en[sid][1], text)
            for sid, (chapter, title, text) in ko.items() if sid in en and len(text) >= 40]


def debian_faq_questions(sections: list[FaqSection]) -> list[FaqQuestion]:
    """A Korean question per translated title (an untranslated one is not Korean), an English one per section."""
    out = []
    for s in sections:
        if _HANGUL.search(s.title_ko):
            out.append(FaqQuestion(f"ko:{s.id}", "ko", s.title_ko, s.id))
        out.append(FaqQuestion(f"en:{s.id}", "en", s.title_en, s.id))
    return out


def write_debian_faq(sections: list[FaqSection], dest: Path) -> Path:
    """One article file per Korean section, titled by its chapter (the question is not in the passage)."""
    dest.mkdir(parents=True, exist_ok=True)
    meta = {}
    for s in sections:
        (dest / f"{s.id}.txt").write_text(s.text + "\n", encoding="utf-8")
        meta[f"{s.id}.txt"] = {"title": s.chapter, "outlet": "Debian FAQ (debian-faq-ko)"}
    (dest / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return dest


# --- LibreOffice help ----------------------------------------------------------------------


def libreoffice_pages(limit: int | None = LIBREOFFICE_DEFAULT_PAGES, root: Path = LIBREOFFICE_HELP_KO) -> list[Path]:
    """`limit` help pages spread evenly over every module (all of them with limit=None), in a fixed order."""
    _require(root, "libreoffice-help-ko")
    pages = sorted(root.rglob("*.html"))
    if limit and limit < len(pages):
        step = len(pages) / limit
        pages = [pages[int(i * step)] for i in range(limit)]
    return pages


def stage_pages(pages: list[Path], dest: Path, root: Path = LIBREOFFICE_HELP_KO) -> Path:
    """Copy pages into one articles directory, named by their path (swriter/01/x.html -> swriter_01_x.html)."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in pages:
        shutil.copyfile(p, dest / "_".join(p.relative_to(root).parts))
    return dest


def build_corpus(name: str, dest: Path) -> Path:
    """An articles directory for `name`: "libreoffice-help-ko[:N]" (N pages, "all" for every page) or a directory."""
    base, _, count = name.partition(":")
    if base == "libreoffice-help-ko":
        limit = None if count == "all" else int(count or LIBREOFFICE_DEFAULT_PAGES)
        return stage_pages(libreoffice_pages(limit), dest)
    if Path(name).is_dir():
        return Path(name)
    raise ValueError(f"unknown build corpus {name!r}: use libreoffice-help-ko[:N|:all] or an articles directory")
