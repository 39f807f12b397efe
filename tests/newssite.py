"""A made-up Korean news site on a loopback port: RSS and Atom feeds, article pages, robots.txt.

Stdlib `http.server` in a thread on 127.0.0.1 (a free port). It answers conditional GETs with 304
(ETag = a hash of the body, Last-Modified fixed), records every request it saw (path, whether it was
conditional, the status it answered, the User-Agent), and can misbehave on purpose: a status, a delay,
a body cut off mid-way.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = formatdate(1_750_000_000, usegmt=True)


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0
    truncate: bool = False  # promise the whole body, send half, hang up
    validators: bool = True  # ETag and Last-Modified
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    conditional: bool
    status: int
    user_agent: str


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    date: str  # 2025-03-14


def story_html(story: Story, charset: str = "utf-8") -> bytes:
    """An article page as a news site serves it: menus and a footer around the story."""
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="{charset}"><title>{html.escape(story.title)} - 가상뉴스</title>
<meta property="article:published_time" content="{story.date}T09:00:00+09:00"></head>
<body><nav><a href="/">홈</a> <a href="/economy">경제</a> <a href="/society">사회</a></nav>
<article><h1>{html.escape(story.title)}</h1>
<div class="byline">입력 {story.date} 09:00</div>
{paras}
</article>
<footer>가상뉴스 무단 전재 및 재배포 금지. 회사소개 | 광고문의 | 개인정보처리방침</footer>
</body></html>"""
    return page.encode("cp949" if charset.lower() == "euc-kr" else charset)  # what Korean sites really send


def rss(title: str, base: str, stories: list[Story]) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(s.title)}</title><link>{base}/news/{s.slug}.html</link>"
        f"<guid>{base}/news/{s.slug}.html</guid><pubDate>{_rfc822(s.date)}</pubDate></item>" for s in stories)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{html.escape(title)}</title>'
            f"<link>{base}/</link><description>가상 뉴스</description>{items}</channel></rss>").encode()


def atom(title: str, base: str, stories: list[Story]) -> bytes:
    entries = "".join(
        f"<entry><title>{html.escape(s.title)}</title><link rel=\"alternate\" href=\"{base}/science/{s.slug}.html\"/>"
        f"<id>{base}/science/{s.slug}</id><published>{s.date}T09:00:00+09:00</published>"
        f"<updated>{s.date}T09:00:00+09:00</updated></entry>" for s in stories)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{html.escape(title)}</title><id>{base}/atom</id><updated>2025-03-20T00:00:00Z</updated>"
            f"{entries}</feed>").encode()


def _rfc822(date: str) -> str:
    return formatdate(time.mktime(time.strptime(date + " 09:00", "%Y-%m-%d %H:%M")), usegmt=True)


