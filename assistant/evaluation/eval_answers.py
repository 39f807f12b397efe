"""Score what a person reads: is the answer right, in their language, checked, and refused when it should be?

Each answerable question in eval/questions.jsonl carries `gold`: short answers in
both languages where that makes sense (17%, 6000억달러 / 600 billion). An answer is
right when one of them is in the text shown; a refusal of an answerable question is
wrong. "Shown" is the answer and the article sentences quoted with it: every answer carries the sentence
it rests on (for an English reader, the Korean original under the English). The short answer alone is
scored too, as scoring.py scores it on KorQuAD: short shown / right / wrong (right = a gold alias inside a
brief short answer) and EM/F1 against the gold aliases. Reported per split and language, readers side by side.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

import numpy as np

from assistant.evaluation import scoring
from assistant.ingest.korean import has_hangul


def gold_in(text: str, gold: Sequence[str]) -> bool:
    """Is any gold alias in `text`? Case- and spacing-insensitive; short Latin aliases match whole words."""
    flat = re.sub(r"\s+", "", text.lower())
    for alias in gold:
        a = alias.lower()
        if re.fullmatch(r"[a-z0-9' ]{1,4}", a):
            if re.search(rf"(?<![a-z0-9]){re.escape(a)}(?![a-z0-9])", text.lower()):
                return True
        elif re.sub(r"\s+", "", a) in flat:
            return True
    return False


def shown(ans) -> str:  # noqa: ANN001
    """What a person reads of an answer: its text and the article sentences quoted with it (for an English
    reader of Korean sources, the originals shown under the English)."""
    return "\n".join([ans.text, *(q.text for q in ans.quotes)])


def unverified_shown(ans) -> int:  # noqa: ANN001
    """Sentences the verifier rejected that nevertheless appear in the answer text (must be 0)."""
    if ans.abstained:
        return 0
    return sum(1 for s in ans.sentences if not s.verified and s.text and s.text in ans.text)


def answer_all(ask: Callable, questions: Sequence, progress: str = "") -> tuple[dict, float]:  # noqa: ANN001
    """Each question asked once: id -> Answer, and the wall time; `progress` names a bar (with its ETA)."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    out = {q.id: ask(q.question) for q in tqdm(questions, desc=progress, unit="q", disable=not progress)}
    return out, time.perf_counter() - t0


def score(questions: Sequence, answers: dict) -> dict:  # noqa: ANN001
    """The figures of the issue for one reader over `questions`."""
    ans_q = [q for q in questions if q.answerable]
    on_topic = [q for q in questions if not q.answerable and q.style != "off-topic"]
    off_topic = [q for q in questions if not q.answerable and q.style == "off-topic"]
    out: dict = {"n": len(questions)}
    for lang in ("ko", "en"):
        mine = [q for q in ans_q if q.lang == lang]
        right = [q.id for q in mine if not answers[q.id].abstained and gold_in(shown(answers[q.id]), q.gold)]
        out[f"correct_{lang}"] = _share(len(right), len(mine))
        # The short answer alone (the reader's chosen span), for a reader that gives one.
        out[f"short_{lang}"] = _share(sum(1 for q in mine if not answers[q.id].abstained and answers[q.id].short
                                          and gold_in(answers[q.id].short, q.gold)), len(mine))
        out[f"n_{lang}"] = len(mine)
        pairs = [(scoring.shown_short(answers[q.id]), q.gold) for q in mine]
        out[f"short_counts_{lang}"] = scoring.short_counts(pairs).as_dict()
    refused_on = [q.id for q in on_topic if answers[q.id].abstained]
    refused_off = [q.id for q in off_topic if answers[q.id].abstained]
    false_refusals = [q.id for q in ans_q if answers[q.id].abstained]
    tp = len(refused_on) + len(refused_off)
    out.update({
        "on_topic_refused": _share(len(refused_on), len(on_topic)),
        "off_topic_refused": _share(len(refused_off), len(off_topic)),
        "abstention_precision": _share(tp, tp + len(false_refusals)) if tp + len(false_refusals) else 1.0,
        "abstention_recall": _share(tp, len(on_topic) + len(off_topic)),
        "false_refusals": len(false_refusals),
        "false_refusal_rate": _share(len(false_refusals), len(ans_q)),
    })
    english = [answers[q.id] for q in questions if q.lang == "en" and not answers[q.id].abstained]
    out["english_answers_in_english"] = _share(sum(not has_hangul(a.text) for a in english), len(english))
    sentences = [s for q in questions if not answers[q.id].abstained for s in answers[q.id].sentences]
    out["sentences"] = len(sentences)
    out["sentences_verified"] = _share(sum(s.verified for s in sentences), len(sentences)) if sentences else None
    out["unverified_shown"] = sum(unverified_shown(answers[q.id]) for q in questions)
    out["fallbacks"] = sum(1 for q in questions if not answers[q.id].abstained
                           and answers[q.id].reader.backend == "extractive")
    totals = [answers[q.id].timings.get("total") for q in questions]
    firsts = [answers[q.id].timings.get("first_token") for q in questions]
    out["answer_ms"] = _percentiles(totals)
    out["first_token_ms"] = _percentiles(firsts)
    out["per_question"] = [
        {"id": q.id, "answerable": q.answerable, "off_topic": q.style == "off-topic", "abstained": a.abstained,
         "right": q.answerable and not a.abstained and gold_in(shown(a), q.gold),
         "short_right": bool(q.answerable and a.short and gold_in(a.short, q.gold)),
         "short": scoring.shown_short(a),
         "short_brief_right": bool(q.answerable and scoring.short_right(scoring.shown_short(a), q.gold)),
         "margin": round(a.confidence, 4), "backend": a.reader.backend, "chosen": a.extra.get("chosen"),
         "candidates": len(a.extra.get("candidates") or ()), "decision": a.extra.get("decision"),
         "translation": a.extra.get("translation"), "text": a.text[:300]}
        for q in questions for a in (answers[q.id],)]
    out["wrong"] = {
        "not_right": [q.id for q in ans_q if answers[q.id].abstained or not gold_in(shown(answers[q.id]), q.gold)],
        "on_topic_answered": [q.id for q in on_topic if not answers[q.id].abstained],
        "off_topic_answered": [q.id for q in off_topic if not answers[q.id].abstained],
        "false_refusals": false_refusals,
    }
    return out


