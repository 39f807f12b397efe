"""HTML for the chat UI: answers with their checks, sources, and whole articles, all escaped.

Every piece of article, question or model text goes through `esc()` before it
reaches the page, and the chatbot renders no Markdown, so a `<script>` or
`[x](javascript:..)` in an article, a question or a reader's answer shows up as
those characters and nothing runs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from assistant import Answer, Article, Assistant, Hit, Quote
from assistant.ingest.korean import has_hangul
from assistant.reading import polarity
from assistant.reading.answer import MESSAGES, Sentence
from assistant.reading.steps import TRANSLATION_CHECKS
from ui.dates import resolved_dates

MAX_K = 10
ARTICLE_GONE = "이 기사는 그 뒤 색인에서 삭제되었습니다. / This article has since been removed from the index."
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
        "from_article": MESSAGES["ko"]["from_article"],
        "from_article_help": "기사 문장을 그대로 옮겼습니다 (상대 날짜는 괄호 안에 기사 날짜 기준으로 풀어 씀).",
        "articles_say": MESSAGES["ko"]["articles_say"],
        "checked": "확인: 숫자·이름·방향·부정",
        "checked_help": "옆의 한국어 문장을 기계 번역한 것입니다. 숫자·날짜·이름을 그 문장에서 모두 찾았고, "
                        "오름·내림과 부정(않다·못하다 등)이 원문과 같습니다. 그 밖의 표현은 확인하지 않았습니다.",
        "withheld": "이 답이 나온 문장의 번역이 확인을 통과하지 못해 보여 주지 않습니다. "
                    "원문 [{n}]을 아래에 인용합니다.",
        "original": "원문",
        "by": "답변:",
        "by_extractive": "답변: 기사 문장 인용 (AI 답변기 없음)",
        "writing": "답을 쓰는 중… (숫자·이름을 확인하며 표시)",
        "translate": "영어로 기계 번역",
        "machine_translation": "기계 번역",
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
        "from_article": MESSAGES["en"]["from_article"],
        "from_article_help": "The article's own sentence, quoted (relative dates resolved in brackets).",
        "articles_say": MESSAGES["en"]["articles_say"],
        "checked": "checked: numbers, names, direction, negation",
        "checked_help": "A machine translation of the Korean sentence shown with it. Every number, date and name in "
                        "it was found in that sentence, and it keeps that sentence's direction (rose/fell) and "
                        "negation (not/failed). Its other wording was not checked.",
        "withheld": "The English rendering of the sentence this answer comes from did not pass the check, so it is "
                    "not shown. That sentence is quoted below in the original Korean [{n}] and marked in the sources.",
        "original": "Original Korean",
        "by": "Answered by",
        "by_extractive": "Answered by quoting the articles (no AI reader)",
        "writing": "writing… (shown as its numbers and names are found in the articles)",
        "translate": "Translate this source to English (machine translation)",
        "machine_translation": "Machine translation",
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
.qa-fallback { color: #8a4b00; }
.qa-short { font-size: 1.25em; font-weight: 700; margin-bottom: .3em; }
.qa-sentence { margin: .2em 0; }
.qa-quote-label { font-size: .8em; color: #3b4a5a; border: 1px solid #8896a5; border-radius: 8px; padding: 0 .4em; }
.qa-articles-say { font-weight: 700; margin-bottom: .2em; }
.qa-withheld { font-size: .9em; color: #8a4b00; }
.qa-check { font-size: .8em; color: #1b7a2e; border: 1px solid #1b7a2e; border-radius: 8px; padding: 0 .4em; }
.qa-original { font-size: .85em; opacity: .85; margin-left: 1.5em; }
.qa-writing { opacity: .6; font-style: italic; }
.qa-reader-info { font-size: .8em; opacity: .7; }
.qa-mt { display: grid; grid-template-columns: 1fr 1fr; gap: .8em; }
.qa-mt-label { font-size: .85em; font-weight: 700; color: #8a4b00; }
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

# The answer in view: Gradio's chatbot scrolls to the bottom on every update (the end of the last source), so
# autoscroll is off (ui/app.py) and instead the newest question is brought to the top of the chat, its answer
# right under it: when the question appears (the answer then streams in below it, in view) and again when the
# reply is complete; when the answer is taller than a third of the chat, the answer's own top goes there.
# scrollIntoView moves the page too: in a small window, typing in the box below the chat has scrolled the
# chat's top (where the answer is) out of the window.
ANSWER_IN_VIEW_JS = """() => { setTimeout(() => {
  const rows = document.querySelectorAll('#qa-chat .user-row');
  const row = rows[rows.length - 1];
  if (!row) return;
  const replies = document.querySelectorAll('#qa-chat .qa-reply, #qa-chat .qa-pending');
  const reply = replies[replies.length - 1];
  const box = row.closest('.bubble-wrap');
  const tall = reply && box && reply.getBoundingClientRect().top - row.getBoundingClientRect().top
    > box.clientHeight / 3;
  (tall ? reply : row).scrollIntoView({block: 'start', behavior: 'instant'});
}, 80); }"""
# Installed once per page: when a new question row appears in the chat, bring it to the top as above.
WATCH_QUESTIONS_JS = ("""() => {
  const chat = document.querySelector('#qa-chat');
  if (!chat || window.qaWatching) return;
  window.qaWatching = true;
  let seen = chat.querySelectorAll('.user-row').length;
  new MutationObserver(() => {
    const n = chat.querySelectorAll('.user-row').length;
    if (n > seen) { (""" + ANSWER_IN_VIEW_JS + """)(); }
    seen = n;
  }).observe(chat, {childList: true, subtree: true});
}""")


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


def articles_of(assistant: Assistant, articles: Mapping[str, Article] | None) -> Mapping[str, Article]:
    """The articles of the index a request started on (app.py takes `assistant.retriever.index` once per request
    and passes its articles down), so an index swapped in meanwhile never answers half a page."""
    return articles if articles is not None else assistant.retriever.index.articles


def render_source(assistant: Assistant, ans: Answer, n: int, hit: Hit,
                  articles: Mapping[str, Article] | None = None) -> str:
    """One passage: [n] title, outlet and date, the passage with its answering sentence marked, its place."""
    article = articles_of(assistant, articles)[hit.doc_id]
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


def render_reply(assistant: Assistant, ans: Answer, articles: Mapping[str, Article] | None = None) -> str:
    """The chat reply: the answer (each reader sentence with its check) or a refusal, notices, then Sources."""
    labels = LABELS[ans.lang]
    parts = [f"<div class='qa-reply' lang='{ans.lang}'>"]
    if ans.abstained:
        parts.append(f"<div class='qa-abstain' role='note'><strong>⚠ {labels['abstained']}:</strong> "
                     f"{esc(ans.text)}<br>{esc(labels['abstain_help'])}</div>")
    elif ans.sentences or (ans.reader.backend != "extractive" and ans.quotes):
        parts.append(render_checked(ans))
    else:
        parts.append(f"<div class='qa-answer qa-extractive'>{with_markers(esc(ans.text))}</div>")
    parts.append(render_notes(ans))
    parts.append(render_sources(assistant, ans, ans.citations or ans.related, bool(ans.citations), articles))
    parts.append("</div>")
    return "".join(parts)


def with_markers(escaped: str) -> str:
    return re.sub(r"\[(\d+)\]", r"<span class='qa-marker'>[\1]</span>", escaped)


def shown_sentences(ans: Answer) -> list[Sentence]:
    """The sentences a reader may see: the article's own (quotes), and translations that passed the fact check
    and keep their source's direction and negation. The badge names those checks, so they are confirmed here
    whatever the reader upstream did."""
    return [s for s in ans.sentences if s.verified and (s.kind != "translation" or _keeps_polarity(s))]


def _keeps_polarity(s: Sentence) -> bool:
    korean = " ".join(q.text for q in s.quotes if has_hangul(q.text))
    return bool(korean) and polarity.agrees(korean, s.text).ok


def render_checked(ans: Answer) -> str:
    """A reader's answer: the short answer (or, without one, a plain heading), then each sentence labelled for
    what it is: a quote from the article, or a translation with the checks it passed and its Korean original."""
    labels = LABELS[ans.lang]
    shown = shown_sentences(ans)
    out = ["<div class='qa-answer qa-reader'>"]
    if ans.short:
        out.append(f"<div class='qa-short'>{esc(ans.short)}</div>")
    elif shown:
        out.append(f"<div class='qa-articles-say'>{esc(labels['articles_say'])}</div>")
    for s in shown:
        body = with_markers(highlighted(s.text, ans.short if ans.lang == "ko" else "", ans))
        if s.kind == "translation":
            badge = f"<span class='qa-check' title='{esc(labels['checked_help'])}'>✓ {esc(labels['checked'])}</span>"
        else:
            badge = (f"<span class='qa-quote-label' title='{esc(labels['from_article_help'])}'>"
                     f"{esc(labels['from_article'])}</span>")
        out.append(f"<div class='qa-sentence' data-kind='{esc(s.kind)}'>{badge} {body}")
        if s.kind == "translation":
            out += [original_line(ans, q) for q in s.quotes if has_hangul(q.text)]
        out.append("</div>")
    withheld = [s for s in ans.sentences if s.kind == "translation" and s not in shown]
    if not shown and withheld and ans.lang == "en":
        marker = withheld[0].markers[0] if withheld[0].markers else 1
        out.append(f"<div class='qa-sentence qa-withheld'>{esc(labels['withheld'].format(n=marker))}</div>")
        out += [original_line(ans, q) for q in withheld[0].quotes if has_hangul(q.text)]
    elif not shown and ans.text != ans.short:
        out.append(f"<div class='qa-sentence'>{esc(ans.text)}</div>")  # why there is no sentence
    attached = {(q.doc_id, q.start) for s in [*shown, *withheld[:1]] for q in s.quotes}
    if ans.lang == "en":  # the other sentences the answer rests on, in the original Korean
        out += [original_line(ans, q) for q in ans.quotes if (q.doc_id, q.start) not in attached and has_hangul(q.text)]
    out.append("</div>")
    return "".join(out)


def original_line(ans: Answer, q: Quote) -> str:
    """The Korean sentence a translation rests on, with the short answer's span marked in it."""
    labels, span = LABELS[ans.lang], ans.span
    inside = span is not None and span.doc_id == q.doc_id and q.start <= span.start < span.end <= q.end
    original = (marked(q.text, 0, len(q.text), [(span.start - q.start, span.end - q.start)]) if inside
                else esc(q.text))
    return (f"<div class='qa-original' lang='ko'>{esc(labels['original'])} [{q.marker}] · "
            f"{esc(labels['from_article'])}: {original}</div>")


