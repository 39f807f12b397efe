"""Fit when to show a short answer, and when to refuse, on KorQuAD's dev half and the news eval's dev half.

    python eval/tune_short.py collect [--per-split 280]   # ask, with refusal and the short-answer gate off
    python eval/tune_short.py fit                                          # fit both models from the rows

`collect` asks dev questions with refusal and the short-answer gate switched off, so every
question gets the model's choice and its signals:
- KorQuAD dev: questions of every dev article against the full KorQuAD index (answerable), and
  questions of the left-out dev articles against the index built without them (on-topic,
  not answerable: the left-out article's neighbours are still there);
- the news eval's dev half (answerable, on-topic and off-topic unanswerable).
`fit` fits two logistic regressions (scikit-learn):
- P(short right) on the answered rows (right: a gold answer inside the chosen span, which is
  brief; `evaluation.scoring.short_right`), with the lowest threshold whose shown answers are
  at least TARGET_PRECISION right on dev;
- P(answerable) (`decide.FEATURES`), with the highest threshold that refuses at most
  MAX_FALSE_REFUSALS of dev's answerable questions.
Nothing of the test halves is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.settings import REPO_DIR

ROWS = REPO_DIR / "eval" / "tuning_short_rows.jsonl"  # ids, labels and signals; no KorQuAD text
TARGET_PRECISION = 0.90  # cross-validated on dev: the precision the test half must show
MAX_FALSE_REFUSALS = 0.035  # of those the reader decides; the retrieval margin refuses ~1% more first


def collect(per_split: int) -> None:
    from assistant.evaluation import korquad
    from assistant.evaluation.eval_answers import gold_in
    from assistant.evaluation.evaluate import load_questions
    from assistant.ingest.korquad import load_korquad, spread
    from assistant.models import readers
    from assistant.reading import decide
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    never = {"coef": [0.0] * len(decide.FEATURES), "intercept": 0.0, "threshold": 0.0}
    show_all = {**decide.short_model(), "threshold": 0.0}
    decide.weights = lambda: never  # every question reaches its choice, so its signals can be read
    decide.short_model = lambda: show_all
    llm = readers.load("local")
    data = load_korquad()
    paths = korquad.build_indexes(data)
    sample = spread(data.split("dev"), per_split)
    rows = []
    for index_dir, batch, name in ((paths.full, sample, "full"),
                                   (paths.left_out, [q for q in sample if q.doc_id in paths.excluded], "left-out")):
        a = Assistant(Retriever.load(index_dir), llm=llm)
        for r in korquad.run(a, batch, progress=f"KorQuAD dev, {name} index", index=name, excluded=paths.excluded):
            rows.append(_row("korquad", r.id, r.gold, not r.left_out, r.extra))
    a = Assistant(Retriever.load(), llm=llm)
    for q in [q for q in load_questions() if q.split == "dev"]:
        ans = a.ask(q.question)
        rows.append({**_row("news", q.id, q.gold, q.answerable, ans.extra),
                     "gold_shown": bool(q.answerable and gold_in(ans.text, q.gold))})
    ROWS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _row(dataset: str, qid: str, gold: Sequence[str], answerable: bool, extra: dict) -> dict:
    """Ids, labels and signals only: no question or answer text (KorQuAD's records are redistributed unmodified
    only, in eval/korquad/)."""
    from assistant.evaluation.scoring import short_right

    chosen = extra.get("chosen") or ""
    return {"dataset": dataset, "id": qid, "answerable": answerable, "chosen_kind": extra.get("chosen_kind", ""),
            "right": bool(answerable and chosen and chosen != "NONE" and short_right(chosen, gold)),
            "decision": extra.get("decision") or {}}


def fit() -> None:
    """Both thresholds are read off 5-fold cross-validated probabilities (each row scored by a model that did
    not see it), so they hold for questions the models never saw; the shipped models are then fitted on all rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from assistant.reading import decide

    rows = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]
    usable = [r for r in rows if r["decision"]]
    # P(short right): answerable rows where the model chose a span.
    srows = [r for r in usable if r["answerable"] and r["decision"].get("short") and r["chosen_kind"]]
    xs = np.array([[r["decision"]["short"][f] for f in decide.SHORT_FEATURES] for r in srows])
    ys = np.array([r["right"] for r in srows])
    short = LogisticRegression(C=0.1, max_iter=5000)  # regularized: ~300 rows, 16 signals
    ps = cross_val_predict(short, xs, ys, cv=5, method="predict_proba")[:, 1]
    threshold = _precision_threshold(ps, ys, TARGET_PRECISION)
    shown = ps >= threshold
    print(f"short: {len(srows)} rows, {ys.mean():.3f} right if all shown; threshold {threshold:.4f} "
          f"(cross-validated): shown {shown.mean():.3f}, right among shown "
          f"{ys[shown].mean() if shown.any() else 0:.3f}")
    _write(decide.SHORT_FILE, short.fit(xs, ys), threshold, decide.SHORT_FEATURES,
           f"{len(srows)} dev rows: KorQuAD dev ({sum(r['dataset'] == 'korquad' for r in srows)}) "
           f"and the news eval's dev half ({sum(r['dataset'] == 'news' for r in srows)}); threshold: "
           f"cross-validated precision >= {TARGET_PRECISION}")
    # P(answerable): every row that reached the reader (the retrieval margin refused the others first).
    xa = np.array([decide.Signals(**{f: r["decision"][f] for f in (*decide.FEATURES, "polar")}).vector()
                   for r in usable])
    ya = np.array([r["answerable"] for r in usable])
    answerable = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
    pa = cross_val_predict(answerable, xa, ya, cv=5, method="predict_proba")[:, 1]
    t = float(np.quantile(pa[ya], MAX_FALSE_REFUSALS))
    refused = pa < t
    print(f"answerable: {len(usable)} rows ({ya.sum()} answerable); threshold {t:.4f} (cross-validated): "
          f"false refusals {refused[ya].mean():.3f}, unanswerable refused {refused[~ya].mean():.3f}")
    _write(decide.WEIGHTS_FILE, answerable.fit(xa, ya), t, decide.FEATURES,
           f"{len(usable)} dev rows: KorQuAD dev (full and left-out index) and the news eval's dev half; threshold: "
           f"cross-validated false refusals <= {MAX_FALSE_REFUSALS}")


def _precision_threshold(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """The lowest threshold whose shown rows (p >= t) are at least `target` right, with at least 10 shown."""
    order = np.argsort(-p)
    right = np.cumsum(y[order])
    n = np.arange(1, len(p) + 1)
    ok = [(i, p[order][i]) for i in range(9, len(p)) if right[i] / n[i] >= target]
    return float(ok[-1][1]) if ok else 1.0


def _write(path: Path, model, threshold: float, features: tuple[str, ...], fitted_on: str) -> None:  # noqa: ANN001
    path.write_text(json.dumps({"coef": [round(float(c), 5) for c in model.coef_[0]],
                                "intercept": round(float(model.intercept_[0]), 5), "threshold": round(threshold, 4),
                                "features": list(features), "fitted_on": fitted_on}, indent=2) + "\n",
                    encoding="utf-8")


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--per-split", type=int, default=280, help="KorQuAD dev questions, spread over its articles")
    sub.add_parser("fit")
    args = p.parse_args(argv)
    collect(args.per_split) if args.cmd == "collect" else fit()


if __name__ == "__main__":
    main(sys.argv[1:])
