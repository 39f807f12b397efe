"""Cold start: a fresh process running `Assistant.load()`, split into imports, index load, model load, Kiwi."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .common import Context, Section

_COLD_SCRIPT = r"""
import json, os, sys, time
spawned = float(sys.argv[2])
t0 = time.time()
import psutil
def rss():
    return round(psutil.Process().memory_info().rss / 2**20, 1)
marks = {"interpreter_s": t0 - spawned}
import assistant
from assistant.ingest import korean
from assistant.reading.answer import Assistant
from assistant.search.retriever import Retriever
from assistant.settings import Settings
t1 = time.time(); marks["imports_package_s"] = t1 - t0
from assistant.models import embedding
embedding.import_backend(Settings().model)
t2 = time.time(); marks["imports_model_runtime_s"] = t2 - t1; marks["rss_after_imports_mb"] = rss()
from assistant.index.faiss_store import load_index
from pathlib import Path
index = load_index(Path(sys.argv[1]))
t3 = time.time(); marks["index_load_s"] = t3 - t2
emb = embedding.Embedder(Settings().model)
t4 = time.time(); marks["model_load_s"] = t4 - t3; marks["rss_after_model_mb"] = rss()
a = Assistant(Retriever(index, emb, Settings()))
marks["assistant_load_s"] = time.time() - spawned
korean.kiwi()
t5 = time.time(); marks["kiwi_load_s"] = t5 - t4
marks["cold_start_s"] = t5 - spawned
a.ask("엔비디아 주가는 하루에 얼마나 떨어졌나?")
marks["first_ask_ms"] = (time.time() - t5) * 1000
marks["rss_ready_mb"] = rss()
print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in marks.items()}))
"""


def bench_cold_start(index_dir: Path) -> dict:
    """A fresh interpreter loading the assistant, timed by stage (the order Assistant.load uses)."""
    spawned = time.time()
    proc = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, str(index_dir), repr(spawned)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start probe failed: {proc.stderr.strip()[-2000:]}")
    marks = json.loads(proc.stdout.strip().splitlines()[-1])
    t = time.time()
    subprocess.run([sys.executable, "-c", "import numpy"], capture_output=True, timeout=60, check=True)
    marks["baseline_python_numpy_s"] = round(time.time() - t, 3)
    return marks


def measure(ctx: Context) -> dict:
    ctx.log("cold start: a fresh interpreter loading the assistant")
    cold = bench_cold_start(ctx.index_dir)
    return {"cold_start": cold, "cold_start_s": cold["cold_start_s"]}


def render(result: dict) -> list[str]:
    from tabulate import tabulate

    if "cold_start" not in result:
        return []
    return ["\nCold start (fresh process)", tabulate(list(result["cold_start"].items()), headers=["stage", "value"])]


# First in SECTIONS: it runs while this process is small and idle, since it shares the CPUs with the probe.
SECTION = Section("cold", "a fresh interpreter loading the assistant, by stage", measure, render)
