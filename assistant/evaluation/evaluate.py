"""Score retrieval and answers on the hand-written question set (eval/questions.jsonl).

Labels are verbatim evidence spans, not chunk ids, so re-chunking never breaks
them. A question's evidence span counts as found at rank r when the r-th
passage holds at least half of the span; recall@k is the share of a question's
spans found in the top k. Metrics are computed by ranx, not by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.search.retriever import METHODS, Hit, Retriever
from assistant.settings import REPO_DIR

METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10")
DEFAULT_QUESTIONS = REPO_DIR / "eval" / "questions.jsonl"
SHIPPED = "routed"


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    kind: str  # single | both | unanswerable
    style: str
    split: str  # dev | test
    question: str
    evidence: tuple[tuple[str, str], ...]  # (doc_id, verbatim span)
    answer: str = ""
    gold: tuple[str, ...] = ()  # short answers, in both languages where that makes sense

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_questions(path: Path = DEFAULT_QUESTIONS) -> list[Question]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            ev = tuple((e["doc_id"], e["text"]) for e in d.get("evidence", []))
            out.append(Question(d["id"], d["lang"], d["kind"], d.get("style", "plain"), d["split"],
                                d["question"], ev, d.get("answer", ""), tuple(d.get("gold", ()))))
    return out


def evidence_spans(q: Question, articles: dict) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of each evidence span in the cleaned articles; a missing span is an error."""
    spans = []
    for doc_id, text in q.evidence:
        article = articles.get(doc_id)
        start = article.text.find(text) if article else -1
        if start < 0:
            raise ValueError(f"{q.id}: evidence not found verbatim in {doc_id}: {text!r}")
        spans.append((doc_id, start, start + len(text)))
    return spans


def covers(doc_id: str, start: int, end: int, span: tuple[str, int, int]) -> bool:
    """Does [start, end) of doc_id hold at least half of the evidence span?"""
    d, s, e = span
    return d == doc_id and min(end, e) - max(start, s) >= (e - s) / 2


def span_run(hits: Sequence[Hit], spans: list[tuple[str, int, int]]) -> dict[str, float]:
    """A ranx run over evidence ids: each retrieved passage is replaced by the spans it first covers."""
    run: dict[str, float] = {}
    found: set[int] = set()
    for h in hits:
        new = [i for i, sp in enumerate(spans) if i not in found and covers(h.doc_id, h.start, h.end, sp)]
        found.update(new)
        for item in [f"ev{i}" for i in new] or [f"p:{h.doc_id}:{h.start}"]:
            run[item] = float(len(hits) - len(run))  # strictly decreasing: keeps the rank order
    return run


def score_methods(retriever: Retriever, questions: list[Question], methods: Sequence[str],
                  depth: int = 10) -> tuple[dict, dict]:
    """Metrics per method and language (ko / en / all), and the questions each method misses at 5."""
    from ranx import Qrels, Run, evaluate

    articles = retriever.index.articles
    answerable = [q for q in questions if q.answerable]
    results: dict[str, dict] = {}
    misses: dict[str, list[str]] = {}
    for method in methods:
        qrels, run = {}, {}
        for q in answerable:
            spans = evidence_spans(q, articles)
            qrels[q.id] = {f"ev{i}": 1 for i in range(len(spans))}
            run[q.id] = span_run(retriever.search(q.question, k=depth, method=method), spans)
        results[method] = {}
        for lang in ("ko", "en", "all"):
            ids = [q.id for q in answerable if lang in ("all", q.lang)]
            if not ids:
                continue
            scores = evaluate(Qrels({i: qrels[i] for i in ids}), Run({i: run[i] for i in ids}),
                              list(METRICS), make_comparable=True)
            results[method][lang] = {m: round(float(scores[m]), 4) for m in METRICS}
        full = Run(run)
        evaluate(Qrels(qrels), full, "recall@5", make_comparable=True)
        misses[method] = sorted(qid for qid, v in full.scores["recall@5"].items() if v < 1)
    return results, misses


