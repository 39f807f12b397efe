"""Fresh-build throughput: passages/s of `build_index` per sentence-vector method and precision, same run.

Each method builds the same corpus from an empty embedding cache (a fresh build),
one after the other, so both see the same machine load. Wall seconds drift with
whoever shares the CPUs; this process's CPU seconds drift much less, so both are
reported, and the speed-up of pooled over separate is the ratio of the two builds.
"bf16" is the shipped build with its passages in bf16 (NEWSQA_PRECISION=bf16: torch autocast,
precision.py) against "separate", the same build in fp32; the run also records what `auto`
picks here and the calibration behind it.
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


# Each configuration: (sentence vectors, texts embedded longest first and once, precision). "baseline"
# is the build as it was before this section existed: separate sentences, in build order, duplicates too.
CONFIGS = {"baseline": ("separate", False, "fp32"), "separate": ("separate", True, "fp32"),
           "pooled": ("pooled", True, "fp32"), "bf16": ("separate", True, "bf16")}


def fresh_build(articles_dir: Path, embedder: object, config: str) -> dict:
    """One build of `articles_dir` into a temp dir with an empty cache, and its figures."""
    from assistant.index.build import build_index
    from assistant.models import embedding

    method, length_sorted, _ = CONFIGS[config]
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
            "precision": getattr(embedder, "precision", "fp32"), "texts_embedded": report.embedded,
            "texts_per_s": round(report.embedded / max(report.seconds, 1e-9), 1),
            "articles": report.articles, "passages": report.passages,
            "sentences": report.sentences, "skipped": len(report.skipped), "seconds": round(report.seconds, 2),
            "cpu_seconds": round(cpu, 2), "passages_per_s": round(report.passages_per_s, 1),
            "passages_per_cpu_s": round(report.passages / max(cpu, 1e-9), 1)}


def eval_method(articles_dir: Path, embedder: object, method: str) -> dict:
    """The shipped method's recall@1/@5 per language and abstention on each eval half, for one method."""
    import dataclasses

    from assistant.evaluation.evaluate import SHIPPED, load_questions, run_eval
    from assistant.index.build import build_index
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    from ..settings import Settings

    with tempfile.TemporaryDirectory(prefix="newsqa-bench-eval-") as tmp:
        build_index(articles_dir, Path(tmp), embedder=embedder, progress=False, sentence_vectors=method)
        settings = dataclasses.replace(Settings.from_env(), sentence_vectors=method)  # an argument, not the env
        result = run_eval(Assistant(Retriever.load(Path(tmp), embedder=embedder, settings=settings)),
                          load_questions(), [SHIPPED])
    out = {}
    for split, part in result["splits"].items():
        ab = part["abstention"]
        out[split] = {lang: [s["recall@1"], s["recall@5"]] for lang, s in part["methods"][SHIPPED].items()}
        out[split]["abstention"] = {"precision": ab["precision"], "recall": ab["recall"],
                                    "false_abstentions": ab["false_abstentions"]}
    return out


