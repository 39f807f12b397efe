"""`eval --dataset debian-faq`: retrieval scored on third-party text, the Debian FAQ in Korean and English.

The corpus itself (sections, questions, the staged articles) comes from datasets.py; this module
builds an index of it in the cache and scores each retrieval method with ranx.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.ingest.datasets import cache_root, debian_faq_questions, debian_faq_sections, write_debian_faq


def doc_run(hits: list, depth: int = 10) -> dict[str, float]:
    """A ranx run over articles: each article at the rank of its best passage."""
    run: dict[str, float] = {}
    for h in hits:
        if h.doc_id not in run and len(run) < depth:
            run[h.doc_id] = float(depth - len(run))
    return run


def eval_debian_faq(methods: tuple[str, ...] = ("routed", "dense", "bm25"), *, cache: Path | None = None,
                    progress: bool = False) -> dict:
    """recall@1/@5 and MRR per language of each method, on an index built in the cache (reused when current)."""
    from ranx import Qrels, Run, evaluate

    from assistant.index.build import build_index
    from assistant.index.manifest import is_up_to_date
    from assistant.index.vectors import expected_method
    from assistant.models.embedding import Embedder
    from assistant.search.retriever import Retriever
    from assistant.settings import Settings

    sections = debian_faq_sections()
    questions = debian_faq_questions(sections)
    home = (cache or cache_root()) / "debian-faq"
    articles = home / "articles"
    if articles.exists():
        shutil.rmtree(articles)
    write_debian_faq(sections, articles)
    settings = Settings.from_env()
    embedder = Embedder(settings.model, **settings.runtime.embedder_options)
    index = home / "index"
    built = None
    if not is_up_to_date(index, articles, model=settings.model, chunk=settings.chunk,
                         sentence_vectors=expected_method(settings.model, settings.sentence_vectors)):
        built = build_index(articles, index, embedder=embedder, chunk=settings.chunk, progress=progress)
    retriever = Retriever.load(index, settings=settings, embedder=embedder)
    out: dict = {"dataset": "debian-faq", "index": str(index), "sections": len(sections),
                 "passages": len(retriever.passages),
                 "questions": {lang: sum(q.lang == lang for q in questions) for lang in ("ko", "en")},
                 "built_passages_per_s": round(built.passages_per_s, 1) if built else None, "methods": {}}
    qrels = {q.id: {q.gold: 1} for q in questions}
    for method in methods:
        run = {q.id: doc_run(retriever.search(q.question, k=30, method=method)) for q in questions}
        out["methods"][method] = {}
        for lang in ("ko", "en", "all"):
            ids = [q.id for q in questions if lang in ("all", q.lang)]
            scores = evaluate(Qrels({i: qrels[i] for i in ids}), Run({i: run[i] or {"-": 0.0} for i in ids}),
                              ["recall@1", "recall@5", "mrr@10"], make_comparable=True)
            out["methods"][method][lang] = {m: round(float(v), 4) for m, v in scores.items()}
    return out


def render_debian_faq(result: dict) -> str:
    lines = [f"Debian FAQ (debian-faq-ko / debian-faq): {result['sections']} Korean sections, "
             f"{result['passages']} passages; questions: {result['questions']['ko']} Korean titles, "
             f"{result['questions']['en']} English titles; gold = the Korean section.", "",
             "| method | lang | recall@1 | recall@5 | MRR@10 |", "|---|---|---|---|---|"]
    for method, by_lang in result["methods"].items():
        for lang, s in by_lang.items():
            lines.append(f"| {method} | {lang} | {s['recall@1']:.3f} | {s['recall@5']:.3f} | {s['mrr@10']:.3f} |")
    return "\n".join(lines)
