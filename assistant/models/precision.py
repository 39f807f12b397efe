"""Which precision embeds passages: fp32 (today's path), or bf16 where the CPU has units for it and it pays.

bf16 halves the bytes each matrix multiply reads and, on a CPU with AMX-BF16 tiles or
AVX512-BF16 dot products, doubles (AVX512) or more (AMX) the multiplies per instruction.
Elsewhere torch emulates bf16 with conversions and it is slower than fp32, so without
those units nothing changes: the choice is fp32 and nothing is measured or imported.

With the units, `auto` still measures before it switches (`calibrate`): whether bf16 wins
depends on the core (AMX on Sapphire Rapids: 2.6x over torch fp32 in the issue; AVX512-BF16
on Zen 4 is a 256-bit datapath) and on what it is compared with (the ONNX Runtime fp32 path
is faster than torch fp32 here). ONNX Runtime has no bf16 kernels on x86, so bf16 always runs
under torch (sentence-transformers inside `torch.autocast`, which keeps LayerNorm and softmax
in fp32).

`NEWSQA_PRECISION=auto|fp32|bf16` overrides the choice. Everything here except `detect` and
`calibrate` is pure logic over hand-written inputs, so the unit test needs no CPU in particular.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant import env_settings as environment

PRECISIONS = ("auto", "fp32", "bf16")
# bf16 must beat fp32 by this much to be chosen: calibration on a shared machine is noisy, and a
# tie is not worth vectors that differ from fp32 in the 4th decimal of their cosine.
MIN_SPEEDUP = 1.10
# Vectors of the same text in fp32 and bf16 agree to at least this cosine (tests/test_precision.py
# checks it on the real model): close enough to share an index and a cache (see embedding.py).
INTERCHANGEABLE_COSINE = 0.999
# `auto` calibrates at the first call with at least this many passages (a build's batch is 64): adding
# an article (a few texts, and the index's 50 background sentences) stays fp32 and pays nothing.
CALIBRATE_MIN_TEXTS = 64


@dataclass(frozen=True)
class Capabilities:
    """What the CPU offers bf16: its flags (/proc/cpuinfo) and torch's vector capability."""

    flags: frozenset[str]
    torch_capability: str = ""  # torch.backends.cpu.get_cpu_capability(): "AVX512", "AVX2", "DEFAULT", ...

    @property
    def bf16_units(self) -> str | None:
        """The fastest bf16 matrix unit present: "amx_bf16", "avx512_bf16", or None."""
        if {"amx_bf16", "amx_tile"} <= self.flags:
            return "amx_bf16"
        if "avx512_bf16" in self.flags:
            return "avx512_bf16"
        return None


@dataclass(frozen=True)
class Timing:
    """Texts per second of the same texts on both paths, measured in the same process and minute."""

    fp32_texts_per_s: float
    bf16_texts_per_s: float

    @property
    def speedup(self) -> float:
        return self.bf16_texts_per_s / max(self.fp32_texts_per_s, 1e-9)


@dataclass(frozen=True)
class Choice:
    precision: str  # "fp32" or "bf16"
    reason: str
    timing: Timing | None = None


def requested(value: str | None = None) -> str:
    """NEWSQA_PRECISION (or `value`), checked: auto, fp32 or bf16."""
    value = (value or environment.value("NEWSQA_PRECISION") or "auto").strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"NEWSQA_PRECISION={value!r}: choose one of {', '.join(PRECISIONS)}")
    return value


def needs_calibration(request: str, caps: Capabilities) -> bool:
    """Only `auto` on a CPU with bf16 units measures anything."""
    return request == "auto" and caps.bf16_units is not None


