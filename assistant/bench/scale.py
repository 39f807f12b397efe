"""Search at scale: exact and approximate FAISS against numpy, and BM25, on synthetic data.

Synthetic clustered unit vectors at 10k / 100k / 1M: exact FAISS `IndexFlatIP` and the
approximate index the build would pick (HNSW), against numpy brute force (matmul +
argpartition); recall@10 of the approximate index against exact; build time, resident
memory; plus BM25 over synthetic Korean-like passages.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .common import Context, K, Section, percentiles, rss_mb, time_calls

RECALL_TARGET = 0.95
QUICK_SIZES = (10_000, 100_000)
FULL_SIZES = (10_000, 100_000, 1_000_000)
EF_SWEEP = (16, 32, 48, 64, 96, 128, 256)
DIM = 384


# --- synthetic data -----------------------------------------------------------------


@dataclass(frozen=True)
class Mixture:
    """A mixture of Gaussians in `dim` dimensions, normalised to unit length: stands in for embeddings.

    Real sentence embeddings are neither uniform nor isotropic: they share a
    common direction (e5's mean pairwise cosine on our articles is 0.85), fall
    into topics, and their variance decays along principal directions (on our
    articles roughly as i^-0.75). So: x = normalize(mean + center_c + spread * noise),
    with centers and noise drawn with that power-law spectrum in a random basis.
    Uniform noise would make every neighbour equally far and flatter no index.
    """

    centers: np.ndarray
    basis: np.ndarray
    scales: np.ndarray
    mean: np.ndarray
    spread: float

    @classmethod
    def make(cls, n_clusters: int, dim: int = DIM, *, seed: int = 0, spread: float = 1.0,
             decay: float = 0.75, mean_norm: float = 2.5) -> Mixture:
        rng = np.random.default_rng(seed)
        scales = (np.arange(1, dim + 1, dtype=np.float64) ** (-decay / 2))
        scales /= np.sqrt((scales**2).sum())
        basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        centers = ((rng.standard_normal((n_clusters, dim)) * scales) @ basis.T).astype(np.float32)
        mean = rng.standard_normal(dim)
        mean = (mean / np.linalg.norm(mean) * mean_norm).astype(np.float32)
        return cls(centers, basis.astype(np.float32), scales.astype(np.float32), mean, spread)

    def sample(self, n: int, rng: np.random.Generator, chunk: int = 50_000) -> np.ndarray:
        """n unit vectors (float32), generated in chunks so memory stays near the output's size."""
        dim = self.centers.shape[1]
        out = np.empty((n, dim), dtype=np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            z = rng.standard_normal((m, dim), dtype=np.float32) * self.scales
            x = z @ self.basis.T
            x *= self.spread
            x += self.centers[rng.integers(0, len(self.centers), m)]
            x += self.mean
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[s : s + m] = x
        return out

    def describe(self) -> str:
        return (f"mixture of {len(self.centers)} Gaussians in {self.centers.shape[1]}-d, power-law spectrum, "
                f"shared mean direction, spread {self.spread}, L2-normalised")


def data_stats(sims: np.ndarray, x: np.ndarray) -> dict:
    """How hard the data is for an ANN index: local intrinsic dimension (MLE over 20 neighbours) and cosines.

    Text-embedding sets typically have a local intrinsic dimension of ~10-40; higher is harder.
    """
    d = np.sqrt(np.maximum(2 - 2 * sims[:, :21].astype(np.float64), 1e-12))
    lid = -1 / np.mean(np.log(d[:, :20] / d[:, 20:21]), axis=1)
    m = min(2000, len(x) // 2)
    return {"lid_median": round(float(np.median(lid)), 1), "top1_cosine_mean": round(float(sims[:, 0].mean()), 3),
            "random_pair_cosine_mean": round(float((x[:m] @ x[m : 2 * m].T).mean()), 3)}


def cluster_count(n: int) -> int:
    """Topics grow with the corpus: about one per 200 passages (a news story and its follow-ups)."""
    return max(8, n // 200)


def hangul_vocab(size: int, rng: np.random.Generator) -> list[str]:
    """Distinct pseudo-morphemes of 1-3 Hangul syllables, like the nouns and stems Kiwi emits."""
    words: set[str] = set()
    while len(words) < size:
        lengths = rng.choice([1, 2, 2, 2, 3, 3], size=size)
        sylls = rng.integers(0xAC00, 0xD7A4, size=(size, 3))
        words.update("".join(map(chr, s[:n])) for s, n in zip(sylls, lengths))
    return sorted(words)[:size]


def synthetic_passages(n: int, rng: np.random.Generator, *, vocab: int = 50_000,
                       mean_tokens: int = 60) -> tuple[list[list[int]], list[str]]:
    """n passages as morpheme ids drawn from a Zipf-Mandelbrot law (our passages: ~60 content morphemes)."""
    words = hangul_vocab(vocab, rng)
    ranks = np.arange(1, vocab + 1, dtype=np.float64)
    p = 1.0 / (ranks + 2.7) ** 1.07
    p /= p.sum()
    lengths = np.clip(rng.normal(mean_tokens, mean_tokens / 4, n).astype(int), 8, 3 * mean_tokens)
    flat = rng.choice(vocab, size=int(lengths.sum()), p=p).astype(np.int32)
    bounds = np.cumsum(lengths)[:-1]
    return [doc.tolist() for doc in np.split(flat, bounds)], words


# --- scale -----------------------------------------------------------------------------


def _index_bytes(index: object) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def _numpy_search(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """The baseline: one matrix-vector product and a partial sort, as anyone would write it."""
    scores = x @ q
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth)]))


def _measured_build(build: Callable[[], object]) -> tuple[object, float, float]:
    """(result, seconds, MiB of resident memory it added)."""
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    out = build()
    seconds = time.perf_counter() - t
    gc.collect()
    return out, seconds, rss_mb() - before


def bench_scale(sizes: Sequence[int], *, n_queries: int = 200, seed: int = 0,
                max_seconds: float = 4.0, bm25: bool = True, log: Callable[[str], None] = print) -> dict:
    """Exact vs approximate FAISS vs numpy at each size, and BM25 over synthetic passages."""
    import faiss

    from assistant.index import faiss_store as index_mod

    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    out: dict = {}
    for n in sizes:
        rng = np.random.default_rng(seed + n)
        mix = Mixture.make(cluster_count(n), seed=seed)
        log(f"scale {n:,}: generating vectors ({mix.describe()})")
        x = mix.sample(n, rng)
        queries = mix.sample(n_queries, np.random.default_rng(seed + n + 1))
        row: dict = {"n": n, "data": mix.describe()}

        flat, secs, mem = _measured_build(lambda x=x: _flat(x))
        row.update(exact_build_s=round(secs, 2), exact_rss_mb=round(mem, 1),
                   exact_index_mb=round(_index_bytes(flat) / 2**20, 1))
        sims, truth = flat.search(queries, K + 11)  # ground truth: one batched exact search
        row["data_stats"] = data_stats(sims, x)
        truth = truth[:, :K]
        lat = time_calls(lambda q, flat=flat: flat.search(q[None, :], K), queries, max_seconds=max_seconds)
        row["exact_p50_ms"], row["exact_p95_ms"] = percentiles(lat).values()
        del flat
        gc.collect()

        lat = time_calls(lambda q, x=x: _numpy_search(x, q), queries, max_seconds=max_seconds)
        row["numpy_p50_ms"], row["numpy_p95_ms"] = percentiles(lat).values()
        found = np.stack([_numpy_search(x, q) for q in queries[:20]])
        row["numpy_recall@10"] = round(_recall(found, truth[:20]), 4)

        log(f"scale {n:,}: building HNSW (M={index_mod.HNSW_M}, efConstruction={index_mod.HNSW_EF_CONSTRUCTION})")
        hnsw, secs, mem = _measured_build(lambda x=x: _hnsw(x, index_mod.HNSW_M, index_mod.HNSW_EF_CONSTRUCTION))
        row.update(approx_type="IndexHNSWFlat",
                   approx_params={"M": index_mod.HNSW_M, "efConstruction": index_mod.HNSW_EF_CONSTRUCTION,
                                  "efSearch": index_mod.HNSW_EF_SEARCH},
                   approx_build_s=round(secs, 2), approx_rss_mb=round(mem, 1),
                   approx_index_mb=round(_index_bytes(hnsw) / 2**20, 1))
        sweep = {}
        for ef in sorted({*EF_SWEEP, index_mod.HNSW_EF_SEARCH}):
            hnsw.hnsw.efSearch = ef
            _, found = hnsw.search(queries, K)
            lat = time_calls(lambda q, hnsw=hnsw: hnsw.search(q[None, :], K), queries, max_seconds=max_seconds / 4)
            sweep[ef] = {"p50_ms": percentiles(lat)["p50"], "recall@10": round(_recall(found, truth), 4)}
        shipped = sweep[index_mod.HNSW_EF_SEARCH]
        row["approx_p50_ms"] = shipped["p50_ms"]
        row["approx_recall@10"] = shipped["recall@10"]
        row["ef_sweep"] = {str(ef): v for ef, v in sweep.items()}
        enough = [ef for ef, v in sweep.items() if v["recall@10"] >= RECALL_TARGET]
        row["ef_needed_for_target"] = min(enough) if enough else None
        row["approx_speedup_vs_numpy"] = round(row["numpy_p50_ms"] / max(row["approx_p50_ms"], 1e-6), 1)
        row["approx_speedup_vs_exact"] = round(row["exact_p50_ms"] / max(row["approx_p50_ms"], 1e-6), 1)
        del hnsw
        gc.collect()
        if bm25:
            row.update(_bench_bm25(n, rng, max_seconds=max_seconds, log=log))
        del x
        gc.collect()
        out[str(n)] = row
        log(f"scale {n:,}: exact {row['exact_p50_ms']} ms, HNSW {row['approx_p50_ms']} ms "
            f"(recall@10 {row['approx_recall@10']}), numpy {row['numpy_p50_ms']} ms")
    return out


def _flat(x: np.ndarray) -> object:
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index


def _hnsw(x: np.ndarray, m: int, ef_construction: int) -> object:
    import faiss

    index = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(x)
    return index


def _bench_bm25(n: int, rng: np.random.Generator, *, max_seconds: float, log: Callable[[str], None]) -> dict:
    """bm25s over n synthetic Korean-like passages, queried the way LexicalIndex.search does."""
    import bm25s

    log(f"scale {n:,}: BM25 over synthetic Korean-like passages")
    docs, words = synthetic_passages(n, rng)
    vocab = {w: i for i, w in enumerate(words)}

    def build() -> object:
        model = bm25s.BM25()
        model.index((docs, vocab), show_progress=False)
        return model

    model, secs, mem = _measured_build(build)
    picks = rng.integers(0, n, 100)
    queries = [[words[t] for t in rng.choice(docs[i], size=min(5, len(docs[i])), replace=False)] for i in picks]

    def search(q: list[str]) -> np.ndarray:
        scores = model.get_scores(q)
        top = np.argpartition(-scores, 49)[:50]
        return top[np.argsort(-scores[top], kind="stable")]

    lat = time_calls(search, queries, max_seconds=max_seconds)
    return {"bm25_build_s": round(secs, 2), "bm25_rss_mb": round(mem, 1),
            "bm25_p50_ms": percentiles(lat)["p50"], "bm25_p95_ms": percentiles(lat)["p95"],
            "bm25_data": "Zipf-Mandelbrot pseudo-morphemes of 1-3 Hangul syllables, ~60 per passage, "
                         "5-term queries (Kiwi tokenizing excluded)"}


def measure(ctx: Context) -> dict:
    return {"scale": bench_scale(ctx.sizes, n_queries=ctx.n_queries, max_seconds=ctx.max_seconds, log=ctx.log)}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "scale" not in result:
        return []
    rows = []
    for n, r in result["scale"].items():
        rows.append([f"{int(n):,}", r["numpy_p50_ms"], r["exact_p50_ms"], r["approx_p50_ms"],
                     r["approx_recall@10"], r["approx_speedup_vs_numpy"], r["ef_needed_for_target"],
                     r["exact_build_s"], r["approx_build_s"], r["exact_index_mb"], r["approx_index_mb"],
                     r["approx_rss_mb"], r.get("bm25_p50_ms"), r.get("bm25_build_s")])
    first = next(iter(result["scale"].values()), {})
    return [f"\nSearch at scale, k={K} (data: {first.get('data', '')})",
            tabulate(rows, headers=["n", "numpy p50", "flat p50", "hnsw p50", "hnsw R@10", "x numpy",
                                    "ef for .95", "flat build s", "hnsw build s", "flat MiB", "hnsw MiB",
                                    "hnsw RSS MiB", "bm25 p50", "bm25 build s"])]


SECTION = Section("scale", "FAISS exact / HNSW / numpy and BM25 at 10k-1M synthetic passages", measure, render)
