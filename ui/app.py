"""The Gradio chat UI: ask in Korean or English; the sources appear at once, then the answer streams in.

All HTML comes from `ui/render.py`, which escapes every piece of text.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import gradio as gr

from assistant import Article, Assistant
from assistant.errors import NewsQAError
from assistant.ingest.corpus import MAX_FILE_BYTES
from assistant.ingest.dates import bound
from assistant.models.llm import LLMError
from assistant.settings import default_articles_dir, default_index_dir
from ui.library import mount as mount_library
from ui.render import (
    ANSWER_IN_VIEW_JS,
    ARTICLE_GONE,
    ARTICLE_HINT,
    CSS,
    EMPTY_QUESTION,
    INTRO,
    LABELS,
    MAX_K,
    SCROLL_JS,
    WATCH_QUESTIONS_JS,
    answer_json,
    clamp,
    esc,
    lang_of,
    paragraph,
    render_article,
    render_draft,
    render_reply,
    render_translation,
    sources_of,
)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
EXAMPLES = (
    "엔비디아 주가는 하루에 얼마나 떨어졌나?",
    "딥시크 R1의 등장은 냉전 시대의 어떤 사건에 견주어졌나?",
    "How did DeepSeek make up for not having the newest chips?",
    "How much did Nvidia's stock fall in one day?",
)
# After a reply: the article panel at the cited passage, and the chat at the top of the new answer.
AFTER_REPLY_JS = f"() => {{ ({SCROLL_JS})(); ({ANSWER_IN_VIEW_JS})(); }}"



def check_period(since: str | None, until: str | None) -> dict:
    """The since/until filter as ask() keywords; a date that isn't one is a ValueError saying so."""
    since, until = (since or "").strip(), (until or "").strip()
    bound(since, end=False), bound(until, end=True)
    return {"since": since or None, "until": until or None}


