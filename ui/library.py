"""The Articles / 기사 panel: upload files, edit what the cleaner found, index them, remove articles.

Uploads go through `assistant.index.library` (the same checks and limits as the CLI, enforced here on
the server whatever the browser sends). Questions keep being answered from the loaded index
while a build runs; when it lands, `Retriever.swap` checks the new index as loading does and swaps
it in whole, so the next question sees the new article and one in flight finishes on the old index.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from assistant import Assistant
from assistant.errors import NewsQAError
from assistant.index.library import MAX_FILES_PER_ADD, Rejected, Upload, add, indexed, prefill, remove
from assistant.ingest.corpus import MAX_FILE_BYTES, SUFFIXES, UnreadableFile
from ui.sources import LIBRARY_WRITE, status_lines
from ui.sources import mount as mount_sources

FORM_HEADERS = ["파일 / File", "제목 / Title", "매체 / Outlet", "날짜 / Date (YYYY-MM-DD)"]
LIST_HEADERS = ["제목 / Title", "매체 / Outlet", "날짜 / Date", "구절 / Passages", "id"]
STAGES = {"waiting": (0.02, "다른 작업을 기다리는 중 / Waiting for another upload"),
          "checking": (0.05, "검사 중 / Checking"), "saving": (0.1, "저장 중 / Saving"),
          "indexing": (0.15, "색인 중 / Indexing")}
SOURCE_NOTE = {"text": " (추정 / guessed)", "dateline": "", "metadata": "", "none": ""}


def read_upload(path: str) -> bytes:
    """An uploaded file's bytes, reading no more than one byte past the size limit."""
    with open(path, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


def article_rows(assistant: Assistant) -> list[list]:
    return [[r.title, r.outlet, (r.date or "?") + SOURCE_NOTE.get(r.date_source, ""), r.passages, r.doc_id]
            for r in indexed(assistant.retriever.index)]  # one read: one index's articles


def mount(assistant: Assistant, articles_dir: Path, index_dir: Path) -> None:
    """Add the Articles / 기사 accordion to the Blocks being built, managing `articles_dir` and `index_dir`."""
    articles_dir, index_dir = Path(articles_dir), Path(index_dir)

    def swap_in() -> None:
        # Checked like a load, then swapped in whole: a question in flight finishes on the old index.
        assistant.retriever.reload(index_dir)

    def choices() -> gr.Dropdown:
        return gr.Dropdown(choices=[(f"{r[0]} · {r[2]} ({r[4]})", r[4]) for r in article_rows(assistant)],
                           value=None)

    def on_upload(paths: list[str] | None) -> tuple:
        drafts, rows, refused = [], [], []
        for path in (paths or [])[:MAX_FILES_PER_ADD]:
            name = Path(path).name
            try:
                d = prefill(name, read_upload(path))
            except (UnreadableFile, ValueError, OSError) as e:
                refused.append(str(Rejected(name, str(e) or type(e).__name__)))
                continue
            drafts.append({"path": path, "name": name, "date": d.date, "source": d.date_source})
            rows.append([name, d.title, d.outlet, d.date])
        for path in (paths or [])[MAX_FILES_PER_ADD:]:
            refused.append(str(Rejected(Path(path).name, f"over the limit of {MAX_FILES_PER_ADD} files at once")))
        return drafts, rows or None, refused, status_lines(refused, "qa-refused")

    def on_add(drafts: list[dict], form, refused: list[str], progress=gr.Progress(track_tqdm=True)) -> tuple:  # noqa: ANN001, B008
        if not drafts:
            return (status_lines(refused or ["파일을 먼저 올려 주세요. / Upload files first."], "qa-refused"),
                    *[gr.skip()] * 6)
        rows = form.values.tolist() if isinstance(form, pd.DataFrame) else list(form or [])
        uploads = []
        for i, d in enumerate(drafts):
            _, title, outlet, date = ([*rows[i], "", "", "", ""][:4] if i < len(rows) else ["", "", "", ""])
            # A date the user left as guessed is not written down, so the article keeps saying it was guessed.
            date = "" if (str(date or "").strip() == d["date"] and d["source"] != "metadata") else str(date or "")
            uploads.append(Upload(d["name"], read_upload(d["path"]), str(title or ""), str(outlet or ""), date))
        try:
            report = add(uploads, articles_dir, index_dir, embedder=assistant.retriever.embedder,
                         chunk=assistant.retriever.settings.chunk, progress=True, store=assistant.settings.store,
                         stage=lambda s: progress(*STAGES[s]))
        except NewsQAError as e:
            return status_lines([*refused, str(e)], "qa-refused"), *[gr.skip()] * 6
        if report.build:
            progress(0.95, desc="새 색인으로 교체 중 / Swapping in the new index")
            swap_in()
        done = []
        if report.added:
            b = report.build
            done = [f"추가됨 / added: {', '.join(report.added)} — {b.articles} articles, {b.passages} passages, "
                    f"{b.embedded} texts embedded, {b.seconds:.1f} s"]
        status = status_lines(done, "qa-added") + status_lines([*refused, *map(str, report.rejected)], "qa-refused")
        return status, article_rows(assistant), choices(), None, [], None, []

    def on_remove(doc_id: str | None, progress=gr.Progress(track_tqdm=True)) -> tuple:  # noqa: ANN001, B008
        if not doc_id:
            msg = "삭제할 기사를 고르세요. / Choose an article to remove."
            return status_lines([msg], "qa-refused"), *[gr.skip()] * 2
        try:
            b = remove(doc_id, articles_dir, index_dir, embedder=assistant.retriever.embedder,
                       chunk=assistant.retriever.settings.chunk, progress=True, stage=lambda s: progress(*STAGES[s]),
                       store=assistant.settings.store)
        except (ValueError, NewsQAError) as e:
            return status_lines([str(e)], "qa-refused"), gr.skip(), gr.skip()
        swap_in()
        msg = (f"삭제됨 / removed: {doc_id} — {b.articles} articles, {b.passages} passages, "
               f"{b.embedded} texts embedded")
        return status_lines([msg], "qa-added"), article_rows(assistant), choices()

    def after_sync(rebuilt: bool) -> tuple:
        if rebuilt:
            swap_in()
        return article_rows(assistant), choices()

    kinds = ", ".join(SUFFIXES[:3])
    with gr.Accordion("기사 관리 / Articles", open=False, elem_id="qa-library") as panel:
        gr.HTML(f"<p>{kinds} 파일을 올리면 제목·매체·날짜를 채워 보여 줍니다. 고친 뒤 추가하세요. "
                f"Upload {kinds} files (up to {MAX_FILES_PER_ADD}, {MAX_FILE_BYTES // 2**20} MB each); "
                "check the prefilled fields, then add them.</p>", js_on_load=None)
        drafts, refused = gr.State([]), gr.State([])
        files = gr.File(label="기사 파일 / Article files", file_count="multiple", type="filepath",
                        elem_id="qa-upload")
        form = gr.Dataframe(headers=FORM_HEADERS, datatype=["str"] * 4, interactive=True, static_columns=[0],
                            type="array", label="올릴 기사 / To add (editable)", elem_id="qa-form", wrap=True,
                            column_widths=["18%", "47%", "17%", "18%"])
        add_btn = gr.Button("추가하고 색인하기 / Add and index", variant="primary", elem_id="qa-add")
        status = gr.HTML("", elem_id="qa-library-status", js_on_load=None)
        listing = gr.Dataframe(value=lambda: article_rows(assistant), headers=LIST_HEADERS, interactive=False,
                               label="색인된 기사 / Indexed articles", elem_id="qa-articles", wrap=True,
                               column_widths=["40%", "22%", "16%", "8%", "14%"])
        with gr.Row():
            pick = gr.Dropdown(label="삭제할 기사 / Article to remove", elem_id="qa-remove-pick", scale=4,
                               choices=[(f"{r[0]} · {r[2]} ({r[4]})", r[4]) for r in article_rows(assistant)],
                               value=None)
            remove_btn = gr.Button("삭제 / Remove", variant="stop", elem_id="qa-remove", scale=1)
        mount_sources(assistant, articles_dir, index_dir, [listing, pick], after_sync)

    files.upload(on_upload, files, [drafts, form, refused, status], **LIBRARY_WRITE)
    files.clear(lambda: ([], None, [], ""), None, [drafts, form, refused, status], queue=False,
                api_visibility="private")
    # Another session may have added or removed articles since this page loaded.
    panel.expand(lambda: (article_rows(assistant), choices()), None, [listing, pick], queue=False,
                 api_visibility="private")
    add_btn.click(on_add, [drafts, form, refused], [status, listing, pick, files, drafts, form, refused],
                  show_progress_on=[status], **LIBRARY_WRITE)
    remove_btn.click(on_remove, pick, [status, listing, pick], show_progress_on=[status], **LIBRARY_WRITE)
