"""`assistant bench`: its JSON has the agreed shape, at sizes small enough for a test.

These check what the benchmark reports and that its parts measure the right
things (recall against exact search, the fused model's score); they assert no
speed: timings belong to `python -m assistant bench`, not to the test suite.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from assistant import bench
from assistant.evaluation.evaluate import load_questions
from assistant.models.backends import FusedEmbedder


@pytest.fixture(scope="module")
def scale():
    return bench.bench_scale([2_000], n_queries=20, max_seconds=0.05, log=lambda _: None)


def test_scale_reports_each_index_against_numpy(scale):
    row = scale["2000"]
    for key in ("exact_p50_ms", "approx_p50_ms", "approx_recall@10", "numpy_p50_ms", "approx_build_s",
                "approx_rss_mb", "approx_index_mb", "exact_index_mb", "bm25_p50_ms", "ef_needed_for_target"):
        assert key in row, key
    assert row["numpy_recall@10"] == 1.0  # the baseline is exact too
    assert 0.9 <= row["approx_recall@10"] <= 1.0
    assert row["exact_index_mb"] == pytest.approx(2_000 * 384 * 4 / 2**20, rel=0.05)
    assert "Gaussians" in row["data"] and row["data_stats"]["lid_median"] > 1
    json.dumps(scale)


def test_synthetic_vectors_are_clustered_unit_vectors():
    mix = bench.Mixture.make(4, seed=1)
    x = mix.sample(400, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    sims = x @ x.T
    assert sims.mean() > 0.3  # not uniform noise on the sphere (that would be ~0)


def test_synthetic_passages_are_korean_like_and_zipfian():
    docs, words = bench.synthetic_passages(200, np.random.default_rng(0), vocab=2_000)
    assert all("\uac00" <= ch <= "\ud7a3" for w in words[:50] for ch in w)
    counts = np.bincount(np.concatenate([np.asarray(d) for d in docs]), minlength=2_000)
    assert counts[:10].sum() > counts[-1000:].sum()  # a few words are very common, most are rare


def test_query_stages(assistant):
    questions = [q.question for q in load_questions()][:4]
    out = bench.bench_query(assistant, questions)
    for stage in ("embed", "dense", "bm25", "fusion", "answer", "ask"):
        assert out[f"{stage}_p50_ms"] >= 0 and out[f"{stage}_p95_ms"] >= out[f"{stage}_p50_ms"]
    assert out["questions"] == 4


def test_fused_embedder_scores_are_the_weighted_cosines(embedder):
    fused = FusedEmbedder(embedder, embedder, weight=0.3)
    question, passage = ["엔비디아 주가"], ["엔비디아 주가가 하루에 17% 떨어졌다."]
    q, p = fused.embed_queries(question)[0], fused.embed_passages(passage)[0]
    cos = float(embedder.embed_queries(question)[0] @ embedder.embed_passages(passage)[0])
    assert fused.dim == 2 * embedder.dim
    assert float(q @ p) == pytest.approx(cos, abs=1e-5)


def test_targets_and_table(scale):
    result = {"machine": bench.machine(), "scale": scale, "query": {"ask_p50_ms": 12.0}, "cold_start_s": 7.5,
              "seconds": 1.0}
    result["targets"] = bench.check_targets(result)
    assert result["targets"]["ask() p50 <= 60 ms"] == {"value": 12.0, "met": True}
    assert result["targets"]["cold start <= 6 s"]["met"] is False
    assert result["targets"]["1M: approx p50 <= 10 ms"]["met"] is None  # not measured
    text = bench.render(result)
    assert "Search at scale" in text and "MISSED" in text


def test_sections_registry_and_unknown_section():
    names = [s.name for s in bench.SECTIONS]
    assert len(names) == len(set(names)) and set(bench.DEFAULT_SECTIONS) == set(names)
    assert all(callable(s.measure) and s.render({}) == [] for s in bench.SECTIONS)  # nothing to show when not run
    with pytest.raises(ValueError, match="unknown bench section"):
        bench.run(quick=True, sections=["nope"])


def test_build_section_compares_each_build_with_the_baseline(tmp_path, embedder):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("엔비디아 주가가 하루에 17% 떨어졌다. 시가총액이 크게 줄었다.\n\n"
                                            "딥시크의 새 모델이 충격을 줬다.", encoding="utf-8")
    out = bench.bench_build(tmp_path / "a", "one article", embedder, quality=False, log=lambda _: None)
    assert [out[c]["method"] for c in ("baseline", "separate", "pooled")] == ["separate", "separate", "pooled"]
    assert out["baseline"]["length_sorted"] is False and out["separate"]["length_sorted"] is True
    for c in ("separate", "pooled"):
        assert out[c]["passages"] == out["baseline"]["passages"] == 1 and out[c]["sentences"] == 3
        assert out[c]["speedup"] > 0 and out[c]["cpu_speedup"] > 0
    result = {"machine": bench.machine(), "build": out, "seconds": 1.0}
    result["targets"] = bench.check_targets(result)
    assert result["targets"]["fresh build (default) >= 25 passages/s"]["value"] == out["separate"]["passages_per_s"]
    assert "Fresh build of one article" in bench.render(result)


def test_build_section_compares_fp32_and_bf16_in_the_same_run(tmp_path, embedder, bf16_embedder):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("엔비디아 주가가 하루에 17% 떨어졌다. 시가총액이 크게 줄었다.",
                                            encoding="utf-8")
    out = bench.bench_build(tmp_path / "a", "one article", embedder, configs=("separate", "bf16"),
                            quality=False, log=lambda _: None, bf16_embedder=bf16_embedder)
    assert (out["separate"]["precision"], out["bf16"]["precision"]) == ("fp32", "bf16")
    assert out["bf16"]["method"] == "separate" and out["bf16"]["fp32_speedup"] > 0
    assert out["bf16"]["texts_embedded"] == out["separate"]["texts_embedded"] == 3  # a fresh cache each
    assert "baseline" not in out and "speedup" not in out["bf16"]
    # without a bf16 model the bf16 build is left out, not run in fp32 under its name
    assert "bf16" not in bench.bench_build(tmp_path / "a", "x", embedder, configs=("separate", "bf16"),
                                           quality=False, log=lambda _: None)
    assert "bf16" in "\n".join(bench.build.render({"build": out}))


@pytest.mark.slow
def test_quick_json_has_the_agreed_shape(index_dir, monkeypatch, capsys):
    """The whole `bench --quick --json`, shrunk to 2k vectors: every figure the issue names is there."""
    monkeypatch.setattr(bench, "QUICK_SIZES", (2_000,))
    assert bench.run_cli(argparse.Namespace(quick=True, json=True, index=index_dir)) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["scale"]["2000"]) >= {"exact_p50_ms", "approx_p50_ms", "approx_recall@10", "numpy_p50_ms"}
    assert "ask_p50_ms" in out["query"]
    assert {"torch_passages_per_s", "onnx_int8_passages_per_s"} <= set(out["embed"])
    assert out["cold_start_s"] > 0
    assert set(out["cold_start"]) >= {"imports_package_s", "imports_model_runtime_s", "index_load_s", "model_load_s"}
    assert {"baseline", "separate", "pooled"} <= set(out["build"]) and out["build"]["separate"]["passages_per_s"] > 0