def build_app(assistant: Assistant, library: tuple[Path, Path] | None = None) -> gr.Blocks:
    """The chat UI and the /ask API around one loaded assistant, shared by every session.

    `library` = (articles dir, index dir) adds the Articles panel that adds and removes articles there.
    """

    def respond(question: str, k: float, chat: list, turns: list, since: str = "",
                until: str = "") -> Iterator[tuple]:
        """Stream a reply: the sources at once, then the answer as the reader writes it (checked text only)."""
        history = [t["question"] for t in turns]
        try:
            period = check_period(since, until)
        except ValueError as e:
            yield gr.skip(), gr.skip(), gr.skip(), f"<div class='qa-abstain' role='alert'>{esc(str(e))}</div>", \
                gr.skip(), gr.skip()
            return
        index = assistant.retriever.index  # this request's snapshot: answered from and rendered from
        articles = index.articles
        try:
            events = assistant.stream(question or "", k=clamp(k), history=history, index=index, **period)
            first_event = next(events)
        except ValueError:
            notice = f"<div class='qa-abstain' role='alert'>{esc(EMPTY_QUESTION)}</div>"
            yield gr.skip(), gr.skip(), gr.skip(), notice, gr.skip(), gr.skip()
            return
        lang = lang_of(question)
        asked = [*chat, {"role": "user", "content": esc(question)}]
        draft = ""
        draft_html = render_draft(assistant, lang, first_event.hits, "", articles)
        yield [*asked, {"role": "assistant", "content": draft_html}], "", gr.skip(), "", gr.skip(), gr.skip()
        ans = None
        for event in events:
            if event.kind == "text":
                draft += event.text
                yield [*asked, {"role": "assistant", "content": render_draft(assistant, lang, first_event.hits,
                                                                             draft, articles)}], \
                    gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            ans = event.answer or ans
        sources = sources_of(ans, len(turns))
        turns = [*turns, {"question": ans.question, "lang": ans.lang, "sources": sources}]
        chat = [*asked, {"role": "assistant", "content": render_reply(assistant, ans, articles)}]
        labels = LABELS[ans.lang]
        notice = ""
        if ans.abstained:
            notice = (f"<div class='qa-abstain' role='status' lang='{ans.lang}'><strong>⚠ {labels['abstained']}:"
                      f"</strong> {esc(ans.text)}</div>")
        first = next((s for s in sources if s["quotes"]), sources[0] if sources else None)
        pick = gr.Radio(choices=[(pick_label(s, articles), s["key"]) for s in sources],
                        value=first["key"] if first else None, label=labels["pick"])
        article = render_article(assistant, first, articles) if first else ARTICLE_HINT
        yield chat, "", turns, notice, pick, article

    def pick_label(s: dict, articles: Mapping[str, Article]) -> str:
        n, _ = paragraph(articles[s["doc_id"]], s["start"])
        where = f"{n}번째 문단" if s["lang"] == "ko" else f"paragraph {n}"
        return f"[{s['n']}] {s['title']} · {where}"

    def show_source(key: str | None, turns: list) -> str:
        for turn in turns:
            for s in turn["sources"]:
                if s["key"] == key:
                    return render_article(assistant, s, assistant.retriever.index.articles)
        return ARTICLE_HINT

    def clear() -> tuple:
        return [], "", [], "", gr.Radio(choices=[], value=None), ARTICLE_HINT

    def ask(question: str, k: int = 5, previous: str = "") -> dict:
        """Answer a question from the news articles; returns the answer with its cited passages as JSON."""
        index = assistant.retriever.index  # this request's snapshot: answered from and rendered from
        try:
            ans = assistant.ask(question, k=clamp(k), history=[previous] if previous else [], index=index)
        except ValueError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return answer_json(assistant, ans, index.articles)

    def ask_stream(question: str, k: int = 5, previous: str = "") -> Iterator[dict]:
        """The same answer, streamed: {"sources"}, then {"partial": checked text so far}..., then the final JSON."""
        index = assistant.retriever.index  # this request's snapshot: answered from and rendered from
        articles = index.articles
        try:
            events = assistant.stream(question, k=clamp(k), history=[previous] if previous else [], index=index)
            sources = next(events)
        except ValueError as e:
            raise gr.Error(str(e), print_exception=False) from None
        yield {"partial": "", "sources": [{"n": n, "doc_id": h.doc_id, "title": h.title, "start": h.start,
                                           "end": h.end} for n, h in enumerate(sources.hits, 1)]}
        text = ""
        for event in events:
            if event.kind == "text":
                text += event.text
                yield {"partial": text}
            elif event.answer is not None:
                yield {**answer_json(assistant, event.answer, articles), "final": True}

    def translate(key: str | None, turns: list) -> str:
        """An English machine translation of the chosen source's passage, beside the Korean original."""
        source = next((s for t in turns for s in t["sources"] if s["key"] == key), None)
        if source is None:
            return ""
        article = assistant.retriever.index.articles.get(source["doc_id"])
        if article is None:
            return f"<p class='qa-meta'>{esc(ARTICLE_GONE)}</p>"
        original = article.text[source["start"]:source["end"]]
        try:
            english = assistant.translate(original)
        except LLMError as e:
            return f"<div class='qa-notices qa-fallback'>⚠ {esc(str(e))}</div>"
        return render_translation(original, english, assistant.reader_info.name)

    with gr.Blocks(title="news-qa", analytics_enabled=False) as demo:
        gr.HTML(INTRO, head=f"<style>{CSS}</style>", js_on_load=None)
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="대화 / Conversation", height=640, render_markdown=False,
                                     sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
                                     feedback_options=None, elem_id="qa-chat", autoscroll=False)
                notice = gr.HTML("", elem_id="qa-notice", js_on_load=None)
                with gr.Row():
                    box = gr.Textbox(label="질문 / Question", lines=1, max_lines=1, scale=5, autofocus=True,
                                     placeholder="예: 엔비디아 주가는 하루에 얼마나 떨어졌나? · or ask in English",
                                     elem_id="qa-question")
                    ask_btn = gr.Button("질문하기 / Ask", variant="primary", scale=1, elem_id="qa-ask")
                with gr.Row():
                    k = gr.Slider(1, MAX_K, value=5, step=1, label="보여줄 구절 수 / Passages to show", scale=3)
                    clear_btn = gr.Button("새 대화 / New conversation", scale=1)
                with gr.Row():
                    since = gr.Textbox(label="기사 날짜 부터 / Articles since", placeholder="2025-01", scale=1,
                                       elem_id="qa-since")
                    until = gr.Textbox(label="까지 / until", placeholder="2025-12-31", scale=1, elem_id="qa-until")
                gr.HTML("<p><strong>예시 질문 / Example questions</strong></p>", js_on_load=None)
                with gr.Row():
                    example_btns = [gr.Button(q, size="sm") for q in EXAMPLES]
            with gr.Column(scale=2):
                pick = gr.Radio(choices=[], label="기사에서 출처 보기 / Show a source in the article",
                                elem_id="qa-pick")
                translate_btn = gr.Button(LABELS["en"]["translate"], size="sm", elem_id="qa-translate")
                translation = gr.HTML("", elem_id="qa-translation", js_on_load=None)
                article = gr.HTML(ARTICLE_HINT, elem_id="qa-article", js_on_load=None)

        outputs = [chatbot, box, turns, notice, pick, article]
        io = {"fn": respond, "inputs": [box, k, chatbot, turns, since, until], "outputs": outputs,
              "api_visibility": "private", "concurrency_id": "model", "concurrency_limit": 4}
        box.submit(**io).then(None, js=AFTER_REPLY_JS)
        ask_btn.click(**io).then(None, js=AFTER_REPLY_JS)
        for b in example_btns:
            b.click(lambda q=b.value: q, None, box, queue=False, api_visibility="private").then(**io).then(
                None, js=AFTER_REPLY_JS)
        pick.input(show_source, [pick, turns], article, queue=False, api_visibility="private").then(
            None, js=SCROLL_JS)
        clear_btn.click(clear, None, outputs, queue=False, api_visibility="private")
        chatbot.clear(clear, None, outputs, queue=False, api_visibility="private")
        translate_btn.click(translate, [pick, turns], translation, api_visibility="private",
                            concurrency_id="model", concurrency_limit=4)
        pick.input(lambda: "", None, translation, queue=False, api_visibility="private")
        # The model itself is used by one question at a time (its lock); the others retrieve and wait.
        gr.api(ask, api_name="ask", concurrency_id="model", concurrency_limit=4)
        gr.api(ask_stream, api_name="ask_stream", concurrency_id="model", concurrency_limit=4)
        demo.load(None, js=WATCH_QUESTIONS_JS)
        if library is not None:
            mount_library(assistant, *library)
    demo.queue(max_size=100, default_concurrency_limit=4)
    return demo


