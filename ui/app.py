"""The Gradio chat UI: ask in Korean or English, read the answer with its sources beside it.

Every piece of article or question text goes through `esc()` before it reaches the
page, and the chatbot renders no Markdown, so a `<script>` or `[x](javascript:..)`
in an article or a question shows up as those characters and nothing runs.
"""

from __future__ import annotations

import html
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

from assistant import Answer, Article, Assistant, Hit
from assistant.answer import MESSAGES
from assistant.corpus import MAX_FILE_BYTES
from assistant.dates import bound
from assistant.errors import NewsQAError
from assistant.korean import has_hangul
from assistant.settings import default_articles_dir, default_index_dir
from ui.dates import resolved_dates
from ui.library import mount as mount_library

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_K = 10
EXAMPLES = (
    "엔비디아 주가는 하루에 얼마나 떨어졌나?",
    "딥시크 R1의 등장은 냉전 시대의 어떤 사건에 견주어졌나?",
    "How did DeepSeek make up for not having the newest chips?",
    "How much did Nvidia's stock fall in one day?",
)
# UI text in the question's language; the static chrome around the chat is bilingual.
LABELS = {
    "ko": {
        "sources": "출처",
        "related": "질문과 가장 가까운 구절 (답이 아님)",
        "abstained": "답변하지 않음",
        "abstain_help": "기사에서 근거가 되는 문장을 찾지 못해 답하지 않았습니다. 질문을 바꿔 보세요.",
        "cited": "답변에 인용됨",
        "korean_source": "",
        "pick": "기사에서 출처 보기",
        "article": "기사 전문 · 인용된 부분은 강조 표시",
        "unknown_outlet": "매체 미상",
        "unknown_date": "날짜 미상",
        "note": "알림",
        "follow_up": "후속 질문으로 보고 이전 질문과 함께 검색했습니다.",
    },
    "en": {
        "sources": "Sources",
        "related": "Closest passages (not an answer)",
        "abstained": "No answer",
        "abstain_help": "No sentence in the articles supports an answer, so the assistant abstained. "
                        "Try rephrasing the question.",
        "cited": "quoted in the answer",
        "korean_source": "This source is in Korean; the passage is shown in the original Korean.",
        "pick": "Show a source in the article",
        "article": "Full article · the cited passage is highlighted",
        "unknown_outlet": "outlet unknown",
        "unknown_date": "date unknown",
        "note": "Note",
        "follow_up": "Read as a follow-up: searched together with your previous question.",
    },
}
EMPTY_QUESTION = f"{MESSAGES['ko']['empty']} / {MESSAGES['en']['empty']}"
ARTICLE_HINT = ("<p class='qa-hint'>출처를 고르면 기사 전문이 여기에 나옵니다.<br>"
                "Choose a source to read the whole article here.</p>")
INTRO = ("<h1>뉴스 질문 답변 · News Q&amp;A</h1>"
         "<p>한국어나 영어로 질문하세요. 답변의 [n] 표시는 아래 출처 구절을 가리킵니다. "
         "Ask in Korean or English; each [n] in an answer points to a source passage below it.</p>")
CSS = """
.qa-reply { line-height: 1.6; }
.qa-marker { font-weight: 700; color: var(--color-accent); }
.qa-sources > summary { cursor: pointer; font-weight: 700; margin-top: .6em; }
.qa-source { margin: .5em 0; padding: .4em .7em; border-left: 3px solid var(--color-accent);
             background: var(--background-fill-secondary); border-radius: 4px; }
.qa-meta, .qa-pos { font-size: .85em; opacity: .85; }
.qa-passage { margin: .3em 0; }
.qa-lang-note { font-size: .85em; font-style: italic; }
mark { background: #ffe066; color: #111; padding: 0 .1em; border-radius: 2px; }
.qa-span { background: rgba(255, 224, 102, .28); }
.qa-abstain { border: 2px solid #d9480f; background: #fff4e6; color: #6b2600; padding: .5em .75em;
              border-radius: 6px; margin: .3em 0; }
.qa-notices { font-size: .9em; }
#qa-article .qa-article-text { max-height: 65vh; overflow-y: auto; position: relative; line-height: 1.7;
                               padding-right: .5em; }
#qa-article h3 { margin: .2em 0; }
"""
# After a source is chosen, scroll the article panel to the highlighted passage.
SCROLL_JS = """() => { setTimeout(() => {
  const box = document.querySelector('#qa-article .qa-article-text');
  const span = box && box.querySelector('.qa-span');
  if (span) box.scrollTop = Math.max(0, span.offsetTop - 40);
}, 60); }"""


