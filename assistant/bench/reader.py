"""Benchmark the reader against the extractive path, in the same run on the same questions.

    python -m assistant bench --reader [--json]          first token, whole answer, prefill tokens/s
    python -m assistant bench --reader --users 20        ... plus 20 concurrent users through one model
    python -m assistant bench --reader --soak 200        ... plus resident memory over 200 questions

Targets (issue 14): the short answer on screen p50 <= 2.5 s, the whole answer p50 <= 5 s, on the 2-core machine.
The machine is shared, so every figure comes with the extractive baseline measured
in the same run, and the load average at the start and the end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence

import numpy as np

# Mixed Korean and English eval questions, answerable and not: the reader's real workload.
QUESTIONS = (
    "엔비디아 주가는 하루에 얼마나 떨어졌나?",
    "How much did Nvidia's stock fall on the day DeepSeek R1 came out?",
    "Where did Nvidia shares finish trading on January 30?",
    "딥시크가 주목받기 직전 거래일에 엔비디아 주가는 얼마로 마감했나?",
    "For what amount does DeepSeek reportedly claim to have built a model that beats OpenAI's latest?",
    "주요 외신이 전한 오픈AI의 연간 AI 개발 투입 자본은 얼마인가?",
    "Who leads development of Alibaba's Qwen model?",
    "딥시크 R1의 등장은 냉전 시대의 어떤 사건에 견주어졌나?",
    "What was Nvidia's revenue last quarter?",
    "딥시크 본사는 중국의 어느 도시에 있나?",
)


def _pcts(values: Sequence[float]) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"p50": None, "p95": None, "n": 0}
    return {"p50": round(float(np.percentile(vals, 50)), 1), "p95": round(float(np.percentile(vals, 95)), 1),
            "n": len(vals)}


def latency(reader_assistant, extractive_assistant, questions: Sequence[str] = QUESTIONS,  # noqa: ANN001
            rounds: int = 1) -> dict:
    """First token, whole answer and prefill speed for the reader; the extractive answer as the baseline."""
    reader_assistant.ask(questions[0])  # warm: caches the system prompt, pages the model in
    total, first, prefill, tokens, langs = [], [], [], [], []
    base = []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            extractive_assistant.ask(q)
            base.append((time.perf_counter() - t) * 1000)
            ans = reader_assistant.ask(q)
            total.append(ans.timings.get("total"))
            # The short answer on screen; a refusal is on screen when it is decided.
            first.append(ans.timings.get("short") or ans.timings.get("total"))
            langs.append(ans.lang)
            choose = ans.timings.get("choose")
            n = ans.extra.get("prompt_tokens")
            if choose and n:
                tokens.append(n)
                prefill.append(n / (choose / 1000))
    answer = _pcts(total)
    baseline = _pcts(base)
    short = _pcts(first)
    return {
        "answer_ms": answer,
        "first_token_ms": short,
        "answer_ms_ko": _pcts([t for t, lang in zip(total, langs) if lang == "ko"]),
        "answer_ms_en": _pcts([t for t, lang in zip(total, langs) if lang == "en"]),
        "prompt_tokens": _pcts(tokens),
        "prefill_tokens_per_s": _pcts(prefill),
        "extractive_answer_ms": baseline,
        "reader_vs_extractive_p50": round(answer["p50"] / baseline["p50"], 1) if baseline["p50"] else None,
        "targets": {"answer_p50_le_5s": answer["p50"] is not None and answer["p50"] <= 5000,
                    "short_p50_le_2_5s": short["p50"] is not None and short["p50"] <= 2500},
    }


def concurrent(reader_assistant, users: int = 20, questions: Sequence[str] = QUESTIONS) -> dict:  # noqa: ANN001
    """`users` threads ask at once through one model: all must be answered; queue wait is the model's lock."""
    results: list = [None] * users
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            t = time.perf_counter()
            ans = reader_assistant.ask(questions[i % len(questions)])
            results[i] = ((time.perf_counter() - t) * 1000, ans.timings.get("queue"))
        except Exception as e:  # noqa: BLE001 - counted and reported, never hidden
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(users)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done = [r for r in results if r is not None]
    return {"users": users, "answered": len(done), "errors": errors,
            "wall_s": round(time.perf_counter() - t0, 1),
            "latency_ms": _pcts([r[0] for r in done]), "queue_wait_ms": _pcts([r[1] for r in done])}


def soak(reader_assistant, n: int = 200, questions: Sequence[str] = QUESTIONS) -> dict:  # noqa: ANN001
    """Resident memory every 20 questions over `n`: it must level off, not climb."""
    import psutil

    proc = psutil.Process()
    rss = []
    for i in range(n):
        reader_assistant.ask(questions[i % len(questions)])
        if i % 20 == 19:
            rss.append(round(proc.memory_info().rss / 2**20, 1))
    return {"questions": n, "rss_mib_every_20": rss, "growth_after_first_40_mib": round(rss[-1] - rss[1], 1)
            if len(rss) > 2 else None}


def run(index_dir=None, users: int = 0, soak_n: int = 0, rounds: int = 1) -> dict:  # noqa: ANN001
    from assistant.models import readers as llms
    from assistant.reading.answer import Assistant

    load_start = os.getloadavg()[0]
    extractive = Assistant.load(index_dir, reader="extractive")
    t = time.perf_counter()
    model = llms.load("local")
    load_s = time.perf_counter() - t
    reader_assistant = Assistant(extractive.retriever, extractive.settings, model)
    out = {"reader": {"model": model.info.name, "sha256": model.info.sha256, "backend": model.info.backend,
                      "load_s": round(load_s, 1), **latency(reader_assistant, extractive, rounds=rounds)}}
    if users:
        out["reader"]["concurrent"] = concurrent(reader_assistant, users)
    if soak_n:
        out["reader"]["soak"] = soak(reader_assistant, soak_n)
    out["machine"] = {"cores": os.cpu_count(), "load_avg_start": round(load_start, 2),
                      "load_avg_end": round(os.getloadavg()[0], 2)}
    return out


def table(result: dict) -> str:
    r = result["reader"]
    rows = [
        ("reader: whole answer", r["answer_ms"]), ("reader: short answer on screen", r["first_token_ms"]),
        ("baseline: extractive answer", r["extractive_answer_ms"]),
    ]
    lines = ["| path | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {name} | {v['p50']} | {v['p95']} |" for name, v in rows]
    lines.append(f"\nprefill {r['prefill_tokens_per_s']['p50']} tokens/s (prompt p50 {r['prompt_tokens']['p50']} "
                 f"tokens); reader / extractive p50 = {r['reader_vs_extractive_p50']}x; targets {r['targets']}")
    if "concurrent" in r:
        c = r["concurrent"]
        lines.append(f"{c['users']} concurrent users: {c['answered']} answered, latency p50/p95 "
                     f"{c['latency_ms']['p50']}/{c['latency_ms']['p95']} ms, queue wait p50/p95 "
                     f"{c['queue_wait_ms']['p50']}/{c['queue_wait_ms']['p95']} ms, errors {len(c['errors'])}")
    if "soak" in r:
        lines.append(f"RSS over {r['soak']['questions']} questions (MiB, every 20): {r['soak']['rss_mib_every_20']}")
    lines.append(f"machine: {json.dumps(result['machine'])}")
    return "\n".join(lines)
