"""bf16 embedding (issue 16): the choice from capabilities and timings, and the real model's bf16 vectors.

The choice is pure logic, tested on hand-written CPUs (this machine has AVX512-BF16 but no AMX,
so AMX is only ever a hand-written input here). The vectors are the real e5, fp32 under ONNX
Runtime (what ships) against torch autocast bf16, both loaded once per session.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from assistant.models import precision
from assistant.models.precision import Capabilities, Choice, Timing, choose, needs_calibration

ZEN4 = Capabilities(frozenset({"avx2", "avx512f", "avx512_bf16"}), "AVX512")
SAPPHIRE_RAPIDS = Capabilities(frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}), "AVX512")
OLD_XEON = Capabilities(frozenset({"avx2", "avx512f"}), "AVX512")
LAPTOP = Capabilities(frozenset({"avx2", "fma"}), "AVX2")


def test_bf16_units_are_read_from_the_flags():
    assert SAPPHIRE_RAPIDS.bf16_units == "amx_bf16"
    assert ZEN4.bf16_units == "avx512_bf16"
    assert OLD_XEON.bf16_units is None and LAPTOP.bf16_units is None
    # amx_bf16 without the tile unit enabled is no AMX: fall back to what else is there
    assert Capabilities(frozenset({"amx_bf16", "avx512_bf16"})).bf16_units == "avx512_bf16"
    assert Capabilities(frozenset({"amx_bf16"})).bf16_units is None


@pytest.mark.parametrize("caps", [OLD_XEON, LAPTOP, Capabilities(frozenset())])
def test_without_bf16_units_auto_keeps_fp32_and_measures_nothing(caps):
    assert not needs_calibration("auto", caps)
    choice = choose("auto", caps)
    assert choice.precision == "fp32" and "no AMX-BF16 or AVX512-BF16" in choice.reason
    # even a (made-up) timing that favours bf16 does not switch a CPU without the units
    assert choose("auto", caps, Timing(10.0, 30.0)).precision == "fp32"


@pytest.mark.parametrize("caps", [ZEN4, SAPPHIRE_RAPIDS])
def test_with_bf16_units_auto_goes_by_the_measurement(caps):
    assert needs_calibration("auto", caps)
    assert choose("auto", caps).precision == "fp32"  # not measured yet: today's path
    faster = choose("auto", caps, Timing(29.1, 74.6))  # the Sapphire Rapids figures
    assert faster.precision == "bf16" and "2.56x" in faster.reason and caps.bf16_units in faster.reason
    slower = choose("auto", caps, Timing(30.0, 24.0))
    assert slower.precision == "fp32" and "0.80x" in slower.reason
    # a win smaller than the margin is noise on a shared machine, not a reason to switch
    assert choose("auto", caps, Timing(30.0, 31.5)).precision == "fp32"
    assert choose("auto", caps, Timing(30.0, 33.0)).precision == "bf16"


def test_the_override_wins_either_way():
    assert choose("fp32", SAPPHIRE_RAPIDS, Timing(29.1, 74.6)).precision == "fp32"
    assert not needs_calibration("fp32", SAPPHIRE_RAPIDS) and not needs_calibration("bf16", ZEN4)
    forced = choose("bf16", LAPTOP)
    assert forced.precision == "bf16" and "emulated" in forced.reason
    assert choose("bf16", ZEN4).precision == "bf16"


def test_requested_reads_the_environment(monkeypatch):
    monkeypatch.delenv("NEWSQA_PRECISION", raising=False)
    assert precision.requested() == "auto"
    monkeypatch.setenv("NEWSQA_PRECISION", " BF16 ")
    assert precision.requested() == "bf16"
    assert precision.requested("fp32") == "fp32"  # an explicit argument beats the environment
    monkeypatch.setenv("NEWSQA_PRECISION", "fp16")
    with pytest.raises(ValueError, match="NEWSQA_PRECISION='fp16'"):
        precision.requested()


def test_flags_are_parsed_from_cpuinfo_text(tmp_path):
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\n"
            "processor\t: 1\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert precision.parse_flags(text) == {"fpu", "avx2", "avx512f", "avx512_bf16"}
    (tmp_path / "cpuinfo").write_text(text)
    assert precision.detect(tmp_path / "cpuinfo").bf16_units == "avx512_bf16"
    assert precision.parse_flags("processor: 0\n") == frozenset()


def test_calibration_times_both_paths_on_the_same_texts():
    seen: dict[str, list[int]] = {"fp32": [], "bf16": []}

    def path(name: str, seconds_per_text: float):
        def run(texts):
            seen[name].append(len(texts))
            time.sleep(seconds_per_text * len(texts))
        return run

    timing = precision.calibrate(path("fp32", 0.002), path("bf16", 0.001), texts=["t"] * 10, rounds=2)
    assert seen["fp32"] == seen["bf16"] == [4, 10, 10]  # a warm-up, then the same texts each round
    assert 1.4 < timing.speedup < 2.2


def test_manifest_record():
    class Fake:
        precision_decided = Choice("bf16", "avx512_bf16: bf16 measured 1.50x fp32")

    class Undecided:
        precision_decided = None

    assert precision.manifest_record(Fake(), "separate") == {
        "precision": "bf16", "precision_reason": "avx512_bf16: bf16 measured 1.50x fp32"}
    assert precision.manifest_record(Fake(), "pooled") == {"precision": "fp32"}  # ONNX Runtime pools
    assert precision.manifest_record(object(), "separate") == {"precision": "fp32"}  # USE, fused
    assert precision.manifest_record(Undecided(), "separate")["precision"] == "fp32"  # too few texts to calibrate


# --- the real model ---------------------------------------------------------------------------

TEXTS = [
    "삼성전자 주가 전망은?",
    "How did the Bank of Korea change interest rates this year?",
    "딥시크 R1 모델이 NVIDIA 주가에 미친 영향",
    "서울 아파트값 3주 연속 상승…강남 0.5%↑",
]


@pytest.fixture(scope="module")
def corpus():
    from assistant.bench.embed import corpus_texts
    from tests.conftest import ARTICLES

    return TEXTS + corpus_texts(ARTICLES)


def test_bf16_vectors_are_within_the_stated_cosine_of_fp32(embedder, bf16_embedder, corpus):
    assert embedder.precision_request in ("auto", "fp32", "bf16") and bf16_embedder.precision == "bf16"
    fp32 = embedder._fp32_passages(corpus)  # ONNX Runtime fp32: what ships
    bf16 = bf16_embedder.embed_passages(corpus, batch_size=32)
    cos = (fp32 * bf16).sum(axis=1)
    assert cos.min() >= precision.INTERCHANGEABLE_COSINE, (cos.min(), corpus[int(cos.argmin())][:60])
    assert np.abs(fp32 - bf16).max() > 1e-4  # bf16 really ran: fp32 paths agree to ~1e-6
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1, atol=1e-5)
    # the bf16 model's fp32 path is the shipped vectors again: only autocast differs
    np.testing.assert_allclose(bf16_embedder._fp32_passages(corpus[:8]), fp32[:8], atol=1e-5)


def test_an_index_built_in_bf16_serves_fp32_queries(tmp_path, embedder, bf16_embedder):
    """A change of precision forces no rebuild: same model identity, the manifest says which built it."""
    from assistant.index.build import build_index
    from assistant.search.retriever import Retriever

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text(
        "엔비디아 주가가 하루에 17% 떨어졌다. 시가총액이 크게 줄었다.\n\n딥시크의 새 모델이 충격을 줬다.",
        encoding="utf-8")
    report = build_index(tmp_path / "a", tmp_path / "i", embedder=bf16_embedder, progress=False,
                         cache_dir=tmp_path / "cache", sentence_vectors="separate")
    model = json.loads((report.path / "manifest.json").read_text())["model"]
    assert model["precision"] == "bf16" and "NEWSQA_PRECISION=bf16" in model["precision_reason"]
    assert model["weights_sha256"] == embedder.weights_sha256
    hits = Retriever.load(tmp_path / "i", embedder=embedder).search("엔비디아 주가 하락", k=1, method="dense")
    assert hits and "엔비디아" in hits[0].text
