"""Embed a build's texts on a Ray cluster: `python -m assistant build --ray ADDRESS|auto`.

Each Ray worker is an actor that loads the same model and runtime once (`Embedder`, as a
single-process build does) and embeds the batches it is sent. The driver keeps a bounded number
of batches in flight per worker, writes each returned batch into the same content-hash cache
(`embedding.EmbeddingCache`) as it arrives, and the rest of the build (FAISS or Milvus, BM25,
manifest) is unchanged. So a Ray build yields the same index as a local one, a resumed build
reuses what any earlier build embedded, and no worker ever holds more than its few batches.

Failures: workers are restartable actors whose tasks Ray retries (`max_restarts`,
`max_task_retries`), so a worker process killed mid-build is replaced and its batch is embedded
again; if the driver itself dies, the next build resumes from the cache.

Loopback: Ray would otherwise advertise the machine's network address; with
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 a local Ray stays on 127.0.0.1 (set before Ray is imported).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import env_settings as environment
from assistant.models.embedding import EmbeddingCache

PACKAGE_DIR = Path(__file__).resolve().parents[1]
IN_FLIGHT = 2  # batches queued per worker: one embedding, one waiting, so no worker idles on the driver


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    node_id: str
    node_ip: str


class _EmbedWorker:
    """One model per worker process, loaded once; becomes a Ray actor in `RayEmbedding`."""

    def __init__(self, model: str, threads: int, precision: str = "fp32") -> None:
        from assistant.models.embedding import Embedder

        # The driver's precision, so its manifest tells the truth; a pool sized to the CPUs Ray gave us.
        self.embedder = Embedder(model, precision=precision, threads=threads)

    def info(self) -> tuple[int, str, str, str]:
        import ray

        ctx = ray.get_runtime_context()
        return os.getpid(), ctx.get_node_id(), ray.util.get_node_ip_address(), self.embedder.weights_sha256

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.embedder.embed_passages(texts, batch_size=batch_size)


class RayEmbedding:
    """A drop-in for `embedding.embed_with_cache` that embeds on Ray workers.

    Use as a context manager: entering connects to (or, for "auto" with no cluster running,
    starts) Ray and starts the workers; leaving stops them and disconnects.
    """

    def __init__(self, address: str, model: str, *, workers: int | None = None, cpus_per_worker: int = 1,
                 in_flight: int = IN_FLIGHT, precision: str = "fp32") -> None:
        self.address, self.model, self.precision = address, model, precision
        self.n_workers, self.cpus_per_worker, self.in_flight = workers, cpus_per_worker, in_flight
        self.actors: list = []
        self.workers: list[WorkerInfo] = []
        self.driver_seconds = 0.0  # the driver's own work per call (collect, cache, submit): its ceiling
        self._connected = False

    def __enter__(self) -> RayEmbedding:
        import ray

        if not ray.is_initialized():
            # The package travels with the job, so a remote cluster runs the driver's code.
            runtime_env = {"py_modules": [str(PACKAGE_DIR)]}
            kwargs: dict = {"runtime_env": runtime_env, "logging_level": "ERROR", "log_to_driver": False}
            if self.address == "auto" and not _running_cluster():
                kwargs |= {"include_dashboard": False, "_node_ip_address": "127.0.0.1"}  # a local Ray
                ray.init(**kwargs)
            else:
                ray.init(address=self.address, **kwargs)
            self._connected = True
        try:
            self._start_workers(ray)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_workers(self, ray) -> None:  # noqa: ANN001 - the ray module
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n = self.n_workers or max(1, cpus // self.cpus_per_worker)
        actor = ray.remote(_EmbedWorker).options(
            num_cpus=self.cpus_per_worker, max_restarts=-1, max_task_retries=-1, scheduling_strategy="SPREAD")
        self.actors = [actor.remote(self.model, self.cpus_per_worker, self.precision) for _ in range(n)]
        infos = ray.get([a.info.remote() for a in self.actors])
        shas = {sha for *_, sha in infos}
        if len(shas) != 1:
            raise RuntimeError(f"Ray workers loaded different weights for {self.model}: {sorted(shas)}")
        self.weights_sha256 = shas.pop()
        self.workers = [WorkerInfo(pid, node, ip) for pid, node, ip, _ in infos]

    def __exit__(self, *exc: object) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        self.actors = []
        if self._connected:
            ray.shutdown()
            self._connected = False

    def __call__(self, embedder: object, texts: Sequence[str], cache: EmbeddingCache | None, *,
                 batch_size: int = 64, progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
        """Embed `texts` like embed_with_cache: (vectors, how many distinct texts were newly embedded)."""
        import ray

        if embedder.weights_sha256 != self.weights_sha256:
            raise RuntimeError(f"The Ray workers run weights {self.weights_sha256[:12]}, the build "
                               f"expects {embedder.weights_sha256[:12]}; install the same model on every node.")
        keys = [EmbeddingCache.key(t) for t in texts]
        out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        cached = cache.get(embedder.weights_sha256, keys) if cache else {}
        for i, k in enumerate(keys):
            if k in cached:
                out[i] = cached[k]
        rows: dict[str, list[int]] = {}  # each distinct uncached text is embedded once
        for i, k in enumerate(keys):
            if k not in cached:
                rows.setdefault(k, []).append(i)
        # Longest first, so a batch holds texts of similar length and little padding.
        todo = sorted((r[0] for r in rows.values()), key=lambda i: -len(texts[i]))
        if progress and len(texts) - sum(map(len, rows.values())):
            progress(len(texts) - sum(map(len, rows.values())))
        batches = iter(range(0, len(todo), batch_size))
        pending: dict = {}  # ObjectRef -> (actor number, the rows it embeds)

        def submit(worker: int) -> None:
            b = next(batches, None)
            if b is not None:
                idx = todo[b : b + batch_size]
                ref = self.actors[worker].embed.remote([texts[i] for i in idx], batch_size)
                pending[ref] = (worker, idx)

        for w in range(len(self.actors)):
            for _ in range(self.in_flight):
                submit(w)
        self.driver_seconds = 0.0
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            t = time.perf_counter()
            worker, idx = pending.pop(ref)
            vecs = ray.get(ref)
            for i, v in zip(idx, vecs):
                out[rows[keys[i]]] = v
            if cache:
                cache.put(embedder.weights_sha256, [(keys[i], v) for i, v in zip(idx, vecs)])
            submit(worker)
            self.driver_seconds += time.perf_counter() - t
            if progress:
                progress(sum(len(rows[keys[i]]) for i in idx))
        return out, len(todo)


def _running_cluster() -> bool:
    """Whether `ray start` left a local cluster to join (RAY_ADDRESS, or the address file)."""
    if environment.value("RAY_ADDRESS"):
        return True
    from ray._private.utils import read_ray_address

    return bool(read_ray_address())
