"""The reader's language models behind one small interface: a local GGUF, or any OpenAI-compatible endpoint.

Like the model plugins of simonw's `llm`, each backend only knows how to turn chat
messages into text: `stream()` yields the reply piece by piece, and `yes_probability()`
reads the model's probability that its one-word reply is "yes" from the logits or
logprobs. Prompting, deciding and verifying live in `reader.py`.

One model per process: each backend has one `lock`, which the caller holds for a
whole exchange (decision, then answer), since a llama.cpp context decodes one
sequence at a time and the answer reuses the decision's cached prompt.
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


class LLM(Protocol):
    info: ModelInfo

    lock: threading.Lock  # held by the caller for a whole exchange: one sequence at a time

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               ban: str = "") -> Iterator[str]:
        """The reply to `messages`, piece by piece (greedy), never starting a word with `ban`'s first token;
        LLMError once time.monotonic() passes `deadline`."""
        ...

    def first_token_probability(self, messages: Sequence[Message], word: str) -> float:
        """P(the reply starts with `word`): the model's own confidence, for calibrated decisions."""
        ...

    def prompt_tokens(self, messages: Sequence[Message]) -> int: ...


def chatml(messages: Sequence[Message], reply_prefix: str = "") -> str:
    """Qwen2.5's chat format, written out so the prompt is exactly what was measured."""
    return _turns(messages) + "<|im_start|>assistant\n" + reply_prefix


def _turns(messages: Sequence[Message]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


class LocalLlama:
    """A GGUF run in-process by llama.cpp (llama-cpp-python), checked by its sha256 before loading."""

    def __init__(self, path: str | os.PathLike, sha256: str, *, n_ctx: int = 2048, threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMError("llama-cpp-python is not installed; run: make install") from e
        self.info = ModelInfo(os.path.basename(str(path)).removesuffix(".gguf"), sha256, "llama.cpp")
        self.lock = threading.Lock()
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count() or 2,
                              n_batch=512, verbose=False, seed=0)
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMError(f"llama.cpp could not load {path}: {e}") from e

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._llm.tokenize(chatml(messages).encode(), add_bos=False, special=True))

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               ban: str = "") -> Iterator[str]:
        bias = {t: -100.0 for t in self._first_tokens(ban)} if ban else None
        try:
            pieces = self._llm.create_completion(chatml(messages), max_tokens=max_tokens, temperature=0.0,
                                                 top_k=1, stream=True, stop=["<|im_end|>", "<|endoftext|>"],
                                                 logit_bias=bias)
            for chunk in pieces:
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMError("the reader ran over its time budget")
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
        except (RuntimeError, ValueError) as e:
            raise LLMError(f"llama.cpp failed: {_one_line(e)}") from e

    def _first_tokens(self, word: str) -> list[int]:
        """The ids a reply starting with `word` could begin with (with and without a leading space)."""
        ids = {self._llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in (word, " " + word)}
        return sorted(ids)

    def first_token_probability(self, messages: Sequence[Message], word: str) -> float:
        import numpy as np

        llm = self._llm
        tokens = llm.tokenize(chatml(messages).encode(), add_bos=False, special=True)
        # Keep the KV cache of the system prompt only, never more: evaluating the rest in one batch from the
        # same state makes the answer the same whichever question came before (a longer reused prefix
        # changes the batch, hence the floating-point sums, hence at times a greedy choice). Leave the state
        # where stream() on the same messages picks up without evaluating the prompt again.
        system = len(llm.tokenize(_turns(messages[:-1]).encode(), add_bos=False, special=True))
        keep = min(llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens), system,
                   len(tokens) - 1)
        llm.n_tokens = keep
        try:
            llm.eval(tokens[keep:])
        except RuntimeError as e:
            raise LLMError(f"llama.cpp failed: {_one_line(e)}") from e
        # Only the last position's logits are kept (logits_all=False): read them from the context.
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return float(sum(probs[t] for t in self._first_tokens(word)))


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

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"]) for m in messages) // 3  # an estimate: the server tokenises

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               ban: str = "") -> Iterator[str]:
        import openai

        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=list(messages), max_tokens=max_tokens, temperature=0.0, stream=True)
            for chunk in chunks:
                if deadline is not None and time.monotonic() > deadline:
                    raise LLMError("the reader ran over its time budget")
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.OpenAIError as e:
            raise LLMError(f"the reader endpoint failed: {_one_line(e)}") from e

    def first_token_probability(self, messages: Sequence[Message], word: str) -> float:
        import openai

        try:
            r = self._client.chat.completions.create(
                model=self.model, messages=list(messages), max_tokens=1, temperature=0.0, logprobs=True,
                top_logprobs=10)
        except openai.OpenAIError as e:
            raise LLMError(f"the reader endpoint failed: {_one_line(e)}") from e
        choice = r.choices[0]
        if choice.logprobs and choice.logprobs.content:
            top = choice.logprobs.content[0].top_logprobs or []
            return float(sum(math.exp(t.logprob) for t in top if t.token.strip() and
                             word.startswith(t.token.strip())))
        return 1.0 if (choice.message.content or "").strip().startswith(word[:2]) else 0.0


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
    from . import reader_model

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
                _loaded[key] = LocalLlama(key[1], reader_model.expected_sha256())
        return _loaded[key]
