"""The reader registry: which `LLM` backend a reader kind names, loaded once per process.

The one module that knows every backend (as `index/stores.py` knows every store): `llm.py` declares the
protocol, `llm_process.py` and `openai_chat.py` implement it, and this picks one. Its settings arrive as
arguments (`Settings.reader`); a caller that passes none gets the environment's, read through
`assistant.env_settings` like every setting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from assistant import env_settings as environment
from assistant.models import llm_process, reader_model
from assistant.models.llm import LLM, LLMError
from assistant.models.openai_chat import OpenAIChat

__all__ = ["LLM", "LLMError", "OpenAIChat", "ReaderConfig", "ReaderKind", "load", "reader_kind"]


class ReaderKind(environment.Choice):
    """What answers: the local model, an OpenAI-compatible endpoint, or quoting alone."""

    LOCAL = "local"
    OPENAI = "openai"
    EXTRACTIVE = "extractive"


@dataclass(frozen=True)
class ReaderConfig:
    """Where each backend's model is: an endpoint's URL, model name, key and hash."""

    url: str = ""
    model: str = "default"
    key: str = ""
    sha256: str = ""

    @classmethod
    def from_env(cls) -> ReaderConfig:
        return cls(environment.value("NEWSQA_LLM_URL"), environment.value("NEWSQA_LLM_MODEL", "default"),
                   environment.value("NEWSQA_LLM_KEY"), environment.value("NEWSQA_LLM_SHA256"))


_loaded: dict[tuple, LLM] = {}
_loading = threading.Lock()


def reader_kind(kind: str | None = None, config: ReaderConfig | None = None) -> str:
    """The reader to use: an explicit choice, else NEWSQA_READER, else an endpoint if one is set, else local."""
    config = config or ReaderConfig.from_env()
    kind = kind or environment.value("NEWSQA_READER") or ("openai" if config.url else "local")
    return ReaderKind.parse(kind).value


def load(kind: str | None = None, config: ReaderConfig | None = None) -> LLM | None:
    """The process's one model for `kind` (None for extractive), loaded once; LLMError says why it can't be."""
    config = config or ReaderConfig.from_env()
    kind = reader_kind(kind, config)
    if kind == "extractive":
        return None
    if kind == "openai":
        if not config.url:
            raise LLMError("NEWSQA_READER=openai needs NEWSQA_LLM_URL (and NEWSQA_LLM_MODEL, NEWSQA_LLM_KEY)")
        key = ("openai", config.url, config.model)
    else:
        try:
            path = reader_model.model_path()
        except reader_model.ReaderModelError as e:
            raise LLMError(str(e)) from e
        key = ("local", str(path))
    with _loading:
        if key not in _loaded:
            if kind == "openai":
                _loaded[key] = OpenAIChat(config.url, config.model, config.key or None, sha256=config.sha256)
            else:
                _loaded[key] = llm_process.ProcessLlama(key[1], reader_model.expected_sha256())
        return _loaded[key]
