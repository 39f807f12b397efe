"""The reader's language models behind one small interface: a local GGUF, or any OpenAI-compatible endpoint.

Like the model plugins of simonw's `llm`, each backend only knows how to turn chat
messages into a choice or a line of text: `choose()` picks one of the given options
verbatim (greedy decoding restricted to them), `stream()` yields a reply piece by piece.
What to ask lives in `reader.py`; the local model runs in a child process
(`llm_process.py`), so native code that crashes or hangs costs one answer, not the server.

One model per process: each backend has one `lock`, which the caller holds for a
whole exchange, since a llama.cpp context decodes one sequence at a time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

Message = dict[str, str]


class LLMError(Exception):
    """The model could not be loaded or did not answer; the caller falls back to the extractive answer."""


@dataclass(frozen=True)
class ModelInfo:
    """Which reader answered: shown in `Answer.reader` and the UI."""

    name: str
    sha256: str
    backend: str  # "llama.cpp" | "openai"


@dataclass(frozen=True)
class Choice:
    """The option the model picked, and how it leaned at the first step (one probability per option)."""

    index: int
    p_first: tuple[float, ...]
    new_tokens: int = 0  # prompt tokens evaluated beyond the cached prefix (0 when the backend can't say)
    logprob: float = 0.0  # the chosen option's log-probability among the options (0 when the backend can't say)
    gap: float = 0.0  # the narrowest fork: log-probability of the token taken over the runner-up's


class LLM(Protocol):
    info: ModelInfo

    lock: threading.Lock  # held by the caller for a whole exchange: one sequence at a time

    def choose(self, messages: Sequence[Message], options: Sequence[str], deadline: float | None = None) -> Choice:
        """The reply to `messages`, restricted to one of `options` verbatim; LLMError past `deadline`."""
        ...

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               one_line: bool = True) -> Iterator[str]:
        """The reply to `messages` (its first line only, by default), piece by piece (greedy); LLMError past
        `deadline` (time.monotonic())."""
        ...


def chatml(messages: Sequence[Message], reply_prefix: str = "") -> str:
    """Qwen2.5's chat format, written out so the prompt is exactly what was measured."""
    return _turns(messages) + "<|im_start|>assistant\n" + reply_prefix


def system_prefix(messages: Sequence[Message]) -> str:
    """The unchanging turns before the question, whose KV cache the local model keeps between questions."""
    return _turns(messages[:-1])


def _turns(messages: Sequence[Message]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def gbnf(options: Sequence[str]) -> str:
    """A llama.cpp grammar whose only sentences are the options, for endpoints that take one."""
    def lit(o: str) -> str:
        return '"' + o.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return "root ::= " + " | ".join(lit(o) for o in options)


class OpenAIChat:
    """Any OpenAI-compatible endpoint (llama.cpp's server, vLLM, a hosted API) through the `openai` client."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        try:
            from openai import OpenAI
        except ImportError as e:
            raise LLMError("the openai package is not installed; run: make install") from e
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=1)
        self.model = model
        self.info = ModelInfo(model, os.environ.get("NEWSQA_LLM_SHA256", ""), "openai")
        self.lock = threading.Lock()

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               one_line: bool = True) -> Iterator[str]:
        import openai

        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=list(messages), max_tokens=max_tokens, temperature=0.0, stream=True,
                stop=["\n"] if one_line else None)
            for chunk in chunks:
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMError("the reader ran over its time budget")
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.OpenAIError as e:
            raise LLMError(f"the reader endpoint failed: {_one_line(e)}") from e

    def choose(self, messages: Sequence[Message], options: Sequence[str], deadline: float | None = None) -> Choice:
        """The endpoint's reply under a grammar of the options (llama.cpp's servers honour `grammar`); an
        endpoint that ignores it is matched to the option its reply starts with, else refused."""
        import openai

        timeout = max(1.0, deadline - time.monotonic()) if deadline is not None else None
        request = {"model": self.model, "prompt": chatml(messages), "max_tokens": 64, "temperature": 0.0,
                   "stop": ["<|im_end|>", "\n"], "extra_body": {"grammar": gbnf(options)}, "timeout": timeout}
        try:
            try:
                r = self._client.completions.create(**request, logprobs=20)
            except (openai.BadRequestError, openai.InternalServerError):  # keeps no logits (llama.cpp without
                # logits_all): the choice alone, without its probabilities
                r = self._client.completions.create(**request)
        except openai.OpenAIError as e:
            raise LLMError(f"the reader endpoint failed: {_one_line(e)}") from e
        choice = r.choices[0]
        text = (choice.text or "").strip()
        matches = [i for i, o in enumerate(options) if o == text] or \
                  [i for i, o in enumerate(options) if text and o.startswith(text)]
        if not matches:
            raise LLMError(f"the reader endpoint replied outside the options: {text[:60]!r}")
        top = {}
        if choice.logprobs and choice.logprobs.top_logprobs:
            top = choice.logprobs.top_logprobs[0] or {}
        mass = [sum(math.exp(lp) for tok, lp in top.items() if tok and o.startswith(tok)) for o in options]
        total = sum(mass)
        p_first = tuple(m / total for m in mass) if total else tuple(float(i == matches[0]) for i in
                                                                     range(len(options)))
        return Choice(matches[0], p_first)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300]


READERS = ("local", "openai", "extractive")
_loaded: dict[tuple, LLM] = {}
_loading = threading.Lock()


def reader_kind(kind: str | None = None) -> str:
    """The reader to use: an explicit choice, else NEWSQA_READER, else an endpoint if one is set, else local."""
    kind = (kind or os.environ.get("NEWSQA_READER") or ("openai" if os.environ.get("NEWSQA_LLM_URL") else "local"))
    kind = kind.strip().lower()
    if kind not in READERS:
        raise ValueError(f"unknown reader {kind!r}; choose one of {', '.join(READERS)}")
    return kind


def load(kind: str | None = None) -> LLM | None:
    """The process's one model for `kind` (None for extractive), loaded once; LLMError says why it can't be."""
    from assistant.models import llm_process, reader_model

    kind = reader_kind(kind)
    if kind == "extractive":
        return None
    if kind == "openai":
        url = os.environ.get("NEWSQA_LLM_URL")
        if not url:
            raise LLMError("NEWSQA_READER=openai needs NEWSQA_LLM_URL (and NEWSQA_LLM_MODEL, NEWSQA_LLM_KEY)")
        key = ("openai", url, os.environ.get("NEWSQA_LLM_MODEL", "default"))
    else:
        try:
            path = reader_model.model_path()
        except reader_model.ReaderModelError as e:
            raise LLMError(str(e)) from e
        key = ("local", str(path))
    with _loading:
        if key not in _loaded:
            if kind == "openai":
                _loaded[key] = OpenAIChat(key[1], key[2], os.environ.get("NEWSQA_LLM_KEY"))
            else:
                _loaded[key] = llm_process.ProcessLlama(key[1], reader_model.expected_sha256())
        return _loaded[key]
