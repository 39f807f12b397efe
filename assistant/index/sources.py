"""The sources a sync follows (`sources.toml`) and what the last sync saw of each item (`.sync-state.json`).

Both live beside the articles. `sources.toml` is for people to read and edit: it is read with the
standard library's `tomllib` and written with `tomli-w` (the writer made by tomli's author: tomllib
cannot write). The state file is the sync's own memory, JSON: per item (a page's URL or a watched
file's path) the article file it became, the sha256 of its cleaned text (what "changed" means),
and the ETag / Last-Modified to ask with next time; per feed its validators; per source its last
sync and counts (the UI shows them). This module only parses and serialises; `sync.py` writes.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

SOURCES_FILE = "sources.toml"
STATE_FILE = ".sync-state.json"
KINDS = ("feed", "page", "folder")


@dataclass(frozen=True)
class Source:
    """One thing to follow: an RSS/Atom feed, a single page, or a folder of article files."""

    name: str
    kind: str  # feed | page | folder
    location: str  # the URL, or the folder's absolute path
    outlet: str = ""


@dataclass(frozen=True)
class Status:
    """What the last sync of a source did (the UI's Sources list)."""

    last_sync: str = ""  # ISO time, UTC
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    articles: int = 0  # articles that came from it and are in the library
    error: str = ""  # the source itself failed (feed down, folder missing)


def default_name(kind: str, location: str) -> str:
    """A readable name: the host (and path) of a URL, the folder's name."""
    if kind == "folder":
        return Path(location).name or location
    p = urlsplit(location)
    path = p.path.strip("/")
    return f"{p.hostname}/{path}" if path else str(p.hostname)


def read_sources(articles_dir: Path) -> list[Source]:
    """The sources in `articles_dir/sources.toml` (none when it is missing). ValueError if it is broken."""
    path = Path(articles_dir) / SOURCES_FILE
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML ({_one_line(e)})") from e
    sources = []
    for n, row in enumerate(data.get("source", [])):
        if not isinstance(row, dict) or row.get("kind") not in KINDS:
            raise ValueError(f"{path}: source {n + 1} needs kind = one of {', '.join(KINDS)}")
        location = str(row.get("path") if row["kind"] == "folder" else row.get("url") or "")
        if not location:
            raise ValueError(f"{path}: source {n + 1} needs {'path' if row['kind'] == 'folder' else 'url'}")
        sources.append(Source(str(row.get("name") or default_name(row["kind"], location)), row["kind"], location,
                              str(row.get("outlet", ""))))
    return sources


def dump_sources(sources: list[Source]) -> bytes:
    rows = []
    for s in sources:
        row = {"name": s.name, "kind": s.kind, ("path" if s.kind == "folder" else "url"): s.location}
        if s.outlet:
            row["outlet"] = s.outlet
        rows.append(row)
    header = "# Sources that `python -m assistant sync` follows (follow URL / add URL / watch DIR add to it).\n"
    return (header + tomli_w.dumps({"source": rows})).encode("utf-8")


def with_source(sources: list[Source], new: Source) -> list[Source]:
    """`sources` plus `new`; the same location again is refused, as is a name already in use."""
    for s in sources:
        if s.kind == new.kind and s.location == new.location:
            raise ValueError(f"already followed as {s.name!r}: {new.location}")
        if s.name == new.name:
            raise ValueError(f"a source is already named {new.name!r} (choose another with --name)")
    return [*sources, new]


# --- the sync's state ---------------------------------------------------------------------


def read_state(articles_dir: Path) -> dict:
    """The last sync's memory; an unreadable file is treated as empty (everything is looked at again)."""
    path = Path(articles_dir) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    for key in ("items", "feeds", "robots", "sources"):
        if not isinstance(data.get(key), dict):
            data[key] = {}
    return data


def dump_state(state: dict) -> bytes:
    return (json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def status_of(state: dict, name: str) -> Status:
    row = state.get("sources", {}).get(name) or {}
    fields = Status.__dataclass_fields__
    return Status(**{k: v for k, v in row.items() if k in fields})


def status_row(status: Status) -> dict:
    return asdict(status)


def _one_line(e: Exception) -> str:
    return re.sub(r"\s+", " ", str(e)).strip()
