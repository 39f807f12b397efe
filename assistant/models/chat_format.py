"""Qwen2.5's chat format (ChatML) and a llama.cpp grammar: the prompt text both reader backends send."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.models.llm import Message


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
