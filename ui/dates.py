"""Dates as the page shows them: relative expressions in a passage, resolved against the article's date."""

from __future__ import annotations

import html

from assistant import Article
from assistant.ingest.dates import resolve_relative

LABEL = {"ko": "날짜 풀이", "en": "Dates"}


def resolved_dates(article: Article, start: int, end: int, lang: str) -> str:
    """A line under a passage: "지난해 1월 → 2025년 1월" for each relative date in it ("" when none)."""
    text = article.text[start:end]
    found = resolve_relative(text, article.date_iso, lang)
    if not found:
        return ""
    seen, items = set(), []
    for s, e, resolved in found:
        key = (text[s:e], resolved)
        if key not in seen:
            seen.add(key)
            items.append(f"{html.escape(text[s:e])} → {html.escape(resolved)}")
    return f"<div class='qa-dates'>{LABEL[lang]}: {' · '.join(items)}</div>"