def highlighted(text: str, short: str, ans: Answer) -> str:
    """Escaped sentence text with the answer's span marked, where the sentence quotes it."""
    span = ans.span.text if ans.span is not None else short
    at = text.find(span) if span else -1
    if at < 0:
        return esc(text)
    return esc(text[:at]) + "<mark class='qa-answer-span'>" + esc(span) + "</mark>" + esc(text[at + len(span):])


def render_notes(ans: Answer) -> str:
    labels = LABELS[ans.lang]
    parts = []
    if ans.retrieval_query and ans.retrieval_query != ans.question:
        parts.append(f"<div class='qa-notices qa-follow-up'>{labels['follow_up']}</div>")
    if ans.notices:
        parts.append("<div class='qa-notices qa-fallback' role='status'>"
                     + "<br>".join(f"⚠ {labels['note']}: {esc(n)}" for n in ans.notices) + "</div>")
    who = (f"{labels['by']} {esc(ans.reader.name)} ({esc(ans.reader.backend)}"
           + (f", sha256 {esc(ans.reader.sha256[:12])}…" if ans.reader.sha256 else "") + ")"
           if ans.reader.backend != "extractive" else labels["by_extractive"])
    parts.append(f"<div class='qa-reader-info'>{who}</div>")
    return "".join(parts)