def esc(text: str) -> str:
    """Article or question text as inert HTML text: escaped, line breaks kept."""
    return html.escape(text, quote=True).replace("\r", "").replace("\n", "<br>")


def marked(text: str, start: int, end: int, spans: Sequence[tuple[int, int]]) -> str:
    """Escaped text[start:end] with the answering sentences (article offsets) wrapped in <mark>."""
    out, pos = [], start
    for s, e in sorted(spans):
        s, e = max(s, pos), min(e, end)
        if s < e:
            out += [esc(text[pos:s]), "<mark>", esc(text[s:e]), "</mark>"]
            pos = e
    out.append(esc(text[pos:end]))
    return "".join(out)


def position(article: Article, start: int, end: int, lang: str) -> str:
    """Where a passage sits, in words a reader can use: paragraph n of m and character offsets."""
    n, total = paragraph(article, start)
    pct = round(100 * start / max(len(article.text), 1))
    if lang == "ko":
        return f"전체 {total}개 문단 중 {n}번째 문단 · {start:,}–{end:,}자 (기사 앞에서 {pct}% 지점)"
    return f"Paragraph {n} of {total} · characters {start:,}–{end:,} ({pct}% into the article)"


def paragraph(article: Article, offset: int) -> tuple[int, int]:
    """(n, total): the blank-line-separated paragraph of the article that `offset` falls in."""
    starts = [m.start() for m in re.finditer(r"\S+(?:[^\n]|\n(?!\s*\n))*", article.text)]
    return sum(1 for p in starts if p <= offset) or 1, len(starts)


def byline(article: Article, lang: str) -> str:
    labels = LABELS[lang]
    date = article.date or labels["unknown_date"]
    guessed = (" (추정)" if lang == "ko" else " (guessed)") if article.date_source == "text" else ""
    return f"{esc(article.outlet or labels['unknown_outlet'])} · {esc(date)}{guessed}"


def quote_spans(ans: Answer, marker: int) -> list[tuple[int, int]]:
    return [(q.start, q.end) for q in ans.quotes if q.marker == marker]


def render_source(assistant: Assistant, ans: Answer, n: int, hit: Hit) -> str:
    """One passage: [n] title, outlet and date, the passage with its answering sentence marked, its place."""
    article = assistant.retriever.index.articles[hit.doc_id]
    lang, spans = ans.lang, quote_spans(ans, n)
    cited = f" · <strong>{LABELS[lang]['cited']}</strong>" if spans else ""
    note = LABELS[lang]["korean_source"] if has_hangul(hit.text) else ""
    return "".join([
        "<div class='qa-source'>",
        f"<div><span class='qa-marker'>[{n}]</span> <strong lang='{lang_of(article.title)}'>{esc(hit.title)}</strong>"
        f"{cited}</div>",
        f"<div class='qa-meta'>{byline(article, lang)}</div>",
        f"<div class='qa-lang-note'>{esc(note)}</div>" if note else "",
        f"<div class='qa-passage' lang='{lang_of(hit.text)}'>{marked(article.text, hit.start, hit.end, spans)}</div>",
        f"<div class='qa-pos'>{esc(position(article, hit.start, hit.end, lang))}</div>",
        resolved_dates(article, hit.start, hit.end, lang),
        "</div>",
    ])


def clamp(k: float) -> int:
    """Passages to show, kept to the slider's range whatever a client sends."""
    return max(1, min(int(k), MAX_K))


def lang_of(text: str) -> str:
    return "ko" if has_hangul(text) else "en"