class NewsSite:
    """The server and its content; `site.resources[path] = Resource(...)` changes what it serves."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                site._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def reset_log(self) -> None:
        with self._lock:
            self.seen.clear()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        res = self.resources.get(h.path)
        etag = f'"{hashlib.sha1(res.body).hexdigest()[:16]}"' if res else ""
        conditional = bool(h.headers.get("If-None-Match") or h.headers.get("If-Modified-Since"))
        if res is None:
            status = 404
        elif res.validators and res.status == 200 and (
                h.headers.get("If-None-Match") == etag or
                (not h.headers.get("If-None-Match") and h.headers.get("If-Modified-Since") == LAST_MODIFIED)):
            status = 304
        else:
            status = res.status
        with self._lock:
            self.seen.append(Seen(h.path, conditional, status, h.headers.get("User-Agent", "")))
        if res and res.delay:
            time.sleep(res.delay)
        h.send_response(status)
        for k, v in (res.headers if res else {}).items():
            h.send_header(k, v)
        if res and res.validators and status in (200, 304):
            h.send_header("ETag", etag)
            h.send_header("Last-Modified", LAST_MODIFIED)
        if status == 304:
            h.end_headers()
            return
        body = res.body if res else b"not found"
        h.send_header("Content-Type", res.content_type if res else "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body[: len(body) // 2] if res and res.truncate else body)
            h.wfile.flush()
        except OSError:
            pass
        if res and res.truncate:
            h.close_connection = True


# --- the standard site: three stories in RSS, two in Atom --------------------------------------

RSS_STORIES = [
    Story("salmon", "푸른바다수산, 제주에 연어 양식장 완공", (
        "[제주=가상뉴스] 박민수 기자 = 푸른바다수산이 제주 서귀포시 앞바다에 대서양 연어 양식장을 완공했다고 "
        "2025년 3월 10일 밝혔다.",
        "양식장의 연간 생산량은 3200톤으로, 회사는 지금까지 수입에 의존하던 연어의 일부를 국내산으로 바꿀 수 "
        "있을 것으로 기대했다.",
        "회사 관계자는 수온이 낮은 겨울철에도 어린 연어가 잘 자라도록 바닷물을 끌어올리는 설비를 갖췄다고 설명했다.",
        "첫 출하는 올해 가을로 예정돼 있으며, 대형 마트 세 곳과 납품 계약을 맺었다고 회사는 덧붙였다."), "2025-03-10"),
    Story("flu", "새봄제약, 독감 신약 임상 3상 돌입", (
        "[서울=가상뉴스] 김지은 기자 = 새봄제약이 먹는 독감 치료제의 임상 3상 시험을 시작한다고 "
        "2025년 3월 12일 발표했다.",
        "이번 시험에는 국내 병원 40곳에서 모두 1850명의 환자가 참가하며, 약을 먹은 뒤 열이 내리기까지 걸리는 "
        "시간을 비교한다.",
        "회사는 앞선 2상 시험에서 증상이 이어지는 기간이 평균 하루 가까이 줄었다고 밝힌 바 있다.",
        "새봄제약 연구소장은 시험이 순조롭게 끝나면 내년 하반기에 허가를 신청하겠다고 말했다."), "2025-03-12"),
    Story("airline", "누리항공, 청주-울란바토르 노선 신설", (
        "[청주=가상뉴스] 정하늘 기자 = 저비용 항공사 누리항공이 청주와 몽골 울란바토르를 잇는 정기 노선을 "
        "새로 연다고 2025년 3월 14일 밝혔다.",
        "새 노선은 다음 달부터 주 4회 운항하며, 180석 규모의 중형 여객기가 투입된다.",
        "충청권 여행객은 그동안 인천공항까지 가야 몽골행 비행기를 탈 수 있었다.",
        "누리항공은 여름 성수기에는 운항 횟수를 늘리는 방안도 검토하고 있다고 설명했다."), "2025-03-14"),
]
ATOM_STORIES = [
    Story("telescope", "별빛천문대, 새 광학 망원경 공개", (
        "[대전=가상뉴스] 오세진 기자 = 별빛천문대가 구경 2.4미터의 새 광학 망원경을 2025년 3월 16일 "
        "일반에 공개했다.",
        "이 망원경은 국내 천문대가 가진 광학 망원경 가운데 가장 크며, 제작에만 5년이 걸렸다.",
        "천문대는 이 망원경으로 지구에 가까이 다가오는 소행성을 추적하는 연구를 할 계획이다.",
        "주말에는 시민 관측 행사가 열려 누구나 예약하고 망원경을 볼 수 있다."), "2025-03-16"),
    Story("library", "한솔도서관, 24시간 열람실 문 열어", (
        "[부산=가상뉴스] 한유리 기자 = 부산 한솔도서관이 하루 종일 이용할 수 있는 열람실을 "
        "2025년 3월 18일 열었다.",
        "새 열람실의 좌석은 모두 380석이며, 시험 기간에는 이용 시간을 예약해야 한다.",
        "도서관은 밤에도 안전하게 이용할 수 있도록 경비 인력을 두 배로 늘렸다.",
        "이용자들은 늦게 일을 마치는 직장인에게 특히 반가운 소식이라고 입을 모았다."), "2025-03-18"),
]
NEW_STORY = Story("robots", "다온로봇, 물류 로봇 500대 수주", (
    "[인천=가상뉴스] 서도윤 기자 = 다온로봇이 대형 택배 회사로부터 물류 창고용 로봇 500대를 수주했다고 "
    "2025년 3월 20일 밝혔다.",
    "계약 금액은 약 300억원으로, 회사가 설립된 뒤 맺은 계약 가운데 가장 크다.",
    "로봇들은 올해 안에 경기도 이천의 물류 센터 세 곳에 차례로 설치된다.",
    "다온로봇 대표는 해외 물류 회사들과도 비슷한 계약을 논의하고 있다고 말했다."), "2025-03-20")
CHANGED_FLU = Story("flu", "새봄제약, 독감 신약 임상 3상 돌입", (
    RSS_STORIES[1].paragraphs[0],
    "이번 시험에는 국내 병원 52곳에서 모두 2100명의 환자가 참가하며, 약을 먹은 뒤 열이 내리기까지 걸리는 "
    "시간을 비교한다.",
    *RSS_STORIES[1].paragraphs[2:]), "2025-03-12")


def standard_site(site: NewsSite, rss_stories: list[Story] | None = None) -> None:
    """Fill `site` with the RSS feed (/rss.xml), the Atom feed (/atom.xml), their pages and robots.txt."""
    rss_stories = RSS_STORIES if rss_stories is None else rss_stories
    site.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    site.resources["/rss.xml"] = Resource(rss("가상뉴스 경제", site.base, rss_stories), "application/rss+xml")
    site.resources["/atom.xml"] = Resource(atom("가상뉴스 과학", site.base, ATOM_STORIES), "application/atom+xml")
    for s in rss_stories:
        site.resources[f"/news/{s.slug}.html"] = Resource(story_html(s))
    for s in ATOM_STORIES:
        site.resources[f"/science/{s.slug}.html"] = Resource(story_html(s))
