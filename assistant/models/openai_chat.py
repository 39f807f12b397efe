"""The reader through any OpenAI-compatible endpoint (llama.cpp's server, vLLM, a hosted API): an `LLM` backend."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence

from assistant.models.chat_format import chatml, gbnf
from assistant.models.llm import Choice, LLMError, Message, ModelInfo


class OpenAIChat:
    """Any OpenAI-compatible endpoint (llama.cpp's server, vLLM, a hosted API) through the `openai` client."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 sha256: str = "") -> None:
        try:
            from openai import OpenAI
        except ImportError as e:
            raise LLMError("the openai package is not installed; run: make install") from e
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=1)
        self.model = model
        self.info = ModelInfo(model, sha256, "openai")
        self.lock = threading.Lock()

    def warm(self, prefix: Sequence[Message]) -> None:
        """Nothing to do: an endpoint keeps its own cache, if any."""

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
