"""`python -m assistant ...`: build, search, ask, eval, bench, ui.

Errors are one clear line on stderr and a non-zero exit (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import NewsQAError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (NewsQAError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistant", description="Question answering over Korean news articles.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="clean, split, embed and index the articles")
    b.add_argument("--articles", type=Path, help="articles directory (default: articles/)")
    b.add_argument("--index", type=Path, help="index directory (default: index/)")
    b.add_argument("--if-stale", action="store_true", help="do nothing when the index is up to date")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_build)

    for name, helptext in (("search", "show the passages that answer a question"),
                           ("ask", "answer a question with citations")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("question")
        s.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
        s.add_argument("--index", type=Path, help="index directory (default: index/)")
        s.add_argument("--method", default="routed", choices=("dense", "bm25", "hybrid", "routed"))
        s.add_argument("--json", action="store_true", help="print JSON")
        s.set_defaults(func=cmd_search if name == "search" else cmd_ask)

    e = sub.add_parser("eval", help="score retrieval and answers on eval/questions.jsonl")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--methods", default="dense,bm25,hybrid,routed")
    e.add_argument("--index", type=Path)
    e.add_argument("--questions", type=Path)
    e.add_argument("--split", default="all", choices=("all", "dev", "test"))
    e.add_argument("--no-report", action="store_true", help="don't write eval/report.md and report.png")
    e.add_argument("--dataset", choices=("debian-faq",),
                   help="score a third-party corpus instead (built into its own index under ~/.cache/news-qa)")
    e.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="measure speed and memory against baselines")
    bench.add_argument("--quick", action="store_true", help="stop at 100k passages (under 3 minutes)")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--index", type=Path)
    bench.add_argument("--sections", help="comma-separated: cold,query,scale,embed,build (default: all)")
    bench.add_argument("--build-corpus", help="what the build section builds: the shipped articles (default), "
                       "libreoffice-help-ko[:N|:all] (N help pages, default 560), or a directory")
    bench.set_defaults(func=cmd_bench)

    u = sub.add_parser("ui", help="start the chat UI")
    u.add_argument("--index", type=Path)
    u.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 exposes it)")
    u.add_argument("--port", type=int, default=7860)
    u.set_defaults(func=cmd_ui)

    m = sub.add_parser("prepare", help="convert the bundled model weights (done by build too)")
    m.set_defaults(func=cmd_prepare)
    return p


def cmd_build(args: argparse.Namespace) -> int:
    from .embedding import Embedder
    from .index import build_index, is_up_to_date
    from .settings import Settings, default_articles_dir, default_index_dir
    from .vectors import expected_method

    settings = Settings()
    chunk = settings.chunk  # NEWSQA_CHUNK_SIZE / NEWSQA_CHUNK_OVERLAP; loading checks the same settings
    articles_dir = args.articles or default_articles_dir()
    index_dir = args.index or default_index_dir()
    method = expected_method(settings.model, settings.sentence_vectors)
    if args.if_stale and is_up_to_date(index_dir, articles_dir, model=settings.model, chunk=chunk,
                                       sentence_vectors=method):
        print(f"index at {index_dir} is up to date")
        return 0
    report = build_index(articles_dir, index_dir, embedder=Embedder(settings.model), chunk=chunk,
                         progress=not args.quiet, sentence_vectors=settings.sentence_vectors)
    for s in report.skipped:
        print(f"warning: {s}", file=sys.stderr)
    print(f"built {index_dir}: {report.articles} articles, {report.passages} passages, "
          f"{report.embedded} texts embedded, {report.reused} reused from cache "
          f"({report.sentence_vectors} sentence vectors), {report.seconds:.1f} s, "
          f"{report.passages_per_s:.1f} passages/s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .retriever import Retriever, clean_question

    clean_question(args.question)  # reject empty input before loading the model
    hits = Retriever.load(args.index).search(args.question, k=args.k, method=args.method)
    if args.json:
        print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    for h in hits:
        print(f"[{h.rank}] {h.title} ({h.doc_id}, chars {h.start}-{h.end}) score={h.score:.4f}")
        print("    " + h.text.replace("\n", "\n    "))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer import Assistant
    from .retriever import clean_question

    clean_question(args.question)
    ans = Assistant.load(args.index).ask(args.question, k=args.k, method=args.method)
    if args.json:
        data = asdict(ans)
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for n in ans.notices:
        print(f"note: {n}")
    print(ans.text)
    shown = ans.citations or ans.related
    if shown:
        print()
        print("Sources:" if ans.citations else "Closest passages (not an answer):")
        for i, h in enumerate(shown, 1):
            print(f"[{i}] {h.title} ({h.doc_id}, chars {h.start}-{h.end})")
            print("    " + h.text.replace("\n", "\n    "))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.dataset:
        from .datasets import eval_debian_faq, render_debian_faq

        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        result = eval_debian_faq(methods, progress=not args.json)
        print(json.dumps(result, ensure_ascii=False) if args.json else render_debian_faq(result))
        return 0
    from .evaluate import run_cli

    return run_cli(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_cli

    return run_cli(args)


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(index_dir=args.index, host=args.host, port=args.port)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Convert the bundled weights and export them for ONNX Runtime, once per machine."""
    from .backends import onnx_path
    from .weights import prepare_model

    model_dir = prepare_model()
    print(model_dir)
    print(onnx_path(model_dir, "fp32"))
    return 0
