"""A polite HTTP client for feeds and article pages: one request at a time per host, robots.txt, limits.

Built on `httpx` (a well-kept client with real timeouts and streaming): each response is read as a
stream and cut off past `max_bytes`, redirects are followed by hand so that each hop is checked
(http/https only, at most `max_redirects`, robots.txt of the new host), and a conditional GET
(ETag / Last-Modified) lets an unchanged feed or page cost a 304 and nothing else. robots.txt is
read with the standard library's `urllib.robotparser`, itself fetched conditionally and cached by
the caller (`robots` state), so a sync with nothing new makes only conditional requests.
Every failure is a `FetchError` whose message is one line a person can act on.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.robotparser
from collections.abc import MutableMapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from assistant.ingest.corpus import MAX_FILE_BYTES

USER_AGENT = "news-qa/0.1 (+question answering over Korean news; polite feed reader)"
TIMEOUT_S = 15.0
MAX_BYTES = MAX_FILE_BYTES  # a page is held to the same limit as an article file
MAX_REDIRECTS = 5
DELAY_S = 1.0  # between two requests to the same host
_REDIRECTS = (301, 302, 303, 307, 308)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w-]+)", re.IGNORECASE)
# Korean pages that say EUC-KR are usually CP949, its superset (extra Hangul syllables).
_CHARSET_ALIASES = {"euc-kr": "cp949", "euc_kr": "cp949", "ks_c_5601-1987": "cp949", "ksc5601": "cp949"}


class FetchError(Exception):
    """A URL that could not be fetched; the message is the one-line reason."""


@dataclass(frozen=True)
class Response:
    """What a GET brought back. `status` 304 means "not modified": `content` is empty."""

    url: str  # after redirects
    status: int
    content: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def charset(self) -> str:
        m = re.search(r"charset\s*=\s*[\"']?([\w-]+)", self.content_type, re.IGNORECASE)
        return m.group(1).lower() if m else ""


def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; else ValueError with the reason."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https URLs are fetched, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"not a URL with a host: {url!r}")
    return url.strip()


def decode_page(data: bytes, charset: str = "") -> tuple[str, str]:
    """A page's text and encoding: the HTTP charset, else the page's <meta charset>, else detection."""
    from assistant.ingest.corpus import decode

    declared = charset or ""
    if not declared:
        m = _META_CHARSET.search(data[:4096])
        declared = m.group(1).decode("ascii", "replace").lower() if m else ""
    encoding = _CHARSET_ALIASES.get(declared.lower(), declared.lower())
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong label: detect instead
    return decode(data)


class Fetcher:
    """GETs with the project's manners. Thread-safe: requests to one host wait for each other."""

    def __init__(self, *, user_agent: str = USER_AGENT, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
                 max_redirects: int = MAX_REDIRECTS, delay: float = DELAY_S,
                 robots: MutableMapping[str, dict] | None = None) -> None:
        self.user_agent, self.max_bytes, self.max_redirects, self.delay = user_agent, max_bytes, max_redirects, delay
        self.robots = robots if robots is not None else {}  # origin -> {"text", "etag", "last_modified"}
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                    headers={"User-Agent": user_agent})
        self._guard = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, etag: str = "", last_modified: str = "") -> Response:
        """GET `url` (conditionally when `etag` or `last_modified` is known), following bounded redirects."""
        url = _checked(url)
        for _ in range(self.max_redirects + 1):
            if not self.allowed(url):
                raise FetchError(f"robots.txt of {_origin(url)} disallows {urlsplit(url).path or '/'}")
            headers = {"If-None-Match": etag} if etag else {}
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            r = self._get(url, headers)
            if r.status in _REDIRECTS:
                url = _checked(urljoin(url, r.content.decode("utf-8", "replace")))
                etag = last_modified = ""  # validators belong to the URL they came from
                continue
            if r.status == 304 or 200 <= r.status < 300:
                return r
            raise FetchError(f"HTTP {r.status} from {url}")
        raise FetchError(f"more than {self.max_redirects} redirects from {url}")

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets this client fetch `url` (read once per origin per Fetcher)."""
        origin = _origin(url)
        if origin not in self._parsers:
            self._parsers[origin] = self._robots(origin)
        return self._parsers[origin].can_fetch(self.user_agent, url)

    # --- internals ----------------------------------------------------------------------

    def _robots(self, origin: str) -> urllib.robotparser.RobotFileParser:
        """robots.txt by RFC 9309: a 4xx allows everything, a server error or no answer allows nothing."""
        cached = self.robots.get(origin) or {}
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        conditional = (("If-None-Match", cached.get("etag")), ("If-Modified-Since", cached.get("last_modified")))
        headers, target = {k: v for k, v in conditional if v}, origin + "/robots.txt"
        for _ in range(self.max_redirects + 1):  # unreachable: FetchError
            r = self._get(target, headers)
            if r.status not in _REDIRECTS:
                break
            headers, target = {}, _checked(urljoin(target, r.content.decode("utf-8", "replace")))
        if r.status == 304 and "text" in cached:
            text = cached["text"]
        elif 200 <= r.status < 300:
            text = r.content.decode("utf-8", "replace")
            self.robots[origin] = {"text": text, "etag": r.etag, "last_modified": r.last_modified}
        elif 400 <= r.status < 500:
            text = ""
            self.robots[origin] = {"text": "", "etag": r.etag, "last_modified": r.last_modified}
        else:
            raise FetchError(f"robots.txt of {origin} answered HTTP {r.status}; not fetching from it")
        parser.parse(text.splitlines())
        return parser

    def _get(self, url: str, headers: dict[str, str]) -> Response:
        """One request, after waiting for this host's turn; a redirect's Location comes back as its content."""
        host = _origin(url)
        with self._guard:
            lock = self._hosts.setdefault(host, threading.Lock())
        with lock:
            wait = self._last.get(host, 0.0) + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return self._stream(url, headers)
            finally:
                self._last[host] = time.monotonic()

    def _stream(self, url: str, headers: dict[str, str]) -> Response:
        self.requests += 1
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                if r.is_redirect:
                    return Response(url, r.status_code, r.headers.get("location", "").encode())
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"{url} is too large ({int(declared) / 2**20:.1f} MB > "
                                     f"{self.max_bytes / 2**20:.0f} MB)")
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"{url} is larger than {self.max_bytes / 2**20:.0f} MB; not read")
                    chunks.append(chunk)
                return Response(str(r.url), r.status_code, b"".join(chunks), r.headers.get("etag", ""),
                                r.headers.get("last-modified", ""), r.headers.get("content-type", ""))
        except httpx.TimeoutException:
            raise FetchError(f"{url} did not answer in time") from None
        except httpx.RemoteProtocolError as e:
            raise FetchError(f"{url} broke off the response ({_short(e)})") from None
        except httpx.HTTPError as e:
            raise FetchError(f"{url} could not be reached ({_short(e)})") from None


def _checked(url: str) -> str:
    try:
        return check_url(url)
    except ValueError as e:
        raise FetchError(str(e)) from None


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme.lower()}://{p.netloc.lower()}"


def _short(e: Exception) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:160]
