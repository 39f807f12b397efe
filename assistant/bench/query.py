"""The query path on the real index: p50/p95 of each stage of `ask()`.

Query embedding, dense search, BM25, fusion, answer extraction and the whole ask,
against `ask()` with the plain `SentenceTransformer.encode` query path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from .common import Context, Section, percentiles


def bench_query(assistant: object, questions: Sequence[str], *, baseline_embedder: object | None = None,
                max_seconds: float = 20.0) -> dict:
    """Per-stage p50/p95 of ask() over the eval questions, and ask() on the plain encode path."""
    from assistant.reading import quotes as quoting
    from assistant.search.retriever import clean_question

    r = assistant.retriever
    emb = r.embedder
    depth = max(r.settings.candidates, 5)
    stages: dict[str, list[float]] = {s: [] for s in ("embed", "dense", "bm25", "fusion", "answer", "ask")}

    def clock(stage: str, fn: Callable[[], object]) -> object:
        t = time.perf_counter()
        result = fn()
        stages[stage].append((time.perf_counter() - t) * 1000)
        return result

    for q in list(questions)[:3]:  # warm up: Kiwi, FAISS, torch kernels
        assistant.ask(q)
    start = time.perf_counter()
    for q in questions:
        text, _ = clean_question(q, r.settings.max_question_chars)
        qtext, _ = emb.truncate(text)
        qvec = clock("embed", lambda qtext=qtext: emb.embed_queries([qtext])[0])
        dense_ids, _ = clock("dense", lambda qvec=qvec: r._dense(r.index, qvec, depth))
        lex_ids, _ = clock("bm25", lambda text=text: r.index.lexical.search(text, depth))
        clock("fusion", lambda d=dense_ids, lx=lex_ids: r._fuse(list(map(int, d)), list(map(int, lx))))
        hits = r.search(text, k=5)
        clock("answer", lambda qvec=qvec, hits=hits: quoting.pick(r.index, qvec, hits, assistant.settings))
        r._query_cache.clear()
        clock("ask", lambda q=q: assistant.ask(q))
        if time.perf_counter() - start > max_seconds:
            break
    out = {f"{s}_{p}_ms": v for s, lat in stages.items() for p, v in percentiles(lat).items()}
    out["questions"] = len(stages["ask"])
    out["embedder"] = f"{getattr(emb, 'name', type(emb).__name__)} ({getattr(emb, 'backend', '?')})"
    if baseline_embedder is not None:
        out.update(_ask_baseline(assistant, questions[: len(stages["ask"])], baseline_embedder))
    return out


def _ask_baseline(assistant: object, questions: Sequence[str], torch_embedder: object) -> dict:
    """ask() with queries embedded by SentenceTransformer.encode, as before the fast paths."""
    r = assistant.retriever
    model = torch_embedder.model
    prompt = torch_embedder._query_prompt

    def slow(texts: Sequence[str]) -> np.ndarray:
        return model.encode(list(texts), prompt_name=prompt, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False, batch_size=32).astype(np.float32)

    original = r.embedder
    embed_ms, ask_ms = [], []
    try:
        r.embedder = _Shim(torch_embedder, slow)
        for q in questions[:2]:
            r._query_cache.clear()
            assistant.ask(q)
        for q in questions:
            t = time.perf_counter()
            slow([q])
            embed_ms.append((time.perf_counter() - t) * 1000)
            r._query_cache.clear()
            t = time.perf_counter()
            assistant.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
    finally:
        r.embedder = original
        r._query_cache.clear()
    e, a = percentiles(embed_ms), percentiles(ask_ms)
    return {"baseline": "SentenceTransformer.encode query path (torch fp32)",
            "embed_baseline_p50_ms": e["p50"], "embed_baseline_p95_ms": e["p95"],
            "ask_baseline_p50_ms": a["p50"], "ask_baseline_p95_ms": a["p95"]}


class _Shim:
    """An embedder whose queries go through another function (the baseline path)."""

    def __init__(self, inner: object, embed_queries: Callable[[Sequence[str]], np.ndarray]) -> None:
        self._inner = inner
        self.embed_queries = embed_queries

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def measure(ctx: Context) -> dict:
    from assistant.evaluation.evaluate import DEFAULT_QUESTIONS, load_questions
    from assistant.reading.answer import Assistant

    ctx.log(f"query: loading the assistant on {ctx.index_dir}")
    assistant = Assistant.load(ctx.index_dir)
    emb = assistant.retriever.embedder
    if emb.backend == "torch" and emb.precision_request == "fp32":  # the torch fp32 Embedder: share it
        ctx.shared["torch_embedder"] = assistant.retriever.embedder
    questions = [q.question for q in load_questions(DEFAULT_QUESTIONS)]
    return {"query": bench_query(assistant, questions, baseline_embedder=ctx.torch_embedder(),
                                 max_seconds=8.0 if ctx.quick else 60.0)}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "query" not in result:
        return []
    q = result["query"]
    stages = ("embed", "dense", "bm25", "fusion", "answer", "ask")
    rows = [[s, q.get(f"{s}_p50_ms"), q.get(f"{s}_p95_ms")] for s in stages]
    if "ask_baseline_p50_ms" in q:
        rows += [["embed (baseline: ST.encode)", q["embed_baseline_p50_ms"], q["embed_baseline_p95_ms"]],
                 ["ask (baseline: ST.encode)", q["ask_baseline_p50_ms"], q["ask_baseline_p95_ms"]]]
    return [f"\nQuery path ({q.get('questions')} eval questions, {q.get('embedder')})",
            tabulate(rows, headers=["stage", "p50 ms", "p95 ms"])]


SECTION = Section("query", "p50/p95 of each stage of ask() on the default index", measure, render)
