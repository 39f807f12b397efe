"""Calibrate the reader's refusal on the dev half: the threshold on P(answerable) per language.

    python eval/tune_reader.py            # prints the choice and writes eval/tuning_reader.md

For every dev question the reader sees the same evidence `ask()` gives it and we
read P(its reply is not NONE) from the logits (prefill only, no generation). The
threshold per language is the highest that refuses at most 5% of the answerable
dev questions (the issue's false-refusal bound), which refuses as many unanswerable
ones as that allows. The test half is then reported, never used.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from assistant import reader
from assistant.answer import Assistant
from assistant.evaluate import load_questions
from assistant.settings import REPO_DIR

OUT = REPO_DIR / "eval" / "tuning_reader.md"
MAX_FALSE_REFUSALS = 0.05


def p_answerable(assistant: Assistant, question: str) -> tuple[float, float]:
    """(P(answerable), retrieval margin) for one question, as ask() would compute them."""
    r = assistant._retrieve(question, 5, (), "routed")
    s = assistant.settings
    evidence = reader.pick_sentences(assistant.retriever.index, r.hits, r.focus, s.reader_depth, s.reader_sentences)
    with assistant.llm.lock:
        return reader.decide(assistant.llm, r.question, evidence, r.lang), r.margin


def choose(rows: list[dict], lang: str) -> float:
    """The highest threshold whose false refusals on answerable dev questions stay within the bound."""
    ans = sorted(r["p"] for r in rows if r["lang"] == lang and r["answerable"])
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(ans)))
    # Refuse below the threshold: set it just under the (allowed+1)-th lowest answerable score.
    return round(float(ans[allowed]) - 1e-4, 4) if ans else 0.5


def report(rows: list[dict], thresholds: dict, split: str) -> list[str]:
    lines = []
    for lang in ("ko", "en"):
        mine = [r for r in rows if r["lang"] == lang and r["split"] == split]
        t = thresholds[lang]
        ans = [r for r in mine if r["answerable"]]
        on = [r for r in mine if not r["answerable"] and not r["off_topic"]]
        off = [r for r in mine if r["off_topic"]]
        lines.append(f"| {split} | {lang} | {t:.4f} | {sum(r['p'] < t for r in ans)}/{len(ans)} | "
                     f"{sum(r['p'] < t for r in on)}/{len(on)} | {sum(r['p'] < t for r in off)}/{len(off)} |")
    return lines


def main() -> int:
    assistant = Assistant.load(reader=sys.argv[1] if len(sys.argv) > 1 else "local")
    if assistant.llm is None:
        print(f"no reader: {assistant.reader_notice}", file=sys.stderr)
        return 1
    rows = []
    t0 = time.perf_counter()
    for q in load_questions():
        p, margin = p_answerable(assistant, q.question)
        rows.append({"id": q.id, "lang": q.lang, "split": q.split, "answerable": q.answerable,
                     "off_topic": q.style == "off-topic", "p": round(p, 4), "margin": round(margin, 4)})
    dev = [r for r in rows if r["split"] == "dev"]
    thresholds = {lang: choose(dev, lang) for lang in ("ko", "en")}
    lines = [
        "# Reader refusal, calibrated on dev",
        "",
        f"`python eval/tune_reader.py` ({time.perf_counter() - t0:.0f} s). P = the reader's probability of not "
        "replying NONE; refuse below the threshold. Threshold per language: the highest with at most "
        f"{MAX_FALSE_REFUSALS:.0%} of answerable dev questions refused.",
        "",
        "| split | lang | threshold | answerable refused | on-topic unanswerable refused | off-topic refused |",
        "|---|---|---|---|---|---|",
        *report(rows, thresholds, "dev"),
        *report(rows, thresholds, "test"),
        "",
        "Per question (P, retrieval margin):",
        "",
        "```",
        *(json.dumps(r, ensure_ascii=False) for r in rows),
        "```",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:12]))
    print(json.dumps(thresholds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
