"""Add and remove articles: check each file, save it atomically, rebuild the index incrementally.

The same path serves the CLI (`python -m assistant add/remove`) and the UI's Articles panel.
Every rejected file gets one line saying why, and nothing already saved or indexed is lost:
files and metadata.json are written to a temp file and renamed into place, and one library
lock (a blocking `flock` on `index/library.lock`) serialises whole add/remove operations
across threads and processes, so two uploads at once run one after the other. The build
itself reuses cached vectors, so removing an article re-embeds nothing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import NewsQAError
from assistant.index.build import BuildReport, build_index
from assistant.index.manifest import resolve
from assistant.index.store import LoadedIndex, StoreSpec, parse_store
from assistant.ingest.corpus import (
    MAX_FILE_BYTES,
    METADATA_FILE,
    SUFFIXES,
    Article,
    UnreadableFile,
    article_files,
    load_metadata,
    parse_article,
)
from assistant.ingest.dates import parse_date

MAX_FILES_PER_ADD = 20  # per upload or command
MAX_ARTICLES = 5000  # in the whole library
_UTF8 = ("utf-8", "utf-8-sig", "ascii")
# A Korean wire header: "[서울=뉴스핌] 황숙혜 기자 =", "(서울=연합뉴스) 홍길동 특파원 =".
DATELINE = re.compile(r"^\s*[\[(（](?P<place>[^\]=)）\n]{1,20})=(?P<outlet>[^\])）\n]{1,20})[\])）]"
                      r"(?:\s*(?P<reporter>[^=\n\]]{1,30}?)\s*(?:기자|특파원)(?=\s|=|$))?")


def _quiet(stage: str) -> None:
    """The default `stage` callback: say nothing."""


@dataclass(frozen=True)
class Upload:
    """One file to add: its name, its bytes, and the fields the user set (empty: use what the cleaner finds)."""

    name: str
    data: bytes
    title: str = ""
    outlet: str = ""
    date: str = ""
    reporter: str = ""


@dataclass(frozen=True)
class Draft:
    """What the cleaner finds in a file, to prefill the form: headline, dateline outlet, byline, date."""

    name: str
    title: str
    outlet: str
    reporter: str
    date: str
    date_source: str
    chars: int


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str

    def __str__(self) -> str:  # one line, whatever the file is called
        text = f"rejected {self.name}: {self.reason}"
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class AddReport:
    added: tuple[str, ...]  # doc ids, in upload order
    rejected: tuple[Rejected, ...]
    build: BuildReport | None


@dataclass(frozen=True)
class Row:
    """An indexed article, as the list in the UI and the CLI shows it."""

    doc_id: str
    title: str
    outlet: str
    date: str
    date_source: str
    passages: int


# --- reading a file ---------------------------------------------------------------------


def checked_article(name: str, data: bytes, meta: dict | None = None) -> Article:
    """The cleaned article a file would become; raises UnreadableFile with the reason."""
    if Path(name).suffix.lower() not in SUFFIXES:
        raise UnreadableFile(f"not a {', '.join(SUFFIXES)} file")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"file too large ({len(data) / 2**20:.1f} MB > {MAX_FILE_BYTES / 2**20:.0f} MB)")
    try:
        return parse_article(data, name, meta)
    except UnicodeError as e:
        raise UnreadableFile(f"unreadable text encoding ({e.__class__.__name__})") from e


def prefill(name: str, data: bytes) -> Draft:
    """The form's starting values for one file. Raises UnreadableFile (the reason to show)."""
    a = checked_article(name, data)
    outlet, reporter = "", a.reporter
    for para in a.text.split("\n\n")[:12]:
        m = DATELINE.match(para)
        if m:
            outlet = m["outlet"].strip()
            reporter = reporter or (m["reporter"] or "").strip()
            break
    title = a.title
    m = DATELINE.match(title)
    if m:  # no headline: the cleaner fell back to the first paragraph; take its first sentence, sans dateline
        rest = title[m.end():].lstrip(" =")
        title = re.split(r"(?<=[.!?다])\s", rest, maxsplit=1)[0][:80] or title
    return Draft(Path(name).name, title, outlet, reporter, a.date_iso, a.date_source, len(a.text))


