"""Bring the library up to date with its sources: feeds, single pages and watched folders.

One sync, under the library lock (so it waits for an upload, another sync, or a removal):

1. each source is read: a feed by a conditional GET (304: nothing to do), each of its entries'
   pages likewise; a watched folder by listing it (a file whose size and mtime are unchanged is not
   even read);
2. each item is cleaned by the same cleaner as an upload (`ingest/corpus.py`) and compared with
   what the last sync stored by the sha256 of its cleaned text, not by its URL or bytes: a page whose
   markup moved but whose story did not is unchanged;
3. new and changed items are written to the articles directory (file, then metadata.json, each
   atomically); files gone from a watched folder are removed; after each item the state file
   (`sources.py`) is saved, so a sync killed mid-way loses nothing and the next one carries on;
4. the index is rebuilt incrementally when anything changed (or a killed sync left it stale): the
   vector cache re-embeds only the new and changed texts, and the build swaps in atomically, so the
   previous index stays loadable until then.

Every failure (a feed down, a 404, a malformed feed, a page with no article text) is one line in
the report and leaves that item as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.index import library
from assistant.index.build import BuildReport
from assistant.index.sources import (
    SOURCES_FILE,
    STATE_FILE,
    Source,
    Status,
    default_name,
    dump_sources,
    dump_state,
    read_sources,
    read_state,
    status_row,
    with_source,
)
from assistant.index.store import StoreSpec, parse_store
from assistant.ingest.corpus import METADATA_FILE, UnreadableFile, article_files, load_metadata, parse_article
from assistant.ingest.dates import parse_date
from assistant.ingest.feeds import FeedError, parse_feed
from assistant.ingest.fetch import Fetcher, FetchError, check_url, decode_page


def _quiet(fraction: float, label: str) -> None:
    """The default `stage` callback: say nothing."""


@dataclass(frozen=True)
class Failure:
    what: str  # a URL, a file or a source's name
    reason: str

    def __str__(self) -> str:  # one line, whatever the URL or file is called
        text = " ".join(f"failed {self.what}: {self.reason}".split())
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class SyncReport:
    added: tuple[str, ...]  # doc ids
    changed: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]
    failed: tuple[Failure, ...]
    build: BuildReport | None
    requests: int  # HTTP requests made, robots.txt included

    def summary(self) -> str:
        line = (f"sync: {len(self.added)} added, {len(self.changed)} changed, {self.unchanged} unchanged, "
                f"{len(self.removed)} removed, {len(self.failed)} failed")
        if self.build:
            line += f"; index {self.build.articles} articles, {self.build.embedded} texts embedded"
        return line


# --- the sources file ------------------------------------------------------------------------


def add_source(articles_dir: Path, kind: str, location: str, *, name: str = "", outlet: str = "") -> Source:
    """Add a feed, page or folder to `sources.toml` (created if missing). ValueError for a bad or repeated one."""
    articles_dir = Path(articles_dir)
    if kind == "folder":
        folder = Path(location).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"not a folder: {location}")
        home = articles_dir.resolve()
        if folder == home or home in folder.parents or folder in home.parents:
            raise ValueError(f"{location} holds or is inside the articles directory; watch a folder beside it")
        location = str(folder)
    else:
        location = check_url(location)
    source = Source(" ".join(name.split()) or default_name(kind, location), kind, location, " ".join(outlet.split()))
    sources = with_source(read_sources(articles_dir), source)
    articles_dir.mkdir(parents=True, exist_ok=True)
    library.write_atomic(articles_dir / SOURCES_FILE, dump_sources(sources))
    return source


# --- one sync --------------------------------------------------------------------------------


def sync(articles_dir: Path, index_dir: Path, *, embedder, chunk=None, fetcher: Fetcher | None = None,  # noqa: ANN001
         progress: bool = False, stage: Callable[[float, str], None] = _quiet, only: str | None = None,
         store: StoreSpec | None = None) -> SyncReport:
    """Fetch every source (or the one named `only`) and bring the index up to date; see the module's docstring.

    `stage(fraction, label)` is told how far the sync is (for the UI's progress bar); `progress` shows
    tqdm bars on the terminal (sources, then the build's embedding). `store`: the caller's Settings.store
    (default: NEWSQA_STORE's).
    """
    store = store if store is not None else parse_store()
    from tqdm import tqdm

    articles_dir, index_dir = Path(articles_dir), Path(index_dir)
    articles_dir.mkdir(parents=True, exist_ok=True)
    stage(0.0, "waiting")
    with library.library_lock(index_dir):
        sources = [s for s in read_sources(articles_dir) if only is None or s.name == only]
        state = read_state(articles_dir)
        own = fetcher is None
        fetcher = fetcher or Fetcher()
        fetcher.robots = state["robots"]  # robots.txt as last fetched, revalidated by conditional GET
        run = _Run(articles_dir, state, fetcher)
        try:
            for i, source in enumerate(tqdm(sources, unit="source", desc="sync", disable=not progress)):
                stage(0.8 * i / max(1, len(sources)), source.name)
                run.source(source)
        finally:
            run.save()
            if own:
                fetcher.close()
        build = None
        if run.touched or not _up_to_date(articles_dir, index_dir, embedder, chunk, store):
            stage(0.8, "indexing")
            build = library.rebuild(articles_dir, index_dir, embedder, chunk, progress,
                                    "the articles were synced", store)
        stage(1.0, "done")
    return SyncReport(tuple(run.added), tuple(run.changed), run.unchanged, tuple(run.removed), tuple(run.failed),
                      build, fetcher.requests)


def _up_to_date(articles_dir: Path, index_dir: Path, embedder, chunk, store: StoreSpec) -> bool:  # noqa: ANN001
    from assistant.index.manifest import is_up_to_date
    from assistant.index.stores import open_store
    from assistant.index.vectors import effective_method, sentence_method
    from assistant.ingest.chunking import ChunkSettings

    if not article_files(articles_dir):
        return True  # nothing to index yet: no build, and no error for an empty library
    return is_up_to_date(index_dir, articles_dir, model=embedder.name, chunk=chunk or ChunkSettings(),
                         sentence_vectors=effective_method(embedder, sentence_method()),
                         manifest_of=open_store(store, index_dir).read_manifest)


class _Run:
    """The work of one sync over the sources, and its counts."""

    def __init__(self, articles_dir: Path, state: dict, fetcher: Fetcher) -> None:
        self.dir, self.state, self.fetcher = articles_dir, state, fetcher
        self.added: list[str] = []
        self.changed: list[str] = []
        self.removed: list[str] = []
        self.failed: list[Failure] = []
        self.unchanged = 0
        self.touched = False
        self._counts: dict[str, int] = {}

    def source(self, source: Source) -> None:
        before = (len(self.added), len(self.changed), self.unchanged, len(self.removed), len(self.failed))
        error = ""
        try:
            if source.kind == "folder":
                self._folder(source)
            elif source.kind == "feed":
                self._feed(source)
            else:
                self._page(source, source.location)
        except (FetchError, FeedError, OSError) as e:
            self.failed.append(Failure(source.location, str(e) or type(e).__name__))
            error = str(self.failed[-1])
        except Exception as e:  # noqa: BLE001 - web content is untrusted: one line, and the other sources go on
            self.failed.append(Failure(source.location, f"unexpected {type(e).__name__}: {e}"))
            error = str(self.failed[-1])
        after = (len(self.added), len(self.changed), self.unchanged, len(self.removed), len(self.failed))
        added, changed, unchanged, removed, failed = (b - a for a, b in zip(before, after))
        articles = sum(1 for item in self.state["items"].values() if item.get("source") == source.name)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.state["sources"][source.name] = status_row(Status(now, added, changed, unchanged, removed, failed,
                                                               articles, error))
        self.save()

    # --- feeds and pages ---

    def _feed(self, source: Source) -> None:
        known = self.state["feeds"].get(source.location) or {}
        r = self.fetcher.get(source.location, etag=known.get("etag", ""),
                             last_modified=known.get("last_modified", ""))
        if r.not_modified:  # nothing new in it; pages that failed last time are tried again
            pending = [e for e in known.get("pending", []) if isinstance(e, dict) and e.get("url")]
            done = {e["url"] for e in pending}
            self.unchanged += sum(1 for k, item in self.state["items"].items()
                                  if item.get("source") == source.name and k not in done)
            entries = pending
        else:
            feed = parse_feed(r.content, r.url, r.content_type)
            entries = [{"url": e.url, "title": e.title, "date": e.published} for e in feed.entries]
        still = [e for e in entries if not self._page(source, e["url"], e.get("title", ""), e.get("date", ""))]
        validators = known if r.not_modified else {"etag": r.etag, "last_modified": r.last_modified}
        self.state["feeds"][source.location] = {**validators, "pending": still}

    def _page(self, source: Source, url: str, title: str = "", date: str = "") -> bool:
        """Fetch, clean and store one page; False (and a failure line) if it could not be."""
        item = self.state["items"].get(url) or {}
        have = bool(item.get("file")) and (self.dir / item["file"]).exists()  # else ask for the page whole
        try:
            r = self.fetcher.get(url, etag=item.get("etag", "") if have else "",
                                 last_modified=item.get("last_modified", "") if have else "")
            if r.not_modified and have:
                self.unchanged += 1
                return True
            text, _ = decode_page(r.content, r.charset)
            suffix = ".txt" if r.content_type.lower().startswith("text/plain") else ".html"
            name = item.get("file") or _file_name(url, suffix, url)
            meta = {"title": title, "outlet": source.outlet, "url": url, "source": source.name}
            period = parse_date(date) if date else None
            if period:  # the feed's own date for the story; else the page's, as for a file
                meta["date"] = period.iso()
            data = text.encode("utf-8")
            sha = parse_article(data, name, _fields(meta)).sha256
        except (FetchError, UnreadableFile, ValueError) as e:  # ValueError: a date or text the cleaner refused
            self.failed.append(Failure(url, str(e) or type(e).__name__))
            return False
        self._store(url, name, data, meta, sha, source, {"etag": r.etag, "last_modified": r.last_modified})
        return True

    # --- watched folders ---

    def _folder(self, source: Source) -> None:
        root = Path(source.location)
        if not root.is_dir():  # unmounted or gone: keep what came from it
            raise FetchError(f"folder not found: {root}")
        seen = set()
        home = self.dir.resolve()
        for path in article_files(root):
            if home in path.resolve().parents:  # never copy the library into itself
                continue
            key = str(path)
            seen.add(key)
            item = self.state["items"].get(key) or {}
            st = path.stat()
            if (item.get("mtime_ns"), item.get("size")) == (st.st_mtime_ns, st.st_size) and \
                    (self.dir / item.get("file", "\0")).exists():
                self.unchanged += 1
                continue
            name = item.get("file") or _file_name(path.stem, path.suffix.lower(), key)
            try:
                data = path.read_bytes()
                draft = library.prefill(path.name, data)
                meta = {"title": draft.title, "outlet": source.outlet or draft.outlet, "reporter": draft.reporter,
                        "path": key, "source": source.name}
                sha = library.checked_article(name, data, _fields(meta)).sha256
            except (UnreadableFile, OSError, ValueError) as e:
                self.failed.append(Failure(str(path), str(e) or type(e).__name__))
                continue
            self._store(key, name, library.stored_bytes(data), meta, sha, source,
                        {"mtime_ns": st.st_mtime_ns, "size": st.st_size})
        for key, item in list(self.state["items"].items()):
            if item.get("source") == source.name and key not in seen:
                self._remove(key, item)

    # --- the articles directory ---

    def _store(self, key: str, name: str, data: bytes, meta: dict, sha: str, source: Source, extra: dict) -> None:
        """Write a new or changed item's file and metadata; an unchanged one only refreshes its state."""
        item = self.state["items"].get(key) or {}
        path = self.dir / name
        old = item.get("sha256") if item.get("file") == name else None
        if old is None and path.exists():  # written by a sync that was killed before it saved its state
            old = _sha_of(path, meta)
        if old == sha:
            self.unchanged += 1
        else:
            meta = {**_fields(meta), "added": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
            metadata = load_metadata(self.dir)
            metadata[name] = meta
            library.write_atomic(self.dir / METADATA_FILE, library.json_bytes(metadata))
            library.write_atomic(path, data)
            (self.changed if old else self.added).append(Path(name).stem)
            self.touched = True
        self.state["items"][key] = {"file": name, "sha256": sha, "source": source.name, **extra}
        self.save()

    def _remove(self, key: str, item: dict) -> None:
        name = str(item.get("file", ""))
        path = self.dir / name
        if name and path.is_file():
            path.unlink()
            metadata = load_metadata(self.dir)
            if metadata.pop(name, None) is not None:
                library.write_atomic(self.dir / METADATA_FILE, library.json_bytes(metadata))
            self.removed.append(Path(name).stem)
            self.touched = True
        del self.state["items"][key]
        self.save()

    def save(self) -> None:
        library.write_atomic(self.dir / STATE_FILE, dump_state(self.state))


def _fields(meta: dict) -> dict:
    """The metadata.json entry: the non-empty fields, on one line each."""
    return {k: " ".join(str(v).split()) for k, v in meta.items() if v and str(v).strip()}


def _file_name(hint: str, suffix: str, key: str) -> str:
    """A stable, safe file name for an item: a readable slug and a hash of its URL or path (its doc id)."""
    last = re.split(r"[/?#]", hint.rstrip("/"))[-1] if "://" in hint else hint
    slug = re.sub(r"\.(?:html?|php|aspx?|jsp|txt|md)$", "", last, flags=re.IGNORECASE)
    slug = re.sub(r"[^\w-]+", "_", slug).strip("_-")[:60] or "page"
    return f"{slug}_{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}{suffix}"


def _sha_of(path: Path, meta: dict) -> str | None:
    try:
        return parse_article(path.read_bytes(), path.name, _fields(meta)).sha256
    except (UnreadableFile, OSError):
        return None
