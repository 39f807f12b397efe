"""`python -m assistant ...`: build, add, remove, list, search, ask, eval, bench, ui, mcp (sources: cli_sources.py).

Errors are one clear line on stderr and a non-zero exit (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from . import cli_sources
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
    cli_sources.library_options(b)
    b.add_argument("--if-stale", action="store_true", help="do nothing when the index is up to date")
    b.add_argument("--ray", metavar="ADDRESS", help="embed on a Ray cluster (ray://host:10001, host:6379, or auto)")
    b.add_argument("--ray-workers", type=int, help="Ray workers (default: one per CPU of the cluster)")
    b.set_defaults(func=cmd_build)

    for name, helptext in (("search", "show the passages that answer a question"),
                           ("ask", "answer a question with citations")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("question")
        s.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
        s.add_argument("--index", type=Path, help="index directory (default: index/)")
        s.add_argument("--method", default="routed", choices=("dense", "bm25", "hybrid", "routed"))
        s.add_argument("--json", action="store_true", help="print JSON")
        s.add_argument("--since", help="only articles dated on or after this (2025-01-31, 2025-01 or 2025)")
        s.add_argument("--until", help="only articles dated on or before this")
        if name == "ask":
            s.add_argument("--reader", choices=("local", "openai", "extractive"),
                           help="who writes the answer (default: NEWSQA_READER, else the local model)")
        s.set_defaults(func=cmd_search if name == "search" else cmd_ask)

    a = sub.add_parser("add", help="add article files (or a page's URL: see sync) to the library and rebuild")
    a.add_argument("files", nargs="+", help="files, or one http(s) URL of a page to follow")
    a.add_argument("--title", default="", help="title for every file (default: its headline)")
    a.add_argument("--outlet", default="", help="outlet (default: from the dateline)")
    a.add_argument("--date", default="", help="date, e.g. 2025-01-31 (default: from the text, marked as guessed)")
    cli_sources.library_options(a)
    a.set_defaults(func=cmd_add)

    r = sub.add_parser("remove", help="remove an article by its doc id and rebuild (re-embeds nothing)")
    r.add_argument("doc_id")
    cli_sources.library_options(r)
    r.set_defaults(func=cmd_remove)

    ls = sub.add_parser("list", help="list the indexed articles: id, date, passages, title")
    ls.add_argument("--index", type=Path)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    e = sub.add_parser("eval", help="score retrieval and answers on eval/questions.jsonl")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--methods", default="dense,bm25,hybrid,routed")
    e.add_argument("--index", type=Path)
    e.add_argument("--questions", type=Path)
    e.add_argument("--split", default="all", choices=("all", "both", "dev", "test"), help="both = all")
    e.add_argument("--limit", type=int, help="with --dataset korquad: questions per split, spread over its articles")
    e.add_argument("--no-report", action="store_true", help="don't write eval/report.md and report.png")
    e.add_argument("--reader", default="",
                   help="readers to score beside quoting (extractive, always scored), comma-separated: local, "
                        "openai; with a progress bar and an ETA")
    e.add_argument("--dataset", choices=("debian-faq", "korquad"),
                   help="score a third-party corpus instead (built into its own index under ~/.cache/news-qa); "
                        "korquad: KorQuAD 1.0 open book with one reader (--reader, default NEWSQA_READER)")
    e.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="measure speed and memory against baselines")
    bench.add_argument("--quick", action="store_true", help="stop at 100k passages (under 3 minutes)")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--index", type=Path)
    bench.add_argument("--stores", action="store_true", help="Milvus Lite against FAISS HNSW (bench/store.py)")
    bench.add_argument("--ray", action="store_true",
                       help="embedding throughput: one process, one and two loopback Ray nodes (bench/ray.py)")
    bench.add_argument("--size", type=int, default=100_000, help="synthetic passages for --stores")
    bench.add_argument("--reader", action="store_true", help="benchmark the reader against the extractive path")
    bench.add_argument("--users", type=int, default=0, help="with --reader: concurrent users through one model")
    bench.add_argument("--soak", type=int, default=0, help="with --reader: questions to watch memory over")
    bench.add_argument("--rounds", type=int, default=1, help="with --reader: passes over the questions")
    bench.add_argument("--sections", help="comma-separated: cold,query,scale,embed,build (default: all)")
    bench.add_argument("--build-corpus", help="what the build section builds: the shipped articles (default), "
                       "libreoffice-help-ko[:N|:all] (N help pages, default 560), or a directory")
    bench.add_argument("--build-configs", help="comma-separated builds of the build section: "
                       "baseline,separate,pooled,bf16 (default: all; bf16 vs separate is fp32 vs bf16)")
    bench.set_defaults(func=cmd_bench)

    u = sub.add_parser("ui", help="start the chat UI")
    u.add_argument("--index", type=Path)
    u.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 exposes it)")
    u.add_argument("--port", type=int, default=7860)
    u.set_defaults(func=cmd_ui)

    mc = sub.add_parser("mcp", help="serve search, ask and the article library to agent hosts over MCP")
    mc.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    mc.add_argument("--host", default="127.0.0.1",
                    help="with --http: bind address (default 127.0.0.1; any other needs NEWSQA_MCP_TOKEN)")
    mc.add_argument("--port", type=int, default=8765, help="with --http: port (default 8765)")
    mc.add_argument("--index", type=Path, help="index directory (default: NEWSQA_INDEX, else index/)")
    mc.add_argument("--articles", type=Path, help="articles directory, for writes (default: articles/)")
    mc.add_argument("--allow-writes", action="store_true",
                    help="offer add_article and remove_article (over HTTP also needs NEWSQA_MCP_TOKEN)")
    mc.add_argument("--reader", choices=("local", "openai", "extractive"),
                    help="who writes the answer (default: NEWSQA_READER, else the local model)")
    mc.set_defaults(func=cmd_mcp)

    m = sub.add_parser("prepare", help="convert the embedding model and assemble the reader model (once)")
    m.set_defaults(func=cmd_prepare)
    cli_sources.add_parsers(sub)
    return p


def cmd_build(args: argparse.Namespace) -> int:
    from assistant.index.build import build_index
    from assistant.index.manifest import is_up_to_date
    from assistant.index.stores import open_store
    from assistant.index.vectors import expected_method
    from assistant.models.embedding import Embedder

    from .settings import Settings, default_articles_dir, default_index_dir

    settings = Settings.from_env()
    chunk = settings.chunk  # NEWSQA_CHUNK_SIZE / NEWSQA_CHUNK_OVERLAP; loading checks the same settings
    articles_dir = args.articles or default_articles_dir()
    index_dir = args.index or default_index_dir()
    store = settings.store  # NEWSQA_STORE: faiss files under index_dir, or Milvus
    method = expected_method(settings.model, settings.sentence_vectors)
    if args.if_stale and is_up_to_date(index_dir, articles_dir, model=settings.model, chunk=chunk,
                                       sentence_vectors=method,
                                       manifest_of=open_store(store, index_dir).read_manifest):
        print(f"index at {store if store.is_milvus else index_dir} is up to date")
        return 0
    embedder = Embedder(settings.model, **settings.runtime.embedder_options)
    common = {"embedder": embedder, "chunk": chunk, "progress": not args.quiet, "store": store,
              "sentence_vectors": settings.sentence_vectors}
    if args.ray:  # embedding spread over Ray workers; everything else as in a local build
        from assistant.index.distributed import RayEmbedding

        # the workers embed in the precision this machine chose (bf16 needs the same units on every node)
        with RayEmbedding(args.ray, settings.model, workers=args.ray_workers,
                          precision=embedder.precision) as ray_embed:
            nodes = len({w.node_id for w in ray_embed.workers})
            print(f"embedding on {len(ray_embed.workers)} Ray workers across {nodes} nodes", file=sys.stderr)
            report = build_index(articles_dir, index_dir, embed=ray_embed, **common)
    else:
        report = build_index(articles_dir, index_dir, **common)
    for s in report.skipped:
        print(f"warning: {s}", file=sys.stderr)
    where = store if store.is_milvus else index_dir
    print(f"built {where}: {report.articles} articles, {report.passages} passages, "
          f"{report.embedded} texts embedded, {report.reused} reused from cache "
          f"({report.sentence_vectors} sentence vectors), {report.seconds:.1f} s, "
          f"{report.passages_per_s:.1f} passages/s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from assistant.search.retriever import Retriever, clean_question

    clean_question(args.question)  # reject empty input before loading the model
    hits = Retriever.load(args.index).search(args.question, k=args.k, method=args.method,
                                             since=args.since, until=args.until)
    if args.json:
        print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no passages (check --since/--until)")
    for h in hits:
        print(f"[{h.rank}] {h.title} ({h.doc_id}, {date_label(h.date, h.date_source)}, chars {h.start}-{h.end}) "
              f"score={h.score:.4f}")
        print("    " + h.text.replace("\n", "\n    "))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import clean_question

    clean_question(args.question)
    assistant = Assistant.load(args.index, reader=args.reader)
    where = {"k": args.k, "method": args.method, "since": args.since, "until": args.until}
    if args.json:
        print(json.dumps(asdict(assistant.ask(args.question, **where)), ensure_ascii=False, indent=2))
        return 0
    live = sys.stdout.isatty()  # stream to a person; print only the checked answer into a pipe
    ans = None
    for event in assistant.stream(args.question, **where):
        if event.kind == "text" and live:
            print(event.text, end="", flush=True)
        ans = event.answer or ans
    if live:
        print("\n" + "-" * 40)
    print_answer(ans)
    return 0


def print_answer(ans) -> None:  # noqa: ANN001
    """The answer as a person reads it: notices, the short answer, each sentence with its check, sources."""
    from assistant.ingest.dates import resolve_relative
    from assistant.reading.messages import MESSAGES

    for n in ans.notices:
        print(f"note: {n}")
    if ans.sentences and not ans.abstained:
        if ans.short:
            print(ans.short)
            print()
        else:
            print(MESSAGES[ans.lang]["articles_say"])
        for s in ans.sentences:
            if s.verified:  # a quote is the article's own words; only a translation carries a check mark
                label = "✓" if s.kind == "translation" else f"[{MESSAGES[ans.lang]['from_article']}]"
                print(f"{label} {s.text}")
                for q in s.quotes:
                    if q.text not in s.text:
                        print(f"    ↳ [{q.marker}] {q.text}")
        translated = any(s.verified and s.kind == "translation" for s in ans.sentences)
        print(f"(answered by {ans.reader.name} via {ans.reader.backend}"
              + ("; ✓ = a machine translation whose numbers, dates, names, direction and negation were checked "
                 "against the Korean sentence under it)" if translated else ")"))
    else:
        print(ans.text)
    shown = ans.citations or ans.related
    if shown:
        print()
        print("Sources:" if ans.citations else "Closest passages (not an answer):")
        for i, h in enumerate(shown, 1):
            print(f"[{i}] {h.title} ({h.doc_id}, {date_label(h.date, h.date_source)}, chars {h.start}-{h.end})")
            print("    " + h.text.replace("\n", "\n    "))
            resolved = dict.fromkeys(f"{h.text[s:e]} = {r}" for s, e, r in resolve_relative(h.text, h.date, ans.lang))
            if resolved:
                print("    dates: " + "; ".join(resolved))


def date_label(date: str, source: str) -> str:
    """"2025-01-31", "2025-01 (guessed)" or "date unknown"."""
    return f"{date} (guessed)" if date and source == "text" else (date or "date unknown")


def cmd_add(args: argparse.Namespace) -> int:
    from assistant.index.library import Rejected, Upload, add
    from assistant.models.embedding import Embedder

    from .settings import Settings, default_articles_dir, default_index_dir

    if any(cli_sources.is_url(f) for f in args.files):
        return cli_sources.cmd_add_url(args)
    uploads, unreadable = [], []
    for path in map(Path, args.files):
        try:
            uploads.append(Upload(path.name, path.read_bytes(), args.title, args.outlet, args.date))
        except OSError as e:
            unreadable.append(Rejected(str(path), e.strerror or str(e)))
    settings = Settings.from_env()
    embedder = Embedder(settings.model, **settings.runtime.embedder_options) if uploads else None
    report = add(uploads, args.articles or default_articles_dir(), args.index or default_index_dir(),
                 embedder=embedder, chunk=settings.chunk, progress=not args.quiet, store=settings.store) \
        if uploads else None
    rejected = [*unreadable, *(report.rejected if report else ())]
    for r in rejected:
        print(r, file=sys.stderr)
    if report and report.build:
        b = report.build
        print(f"added {', '.join(report.added)}; index now {b.articles} articles, {b.passages} passages "
              f"({b.embedded} texts embedded, {b.reused} reused, {b.seconds:.1f} s)")
    if not report or not report.added:
        return 2
    return 2 if rejected else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.index.library import remove
    from assistant.models.embedding import Embedder

    from .settings import Settings, default_articles_dir, default_index_dir

    settings = Settings.from_env()
    b = remove(args.doc_id, args.articles or default_articles_dir(), args.index or default_index_dir(),
               embedder=Embedder(settings.model, **settings.runtime.embedder_options), chunk=settings.chunk,
               progress=not args.quiet, store=settings.store)
    print(f"removed {args.doc_id}; index now {b.articles} articles, {b.passages} passages "
          f"({b.embedded} texts embedded, {b.reused} reused, {b.seconds:.1f} s)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.index.library import indexed
    from assistant.index.stores import open_store

    from .settings import Settings, default_index_dir

    rows = indexed(open_store(Settings.from_env().store, args.index or default_index_dir()).load())  # any store
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        print(f"{r.doc_id}\t{date_label(r.date, r.date_source)}\t{r.passages} passages\t{r.outlet or '-'}\t{r.title}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.dataset == "korquad":
        from assistant.evaluation.korquad import run_cli as run_korquad

        return run_korquad(args)
    if args.dataset:
        from assistant.evaluation.debian_faq import eval_debian_faq, render_debian_faq

        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        result = eval_debian_faq(methods, progress=not args.json)
        print(json.dumps(result, ensure_ascii=False) if args.json else render_debian_faq(result))
        return 0
    from assistant.evaluation.evaluate import run_cli

    return run_cli(args)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.stores:  # issue 11: Milvus Lite against FAISS HNSW
        from .bench.store import run_cli

        return run_cli(args)
    if args.ray:  # issue 11: embedding throughput on one process and on Ray
        from .bench.ray import run_cli

        return run_cli(args)
    if args.reader:
        from .bench import reader as bench_reader

        result = bench_reader.run(args.index, users=args.users, soak_n=args.soak, rounds=args.rounds)
        print(json.dumps(result, ensure_ascii=False) if args.json else bench_reader.table(result))
        return 0
    from .bench import run_cli

    return run_cli(args)


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(index_dir=args.index, host=args.host, port=args.port)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from assistant.mcp_server import serve

    serve(index_dir=args.index, articles_dir=args.articles, http=args.http, host=args.host, port=args.port,
          allow_writes=args.allow_writes, reader=args.reader)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Convert the bundled weights, export them for ONNX Runtime, and assemble the reader's GGUF, once."""
    from assistant.models import reader_model
    from assistant.models.backends import onnx_path
    from assistant.models.weights import prepare_model

    model_dir = prepare_model()
    print(model_dir)
    print(onnx_path(model_dir, "fp32"))
    try:
        path = reader_model.assemble()
        print(path)
    except reader_model.ReaderModelError as e:
        print(f"warning: {e}", file=sys.stderr)  # answers fall back to quoting, and say so
        return 0
    from assistant.models.llm import LLMError
    from assistant.models.llm_process import smoke_test

    try:  # a short decode in a child process: a llama.cpp that dies on this CPU is found now, not in a server
        smoke_test(path, reader_model.expected_sha256())
    except LLMError as e:
        print(f"error: the reader cannot run here: {e}", file=sys.stderr)
        return 1
    print("reader: a short decode in a child process succeeded (no AMX in the loaded llama.cpp)")
    return 0