def render_sources(assistant: Assistant, ans: Answer, hits: Sequence[Hit], cited: bool,
                   articles: Mapping[str, Article] | None = None) -> str:
    if not hits:
        return ""
    labels = LABELS[ans.lang]
    title = labels["sources"] if cited else labels["related"]
    return "".join([f"<details class='qa-sources'{' open' if cited else ''}><summary>{title} ({len(hits)})</summary>",
                    *(render_source(assistant, ans, n, h, articles) for n, h in enumerate(hits, 1)), "</details>"])


def render_draft(assistant: Assistant, lang: str, hits: Sequence[Hit], text: str,
                 articles: Mapping[str, Article] | None = None) -> str:
    """While the reader works: the sources already, and the text released so far (each part after its checks)."""
    labels = LABELS[lang]
    stub = Answer("", "", tuple(hits), False, lang, 0.0)
    body = with_markers(esc(text)) if text else ""
    return "".join([f"<div class='qa-pending' lang='{lang}'>",
                    f"<div class='qa-answer qa-draft' aria-busy='true'>{body}<span class='qa-writing'> "
                    f"{esc(labels['writing'])}</span></div>",
                    render_sources(assistant, stub, hits, True, articles), "</div>"])


def render_article(assistant: Assistant, source: dict, articles: Mapping[str, Article] | None = None) -> str:
    """The whole cleaned article, with the cited passage and its answering sentences highlighted."""
    article = articles_of(assistant, articles).get(source["doc_id"])
    if article is None:  # an earlier turn's source, removed from the index since
        return f"<p class='qa-meta'>{esc(ARTICLE_GONE)}</p>"
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


