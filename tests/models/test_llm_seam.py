"""The LLM seam: a protocol that knows no backend, backends that implement all of it, a registry that picks."""

from __future__ import annotations

import ast
import inspect

import pytest

from assistant.models import llm, readers
from assistant.models.llm_process import ProcessLlama
from assistant.models.openai_chat import OpenAIChat


def test_the_protocol_module_imports_no_backend():
    tree = ast.parse(inspect.getsource(llm))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("assistant")}, imported


def test_every_backend_implements_the_whole_protocol():
    declared = {n for n, v in vars(llm.LLM).items() if callable(v) and not n.startswith("_")}
    assert {"choose", "stream", "warm"} <= declared
    for backend in (ProcessLlama, OpenAIChat):
        assert all(callable(getattr(backend, name, None)) for name in declared), backend


def test_an_endpoint_has_nothing_to_warm_and_takes_its_hash_as_an_argument():
    chat = OpenAIChat("http://127.0.0.1:9/v1", "m", sha256="abc")  # nothing is contacted
    assert chat.warm([{"role": "system", "content": "x"}]) is None
    assert chat.info == llm.ModelInfo("m", "abc", "openai")


def test_the_registry_parses_kinds_and_lists_the_choices(monkeypatch):
    monkeypatch.delenv("NEWSQA_READER", raising=False)
    assert readers.reader_kind(" Extractive ") == "extractive"
    assert readers.load("extractive") is None
    assert readers.reader_kind(None, readers.ReaderConfig(url="http://127.0.0.1:9/v1")) == "openai"
    with pytest.raises(ValueError, match="choose one of local, openai, extractive"):
        readers.reader_kind("gpt")
    with pytest.raises(llm.LLMError, match="NEWSQA_LLM_URL"):
        readers.load("openai", readers.ReaderConfig())