def score_answers(assistant, questions: list[Question], answers: dict | None = None) -> dict:  # noqa: ANN001
    """Abstention precision/recall on the unanswerable set; whether answers quote the evidence.

    `answers` (question id -> Answer) lets a caller score one set of answers several ways.
    """
    articles = assistant.retriever.index.articles
    tp = fp = fn = 0
    quoted = answered = 0
    wrong: list[str] = []
    for q in questions:
        ans = answers[q.id] if answers is not None else assistant.ask(q.question)
        if not q.answerable:
            tp += ans.abstained
            fn += not ans.abstained
            if not ans.abstained:
                wrong.append(q.id)
            continue
        fp += ans.abstained
        if ans.abstained:
            wrong.append(q.id)
            continue
        answered += 1
        spans = evidence_spans(q, articles)
        hit = any(covers(x.doc_id, x.start, x.end, sp) or covers(sp[0], sp[1], sp[2], (x.doc_id, x.start, x.end))
                  for x in ans.quotes for sp in spans)
        quoted += hit
    n_answerable = sum(q.answerable for q in questions)
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "false_abstentions": fp,
        "answer_accuracy": round(quoted / n_answerable, 4) if n_answerable else 0.0,
        "answer_accuracy_when_answered": round(quoted / answered, 4) if answered else 0.0,
        "wrong_abstention_calls": wrong,
    }


def counts(questions: list[Question]) -> dict:
    ans = [q for q in questions if q.answerable]
    return {
        "ko": sum(q.lang == "ko" for q in ans),
        "en": sum(q.lang == "en" for q in ans),
        "unanswerable": sum(not q.answerable for q in questions),
        "both_articles": sum(q.kind == "both" for q in questions),
    }


