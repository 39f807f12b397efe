"""eval/korquad_report.md and its risk-coverage plot, from `korquad.evaluate`'s result (dev and test side by
side: tune on dev, read test)."""

from __future__ import annotations

from pathlib import Path


def _f(v: object, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{100 * v:.1f}" if pct else f"{v:.3f}"
    return str(v)


def _rows(split: dict) -> list[tuple[str, str]]:
    s, rc, ab, r = split["short"], split["risk_coverage"], split["abstention"], split["retrieval"]
    return [
        ("questions (articles)", f"{split['questions']} ({split['articles']})"),
        ("retrieval recall@1 / @5", f"{_f(r['recall@1'])} / {_f(r['recall@5'])}"),
        ("short answer EM / F1 (KorQuAD scoring, ×100)", f"{_f(s['em'], True)} / {_f(s['f1'], True)}"),
        ("answer text holds the gold ('right' of the whole answer shown)", _f(split.get("answer_holds_gold"))),
        ("short shown / right / wrong", f"{s['shown']} / {s['right']} / {s['wrong']}"),
        *([("were every chosen span shown: EM / F1; shown / right / wrong",
            f"{_f(c['em'], True)} / {_f(c['f1'], True)}; {c['shown']} / {c['right']} / {c['wrong']}")]
          if (c := split.get("chosen")) else []),
        ("short precision (right / shown)", _f(s["precision"])),
        ("short coverage (shown / answerable)", _f(s["coverage"])),
        ("chosen spans, risk-coverage: AURC (lower is better)", _f(rc["aurc"])),
        ("chosen spans, risk-coverage: area under precision (higher is better)", _f(rc["area"])),
        ("chosen spans: precision at 60% coverage", _f(rc["precision_at_60"])),
        ("refused on the full index (false refusals)", _f(split["refused_full_index"])),
        ("left-out index: questions about left-out articles refused (n)",
         f"{_f(ab['left_out_refused'])} ({ab['left_out_questions']})"),
        ("left-out index: the other questions refused (n)", f"{_f(ab['false_refusals'])} ({ab['kept_questions']})"),
        ("answer p50 / p95 ms", " / ".join("–" if v is None else f"{v:.0f}" for v in split["answer_ms"].values())),
    ]


def markdown(result: dict) -> str:
    splits = result["splits"]
    names = list(splits)
    table = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    per = {n: dict(_rows(splits[n])) for n in names}
    for label in per[names[0]]:
        table.append(f"| {label} | " + " | ".join(per[n][label] for n in names) + " |")
    limit = f"{result['limit']} questions per split, evenly spread over its articles" if result.get("limit") \
        else "every question"
    return "\n".join([
        "# KorQuAD 1.0 (dev half, eval/korquad/): open book",
        "",
        f"Command: `{result.get('command', 'python -m assistant eval --dataset korquad')}` "
        f"({result.get('date', '')}, {result.get('seconds', '–')} s). Reader: **{result['reader']}**; {limit}.",
        "Each question is asked with no hint of its paragraph, first of an index of all 70 articles, then of one "
        f"without {len(result['left_out'])} of them ({', '.join(result['left_out'])}).",
        "",
        *table,
        "",
        "- EM / F1: KorQuAD 1.0's `evaluate-v1.0.py` normalization, best gold answer; a refusal or no short "
        "answer scores 0. Human performance (leaderboard, gold paragraph given): EM 80.17, F1 91.20.",
        "- Right: a gold answer is inside the short answer and the short answer is brief (≤ 20 characters or ≤ "
        "twice the gold's length). Retrieval: a passage is relevant when it holds the gold span.",
        "- Risk-coverage: every span the reader chose (shown as the short answer or held back by the gate) sorted "
        "by `scoring.short_score` (P(short right), else P(answerable), else the answer's confidence); coverage "
        "counts all answerable questions; the shipped threshold shows the top of it (\"short shown\"). Plot: "
        "[korquad_risk_coverage.png](korquad_risk_coverage.png).",
        "- Per-question rows (the reader's signals in `extra`): `eval/korquad_runs/<split>-<reader>.jsonl`.",
        "",
    ])


def plot(result: dict, path: Path) -> None:
    """Precision of the most confident shown short answers against the share of answerable questions shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, split in result["splits"].items():
        c = split["curve"]
        rc = split["risk_coverage"]
        ax.plot(c["coverage"], c["precision"], label=f"{name} (AURC {rc['aurc']:.3f})")
    ax.axvline(0.6, color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage: short answers shown / answerable questions")
    ax.set_ylabel("precision: right / shown")
    ax.set_title(f"KorQuAD 1.0 open book, reader {result['reader']}")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
