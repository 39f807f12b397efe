"""The question set is sound, and the shipped method stays above today's measured floors."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation.evaluate import DEFAULT_QUESTIONS, counts, evidence_spans, load_questions, run_eval
from conftest import ARTICLES

# Regression guards, set a little under the figures measured on 2026-11-23 (eval/report.md):
# test half, routed: ko recall@1 0.881 / @5 1.000, en 0.773 / 0.977; abstention P 0.75 R 0.38.
FLOORS = {
    "ko": {"recall@1": 0.83, "recall@5": 0.95},
    "en": {"recall@1": 0.72, "recall@5": 0.93},
}


@pytest.fixture(scope="module")
def questions():
    return load_questions()


def test_question_set_meets_its_brief(questions):
    n = counts(questions)
    assert n["ko"] >= 30 and n["en"] >= 30 and n["unanswerable"] >= 10 and n["both_articles"] >= 5
    assert len({q.id for q in questions}) == len(questions)
    styles = {q.style for q in questions}
    assert {"colloquial", "misspelled"} <= styles
    for split in ("dev", "test"):
        assert sum(q.split == split for q in questions) >= 40


def test_every_evidence_span_is_in_a_cleaned_body(questions, retriever):
    articles = retriever.index.articles
    for q in questions:
        spans = evidence_spans(q, articles)  # raises on a span that is not verbatim in the cleaned text
        assert (len(spans) > 0) == q.answerable
        if q.kind == "both":
            assert len({d for d, _, _ in spans}) == 2


def test_questions_do_not_copy_their_evidence(questions):
    for q in questions:
        for _, text in q.evidence:
            assert not any(text[i : i + 12] in q.question for i in range(len(text) - 11)), q.id


def test_shipped_method_stays_above_floors(assistant, questions):
    test_half = [q for q in questions if q.split == "test"]
    result = run_eval(assistant, test_half, ["routed"])
    json.dumps(result)  # the --json output is plain JSON
    for lang, floors in FLOORS.items():
        for metric, floor in floors.items():
            assert result["methods"]["routed"][lang][metric] >= floor, (lang, metric, result["methods"])
    ab = result["abstention"]
    assert ab["false_abstentions"] <= 2  # answerable questions are answered
    assert ab["precision"] >= 0.6


def test_questions_file_is_utf8_jsonl():
    for line in DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines():
        json.loads(line)
    assert (ARTICLES / "metadata.json").exists()
