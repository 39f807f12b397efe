"""The reader's language model as one small protocol, and the types it speaks: nothing here knows a backend.

Like simonw's `llm`, the seam is a protocol and each backend is a module of its own that implements it:
`llm_process.py` (a local GGUF run by llama.cpp in a child process, so native code that crashes or hangs
costs one answer, not the server) and `openai_chat.py` (any OpenAI-compatible endpoint). `readers.py` is
the small registry that picks and loads one. What to ask lives in `reading/reader.py`; the chat format
both backends write lives in `chat_format.py`. A contract in pyproject.toml keeps this module from
importing any backend, so the seam has no cycle.

One model per process: each backend has one `lock`, which the caller holds for a
whole exchange, since a llama.cpp context decodes one sequence at a time.
"""

from __future__ import annotations

import threading
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
    """A reader model: choose one option verbatim, or stream a reply; one exchange at a time under `lock`."""

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

    def warm(self, prefix: Sequence[Message]) -> None:
        """Evaluate the turns every request starts with while nobody waits (a no-op where the backend keeps no
        state between requests)."""
        ...
