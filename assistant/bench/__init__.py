"""`python -m assistant bench [--quick] [--json] [--sections ...]`: where the time goes, each figure against a baseline.

One module per thing measured, all in the same run on this machine:

- startup (cold): a fresh process running `Assistant.load()`, split into imports,
  index load, model load and Kiwi;
- query: p50/p95 of each stage of `ask()` on the default index, against the plain
  `SentenceTransformer.encode` query path;
- scale: exact FAISS, HNSW and numpy at 10k / 100k / 1M synthetic vectors, and BM25;
- embed: passages/s of e5 under torch and ONNX Runtime (fp32, int8), and USE;
- build: fresh-build passages/s with separate and pooled sentence vectors, in fp32 and bf16,
  and the eval of each (`--build-corpus libreoffice-help-ko` for a real corpus of ~1,500 passages;
  `--build-configs separate,bf16` for only the precision comparison).

A new section is a module with a `SECTION` (common.Section) and a line in SECTIONS.
Benchmarks are not tests: nothing here asserts a speed. The figures the project
targets are checked and printed under "targets".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant import env_settings as environment

from . import build, embed, query, scale, startup
from .common import Context, Section, machine, percentiles, rss_mb, time_calls
from .embed import bench_embed, corpus_texts, eval_recall, throughput
from .query import bench_query
from .scale import (
    DIM,
    EF_SWEEP,
    FULL_SIZES,
    QUICK_SIZES,
    RECALL_TARGET,
    Mixture,
    bench_scale,
    cluster_count,
    data_stats,
    hangul_vocab,
    synthetic_passages,
)
from .startup import bench_cold_start

# In the order they run: cold start first, while this process is small and idle.
SECTIONS: list[Section] = [startup.SECTION, query.SECTION, scale.SECTION, embed.SECTION, build.SECTION]
DEFAULT_SECTIONS = ("cold", "query", "scale", "embed", "build")
# The targets this benchmark reports on (docs/scaling.md explains each).
TARGETS = {
    "approx_speedup_vs_numpy_at_100k": 20.0,
    "approx_recall@10": RECALL_TARGET,
    "approx_p50_ms_at_1m": 10.0,
    "index_gib_at_1m": 2.0,
    "ask_p50_ms": 60.0,
    "cold_start_s": 6.0,
    "build_passages_per_s": build.TARGET_PASSAGES_PER_S,
}

__all__ = ["DIM", "EF_SWEEP", "FULL_SIZES", "QUICK_SIZES", "SECTIONS", "TARGETS", "Context", "Mixture", "Section",
           "bench_build", "bench_cold_start", "bench_embed", "bench_query", "bench_scale", "check_targets",
           "cluster_count", "corpus_texts", "data_stats", "eval_recall", "hangul_vocab", "machine", "percentiles",
           "render", "rss_mb", "run", "run_cli", "synthetic_passages", "throughput", "time_calls"]
bench_build = build.bench_build


def run(*, quick: bool, index_dir: Path | None = None, sizes: Sequence[int] | None = None,
        sections: Sequence[str] = DEFAULT_SECTIONS, n_queries: int = 200, max_seconds: float = 4.0,
        build_corpus: str | None = None, build_configs: Sequence[str] = (),
        log: Callable[[str], None] | None = None) -> dict:
    """Every section asked for, as one JSON-ready dict."""
    from ..settings import default_articles_dir, default_index_dir

    unknown = sorted(set(sections) - {s.name for s in SECTIONS})
    if unknown:
        raise ValueError(f"unknown bench section(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(s.name for s in SECTIONS)}")
    ctx = Context(quick=quick, index_dir=Path(index_dir) if index_dir else default_index_dir(),
                  articles_dir=default_articles_dir(),
                  log=log or (lambda msg: print(msg, file=sys.stderr, flush=True)),
                  sizes=sizes or (QUICK_SIZES if quick else FULL_SIZES), n_queries=n_queries,
                  max_seconds=max_seconds, build_corpus=build_corpus, build_configs=build_configs)
    t0 = time.perf_counter()
    result: dict = {"machine": machine(), "quick": quick}
    for section in SECTIONS:
        if section.name in sections:
            result.update(section.measure(ctx))
    result["targets"] = check_targets(result)
    result["machine"]["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def check_targets(result: dict) -> dict:
    """Each target the issues set, the measured figure, and whether it was met (None: not measured)."""
    sc = result.get("scale", {})
    at100k, at1m = sc.get("100000", {}), sc.get("1000000", {})
    fastest = result.get("build", {}).get("separate", {}).get("passages_per_s")  # the default build
    checks = {
        "100k: approx >= 20x faster than numpy": (at100k.get("approx_speedup_vs_numpy"),
                                                  lambda v: v >= TARGETS["approx_speedup_vs_numpy_at_100k"]),
        "100k: approx recall@10 >= 0.95": (at100k.get("approx_recall@10"), lambda v: v >= RECALL_TARGET),
        "1M: approx p50 <= 10 ms": (at1m.get("approx_p50_ms"), lambda v: v <= TARGETS["approx_p50_ms_at_1m"]),
        "1M: approx recall@10 >= 0.95": (at1m.get("approx_recall@10"), lambda v: v >= RECALL_TARGET),
        "1M: index <= 2 GiB": (round(at1m["approx_index_mb"] / 1024, 3) if at1m else None,
                               lambda v: v <= TARGETS["index_gib_at_1m"]),
        "ask() p50 <= 60 ms": (result.get("query", {}).get("ask_p50_ms"), lambda v: v <= TARGETS["ask_p50_ms"]),
        "cold start <= 6 s": (result.get("cold_start_s"), lambda v: v <= TARGETS["cold_start_s"]),
        "fresh build (default) >= 25 passages/s": (fastest, lambda v: v >= TARGETS["build_passages_per_s"]),
    }
    return {name: {"value": v, "met": None if v is None else bool(ok(v))} for name, (v, ok) in checks.items()}


def render(result: dict) -> str:
    """Readable tables of the same figures --json prints."""
    from tabulate import tabulate

    parts = [f"machine: {json.dumps(result['machine'])}"]
    cold = next(s for s in SECTIONS if s.name == "cold")
    for section in [*(s for s in SECTIONS if s is not cold), cold]:  # the cold start reads best last
        parts += section.render(result)
    rows = [[name, t["value"], {True: "met", False: "MISSED", None: "-"}[t["met"]]]
            for name, t in result["targets"].items()]
    parts += ["\nTargets", tabulate(rows, headers=["target", "measured", ""]), f"\n{result['seconds']} s"]
    return "\n".join(parts)


def run_cli(args: argparse.Namespace) -> int:
    quiet = getattr(args, "json", False)
    log = (lambda msg: None) if quiet and not environment.value("NEWSQA_BENCH_VERBOSE") else None
    sections = getattr(args, "sections", None)
    sections = [s.strip() for s in sections.split(",") if s.strip()] if sections else DEFAULT_SECTIONS
    result = run(quick=args.quick, index_dir=args.index, log=log, sections=sections,
                 build_corpus=getattr(args, "build_corpus", None),
                 build_configs=[c for c in (getattr(args, "build_configs", None) or "").split(",") if c])
    print(json.dumps(result, ensure_ascii=False) if args.json else render(result))
    return 0
