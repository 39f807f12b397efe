"""`python -m assistant bench --ray`: embedding throughput on one process and on Ray.

Three ways to embed the same texts (the shipped corpus's passages and sentences, repeated to
`n` texts, no cache), in the same run: one process (the ONNX runtime on every core, today's
build), one Ray node with one single-threaded worker per core, and two Ray nodes with one worker
each, both nodes on this machine over loopback (`ray.cluster_utils.Cluster`). They share the
machine's cores, so two nodes here measure Ray's overhead, not a speed-up; the projection for N
real nodes rests on the per-worker rate and the driver's own cost per batch, both measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BATCH = 64


def _texts(articles_dir: Path, n: int) -> list[str]:
    from assistant.ingest.chunking import ChunkSettings, embedding_text, split_articles
    from assistant.ingest.corpus import load_articles
    from assistant.ingest.korean import sentences

    articles, _ = load_articles(articles_dir)
    passages = split_articles(articles, ChunkSettings())
    base = [embedding_text(p, ChunkSettings()) for p in passages]
    base += [p.text[s:e] for p in passages for s, e in sentences(p.text)]
    texts = [f"{base[i % len(base)]} ({i})" for i in range(n)]  # distinct, so no side embeds one text twice
    return sorted(texts, key=len, reverse=True)  # the order RayEmbedding uses, so both sides pad alike


def _rate(fn: Callable[[], object], n: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    return round(n / seconds, 1), round(seconds, 1)


def bench_ray(articles_dir: Path, *, n: int = 512, log: Callable[[str], None] = print) -> dict:
    """texts/s for one process, one Ray node and two Ray nodes, plus the driver's cost per batch."""
    import ray
    from ray.cluster_utils import Cluster

    from assistant.index.distributed import RayEmbedding
    from assistant.models.embedding import Embedder, EmbeddingCache, embed_with_cache

    texts = _texts(articles_dir, n)
    cores = len(os.sched_getaffinity(0))
    embedder = Embedder()
    embedder.embed_passages(texts[:8])  # warm
    out: dict = {"texts": n, "batch": BATCH, "cores": cores, "load_start": os.getloadavg()[0]}
    log(f"ray bench: one process, {cores} threads")
    tmp = tempfile.TemporaryDirectory(prefix="newsqa-bench-ray-")  # a fresh cache per run: each writes it
    cache = EmbeddingCache(Path(tmp.name) / "one.sqlite")
    out["one_process"] = dict(zip(("texts_per_s", "seconds"),
                                  _rate(lambda: embed_with_cache(embedder, texts, cache, batch_size=BATCH), n)))
    cache.close()
    loopback = {"node_ip_address": "127.0.0.1"}
    for label, nodes in (("ray_one_node", [cores]), ("ray_two_nodes", [max(1, cores // 2)] * 2)):
        log(f"ray bench: {label} ({nodes} CPUs per node, one single-threaded worker per CPU)")
        cluster = Cluster(initialize_head=True, head_node_args=loopback | {"num_cpus": nodes[0],
                                                                             "include_dashboard": False})
        try:
            for cpus in nodes[1:]:
                cluster.add_node(num_cpus=cpus, **loopback)
            cluster.wait_for_nodes()
            with RayEmbedding(cluster.address, embedder.name) as r:
                r(embedder, texts[: BATCH * len(r.actors)], None, batch_size=BATCH)  # warm every worker
                cache = EmbeddingCache(Path(tmp.name) / f"{label}.sqlite")
                rate, seconds = _rate(lambda r=r, c=cache: r(embedder, texts, c, batch_size=BATCH), n)
                cache.close()
                batches = -(-n // BATCH)
                out[label] = {"texts_per_s": rate, "seconds": seconds, "workers": len(r.actors),
                              "nodes": len({w.node_id for w in r.workers}),
                              "node_ips": sorted({w.node_ip for w in r.workers}),
                              "driver_ms_per_batch": round(1000 * r.driver_seconds / batches, 2)}
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
    tmp.cleanup()
    two = out["ray_two_nodes"]
    per_worker = two["texts_per_s"] / two["workers"]
    ceiling = 1000 / max(two["driver_ms_per_batch"], 1e-3) * BATCH
    out["projection"] = {
        "per_worker_texts_per_s": round(per_worker, 1),
        "driver_ceiling_texts_per_s": round(ceiling),
        "note": "N workers on N free cores embed ~N x per-worker rate until the driver ceiling "
                "(its per-batch cost: collect, cache write, submit) is reached",
    }
    out["load_end"] = os.getloadavg()[0]
    return out


def render(r: dict) -> str:
    lines = [f"{r['texts']} texts, batch {r['batch']}, {r['cores']} cores on this machine "
             f"(load {r['load_start']:.1f} -> {r['load_end']:.1f})", "",
             "| setup | texts/s | seconds | workers | driver ms/batch |", "|---|---|---|---|---|",
             f"| one process ({r['cores']} threads) | {r['one_process']['texts_per_s']} | "
             f"{r['one_process']['seconds']} | 1 | - |"]
    for label in ("ray_one_node", "ray_two_nodes"):
        x = r[label]
        lines.append(f"| {label.replace('_', ' ')} ({x['nodes']} nodes, {', '.join(x['node_ips'])}) | "
                     f"{x['texts_per_s']} | {x['seconds']} | {x['workers']} | {x['driver_ms_per_batch']} |")
    p = r["projection"]
    lines += ["", f"per worker {p['per_worker_texts_per_s']} texts/s; "
              f"driver ceiling ~{p['driver_ceiling_texts_per_s']:,} texts/s"]
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    from ..settings import default_articles_dir

    result = bench_ray(default_articles_dir(), log=(lambda s: None) if args.json else print)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
