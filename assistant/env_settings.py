"""Settings from the environment, read in one place (the leaf half of settings: settings.py is the other): every
variable this package reads is declared here, with what it sets.

`Settings.from_env()` (settings.py) is how the package is configured: it reads its groups (reader, store,
runtime) through this module and hands the values to constructors as arguments. Code below the settings
layer (models, index, ingest) may not import settings, yet a few of its public functions default to the
environment when a caller passes nothing (`Embedder()` in a test, the Ray worker, `precision.requested()`);
they read through `value()` and `cache_root()` here too, so each variable has one reader and one meaning.
Like errors.py this is a leaf: it imports nothing of the package (a contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path

VARIABLES: dict[str, str] = {
    "NEWSQA_INDEX": "the index directory",
    "NEWSQA_ARTICLES": "the articles directory",
    "NEWSQA_CACHE": "the cache root: converted models, ONNX exports, the reader's GGUF, datasets",
    "NEWSQA_THREADS": "threads for the embedder's runtime (default: the CPUs this process may use)",
    "NEWSQA_MODEL": "the embedding model",
    "NEWSQA_BACKEND": "the embedder's runtime: onnx or torch",
    "NEWSQA_PRECISION": "the embedder's precision: auto, fp32 or bf16",
    "NEWSQA_SENTENCE_VECTORS": "sentence vectors: pooled or separate",
    "NEWSQA_CHUNK_SIZE": "passage size in characters",
    "NEWSQA_CHUNK_OVERLAP": "passage overlap in characters",
    "NEWSQA_STORE": "faiss, milvus:./file.db or a Milvus URI",
    "NEWSQA_MILVUS_COLLECTION": "the Milvus alias of the index",
    "NEWSQA_MILVUS_TOKEN": "a Milvus server's token",
    "NEWSQA_READER": "local, openai or extractive",
    "NEWSQA_READER_MODEL": "a GGUF to read with instead of the one assembled from the wheels",
    "NEWSQA_READER_SHA256": "the hash NEWSQA_READER_MODEL must have",
    "NEWSQA_READER_DEPTH": "top passages the reader sees",
    "NEWSQA_READER_TIMEOUT": "the reader's time budget per answer, in seconds",
    "NEWSQA_LLAMA_BUILD": "auto, or portable to skip the x86-64-v4 llama.cpp build",
    "NEWSQA_LLM_URL": "an OpenAI-compatible endpoint for the openai reader",
    "NEWSQA_LLM_MODEL": "the endpoint's model name",
    "NEWSQA_LLM_KEY": "the endpoint's API key",
    "NEWSQA_LLM_SHA256": "the endpoint model's hash, shown with its answers",
    "NEWSQA_PERIOD_BOOST": "how much a period named in the question lifts its articles",
    "NEWSQA_FETCH_DELAY": "seconds between two requests to the same host (feeds and pages)",
    "NEWSQA_FETCH_TIMEOUT": "a feed's or page's response time limit, in seconds",
    "NEWSQA_MCP_TOKEN": "the bearer token the MCP server's HTTP transport requires (writes, or a non-loopback host)",
    "NEWSQA_MCP_RATE": "MCP HTTP requests per minute per client address",
    "NEWSQA_BENCH_VERBOSE": "print the benchmark's progress even with --quiet",
    "RAY_ADDRESS": "Ray's own: the cluster to embed on",
}


class Choice(StrEnum):
    """A setting with a fixed set of values (a method, a reader, a store kind): parsed case-blind, and a wrong
    value's error names the choices."""

    @classmethod
    def parse(cls, value: object) -> Choice:
        text = str(value).strip().lower()
        for member in cls:
            if member.value == text:
                return member
        what = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()  # ReaderKind -> "reader kind"
        raise ValueError(f"Unknown {what} {value!r}; choose one of {', '.join(m.value for m in cls)}.")


def value(name: str, default: str = "") -> str:
    """A declared variable's value, stripped ("" or `default` when unset); an undeclared name is a KeyError."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a declared setting (environment.VARIABLES)")
    return os.environ.get(name, "").strip() or default


def cache_root() -> Path:
    """Where the package keeps what it converts or downloads once: NEWSQA_CACHE, else ~/.cache/news-qa."""
    env = value("NEWSQA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "news-qa"


def threads() -> int:
    """Threads for a native runtime: NEWSQA_THREADS, else every CPU this process may run on."""
    return int(value("NEWSQA_THREADS") or 0) or len(os.sched_getaffinity(0))


def configure_libraries() -> None:
    """Defaults third-party libraries read at import: passive OpenMP waits (with spinning threads a query took
    700+ ms instead of 15 ms whenever another process held one of the two cores), no model hub, no tokenizer
    threads. Each is a default: a value the user set wins."""
    for name, default in (("OMP_WAIT_POLICY", "PASSIVE"), ("HF_HUB_OFFLINE", "1"),
                          ("TOKENIZERS_PARALLELISM", "false"), ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")):
        os.environ.setdefault(name, default)
