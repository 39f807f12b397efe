"""The Sources part of the Articles panel: followed feeds, pages and folders, their last sync, "Sync now".

Sources are added on the command line (`follow URL`, `add URL`, `watch DIR`; README); here they are
listed with what their last sync did, and synced on demand through `assistant.index.sync` (the same
code as `python -m assistant sync`, under the same library lock), with its progress shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from assistant import Assistant
from assistant.errors import NewsQAError
from assistant.index.sources import read_sources, read_state, status_of
from assistant.index.sync import sync
from assistant.ingest.fetch import Fetcher

HEADERS = ["이름 / Name", "종류 / Kind", "주소 / Location", "마지막 동기화 / Last sync (UTC)", "기사 / Articles",
           "추가·변경·그대로·삭제·실패 / Added·changed·unchanged·removed·failed"]
KIND = {"feed": "RSS/Atom", "page": "page", "folder": "folder"}
# Every event that changes the library (upload, add, remove, sync) is private to the page and queued as one: one
# at a time, so a sync never runs beside an upload or a removal.
LIBRARY_WRITE = {"api_visibility": "private", "concurrency_id": "library", "concurrency_limit": 1}


def source_rows(articles_dir: Path) -> list[list]:
    """One row per source: its name, kind, where, and what its last sync did ("-" before the first)."""
    try:
        sources, state = read_sources(articles_dir), read_state(articles_dir)
    except ValueError as e:
        return [[str(e), "", "", "", "", ""]]
    rows = []
    for s in sources:
        st = status_of(state, s.name)
        counts = f"{st.added}·{st.changed}·{st.unchanged}·{st.removed}·{st.failed}" if st.last_sync else "-"
        when = st.last_sync.replace("T", " ").removesuffix("+00:00") if st.last_sync else "-"
        rows.append([s.name, KIND.get(s.kind, s.kind), s.location, when + (" ⚠" if st.error else ""),
                     st.articles, counts])
    return rows


def status_lines(items: list[str], cls: str) -> str:
    """Status messages as escaped lines (qa-added, qa-refused): the sync's and the library panel's."""
    return "".join(f"<div class='{cls}'>{html.escape(t)}</div>" for t in items)


def mount(assistant: Assistant, articles_dir: Path, index_dir: Path, refreshed: list,
          after_sync: Callable[[], tuple]) -> None:
    """The Sources list and the "Sync now" button; `after_sync()` gives fresh values for `refreshed`."""
    settings = assistant.retriever.settings

    def on_sync(progress=gr.Progress(track_tqdm=True)) -> tuple:  # noqa: ANN001, B008
        if not read_sources(articles_dir):
            msg = "따라갈 출처가 없습니다 / No sources yet: python -m assistant follow URL | watch DIR"
            return status_lines([msg], "qa-refused"), source_rows(articles_dir), *[gr.skip()] * len(refreshed)
        try:
            with Fetcher(delay=settings.fetch_delay, timeout=settings.fetch_timeout) as fetcher:
                report = sync(articles_dir, index_dir, embedder=assistant.retriever.embedder, chunk=settings.chunk,
                              fetcher=fetcher, progress=True, stage=lambda f, label: progress(f, desc=label),
                              store=settings.store)
        except (ValueError, NewsQAError) as e:
            return status_lines([str(e)], "qa-refused"), source_rows(articles_dir), *[gr.skip()] * len(refreshed)
        status = (status_lines([report.summary()], "qa-added")
                  + status_lines([str(f) for f in report.failed], "qa-refused"))
        return status, source_rows(articles_dir), *after_sync(report.build is not None)

    with gr.Group():
        gr.HTML("<h4>출처 / Sources</h4><p>피드·페이지·폴더는 명령줄에서 추가합니다 "
                "(<code>python -m assistant follow URL</code>, <code>add URL</code>, <code>watch DIR</code>).</p>",
                js_on_load=None)
        table = gr.Dataframe(value=lambda: source_rows(articles_dir), headers=HEADERS, interactive=False,
                             elem_id="qa-sources", wrap=True, label="출처 / Sources")
        button = gr.Button("지금 동기화 / Sync now", elem_id="qa-sync")
        status = gr.HTML("", elem_id="qa-sync-status", js_on_load=None)
    button.click(on_sync, None, [status, table, *refreshed], show_progress_on=[status], **LIBRARY_WRITE)