def answer_json(assistant: Assistant, ans: Answer, articles: Mapping[str, Article] | None = None) -> dict:
    """The /ask payload: the answer and each passage with its article span and answering sentences."""
    articles = articles_of(assistant, articles)

    def passage(n: int, h: Hit) -> dict:
        a = articles[h.doc_id]
        return {"n": n, "doc_id": h.doc_id, "title": h.title, "outlet": a.outlet, "date": a.date,
                "date_iso": a.date_iso, "date_source": a.date_source,
                "start": h.start, "end": h.end, "text": h.text, "score": h.score,
                "quotes": [{"start": q.start, "end": q.end, "text": q.text} for q in ans.quotes if q.marker == n]}

    shown = shown_sentences(ans)
    span = ({"n": ans.span.marker, "doc_id": ans.span.doc_id, "start": ans.span.start, "end": ans.span.end,
             "text": ans.span.text} if ans.span is not None else None)
    return {"question": ans.question, "lang": ans.lang, "answer": ans.text, "short": ans.short, "span": span,
            "abstained": ans.abstained, "notices": list(ans.notices), "retrieval_query": ans.retrieval_query,
            "sentences": [{"text": s.text, "kind": s.kind, "markers": list(s.markers), "verified": s.verified,
                           "checks": list(TRANSLATION_CHECKS) if s.kind == "translation" else [],
                           "quotes": [{"n": q.marker, "doc_id": q.doc_id, "start": q.start, "end": q.end,
                                       "text": q.text} for q in s.quotes]}
                          for s in shown],
            "unverified_dropped": len(ans.sentences) - len(shown),
            "reader": {"name": ans.reader.name, "sha256": ans.reader.sha256, "backend": ans.reader.backend},
            "timings_ms": {k: round(v, 1) for k, v in ans.timings.items() if isinstance(v, (int, float))},
            "citations": [passage(n, h) for n, h in enumerate(ans.citations, 1)],
            "related": [passage(n, h) for n, h in enumerate(ans.related, 1)]}




def render_translation(original: str, english: str, model: str) -> str:
    """A machine translation beside its original, labelled as such."""
    return "".join([
        "<div class='qa-mt'>",
        f"<div><div class='qa-mt-label'>{esc(LABELS['en']['machine_translation'])} ({esc(model)})</div>"
        f"<div lang='en'>{esc(english)}</div></div>",
        f"<div><div class='qa-mt-label'>{esc(LABELS['en']['original'])}</div>"
        f"<div lang='ko'>{esc(original)}</div></div>",
        "</div>",
    ])
