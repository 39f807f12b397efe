"""The sources commands: `follow URL`, `watch DIR`, `add URL` and `sync [--once | --every 15m]`.

A source is a feed, a page or a folder listed in the articles' sources.toml; sync fetches them all and brings the
index up to date (index/sync.py). Errors reach `cli.main`, which prints them as one line.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .errors import NewsQAError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("follow", help="follow an RSS or Atom feed (fetched by sync)")
    f.add_argument("url")
    w = sub.add_parser("watch", help="follow a folder of article files (added, changed and deleted files)")
    w.add_argument("folder", type=Path)
    for s in (f, w):
        s.add_argument("--name", default="", help="the source's name (default: the host and path, the folder's name)")
        s.add_argument("--outlet", default="", help="outlet of its articles (default: from the page or dateline)")
        s.add_argument("--articles", type=Path, help="articles directory (default: articles/)")
        s.set_defaults(func=cmd_follow if s is f else cmd_watch)
    y = sub.add_parser("sync", help="fetch every source and bring the index up to date")
    when = y.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="one sync, then exit (the default)")
    when.add_argument("--every", metavar="INTERVAL", help="sync again every INTERVAL (30s, 15m, 1h) until Ctrl-C")
    library_options(y)
    y.set_defaults(func=cmd_sync)


def library_options(p: argparse.ArgumentParser) -> None:
    """--articles, --index and --quiet: where a command that changes the library reads and writes."""
    p.add_argument("--articles", type=Path, help="articles directory (default: articles/)")
    p.add_argument("--index", type=Path, help="index directory (default: index/)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def is_url(text: str) -> bool:
    return "://" in text


def interval_seconds(text: str) -> float:
    """"30s", "15m", "1h" or a number of minutes, as seconds; ValueError for anything else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not m or float(m[1]) <= 0:
        raise ValueError(f"--every {text!r}: give an interval like 30s, 15m or 1h")
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "": 60}[m[2]]


def cmd_follow(args: argparse.Namespace) -> int:
    from assistant.index.sync import add_source

    from .settings import default_articles_dir

    s = add_source(args.articles or default_articles_dir(), "feed", args.url, name=args.name, outlet=args.outlet)
    print(f"following {s.name!r} ({s.location}); `python -m assistant sync` fetches it")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from assistant.index.sync import add_source

    from .settings import default_articles_dir

    s = add_source(args.articles or default_articles_dir(), "folder", str(args.folder), name=args.name,
                   outlet=args.outlet)
    print(f"watching {s.name!r} ({s.location}); `python -m assistant sync` brings its files in")
    return 0


def cmd_add_url(args: argparse.Namespace) -> int:
    """`add URL`: follow one page (its changes too, on each sync) and fetch it now."""
    from assistant.index.sync import add_source

    from .settings import default_articles_dir

    if len(args.files) != 1:
        raise ValueError("add one URL at a time, without files")
    s = add_source(args.articles or default_articles_dir(), "page", args.files[0], outlet=args.outlet)
    args.only, args.every = s.name, None
    return cmd_sync(args)


def cmd_sync(args: argparse.Namespace) -> int:
    import time

    from assistant.index.sync import sync
    from assistant.ingest.fetch import Fetcher
    from assistant.models.embedding import Embedder

    from .settings import Settings, default_articles_dir, default_index_dir

    every = interval_seconds(args.every) if getattr(args, "every", None) else None
    settings = Settings.from_env()
    embedder = Embedder(settings.model, **settings.runtime.embedder_options)
    while True:
        started = time.monotonic()
        try:
            with Fetcher(delay=settings.fetch_delay, timeout=settings.fetch_timeout) as fetcher:
                report = sync(args.articles or default_articles_dir(), args.index or default_index_dir(),
                              embedder=embedder, chunk=settings.chunk, fetcher=fetcher, progress=not args.quiet,
                              only=getattr(args, "only", None), store=settings.store)
        except (ValueError, NewsQAError) as e:
            if every is None:
                raise
            print(f"error: {e}", file=sys.stderr)  # --every keeps going: the next round may succeed
        else:
            for f in report.failed:
                print(f, file=sys.stderr)
            print(report.summary(), flush=True)
        if every is None:
            return 0
        time.sleep(max(0.0, every - (time.monotonic() - started)))