def load(index_dir: str | Path | None = None) -> Assistant:
    """Load the model and index once, and warm both languages up so the first user doesn't wait."""
    print("Loading the models and index (about 15 s)...", flush=True)
    t = time.perf_counter()
    assistant = Assistant.load(index_dir)
    reader = assistant.reader_info
    print(f"Reader: {reader.name} ({reader.backend})" if assistant.llm else
          f"Reader: none, answers quote the articles ({assistant.reader_notice or 'NEWSQA_READER=extractive'})",
          flush=True)
    for q in (EXAMPLES[0], EXAMPLES[2]):
        assistant.ask(q)
    index = assistant.retriever.index
    print(f"Loaded {len(index.articles)} articles, {len(index.passages)} passages "
          f"in {time.perf_counter() - t:.1f} s.", flush=True)
    return assistant


def check_port(host: str, port: int) -> None:
    """Fail in one line, before the 10 s model load, when the port is taken or the host is not ours."""
    try:
        family = socket.getaddrinfo(host, port)[0][0]
        socket.create_server((host, port), family=family).close()
    except OSError as e:
        raise NewsQAError(f"Cannot listen on {host}:{port} ({e.strerror or e}). "
                          "Choose another port with --port.") from e


def serve(index_dir: str | Path | None = None, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Start the UI; local only unless `host` says otherwise, and never a public share link."""
    check_port(host, port)
    assistant = load(index_dir)
    if host not in LOCAL_HOSTS:
        print(f"warning: listening on {host}: anyone who can reach this machine can use the assistant.", flush=True)
    app = build_app(assistant, (default_articles_dir(), Path(index_dir) if index_dir else default_index_dir()))
    # Uploads far over the library's own per-file limit are cut off by Gradio before they reach the disk.
    app.launch(server_name=host, server_port=port, share=False, ssr_mode=False, quiet=True, prevent_thread_lock=True,
               max_file_size=4 * MAX_FILE_BYTES)
    print(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    app.block_thread()