def bench_build(articles_dir: Path, corpus: str, embedder: object, *, configs: tuple[str, ...] = tuple(CONFIGS),
                quality: bool = True, log=print, bf16_embedder: object | None = None) -> dict:  # noqa: ANN001
    """Each configuration's fresh build, one after the other; `bf16_embedder` builds the bf16 one."""
    out: dict = {"corpus": corpus, "baseline_is": "separate sentence vectors, texts in build order (before)",
                 "target_passages_per_s": TARGET_PASSAGES_PER_S}
    models = {"fp32": embedder, "bf16": bf16_embedder}
    configs = tuple(c for c in configs if models[CONFIGS[c][2]] is not None)
    for model in dict.fromkeys(models[CONFIGS[c][2]] for c in configs):
        model.embed_passages(["warm-up"])
    from assistant.ingest import korean

    korean.kiwi()  # loaded once per process, not part of a build's cost
    for config in configs:
        log(f"build: fresh build of {corpus}, {config}")
        out[config] = fresh_build(articles_dir, models[CONFIGS[config][2]], config)
    for config in configs:
        for base_name, prefix in (("baseline", ""), ("separate", "fp32_")):
            base, new = out.get(base_name), out[config]
            if base is None or config == base_name or (prefix and config != "bf16"):
                continue
            new[f"{prefix}speedup"] = round(base["seconds"] / max(new["seconds"], 1e-9), 2)
            new[f"{prefix}cpu_speedup"] = round(base["cpu_seconds"] / max(new["cpu_seconds"], 1e-9), 2)
    if quality:  # vectors, not speed, decide quality: one eval per sentence-vector method and precision
        out["eval"] = {}
        for method, precision in dict.fromkeys(CONFIGS[c][::2] for c in configs):
            name = method if precision == "fp32" else f"{method} {precision}"
            log(f"build: eval of an index of the shipped articles with {name} sentence vectors")
            out["eval"][name] = eval_method(Path(__file__).resolve().parents[2] / "articles", models[precision],
                                            method)
    return out


def auto_choice(log=print) -> dict:  # noqa: ANN001
    """What NEWSQA_PRECISION=auto picks on this machine, with its calibration's texts/s."""
    from assistant.models import precision
    from assistant.models.embedding import Embedder

    log("build: NEWSQA_PRECISION=auto on this machine (calibrates where the CPU has bf16 units)")
    choice = Embedder(precision="auto").precision_choice
    caps = precision.detect()
    return {"bf16_units": caps.bf16_units, "torch_capability": caps.torch_capability,
            "choice": choice.precision, "reason": choice.reason,
            "calibration": None if choice.timing is None else {
                "fp32_texts_per_s": choice.timing.fp32_texts_per_s,
                "bf16_texts_per_s": choice.timing.bf16_texts_per_s, "speedup": round(choice.timing.speedup, 2)}}


def measure(ctx: Context) -> dict:
    from assistant.ingest import datasets
    from assistant.models.embedding import Embedder

    configs = tuple(ctx.build_configs or CONFIGS)
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        raise ValueError(f"unknown build config(s) {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    embedder = ctx.shared.setdefault("embedder_fp32", Embedder(precision="fp32"))
    bf16 = Embedder(precision="bf16") if "bf16" in configs else None  # ONNX queries, torch bf16 passages
    corpus = ctx.build_corpus or "articles"
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-corpus-") as tmp:
        articles = ctx.articles_dir if corpus == "articles" else datasets.build_corpus(corpus, Path(tmp) / "a")
        out = bench_build(articles, corpus, embedder, configs=configs, quality=not ctx.quick, log=ctx.log,
                          bf16_embedder=bf16)
    out["auto"] = auto_choice(ctx.log)
    return {"build": out}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "build" not in result:
        return []
    b = result["build"]
    rows = [[c, b[c]["method"], b[c]["length_sorted"], b[c].get("precision", "fp32"), b[c]["passages"],
             b[c]["seconds"], b[c]["cpu_seconds"], b[c]["passages_per_s"], b[c].get("texts_per_s"),
             b[c]["passages_per_cpu_s"], b[c].get("speedup"), b[c].get("cpu_speedup"), b[c].get("fp32_speedup")]
            for c in CONFIGS if c in b]
    parts = [f"\nFresh build of {b['corpus']} (baseline: {b['baseline_is']})",
             tabulate(rows, headers=["build", "sentence vectors", "sorted", "precision", "passages", "wall s",
                                     "CPU s", "passages/s", "texts/s", "passages/CPU s", "x wall", "x CPU",
                                     "bf16 x fp32 wall"])]
    if "auto" in b:
        a = b["auto"]
        parts.append(f"NEWSQA_PRECISION=auto picks {a['choice']}: {a['reason']}")
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
