"""`eval --dataset korquad`: the reader on KorQuAD 1.0, open book, dev and test side by side.

Every question is asked as a user asks it (no hint of its paragraph) of an index of all 70 articles, and again
of an index that leaves 20 articles out (`korquad.left_out`), where the questions about those must be refused.
Scored per split: retrieval recall@1/@5 (ranx; a passage is relevant when it holds the gold span), the short
answer's EM/F1 and shown/right/wrong (scoring.py), its risk-coverage curve, and abstention. One JSON line per
question goes to eval/korquad_runs/<split>-<reader>.jsonl with the reader's signals (`answer.extra`).

From a program (the lead's calibration): `paths = build_indexes()`, then `run(assistant, questions)` with an
`Assistant` over `paths.full` or `paths.left_out`, and `questions = load_korquad().split("dev")`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.evaluation import scoring
from assistant.ingest.datasets import cache_root
from assistant.ingest.korquad import KorQuAD, KqQuestion, left_out, load_korquad, spread, write_articles
from assistant.settings import REPO_DIR

REPORT = REPO_DIR / "eval" / "korquad_report.md"
PLOT = REPO_DIR / "eval" / "korquad_risk_coverage.png"
RUNS = REPO_DIR / "eval" / "korquad_runs"


@dataclass(frozen=True)
class Row:
    """One question asked of one index: what the reader showed, where the gold passage ranked, its signals."""

    id: str
    question: str
    gold: tuple[str, ...]
    split: str
    doc_id: str
    index: str  # "full" | "left-out"
    left_out: bool  # its article is not in this index: it must be refused
    short: str
    abstained: bool
    text: str  # the answer's first 200 characters
    holds_gold: bool  # a gold answer is in the whole text shown (the news eval's "right"; quoting's only score)
    ranks: tuple[int, ...]  # ranks (1-based) of the retrieved passages that hold the gold span
    score: float  # scoring.short_score(answer)
    extra: dict
    timings: dict
    ms: float


@dataclass(frozen=True)
class IndexPaths:
    full: Path
    left_out: Path
    excluded: frozenset[str]  # doc ids missing from `left_out`


def build_indexes(data: KorQuAD | None = None, home: Path | None = None, *, embedder=None,  # noqa: ANN001
                  progress: bool = True, exclude: set[str] | None = None) -> IndexPaths:
    """The full index and the left-out one under `home` (default: the dataset cache), each rebuilt only when
    its articles, the model or the chunking changed; one embedding cache serves both."""
    from assistant.index.build import build_index
    from assistant.index.manifest import is_up_to_date
    from assistant.index.vectors import expected_method
    from assistant.models.embedding import Embedder
    from assistant.settings import Settings

    data = data or load_korquad()
    home = home or cache_root() / "korquad"
    excluded = frozenset(left_out(data.articles) if exclude is None else exclude)
    settings = Settings()
    method = expected_method(settings.model, settings.sentence_vectors)
    paths = {}
    for name, skip in (("full", frozenset()), ("left-out", excluded)):
        articles = write_articles(data.articles, home / name / "articles", exclude=skip)
        index = home / name / "index"
        if not is_up_to_date(index, articles, model=settings.model, chunk=settings.chunk, sentence_vectors=method):
            embedder = embedder or Embedder(settings.model)
            build_index(articles, index, embedder=embedder, chunk=settings.chunk, progress=progress,
                        cache_dir=home / "cache", sentence_vectors=settings.sentence_vectors)
        paths[name] = index
    return IndexPaths(paths["full"], paths["left-out"], excluded)


def _contains(hit, q: KqQuestion) -> bool:  # noqa: ANN001
    return hit.doc_id == q.doc_id and hit.start <= q.start and q.end <= hit.end


def run(assistant, questions: Sequence[KqQuestion], *, progress: str = "", index: str = "full",  # noqa: ANN001
        excluded: frozenset[str] = frozenset()) -> list[Row]:
    """Ask each question of `assistant` once, open book; `progress` names a tqdm bar (with its ETA)."""
    from tqdm import tqdm

    rows = []
    for q in tqdm(questions, desc=progress, unit="q", disable=not progress):
        t0 = time.perf_counter()
        hits, ans = (), None
        for event in assistant.stream(q.question):
            if event.kind == "sources":
                hits = event.hits
            ans = event.answer or ans
        ms = (time.perf_counter() - t0) * 1000
        rows.append(Row(q.id, q.question, q.gold, q.split, q.doc_id, index, q.doc_id in excluded,
                        scoring.shown_short(ans), ans.abstained, ans.text[:200],
                        not ans.abstained and scoring.holds_gold(ans.text, q.gold),
                        tuple(h.rank for h in hits if _contains(h, q)), scoring.short_score(ans),
                        _jsonable(ans.extra), _jsonable(ans.timings), round(ms, 1)))
    return rows


def _jsonable(value: object) -> object:
    """`answer.extra` as plain JSON (dataclasses as dicts, anything else unknown as its string)."""
    return json.loads(json.dumps(value, ensure_ascii=False,
                                 default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)))


def retrieval(rows: Sequence[Row]) -> dict:
    """recall@1/@5 (ranx): the one relevant item of a question is a passage that holds its gold span."""
    from ranx import Qrels, Run, evaluate

    if not rows:
        return {"recall@1": 0.0, "recall@5": 0.0}
    qrels = Qrels({r.id: {"gold": 1} for r in rows})
    # the passages ranked above the first relevant one stand in as other items, so the rank is kept
    run_ = Run({r.id: {**{f"-{k}": 1.0 / k for k in range(1, r.ranks[0])}, "gold": 1.0 / r.ranks[0]}
                if r.ranks else {"-": 0.0} for r in rows})
    scores = evaluate(qrels, run_, ["recall@1", "recall@5"], make_comparable=True)
    return {m: round(float(v), 4) for m, v in scores.items()}


def score_split(full: Sequence[Row], held: Sequence[Row]) -> dict:
    """The figures of one split: `full` asked of the full index, `held` of the left-out one."""
    counts = scoring.short_counts([(r.short, r.gold) for r in full])
    # The gate's curve: every span the reader chose (shown or held back), most likely right first, so that the
    # shipped threshold is one point of it and the rest of the trade-off is visible.
    curve = scoring.risk_coverage([(r.score, scoring.short_right(c, r.gold)) for r in full
                                   if not r.abstained and (c := _chosen(r))], len(full))
    gone = [r for r in held if r.left_out]
    kept = [r for r in held if not r.left_out]
    ms = [r.ms for r in full]
    return {
        "questions": len(full), "articles": len({r.doc_id for r in full}),
        "retrieval": retrieval(full),
        "short": counts.as_dict(),
        "chosen": scoring.short_counts([("" if r.abstained else _chosen(r), r.gold) for r in full]).as_dict(),
        "risk_coverage": curve.as_dict(),
        "curve": {"coverage": [round(c, 4) for c in curve.coverage],
                  "precision": [round(p, 4) for p in curve.precision]},
        "answer_holds_gold": _share(sum(r.holds_gold for r in full), len(full)),
        "refused_full_index": _share(sum(r.abstained for r in full), len(full)),
        "abstention": {"left_out_questions": len(gone), "left_out_refused": _share(sum(r.abstained for r in gone),
                                                                                   len(gone)),
                       "kept_questions": len(kept), "false_refusals": _share(sum(r.abstained for r in kept),
                                                                             len(kept))},
        "answer_ms": {"p50": _pct(ms, 50), "p95": _pct(ms, 95)},
    }


def _chosen(r: Row) -> str:
    """The span the reader chose, whether or not its short answer was shown; "" for NONE or no reader."""
    chosen = r.short or (r.extra or {}).get("chosen") or ""
    return "" if chosen == "NONE" else chosen


def rescore(path: Path, short_threshold: float | None = None, short_chars: int = 60) -> dict:
    """One split's figures again from its saved rows (`write_rows`), without asking anything. With
    `short_threshold`, the short-answer gate is replayed at that threshold: it decides only whether the chosen
    span is shown (a Korean reader's short answer is the span itself), so the figures are those a run with it
    would give."""
    rows = [Row(**{**d, "gold": tuple(d["gold"]), "ranks": tuple(d["ranks"])})
            for d in map(json.loads, path.read_text(encoding="utf-8").splitlines())]
    if short_threshold is not None:
        rows = [dataclasses.replace(r, short=c if not r.abstained and (c := _chosen(r)) and r.score >= short_threshold
                                    and not (r.extra.get("chosen_kind") == "clause" and len(c) > short_chars)
                                    else "") for r in rows]
    return score_split([r for r in rows if r.index == "full"], [r for r in rows if r.index != "full"])


def _share(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _pct(values: Sequence[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def write_rows(rows: Sequence[Row], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n")
    return path


def evaluate(data: KorQuAD, full, held, excluded: frozenset[str], *, splits: Sequence[str] = ("dev", "test"),  # noqa: ANN001
             limit: int | None = None, progress: bool = False, runs_dir: Path | None = RUNS,
             reader: str = "extractive") -> dict:
    """Ask each split's questions (`limit` of them, spread over its articles) of both assistants and score them;
    `held=None` skips the left-out index (and its abstention figures), halving a slow reader's time."""
    out: dict = {"dataset": "korquad", "reader": reader, "limit": limit, "left_out": sorted(excluded), "splits": {}}
    for split in splits:
        questions = spread(data.split(split), limit)
        rows_full = run(full, questions, progress=f"{split} full" if progress else "", excluded=frozenset())
        rows_held = [] if held is None else run(held, questions, progress=f"{split} left-out" if progress else "",
                                                index="left-out", excluded=excluded)
        if runs_dir is not None:
            write_rows([*rows_full, *rows_held], runs_dir / f"{split}-{reader}.jsonl")
        out["splits"][split] = score_split(rows_full, rows_held)
    return out


def run_cli(args) -> int:  # noqa: ANN001 - argparse.Namespace
    """`eval --dataset korquad [--split dev|test|both] [--limit N] [--reader R] [--json] [--no-report]`."""
    import sys

    from assistant.models import readers as llms
    from assistant.models.embedding import Embedder
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever
    from assistant.settings import Settings

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be a positive whole number")
    splits = ("dev", "test") if args.split in ("all", "both") else (args.split,)
    reader = (args.reader or "").split(",")[0].strip() or None
    llm = llms.load(reader)  # LLMError (no model) stops here with its one-line reason
    name = "extractive" if llm is None else llms.reader_kind(reader)
    settings = Settings()
    embedder = Embedder(settings.model)
    data = load_korquad()
    paths = build_indexes(data, embedder=embedder, progress=not args.json)
    full = Assistant(Retriever.load(paths.full, settings=settings, embedder=embedder), settings, llm)
    held = Assistant(Retriever.load(paths.left_out, settings=settings, embedder=embedder), settings, llm)
    t0 = time.perf_counter()
    result = evaluate(data, full, held, paths.excluded, splits=splits, limit=args.limit, progress=not args.json,
                      reader=name)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["command"] = "python -m assistant eval --dataset korquad " + " ".join(
        a for a in (f"--split {args.split}" if args.split not in ("all", "both") else "",
                    f"--limit {args.limit}" if args.limit else "", f"--reader {name}") if a)
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    from assistant.evaluation import korquad_report

    if not args.no_report:
        REPORT.write_text(korquad_report.markdown(result), encoding="utf-8")
        korquad_report.plot(result, PLOT)
    print(json.dumps(result, ensure_ascii=False) if args.json else korquad_report.markdown(result))
    sys.stdout.flush()
    return 0
