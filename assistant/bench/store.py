"""`python -m assistant bench --stores`: Milvus Lite against FAISS HNSW on the same synthetic vectors.

Both stores get the same 100k passage-like vectors (bench.Mixture: the clustered, power-law
stand-in for e5 embeddings) and the same queries; ground truth is an exact FAISS search in the
same run. Each side is timed one query at a time, k = 10, with the shipped HNSW settings
(M 32, efConstruction 80, ef 128). Milvus Lite runs in-process and talks gRPC over a local socket,
so its latency includes a round trip that a FAISS call does not pay; a Milvus cluster adds the
network on top, and buys sharding, replicas and online inserts in return.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import Mixture, cluster_count, percentiles, time_calls

K = 10


def bench_stores(n: int = 100_000, *, n_queries: int = 200, seed: int = 0, max_seconds: float = 5.0,
                 log: Callable[[str], None] = print) -> dict:
    """p50 latency, recall@10 and build time of FAISS HNSW and Milvus Lite HNSW at `n` vectors."""
    import faiss

    from assistant.index import faiss_store as index_mod
    from assistant.index import milvus_store

    mix = Mixture.make(cluster_count(n), seed=seed)
    log(f"stores {n:,}: generating vectors ({mix.describe()})")
    x = mix.sample(n, np.random.default_rng(seed + n))
    queries = mix.sample(n_queries, np.random.default_rng(seed + n + 1))
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    _, truth = flat.search(queries, K)
    del flat
    out: dict = {"n": n, "queries": n_queries, "k": K, "data": mix.describe(),
                 "hnsw": {"M": index_mod.HNSW_M, "efConstruction": index_mod.HNSW_EF_CONSTRUCTION,
                          "ef": index_mod.HNSW_EF_SEARCH}}

    log(f"stores {n:,}: FAISS HNSW")
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(x.shape[1], index_mod.HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = index_mod.HNSW_EF_CONSTRUCTION
    hnsw.add(x)
    hnsw.hnsw.efSearch = index_mod.HNSW_EF_SEARCH
    build = time.perf_counter() - t
    _, found = hnsw.search(queries, K)
    lat = time_calls(lambda q, index=hnsw: index.search(q[None, :], K), queries, max_seconds=max_seconds)
    out["faiss_hnsw"] = {"build_s": round(build, 1), **_lat(lat), "recall@10": _recall(found, truth)}
    del hnsw
    gc.collect()

    log(f"stores {n:,}: Milvus Lite HNSW (insert, index, load)")
    from pymilvus import DataType, MilvusClient

    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        c = MilvusClient(str(Path(tmp) / "bench.db"))
        try:
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=x.shape[1])
            params = c.prepare_index_params()
            params.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                             params={"M": index_mod.HNSW_M, "efConstruction": index_mod.HNSW_EF_CONSTRUCTION})
            c.create_collection("bench", schema=schema, index_params=params)
            t = time.perf_counter()
            for s in range(0, n, 5_000):
                c.insert("bench", [{"id": s + i, "vector": v} for i, v in enumerate(x[s : s + 5_000])])
            c.flush("bench")
            c.load_collection("bench")
            build = time.perf_counter() - t
            search = {"metric_type": "IP", "params": {"ef": milvus_store.EF_SEARCH}}

            def one(q: np.ndarray) -> list:
                return c.search("bench", data=[q], anns_field="vector", limit=K, search_params=search,
                                output_fields=["id"])

            found = np.full((len(queries), K), -1, dtype=np.int64)
            for row, q in enumerate(queries):
                ids = [h["id"] for h in one(q)[0]]
                found[row, : len(ids)] = ids
            lat = time_calls(one, queries, max_seconds=max_seconds)
            out["milvus_lite_hnsw"] = {"build_s": round(build, 1), **_lat(lat), "recall@10": _recall(found, truth)}
        finally:
            c.close()
    out["milvus_vs_faiss_p50"] = round(out["milvus_lite_hnsw"]["p50_ms"] / max(out["faiss_hnsw"]["p50_ms"], 1e-6), 1)
    log(f"stores {n:,}: FAISS {out['faiss_hnsw']}, Milvus Lite {out['milvus_lite_hnsw']}")
    return out


def _lat(samples_ms: list[float]) -> dict:
    p = percentiles(samples_ms)
    return {"p50_ms": p["p50"], "p95_ms": p["p95"]}


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def render(result: dict) -> str:
    rows = [("FAISS IndexHNSWFlat (in process)", result["faiss_hnsw"]),
            ("Milvus Lite HNSW (pymilvus, local gRPC)", result["milvus_lite_hnsw"])]
    h = result["hnsw"]
    lines = [f"{result['n']:,} synthetic passages, {result['queries']} queries, k={result['k']}, "
             f"HNSW M={h['M']} efConstruction={h['efConstruction']} ef={h['ef']}",
             "", "| store | p50 ms | p95 ms | recall@10 | build s |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['p50_ms']} | {r['p95_ms']} | {r['recall@10']} | {r['build_s']} |" for name, r in rows]
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    result = bench_stores(getattr(args, "size", 100_000), log=(lambda s: None) if args.json else print)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