def rows_table(rows: Sequence[dict]) -> str:
    """Markdown, one row per question: what the reader chose, its signals and its decision, so a miss can be
    read."""
    head = ("| id | right | chosen | p_none | margin | type missing | entity missing | coverage | P(answerable) | "
            "decision |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = r.get("decision") or {}
        right = "–" if not r["answerable"] else ("✓" if r["right"] else "✗")
        chosen = (r.get("chosen") or "–").replace("|", "/")[:40]
        verdict = "refused" if r["abstained"] else "answered"
        cells = [d.get(k, "–") for k in ("p_none", "margin", "type_missing", "entity_missing", "coverage",
                                          "p_answerable")]
        lines.append(f"| {r['id']} | {right} | {chosen} | " + " | ".join(str(c) for c in cells) + f" | {verdict} |")
    return "\n".join(lines)


def _share(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _percentiles(values: Sequence) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(vals, 50)), 1), "p95": round(float(np.percentile(vals, 95)), 1)}


def by_split(questions: Sequence, answers: dict) -> dict:  # noqa: ANN001
    """score() for all questions and for each half separately."""
    out = {"all": score(questions, answers)}
    for split in ("dev", "test"):
        part = [q for q in questions if q.split == split]
        if part:
            out[split] = score(part, answers)
    return out


def table(results: dict) -> str:
    """Markdown: one row per reader and split."""
    cols = [("correct_ko", "right ko"), ("correct_en", "right en"), ("short_ko", "short right ko"),
            ("short_en", "short right en"), ("short_counts_ko", "short shown / right / wrong ko"),
            ("short_counts_en", "short shown / right / wrong en"), ("short_em_f1_ko", "short EM / F1 ko"),
            ("short_em_f1_en", "short EM / F1 en"), ("on_topic_refused", "on-topic refused"),
            ("off_topic_refused", "off-topic refused"), ("false_refusals", "false refusals"),
            ("english_answers_in_english", "en in English"), ("sentences_verified", "sentences verified"),
            ("unverified_shown", "unverified shown")]
    lines = ["| reader | split | " + " | ".join(c for _, c in cols) + " | answer p50/p95 ms | first token p50/p95 ms |",
             "|---|---|" + "---|" * (len(cols) + 2)]
    for reader, splits in results.items():
        for split, s in splits.items():
            cells = [_cell(s, k) for k, _ in cols]
            lines.append(f"| {reader} | {split} | " + " | ".join(cells)
                         + f" | {_fmt(s['answer_ms']['p50'])} / {_fmt(s['answer_ms']['p95'])}"
                         + f" | {_fmt(s['first_token_ms']['p50'])} / {_fmt(s['first_token_ms']['p95'])} |")
    return "\n".join(lines)


def _cell(s: dict, key: str) -> str:
    """One table cell; the short-answer counts and EM/F1 (×100) are read from `short_counts_<lang>`."""
    if key.startswith(("short_counts_", "short_em_f1_")):
        c = s.get("short_counts_" + key[-2:])
        if not c:
            return "–"
        if key.startswith("short_counts_"):
            return f"{c['shown']} / {c['right']} / {c['wrong']}"
        return f"{100 * c['em']:.1f} / {100 * c['f1']:.1f}"
    return _fmt(s[key])


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v <= 1 else f"{v:.0f}"
    return str(v)