def choose(request: str, caps: Capabilities, timing: Timing | None = None, *,
           min_speedup: float = MIN_SPEEDUP) -> Choice:
    """The precision to embed passages in, and why (pure: capabilities and timings in, a choice out)."""
    units = caps.bf16_units
    if request == "fp32":
        return Choice("fp32", "NEWSQA_PRECISION=fp32", timing)
    if request == "bf16":
        note = f"on {units}" if units else "without bf16 units: emulated, expect it slower than fp32"
        return Choice("bf16", f"NEWSQA_PRECISION=bf16, {note}", timing)
    if request != "auto":
        raise ValueError(f"unknown precision {request!r}; choose one of {', '.join(PRECISIONS)}")
    if units is None:
        return Choice("fp32", "no AMX-BF16 or AVX512-BF16 on this CPU: today's fp32 path", timing)
    if timing is None:
        return Choice("fp32", f"{units} present but bf16 not measured: fp32 until it is", None)
    if timing.speedup >= min_speedup:
        return Choice("bf16", f"{units}: bf16 measured {timing.speedup:.2f}x fp32", timing)
    return Choice("fp32", f"{units}: bf16 measured {timing.speedup:.2f}x fp32 (< {min_speedup}x), "
                          "so fp32 stays", timing)


def parse_flags(cpuinfo: str) -> frozenset[str]:
    """The `flags` of the first processor in /proc/cpuinfo text (every core of a machine has the same)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def detect(cpuinfo: Path = Path("/proc/cpuinfo")) -> Capabilities:
    """This CPU's capabilities: its flags, else what torch reports (if torch is already imported)."""
    import sys

    try:
        flags = parse_flags(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        flags = frozenset()
    capability = ""
    torch = sys.modules.get("torch")  # never import torch just to look: the ONNX path does not need it
    if torch is not None:
        capability = str(torch.backends.cpu.get_cpu_capability())
        if not flags:  # no /proc/cpuinfo (not Linux): torch's own cpuinfo probe
            extra = {"avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
                     "amx_tile": torch.cpu._is_amx_tile_supported()}
            flags = frozenset(k for k, v in extra.items() if v)
            flags |= {"amx_bf16"} if "amx_tile" in flags else frozenset()
    return Capabilities(flags, capability)


# Texts of the lengths a build embeds (a passage ~ 500 characters, its sentences ~ 60-80).
_PASSAGE = ("한국은행 금융통화위원회는 오늘 기준금리를 연 3.25%에서 3.00%로 0.25%포인트 인하했습니다. "
            "내수 부진과 수출 둔화 우려가 커진 데 따른 결정으로, 총재는 물가가 목표 수준에 근접했고 "
            "가계부채 증가세도 진정됐다고 설명했습니다. ")
CALIBRATION_TEXTS = tuple([_PASSAGE * 3] * 8 + [_PASSAGE] * 24)


def calibrate(fp32: Callable[[Sequence[str]], object], bf16: Callable[[Sequence[str]], object], *,
              texts: Sequence[str] = CALIBRATION_TEXTS, rounds: int = 2) -> Timing:
    """Texts/s of each path on the same texts, alternated (fp32, bf16, fp32, ...) so load hits both alike.

    Each path is warmed once, then the best of `rounds` timed runs counts: the best run is the
    one least disturbed by whoever else uses the CPU. A few seconds on 2 cores.
    """
    best = {"fp32": float("inf"), "bf16": float("inf")}
    paths = {"fp32": fp32, "bf16": bf16}
    for fn in paths.values():
        fn(list(texts[:4]))
    for _ in range(rounds):
        for name, fn in paths.items():
            t = time.perf_counter()
            fn(list(texts))
            best[name] = min(best[name], time.perf_counter() - t)
    return Timing(round(len(texts) / best["fp32"], 2), round(len(texts) / best["bf16"], 2))


def manifest_record(embedder: object, method: str) -> dict:
    """The manifest's note of which precision embedded a build's new vectors, and why.

    Informational: fp32 and bf16 vectors agree to INTERCHANGEABLE_COSINE, so loading never refuses
    an index for its precision, and the cache serves either (vectors it held may be of the other).
    """
    if method == "pooled" or not hasattr(embedder, "precision_decided"):
        return {"precision": "fp32"}  # pooled spans come from ONNX Runtime, which has no bf16 on x86
    choice = embedder.precision_decided
    if choice is None:
        return {"precision": "fp32", "precision_reason": f"auto: fewer than {CALIBRATE_MIN_TEXTS} texts at a "
                                                         "time to embed, not calibrated"}
    return {"precision": choice.precision, "precision_reason": choice.reason}
