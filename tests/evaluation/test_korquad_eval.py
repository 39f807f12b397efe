"""A tiny end-to-end KorQuAD eval: two articles, the real e5 embedder, the extractive reader."""

from __future__ import annotations

import json

import pytest

from assistant import cli
from assistant.evaluation import korquad, korquad_report
from assistant.ingest.korquad import KorQuAD, load_korquad


@pytest.fixture(scope="module")
def tiny():
    """kq022 (dev) and kq025 (test), two of the shortest articles (~360 characters each)."""
    data = load_korquad()
    keep = {"kq022", "kq025"}
    return KorQuAD(tuple(a for a in data.articles if a.doc_id in keep),
                   tuple(q for q in data.questions if q.doc_id in keep),
                   {d: a for d, a in data.cleaned.items() if d in keep})


def _unit(v) -> bool:
    return v is None or 0.0 <= v <= 1.0


def test_tiny_run_reports_every_figure(tiny, embedder, tmp_path):
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    paths = korquad.build_indexes(tiny, tmp_path / "home", embedder=embedder, progress=False, exclude={"kq025"})
    again = korquad.build_indexes(tiny, tmp_path / "home", embedder=embedder, progress=False, exclude={"kq025"})
    assert again == paths  # current indexes are reused, not rebuilt
    full = Assistant(Retriever.load(paths.full, embedder=embedder))
    held = Assistant(Retriever.load(paths.left_out, embedder=embedder))
    assert set(held.retriever.index.articles) == {"kq022"}
    result = korquad.evaluate(tiny, full, held, paths.excluded, limit=4, runs_dir=tmp_path / "runs")

    for split in ("dev", "test"):
        s = result["splits"][split]
        assert s["questions"] == 4 and s["articles"] == 1
        assert all(_unit(v) for v in s["retrieval"].values())
        assert s["retrieval"]["recall@5"] >= s["retrieval"]["recall@1"]
        sh = s["short"]
        assert sh["shown"] == sh["right"] + sh["wrong"] <= sh["answerable"] == 4
        assert all(_unit(sh[k]) for k in ("em", "f1", "precision", "coverage"))
        assert all(_unit(v) for k, v in s["risk_coverage"].items() if k != "max_coverage")
        assert _unit(s["refused_full_index"])
        rows = [json.loads(line) for line in (tmp_path / "runs" / f"{split}-extractive.jsonl").read_text().splitlines()]
        assert len(rows) == 8 and {r["index"] for r in rows} == {"full", "left-out"}
        fields = {"id", "question", "gold", "doc_id", "short", "abstained", "text", "ranks", "extra", "timings"}
        assert fields <= set(rows[0])
    # every test question is about the left-out article; no dev question is
    assert result["splits"]["test"]["abstention"]["left_out_questions"] == 4
    assert result["splits"]["dev"]["abstention"]["left_out_questions"] == 0
    assert _unit(result["splits"]["test"]["abstention"]["left_out_refused"])
    # the one article of each split is in the full index: its gold passage is retrieved in the top 5 mostly
    assert result["splits"]["dev"]["retrieval"]["recall@5"] > 0

    md = korquad_report.markdown(result)
    assert "| | dev | test |" in md and "recall@1" in md and "EM / F1" in md
    korquad_report.plot(result, tmp_path / "rc.png")
    assert (tmp_path / "rc.png").stat().st_size > 1000


def test_bad_limit_is_one_line(capsys):
    assert cli.main(["eval", "--dataset", "korquad", "--limit", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --limit") and err.count("\n") == 1