def render_reply(assistant: Assistant, ans: Answer) -> str:
    """The chat reply: the answer with [n] markers (or an abstention notice), then a Sources block."""
    labels = LABELS[ans.lang]
    parts = [f"<div class='qa-reply' lang='{ans.lang}'>"]
    if ans.abstained:
        parts.append(f"<div class='qa-abstain' role='note'><strong>⚠ {labels['abstained']}:</strong> "
                     f"{esc(ans.text)}<br>{esc(labels['abstain_help'])}</div>")
    else:
        text = re.sub(r"\[(\d+)\]", r"<span class='qa-marker'>[\1]</span>", esc(ans.text))
        parts.append(f"<div class='qa-answer'>{text}</div>")
    if ans.retrieval_query and ans.retrieval_query != ans.question:
        parts.append(f"<div class='qa-notices qa-follow-up'>{labels['follow_up']}</div>")
    if ans.notices:
        parts.append("<div class='qa-notices'>" + "<br>".join(f"{labels['note']}: {esc(n)}" for n in ans.notices)
                     + "</div>")
    hits = ans.citations or ans.related
    if hits:
        title = labels["sources"] if ans.citations else labels["related"]
        is_open = " open" if ans.citations else ""
        parts.append(f"<details class='qa-sources'{is_open}><summary>{title} ({len(hits)})</summary>")
        parts += [render_source(assistant, ans, n, h) for n, h in enumerate(hits, 1)]
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def render_article(assistant: Assistant, source: dict) -> str:
    """The whole cleaned article, with the cited passage and its answering sentences highlighted."""
    article = assistant.retriever.index.articles[source["doc_id"]]
    lang, start, end = source["lang"], source["start"], source["end"]
    spans = [tuple(s) for s in source["quotes"]]
    text = article.text
    note = LABELS[lang]["korean_source"] if lang == "en" and has_hangul(text) else ""
    return "".join([
        f"<div class='qa-article-head'><p class='qa-meta'>{esc(LABELS[lang]['article'])}</p>",
        f"<h3 lang='{lang_of(article.title)}'>[{source['n']}] {esc(article.title)}</h3>",
        f"<p class='qa-meta'>{byline(article, lang)} · {esc(position(article, start, end, lang))}</p>",
        f"<p class='qa-lang-note'>{esc(note)}</p>" if note else "",
        "</div>",
        f"<div class='qa-article-text' lang='{lang_of(text)}' tabindex='0'>",
        esc(text[:start]), "<span class='qa-span'>", marked(text, start, end, spans), "</span>", esc(text[end:]),
        "</div>",
    ])


def sources_of(ans: Answer, turn: int) -> list[dict]:
    """What the side panel needs to show each passage of a reply again later (kept in session state)."""
    return [{"key": f"{turn}:{n}", "n": n, "doc_id": h.doc_id, "title": h.title, "start": h.start, "end": h.end,
             "lang": ans.lang, "quotes": quote_spans(ans, n)}
            for n, h in enumerate(ans.citations or ans.related, 1)]


def answer_json(assistant: Assistant, ans: Answer) -> dict:
    """The /ask payload: the answer and each passage with its article span and answering sentences."""
    articles = assistant.retriever.index.articles

    def passage(n: int, h: Hit) -> dict:
        a = articles[h.doc_id]
        return {"n": n, "doc_id": h.doc_id, "title": h.title, "outlet": a.outlet, "date": a.date,
                "date_iso": a.date_iso, "date_source": a.date_source,
                "start": h.start, "end": h.end, "text": h.text, "score": h.score,
                "quotes": [{"start": q.start, "end": q.end, "text": q.text} for q in ans.quotes if q.marker == n]}

    return {"question": ans.question, "lang": ans.lang, "answer": ans.text, "abstained": ans.abstained,
            "notices": list(ans.notices), "retrieval_query": ans.retrieval_query,
            "citations": [passage(n, h) for n, h in enumerate(ans.citations, 1)],
            "related": [passage(n, h) for n, h in enumerate(ans.related, 1)]}


def check_period(since: str | None, until: str | None) -> dict:
    """The since/until filter as ask() keywords; a date that isn't one is a ValueError saying so."""
    since, until = (since or "").strip(), (until or "").strip()
    bound(since, end=False), bound(until, end=True)
    return {"since": since or None, "until": until or None}


