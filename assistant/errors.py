"""Errors a user can act on: each message says what happened and what to run."""

from __future__ import annotations

from assistant import env_settings as environment


class NewsQAError(Exception):
    """Base class; the CLI prints the message as one line and exits non-zero."""


class IndexMissing(NewsQAError):
    """No index where one was expected."""


class IndexCorrupt(NewsQAError):
    """The index files are unreadable, truncated or disagree with each other."""


class IndexMismatch(NewsQAError):
    """The index was built with another model, chunking or format than this assistant uses."""


class BuildLocked(NewsQAError):
    """Another build holds the index lock."""


def rebuild_hint(index_dir: object) -> str:
    store = environment.value("NEWSQA_STORE")  # a Milvus store is rebuilt with the same setting
    env = f"NEWSQA_STORE={store} " if store and store != "faiss" else ""
    return f"Rebuild it with: {env}python -m assistant build --index {index_dir}"
