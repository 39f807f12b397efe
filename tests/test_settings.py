"""Settings is how the package is configured: grouped, parsed with the choices named, the only reader of the env."""

from __future__ import annotations

import dataclasses
import re

import pytest

from assistant import env_settings as environment
from assistant.index.store import StoreKind
from assistant.models.readers import ReaderKind
from assistant.settings import Method, Settings
from conftest import REPO


def test_from_env_groups_reader_store_and_runtime(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSQA_READER", "OpenAI")
    monkeypatch.setenv("NEWSQA_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NEWSQA_LLM_MODEL", "qwen")
    monkeypatch.setenv("NEWSQA_STORE", f"milvus:{tmp_path / 'x.db'}")
    monkeypatch.setenv("NEWSQA_MILVUS_TOKEN", "secret")
    monkeypatch.setenv("NEWSQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NEWSQA_THREADS", "3")
    monkeypatch.setenv("NEWSQA_READER_TIMEOUT", "12")
    s = Settings.from_env()
    assert s.reader.kind is ReaderKind.OPENAI and s.reader.endpoint.url == "http://127.0.0.1:9/v1"
    assert s.reader.endpoint.model == "qwen"
    assert s.store.kind is StoreKind.MILVUS and s.store.uri.endswith("x.db") and s.store.token == "secret"
    assert "secret" not in repr(s.store)
    assert s.runtime.cache_root == tmp_path / "cache" == environment.cache_root()
    assert s.runtime.threads == 3 and s.runtime.embedder_options["threads"] == 3
    assert s.reader_timeout == 12.0  # the flat knobs the reading steps read stay where they were
    assert dataclasses.replace(s, reader_timeout=4.0).reader_timeout == 4.0


def test_a_store_given_as_text_becomes_its_spec():
    s = Settings(store="faiss")
    assert s.store.kind is StoreKind.FAISS and str(s.store) == "faiss"


def test_a_store_that_is_not_one_names_the_forms():
    with pytest.raises(ValueError, match="use faiss, milvus:./path.db, or http://host:19530"):
        Settings(store="redis://x")


@pytest.mark.parametrize(("parse", "bad", "choices"), [
    (Method.parse, "sparse", "Unknown method 'sparse'; choose one of dense, bm25, hybrid, routed."),
    (ReaderKind.parse, "gpt", "reader kind 'gpt'; choose one of local, openai, extractive"),
    (StoreKind.parse, "redis", "store kind 'redis'; choose one of faiss, milvus"),
])
def test_a_wrong_choice_lists_the_choices(parse, bad, choices):
    with pytest.raises(ValueError) as e:
        parse(bad)
    assert choices in str(e.value) and "\n" not in str(e.value)


def test_a_wrong_reader_in_the_environment_says_the_choices(monkeypatch):
    monkeypatch.setenv("NEWSQA_READER", "gpt")
    with pytest.raises(ValueError, match="choose one of local, openai, extractive"):
        Settings.from_env()


def test_an_undeclared_variable_is_refused():
    with pytest.raises(KeyError, match="NEWSQA_NOPE"):
        environment.value("NEWSQA_NOPE")


def test_only_settings_and_the_environment_leaf_read_the_environment():
    """Everything else gets its values as arguments; the reader's child process inherits the environment."""
    found = []
    for path in sorted((REPO / "assistant").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"os\.environ|os\.getenv", line):
                found.append(f"{path.relative_to(REPO)}:{n}")
    allowed = {"assistant/env_settings.py", "assistant/models/llm_process.py"}
    assert {f.split(":")[0] for f in found} <= allowed, found
    assert sum(f.startswith("assistant/models/llm_process.py") for f in found) == 1  # the child's start-up
