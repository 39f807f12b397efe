"""Candidate recall on KorQuAD dev: the ceiling of a reader that chooses among spans.

    python eval/candidate_recall.py [--split dev] [--limit 400]

For each question, retrieval and the reader's evidence run as in `ask()` (no model): when a gold
answer is inside the evidence sentences, is it one of the candidates? Strict: a candidate equals a
gold answer after KorQuAD's normalization. Lenient (reported beside it): a candidate holds a gold
answer and is brief (`evaluation.scoring.short_right`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from assistant.evaluation import korquad
from assistant.evaluation.scoring import normalize_answer, short_right
from assistant.ingest.korquad import load_korquad, spread
from assistant.reading import candidates, reader
from assistant.search.retriever import Retriever


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--split", default="dev", choices=("dev", "test"))
    p.add_argument("--limit", type=int, default=400)
    args = p.parse_args(argv)
    data = load_korquad()
    r = Retriever.load(korquad.build_indexes(data).full)
    s = r.settings
    qs = spread(data.split(args.split), args.limit)
    n = in_evidence = strict = lenient = 0
    missed: Counter = Counter()
    for q in qs:
        hits = r.search(q.question, k=5)
        qvec = r.embed_query(q.question)
        evidence = reader.pick_sentences(r.index, hits, qvec, s.reader_depth, s.reader_sentences)
        text = " ".join(t for e in evidence for _, _, t in e.sentences)
        n += 1
        if not any(_norm(g) in _norm(text) for g in q.gold):
            continue
        in_evidence += 1
        cands = candidates.candidates(evidence, s.reader_candidates)
        golds = {_norm(g) for g in q.gold}
        if any(_norm(c.text) in golds for c in cands):
            strict += 1
        else:
            missed[q.gold[0]] += 1
        lenient += any(short_right(c.text, q.gold) for c in cands)
    print(f"{args.split}: {n} questions; gold in the evidence {in_evidence} ({in_evidence / n:.3f}); "
          f"of those, a candidate equals it {strict} ({strict / max(1, in_evidence):.3f}), "
          f"a brief candidate holds it {lenient} ({lenient / max(1, in_evidence):.3f})")
    print("missed, e.g.:", ", ".join(list(missed)[:25]))


def _norm(text: str) -> str:
    """KorQuAD's normalization, spaces removed too (its F1 compares characters without them)."""
    return "".join(normalize_answer(text).split())


if __name__ == "__main__":
    main(sys.argv[1:])