def build_app(assistant: Assistant, library: tuple[Path, Path] | None = None) -> gr.Blocks:
    """The chat UI and the /ask API around one loaded assistant, shared by every session.

    `library` = (articles dir, index dir) adds the Articles panel that adds and removes articles there.
    """

    def respond(question: str, k: float, chat: list, turns: list, since: str = "", until: str = "") -> tuple:
        history = [t["question"] for t in turns]
        try:
            period = check_period(since, until)
        except ValueError as e:
            return gr.skip(), gr.skip(), gr.skip(), f"<div class='qa-abstain' role='alert'>{esc(str(e))}</div>", \
                gr.skip(), gr.skip()
        try:
            ans = assistant.ask(question or "", k=clamp(k), history=history, **period)
        except ValueError:
            notice = f"<div class='qa-abstain' role='alert'>{esc(EMPTY_QUESTION)}</div>"
            return gr.skip(), gr.skip(), gr.skip(), notice, gr.skip(), gr.skip()
        sources = sources_of(ans, len(turns))
        turns = [*turns, {"question": ans.question, "lang": ans.lang, "sources": sources}]
        chat = [*chat, {"role": "user", "content": esc(question)},
                {"role": "assistant", "content": render_reply(assistant, ans)}]
        labels = LABELS[ans.lang]
        notice = ""
        if ans.abstained:
            notice = (f"<div class='qa-abstain' role='status' lang='{ans.lang}'><strong>⚠ {labels['abstained']}:"
                      f"</strong> {esc(ans.text)}</div>")
        first = next((s for s in sources if s["quotes"]), sources[0] if sources else None)
        pick = gr.Radio(choices=[(pick_label(s), s["key"]) for s in sources],
                        value=first["key"] if first else None, label=labels["pick"])
        article = render_article(assistant, first) if first else ARTICLE_HINT
        return chat, "", turns, notice, pick, article

    def pick_label(s: dict) -> str:
        n, _ = paragraph(assistant.retriever.index.articles[s["doc_id"]], s["start"])
        where = f"{n}번째 문단" if s["lang"] == "ko" else f"paragraph {n}"
        return f"[{s['n']}] {s['title']} · {where}"

    def show_source(key: str | None, turns: list) -> str:
        for turn in turns:
            for s in turn["sources"]:
                if s["key"] == key:
                    return render_article(assistant, s)
        return ARTICLE_HINT

    def clear() -> tuple:
        return [], "", [], "", gr.Radio(choices=[], value=None), ARTICLE_HINT

    def ask(question: str, k: int = 5, previous: str = "") -> dict:
        """Answer a question from the news articles; returns the answer with its cited passages as JSON."""
        try:
            ans = assistant.ask(question, k=clamp(k), history=[previous] if previous else [])
        except ValueError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return answer_json(assistant, ans)

    with gr.Blocks(title="news-qa", analytics_enabled=False) as demo:
        gr.HTML(INTRO, head=f"<style>{CSS}</style>", js_on_load=None)
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="대화 / Conversation", height=640, render_markdown=False,
                                     sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
                                     feedback_options=None, elem_id="qa-chat")
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
                article = gr.HTML(ARTICLE_HINT, elem_id="qa-article", js_on_load=None)

        outputs = [chatbot, box, turns, notice, pick, article]
        io = {"fn": respond, "inputs": [box, k, chatbot, turns, since, until], "outputs": outputs,
              "api_visibility": "private", "concurrency_id": "model", "concurrency_limit": 1}
        box.submit(**io).then(None, js=SCROLL_JS)
        ask_btn.click(**io).then(None, js=SCROLL_JS)
        for b in example_btns:
            b.click(lambda q=b.value: q, None, box, queue=False, api_visibility="private").then(**io)
        pick.input(show_source, [pick, turns], article, queue=False, api_visibility="private").then(
            None, js=SCROLL_JS)
        clear_btn.click(clear, None, outputs, queue=False, api_visibility="private")
        chatbot.clear(clear, None, outputs, queue=False, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_id="model", concurrency_limit=1)
        if library is not None:
            mount_library(assistant, *library)
    demo.queue(max_size=100, default_concurrency_limit=1)
    return demo


def load(index_dir: str | Path | None = None) -> Assistant:
    """Load the model and index once, and warm both languages up so the first user doesn't wait."""
    print("Loading the model and index (about 10 s)...", flush=True)
    t = time.perf_counter()
    assistant = Assistant.load(index_dir)
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
