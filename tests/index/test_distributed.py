"""Builds on Ray: a real two-node cluster on loopback (ray.cluster_utils), started and stopped here."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from conftest import ARTICLES

pytestmark = pytest.mark.slow  # two Ray nodes and two model-loading workers: ~1-2 minutes on 2 cores


@pytest.fixture(scope="module")
def ray_cluster():
    """Two Ray nodes, both on 127.0.0.1, one CPU each; every process stopped afterwards."""
    old = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keeps Ray on loopback; read when ray imports
    import ray
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args=node | {"include_dashboard": False})
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        if old is None:
            os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        else:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = old


def _texts(index):  # noqa: ANN001 - what a build embeds: passages, then sentences
    from assistant.ingest.chunking import ChunkSettings, embedding_text

    chunk = ChunkSettings.from_dict(index.manifest["chunking"])
    texts = [embedding_text(p, chunk) for p in index.passages]
    return texts + [index.articles[index.passages[s.passage].doc_id].text[s.start : s.end] for s in index.sentences]


def test_two_node_build_matches_a_single_process_build(ray_cluster, tmp_path, embedder, retriever, index_dir):
    from assistant.evaluation.evaluate import load_questions, score_methods
    from assistant.index.build import build_index
    from assistant.index.distributed import RayEmbedding
    from assistant.index.faiss_store import load_index
    from assistant.search.retriever import Retriever

    with RayEmbedding(ray_cluster.address, embedder.name) as ray_embed:
        assert len({w.node_id for w in ray_embed.workers}) == 2  # one worker on each node
        assert {w.node_ip for w in ray_embed.workers} == {"127.0.0.1"}
        report = build_index(ARTICLES, tmp_path / "index", embedder=embedder, progress=False, embed=ray_embed,
                             cache_dir=tmp_path / "cache", batch_size=8)  # a fresh cache: the workers embed it all
    local, built = retriever.index, load_index(tmp_path / "index")
    assert report.embedded == len(set(_texts(local)))  # the workers embedded every distinct text once

    assert built.passages == local.passages and built.sentences == local.sentences
    for a, b in ((local.faiss, built.faiss), (local.sentence_faiss, built.sentence_faiss)):
        assert a.ntotal == b.ntotal
        np.testing.assert_allclose(b.reconstruct_n(0, b.ntotal), a.reconstruct_n(0, a.ntotal), atol=1e-5)

    questions = load_questions()
    methods = ("dense", "bm25", "hybrid", "routed")
    ours = score_methods(Retriever.load(tmp_path / "index", embedder=embedder), questions, methods)
    assert json.dumps(ours, sort_keys=True) == json.dumps(score_methods(retriever, questions, methods),
                                                          sort_keys=True)


def test_a_worker_killed_mid_build_loses_nothing(ray_cluster, tmp_path, embedder, retriever):
    """SIGKILL one worker after the first batch lands: Ray restarts it and retries its batches."""
    import ray

    from assistant.index.distributed import RayEmbedding
    from assistant.models.embedding import EmbeddingCache, embed_with_cache

    texts = _texts(retriever.index)
    expected, _ = embed_with_cache(embedder, texts, None, batch_size=4)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    killed: list[int] = []
    with RayEmbedding(ray_cluster.address, embedder.name) as ray_embed:
        victim = ray_embed.workers[-1].pid

        def kill_once(n: int) -> None:
            if not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        vectors, embedded = ray_embed(embedder, texts, cache, batch_size=4, progress=kill_once)
        pids = {info[0] for info in ray.get([a.info.remote() for a in ray_embed.actors])}
    assert killed and victim not in pids  # the worker really died and was replaced
    assert embedded == len(set(texts))
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    stored = cache.get(embedder.weights_sha256, [EmbeddingCache.key(t) for t in texts])
    cache.close()
    assert len(stored) == len(set(texts))  # every batch, retried ones too, reached the cache