def run_eval(assistant, questions: list[Question], methods: Sequence[str]) -> dict:  # noqa: ANN001
    """The whole evaluation as one JSON-ready dict; dev and test halves are reported separately."""
    t0 = time.perf_counter()
    out: dict = {"n": counts(questions)}
    methods_all, misses = score_methods(assistant.retriever, questions, methods)
    out["methods"] = methods_all
    answers = {q.id: assistant.ask(q.question) for q in questions}  # each question asked once
    out["abstention"] = score_answers(assistant, questions, answers)
    out["splits"] = {}
    for split in ("dev", "test"):
        part = [q for q in questions if q.split == split]
        if part:
            m, _ = score_methods(assistant.retriever, part, [SHIPPED])
            out["splits"][split] = {"n": counts(part), "methods": m,
                                    "abstention": score_answers(assistant, part, answers)}
    out["misses@5"] = misses
    out["shipped_method"] = SHIPPED
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def table(result: dict) -> str:
    """A Markdown table of every method's metrics per language."""
    lines = ["| method | lang | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for method, by_lang in result["methods"].items():
        for lang, scores in by_lang.items():
            lines.append(f"| {method} | {lang} | " + " | ".join(f"{scores[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines)


def report_markdown(result: dict) -> str:
    from assistant.evaluation import eval_answers

    n = result["n"]
    ab = result["abstention"]
    parts = [
        "# Evaluation report",
        "",
        f"Questions: {n['ko']} Korean and {n['en']} English answerable ({n['both_articles']} need both "
        f"articles), {n['unanswerable']} unanswerable. Generated by `python -m assistant eval` "
        f"in {result['seconds']} s.",
        "",
        "## Retrieval, all questions",
        "",
        table(result),
        "",
        "## Shipped method (`routed`) by split",
        "",
        "| split | lang | " + " | ".join(METRICS) + " | abstention P | abstention R | answer accuracy |",
        "|---|---|" + "---|" * (len(METRICS) + 3),
    ]
    for split, part in result["splits"].items():
        pab = part["abstention"]
        for lang, scores in part["methods"][SHIPPED].items():
            parts.append(f"| {split} | {lang} | " + " | ".join(f"{scores[m]:.3f}" for m in METRICS)
                         + f" | {pab['precision']:.2f} | {pab['recall']:.2f} | {pab['answer_accuracy']:.2f} |")
    parts += [
        "",
        "## Answers, all questions",
        "",
        f"- Abstention precision {ab['precision']:.3f}, recall {ab['recall']:.3f} "
        f"({ab['false_abstentions']} answerable questions abstained).",
        f"- Answer accuracy (the extractive answer quotes the evidence): {ab['answer_accuracy']:.3f} "
        f"of answerable questions; {ab['answer_accuracy_when_answered']:.3f} of those answered.",
        f"- Wrong abstention decisions: {', '.join(ab['wrong_abstention_calls']) or 'none'}.",
        "",
        "## Questions each method misses (evidence not all in the top 5)",
        "",
    ]
    for method, ids in result["misses@5"].items():
        parts.append(f"- {method}: {', '.join(ids) or 'none'}")
    if result.get("answers"):
        parts += ["", "## Answers by reader", "",
                  "Right: a gold short answer is in the answer shown. Refusals of on-topic and off-topic "
                  "unanswerable questions are counted apart. Unverified shown must be 0.", "",
                  eval_answers.table(result["answers"]), ""]
        for reader, splits in result["answers"].items():
            wrong = splits["all"]["wrong"]
            parts.append(f"- {reader}: not right {', '.join(wrong['not_right']) or 'none'}; on-topic answered "
                         f"{', '.join(wrong['on_topic_answered']) or 'none'}; false refusals "
                         f"{', '.join(wrong['false_refusals']) or 'none'}.")
        for reader, splits in result["answers"].items():
            if reader != "extractive":
                parts += ["", f"### Per question, {reader}", "", eval_answers.rows_table(splits["all"]["per_question"])]
    return "\n".join(parts) + "\n"


def plot(result: dict, path: Path) -> None:
    """Bars of recall@1 and recall@5 per method and language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result["methods"])
    langs = ["ko", "en", "all"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    width = 0.8 / len(methods)
    for ax, metric in zip(axes, ("recall@1", "recall@5")):
        for i, m in enumerate(methods):
            vals = [result["methods"][m].get(lang, {}).get(metric, 0) for lang in langs]
            bars = ax.bar([x + i * width for x in range(len(langs))], vals, width, label=m)
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(langs))], langs)
        ax.set_title(metric)
        ax.set_ylim(0, 1.1)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("news-qa retrieval on eval/questions.jsonl")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_readers(assistant, questions: list[Question], readers: Sequence[str]) -> dict:  # noqa: ANN001
    """Answer every question with each reader (sharing one retriever) and score them side by side."""
    from assistant.evaluation import eval_answers
    from assistant.models import readers as llms
    from assistant.reading.answer import Assistant

    out = {}
    for name in readers:
        model = llms.load(name)  # LLMError (missing model) stops the eval with its one-line reason
        reader_assistant = Assistant(assistant.retriever, assistant.settings, model)
        answers, seconds = eval_answers.answer_all(reader_assistant.ask, questions,
                                                   progress=name if model is not None else "")
        out[name] = eval_answers.by_split(questions, answers)
        out[name]["all"]["seconds"] = round(seconds, 1)
    return out


def run_cli(args: argparse.Namespace) -> int:
    from assistant.evaluation import eval_answers
    from assistant.reading.answer import Assistant

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    questions = load_questions(args.questions or DEFAULT_QUESTIONS)
    if args.split not in ("all", "both"):
        questions = [q for q in questions if q.split == args.split]
    readers = list(dict.fromkeys([r.strip() for r in args.reader.split(",") if r.strip()] + ["extractive"]))
    assistant = Assistant.load(args.index, reader="extractive")
    result = run_eval(assistant, questions, methods)
    if readers:
        result["answers"] = run_readers(assistant, questions, readers)
    if not args.no_report:
        out_dir = DEFAULT_QUESTIONS.parent
        (out_dir / "report.md").write_text(report_markdown(result), encoding="utf-8")
        plot(result, out_dir / "report.png")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(report_markdown(result))
        if readers:
            print("## Answers by reader\n\n" + eval_answers.table(result["answers"]))
    sys.stdout.flush()
    return 0
