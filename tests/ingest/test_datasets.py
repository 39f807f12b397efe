"""Third-party corpora from Debian: the FAQ's sections and questions, LibreOffice's help pages.

These need Debian's packages (`make datasets` installs them, CI runs it); without them
the tests skip and say which package to install.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest import datasets
from assistant.ingest.corpus import load_articles

needs_faq = pytest.mark.skipif(
    not (datasets.DEBIAN_FAQ_KO.is_dir() and datasets.DEBIAN_FAQ_EN.is_dir()),
    reason="Debian FAQ missing: `make datasets` (apt-get install debian-faq debian-faq-ko)")
needs_help = pytest.mark.skipif(
    not datasets.LIBREOFFICE_HELP_KO.is_dir(),
    reason="LibreOffice help missing: `make datasets` (apt-get install libreoffice-help-ko)")


@pytest.fixture(scope="module")
def sections():
    return datasets.debian_faq_sections()


@needs_faq
def test_faq_sections_pair_korean_text_with_both_titles(sections):
    assert len(sections) >= 100
    assert len({s.id for s in sections}) == len(sections)
    hangul = [s for s in sections if re.search("[가-힣]", s.title_ko)]
    assert len(hangul) >= 80  # most titles are translated
    assert all(s.title_en and not re.search("[가-힣]", s.title_en) for s in sections)
    korean_text = [s for s in hangul if re.search("[가-힣]", s.text)]
    assert len(korean_text) >= 0.95 * len(hangul)  # a body or two is still untranslated (conffile)
    assert not any(re.match(r"\d", s.title_ko) or re.match(r"\d", s.chapter) for s in sections)  # no "1.2."
    faq = next(s for s in sections if s.id == "whatisdebian")
    assert faq.title_en == "What is Debian GNU/Linux?" and "데비안" in faq.text
    assert faq.title_ko not in faq.text  # the question is not handed to the retriever in its passage


@needs_faq
def test_faq_questions_point_at_their_section(sections):
    questions = datasets.debian_faq_questions(sections)
    ids = {s.id for s in sections}
    assert {q.gold for q in questions} == ids
    assert all(q.lang == "ko" and re.search("[가-힣]", q.question) for q in questions if q.id.startswith("ko:"))
    assert sum(q.lang == "en" for q in questions) == len(sections)


@needs_faq
def test_faq_articles_load_as_written(sections, tmp_path):
    some = sections[:12]
    articles, skipped = load_articles(datasets.write_debian_faq(some, tmp_path / "faq"))
    assert not skipped
    by_id = {a.doc_id: a for a in articles}
    for s in some:
        assert by_id[s.id].text.strip() == s.text.strip()
        assert by_id[s.id].title == s.chapter


def test_missing_package_names_the_command(tmp_path):
    with pytest.raises(datasets.DatasetMissing, match="apt-get install debian-faq-ko"):
        datasets.debian_faq_sections(ko_dir=tmp_path / "nope")


@needs_help
def test_libreoffice_pages_spread_over_modules(tmp_path):
    pages = datasets.libreoffice_pages(60)
    assert len(pages) == 60 and len(set(pages)) == 60
    assert len({p.relative_to(datasets.LIBREOFFICE_HELP_KO).parts[0] for p in pages}) >= 5
    staged = datasets.stage_pages(pages[:5], tmp_path / "a")
    articles, skipped = load_articles(staged)
    assert len(articles) + len(skipped) == 5
    for a in articles:  # the cleaner keeps the help text and drops the page's chrome and scripts
        assert a.text and not re.search(r"</?[a-z]+[ >]", a.text) and "LibreOffice 7.4 Help" not in a.text
        assert "Search in chosen module" not in a.text and "setupModules" not in a.text


def test_unknown_build_corpus_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown build corpus"):
        datasets.build_corpus("wikipedia", Path("/nonexistent"))
