"""The entries of an RSS 2.0 or Atom feed: each story's link, title and published date.

Parsed with `feedparser`, which reads both formats (and RSS 0.9x/1.0) from bytes and works out their
encoding from the XML declaration and the HTTP charset. It is lenient: on ill-formed XML it sets
`bozo` and keeps whatever it could read. A feed cut off mid-way or broken is refused whole here,
since its last entries cannot be trusted; the sync keeps what it already had from it.
"""

from __future__ import annotations

import time
import xml.sax
from dataclasses import dataclass
from urllib.parse import urljoin

import feedparser

from assistant.ingest.fetch import check_url


class FeedError(Exception):
    """Bytes that are not a readable RSS or Atom feed; the message is the one-line reason."""


@dataclass(frozen=True)
class Entry:
    url: str
    title: str = ""
    published: str = ""  # 2025-03-14, from the entry's published (else updated) date; "" when it has none


@dataclass(frozen=True)
class Feed:
    title: str
    entries: tuple[Entry, ...]


def parse_feed(data: bytes, url: str = "", content_type: str = "") -> Feed:
    """The feed's title and entries that link to an http(s) page. Raises FeedError with the reason."""
    headers = {"content-location": url, "content-type": content_type} if content_type else {"content-location": url}
    parsed = feedparser.parse(data, response_headers=headers)
    error = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(error, xml.sax.SAXException):
        where = f" at line {error.getLineNumber()}" if hasattr(error, "getLineNumber") else ""
        raise FeedError(f"malformed or truncated feed ({error.getMessage()}{where})")
    if not parsed.get("version") and not parsed.entries:
        raise FeedError("not an RSS or Atom feed")
    entries, seen = [], set()
    for e in parsed.entries:
        link = _link(e, url)
        if link and link not in seen:
            seen.add(link)
            entries.append(Entry(link, " ".join(str(e.get("title", "")).split()), _date(e)))
    return Feed(" ".join(str(parsed.feed.get("title", "")).split()), tuple(entries))


def _link(entry: dict, base: str) -> str:
    """The entry's page: its alternate link, resolved against the feed's URL; "" unless http(s)."""
    href = entry.get("link") or ""
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            href = link["href"]
            break
    if not href:
        return ""
    try:
        return check_url(urljoin(base, href.strip()))
    except ValueError:
        return ""


def _date(entry: dict) -> str:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else ""
