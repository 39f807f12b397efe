"""What every bench section shares: timing, memory, the machine the figures came from."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

K = 10


@dataclass(frozen=True)
class Section:
    """One part of the benchmark: adding one is a module with a SECTION and a line in SECTIONS.

    `measure` returns top-level keys of the JSON result; `render` turns the whole result
    into the section's lines of the text report (none when the section did not run).
    """

    name: str
    help: str
    measure: Callable[[Context], dict]
    render: Callable[[dict], list[str]]


@dataclass
class Context:
    """What a section may use: the run's options and the models already loaded by earlier sections."""

    quick: bool
    index_dir: Path
    articles_dir: Path
    log: Callable[[str], None]
    sizes: Sequence[int] = ()
    n_queries: int = 200
    max_seconds: float = 4.0
    build_corpus: str | None = None
    build_configs: Sequence[str] = ()  # the build section's configurations (default: all)
    shared: dict = field(default_factory=dict)

    def torch_embedder(self) -> object:
        """sentence-transformers on torch in fp32, loaded once per run (the baseline of several sections).

        fp32 always: under `auto` a CPU with bf16 units may embed passages in bf16 (precision.py)."""
        if "torch_embedder" not in self.shared:
            from assistant.models.embedding import Embedder

            self.shared["torch_embedder"] = Embedder(backend="torch", precision="fp32")
        return self.shared["torch_embedder"]


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 in milliseconds, rounded for reading."""
    if not len(samples_ms):
        return {"p50": float("nan"), "p95": float("nan")}
    a = np.asarray(samples_ms, dtype=np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


def time_calls(fn: Callable[[object], object], items: Sequence, *, max_seconds: float = 5.0,
               min_calls: int = 5, warmup: int = 2) -> list[float]:
    """Milliseconds per call of fn(item) over items (cycled), stopping early once max_seconds is spent."""
    for item in list(items)[:warmup]:
        fn(item)
    out: list[float] = []
    start = time.perf_counter()
    for i in range(len(items)):
        t = time.perf_counter()
        fn(items[i])
        out.append((time.perf_counter() - t) * 1000)
        if len(out) >= min_calls and time.perf_counter() - start > max_seconds:
            break
    return out


def rss_mb() -> float:
    """This process's resident memory now (psutil; what `top` shows as RES)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def machine() -> dict:
    """What the numbers were measured on; load average shows whether others shared the CPUs."""
    import platform

    import faiss

    return {
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "numpy": np.__version__,
    }