def indexed(index: LoadedIndex) -> list[Row]:
    """The articles of a loaded index with their passage counts, newest first."""
    counts: dict[str, int] = {}
    for p in index.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    rows = [Row(a.doc_id, a.title, a.outlet, a.date_iso, a.date_source, counts.get(a.doc_id, 0))
            for a in index.articles.values()]
    return sorted(rows, key=lambda r: (r.date or "0000", r.doc_id), reverse=True)


# --- add and remove ------------------------------------------------------------------------


@contextmanager
def library_lock(index_dir: Path) -> Iterator[None]:
    """One add or remove at a time, across threads and processes; a second one waits its turn."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "library.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def add(uploads: Sequence[Upload], articles_dir: Path, index_dir: Path, *, embedder, chunk=None,  # noqa: ANN001
        progress: bool = False, max_files: int = MAX_FILES_PER_ADD, max_articles: int = MAX_ARTICLES,
        stage: Callable[[str], None] = _quiet, store: StoreSpec | None = None) -> AddReport:
    """Check, save and index new articles; returns what was added, what was refused and why, and the build.

    `stage` is told "waiting", "checking", "saving" and "indexing" as the work gets there (for a progress bar).
    """
    articles_dir, index_dir = Path(articles_dir), Path(index_dir)
    articles_dir.mkdir(parents=True, exist_ok=True)
    stage("waiting")
    with library_lock(index_dir):
        stage("checking")
        existing = {p.stem for p in article_files(articles_dir)}
        known = _indexed_texts(index_dir)
        accepted: list[tuple[str, bytes, dict, Article]] = []
        rejected: list[Rejected] = []
        for n, up in enumerate(uploads):
            name = Path(up.name).name or "article.txt"
            if n >= max_files:
                rejected.append(Rejected(name, f"over the limit of {max_files} files at once"))
                continue
            if len(existing) + len(accepted) >= max_articles:
                rejected.append(Rejected(name, f"the library is full ({max_articles} articles)"))
                continue
            try:
                draft = prefill(name, up.data)
                meta = _meta(up, draft)
                article = checked_article(name, up.data, meta)
            except (UnreadableFile, ValueError) as e:
                rejected.append(Rejected(name, str(e)))
                continue
            if article.sha256 in known:
                rejected.append(Rejected(name, f"duplicate: the same text as article {known[article.sha256]}"))
                continue
            filename = _free_name(name, article.sha256, existing | {Path(f).stem for f, *_ in accepted})
            known[article.sha256] = Path(filename).stem
            accepted.append((filename, stored_bytes(up.data), meta, article))
        if not accepted:
            return AddReport((), tuple(rejected), None)
        stage("saving")
        metadata = load_metadata(articles_dir)
        for filename, _, meta, _ in accepted:
            metadata[filename] = meta
        write_atomic(articles_dir / METADATA_FILE, json_bytes(metadata))  # an entry without its file is ignored
        for filename, data, _, _ in accepted:
            write_atomic(articles_dir / filename, data)
        stage("indexing")
        report = rebuild(articles_dir, index_dir, embedder, chunk, progress,
                         f"saved {', '.join(f for f, *_ in accepted)}", store)
    return AddReport(tuple(Path(f).stem for f, *_ in accepted), tuple(rejected), report)


def remove(doc_id: str, articles_dir: Path, index_dir: Path, *, embedder, chunk=None,  # noqa: ANN001
           progress: bool = False, stage: Callable[[str], None] = _quiet,
           store: StoreSpec | None = None) -> BuildReport:
    """Delete an article's file and metadata, then rebuild without it (its neighbours' vectors are reused)."""
    articles_dir, index_dir = Path(articles_dir), Path(index_dir)
    stage("waiting")
    with library_lock(index_dir):
        files = article_files(articles_dir)
        matches = [p for p in files if p.stem == doc_id]
        if not matches:
            raise ValueError(f"No article {doc_id!r} in {articles_dir}.")
        if len(files) == len(matches):
            raise ValueError(f"{doc_id} is the only article; an index needs at least one.")
        path = matches[0]
        path.unlink()
        metadata = load_metadata(articles_dir)
        rel = str(path.relative_to(articles_dir))
        if rel in metadata or path.name in metadata:
            metadata.pop(rel, None)
            metadata.pop(path.name, None)
            write_atomic(articles_dir / METADATA_FILE, json_bytes(metadata))
        stage("indexing")
        return rebuild(articles_dir, index_dir, embedder, chunk, progress, f"removed {path.name}", store)


def rebuild(articles_dir: Path, index_dir: Path, embedder, chunk, progress: bool, done: str,  # noqa: ANN001
            store: StoreSpec | None) -> BuildReport:
    """The incremental build into `store` (the caller's Settings.store; default NEWSQA_STORE's); if it cannot
    run, say what was already done and what to run."""
    try:
        return build_index(articles_dir, index_dir, embedder=embedder, chunk=chunk, progress=progress,
                           store=store if store is not None else parse_store())
    except NewsQAError as e:
        raise NewsQAError(f"{done}, but the index was not rebuilt: {e} "
                          f"Then run: python -m assistant build --articles {articles_dir} --index {index_dir}") from e


def _meta(up: Upload, draft: Draft) -> dict:
    """The metadata.json entry for an upload: the fields the user set, else what the cleaner found.

    A date found in the text is not written down, so the article keeps saying it was guessed.
    """
    fields = (("title", up.title or draft.title), ("outlet", up.outlet or draft.outlet),
              ("reporter", up.reporter or draft.reporter), ("date", up.date))
    meta = {k: " ".join(str(v).split()) for k, v in fields if v and str(v).strip()}
    if "date" in meta:
        period = parse_date(meta["date"])
        if period is None:
            raise ValueError(f"date {meta['date']!r} not understood (use e.g. 2025-01-31, 2025-01 or 2025)")
        meta["date"] = period.iso()
    meta["added"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return meta


def stored_bytes(data: bytes) -> bytes:
    """Stored as UTF-8 when it came in another encoding (CP949, UTF-16): the build reads what was checked."""
    from assistant.ingest.corpus import decode

    text, encoding = decode(data)
    return data if encoding.lower().replace("_", "-") in _UTF8 else text.encode("utf-8")


def _free_name(name: str, sha: str, taken: set[str]) -> str:
    """A safe file name in the articles directory whose stem (the doc id) is not taken yet."""
    p = Path(name)
    stem = re.sub(r"[^\w.-]+", "_", p.stem).strip("._-")[:80] or "article"
    suffix = p.suffix.lower()
    if stem in taken:
        stem = f"{stem}_{sha[:8]}"
    n = 2
    base = stem
    while stem in taken:
        stem, n = f"{base}_{n}", n + 1
    return stem + suffix


def _indexed_texts(index_dir: Path) -> dict[str, str]:
    """sha256 of each indexed article's cleaned text -> its doc id (nothing when there is no index yet)."""
    import hashlib

    try:
        path = resolve(index_dir) / "articles.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError, NewsQAError):  # no or broken index: the build reports that itself
        return {}
    return {hashlib.sha256(r["text"].encode("utf-8")).hexdigest(): r["doc_id"] for r in rows
            if isinstance(r, dict) and isinstance(r.get("text"), str)}


def json_bytes(data: dict) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """Write a temp file beside `path`, fsync it, rename it over `path`: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
