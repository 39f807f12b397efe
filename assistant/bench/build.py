"""Fresh-build throughput: passages/s of `build_index` with each sentence-vector method, same run.

Each method builds the same corpus from an empty embedding cache (a fresh build),
one after the other, so both see the same machine load. Wall seconds drift with
whoever shares the CPUs; this process's CPU seconds drift much less, so both are
reported, and the speed-up of pooled over separate is the ratio of the two builds.
With `quick` off, each method's index is also scored on the eval questions (dev and
test halves, recall@1/@5 per language, abstention), since a faster build only counts
at equal quality.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .common import Context, Section

TARGET_PASSAGES_PER_S = 25.0


# Each configuration: (sentence vectors, texts embedded longest first and once). "baseline" is the
# build as it was before this section existed: separate sentences, in build order, duplicates too.
CONFIGS = {"baseline": ("separate", False), "separate": ("separate", True), "pooled": ("pooled", True)}


def fresh_build(articles_dir: Path, embedder: object, config: str) -> dict:
    """One build of `articles_dir` into a temp dir with an empty cache, and its figures."""
    from .. import embedding
    from ..index import build_index

    method, length_sorted = CONFIGS[config]
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-build-") as tmp:
        cpu = time.process_time()
        embedding.LENGTH_SORTED = length_sorted
        try:
            report = build_index(articles_dir, Path(tmp) / "index", embedder=embedder, progress=False,
                                 cache_dir=Path(tmp) / "cache", sentence_vectors=method)
        finally:
            embedding.LENGTH_SORTED = True
        cpu = time.process_time() - cpu
    return {"method": report.sentence_vectors, "length_sorted": length_sorted,
            "articles": report.articles, "passages": report.passages,
            "sentences": report.sentences, "skipped": len(report.skipped), "seconds": round(report.seconds, 2),
            "cpu_seconds": round(cpu, 2), "passages_per_s": round(report.passages_per_s, 1),
            "passages_per_cpu_s": round(report.passages / max(cpu, 1e-9), 1)}


def eval_method(articles_dir: Path, embedder: object, method: str) -> dict:
    """The shipped method's recall@1/@5 per language and abstention on each eval half, for one method."""
    import os

    from ..answer import Assistant
    from ..evaluate import SHIPPED, load_questions, run_eval
    from ..index import build_index
    from ..retriever import Retriever
    from ..settings import Settings

    with tempfile.TemporaryDirectory(prefix="newsqa-bench-eval-") as tmp:
        build_index(articles_dir, Path(tmp), embedder=embedder, progress=False, sentence_vectors=method)
        old = os.environ.get("NEWSQA_SENTENCE_VECTORS")
        os.environ["NEWSQA_SENTENCE_VECTORS"] = method
        try:
            result = run_eval(Assistant(Retriever.load(Path(tmp), embedder=embedder, settings=Settings())),
                              load_questions(), [SHIPPED])
        finally:
            os.environ.pop("NEWSQA_SENTENCE_VECTORS") if old is None else os.environ.update(
                NEWSQA_SENTENCE_VECTORS=old)
    out = {}
    for split, part in result["splits"].items():
        ab = part["abstention"]
        out[split] = {lang: [s["recall@1"], s["recall@5"]] for lang, s in part["methods"][SHIPPED].items()}
        out[split]["abstention"] = {"precision": ab["precision"], "recall": ab["recall"],
                                    "false_abstentions": ab["false_abstentions"]}
    return out


def bench_build(articles_dir: Path, corpus: str, embedder: object, *, configs: tuple[str, ...] = tuple(CONFIGS),
                quality: bool = True, log=print) -> dict:  # noqa: ANN001
    out: dict = {"corpus": corpus, "baseline_is": "separate sentence vectors, texts in build order (before)",
                 "target_passages_per_s": TARGET_PASSAGES_PER_S}
    embedder.embed_passages(["warm-up"])
    from .. import korean

    korean.kiwi()  # loaded once per process, not part of a build's cost
    for config in configs:
        log(f"build: fresh build of {corpus}, {config}")
        out[config] = fresh_build(articles_dir, embedder, config)
    for config in configs:
        if config != "baseline" and "baseline" in out:
            base, new = out["baseline"], out[config]
            out[config]["speedup"] = round(base["seconds"] / max(new["seconds"], 1e-9), 2)
            out[config]["cpu_speedup"] = round(base["cpu_seconds"] / max(new["cpu_seconds"], 1e-9), 2)
    if quality:  # vectors, not speed, decide quality: one eval per sentence-vector method
        out["eval"] = {}
        for method in dict.fromkeys(CONFIGS[c][0] for c in configs):
            log(f"build: eval of an index of the shipped articles with {method} sentence vectors")
            out["eval"][method] = eval_method(Path(__file__).resolve().parents[2] / "articles", embedder, method)
    return out


def measure(ctx: Context) -> dict:
    from .. import datasets
    from ..embedding import Embedder

    embedder = ctx.shared.setdefault("embedder", Embedder())
    corpus = ctx.build_corpus or "articles"
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-corpus-") as tmp:
        articles = ctx.articles_dir if corpus == "articles" else datasets.build_corpus(corpus, Path(tmp) / "a")
        return {"build": bench_build(articles, corpus, embedder, quality=not ctx.quick, log=ctx.log)}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "build" not in result:
        return []
    b = result["build"]
    rows = [[c, b[c]["method"], b[c]["length_sorted"], b[c]["passages"], b[c]["seconds"], b[c]["cpu_seconds"],
             b[c]["passages_per_s"], b[c]["passages_per_cpu_s"], b[c].get("speedup"), b[c].get("cpu_speedup")]
            for c in CONFIGS if c in b]
    parts = [f"\nFresh build of {b['corpus']} (baseline: {b['baseline_is']})",
             tabulate(rows, headers=["build", "sentence vectors", "sorted", "passages", "wall s", "CPU s",
                                     "passages/s", "passages/CPU s", "x wall", "x CPU"])]
    if "eval" in b:
        rows = []
        for m, splits in b["eval"].items():
            for split, by in splits.items():
                ab = by["abstention"]
                rows.append([m, split, *by.get("ko", ["-", "-"]), *by.get("en", ["-", "-"]),
                             f"{ab['precision']}/{ab['recall']}/{ab['false_abstentions']}"])
        parts += ["\nEval of each method (routed)", tabulate(rows, headers=[
            "sentence vectors", "half", "ko R@1", "ko R@5", "en R@1", "en R@5", "abstention P/R/false"])]
    return parts


SECTION = Section("build", "fresh-build passages/s with separate and pooled sentence vectors", measure, render)
