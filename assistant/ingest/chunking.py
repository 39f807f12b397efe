"""Split cleaned articles into passages that keep their place in the article.

Every passage is a verbatim span: `article.text[p.start:p.end] == p.text`, so
a citation can always be shown in, and checked against, its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.ingest.corpus import Article

# Paragraphs first, then Korean sentence endings, then English ones, then words.
KOREAN_SEPARATORS: tuple[str, ...] = (
    "\n\n",
    "\n",
    "다. ",
    "요. ",
    "죠. ",
    "? ",
    "! ",
    ". ",
    ", ",
    " ",
    "",
)


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut. Recorded in the index manifest; chosen on the eval dev split."""

    size: int = 500
    overlap: int = 100
    separators: tuple[str, ...] = field(default=KOREAN_SEPARATORS)
    title_in_embedding: bool = True

    def to_dict(self) -> dict:
        return asdict(self) | {"separators": list(self.separators)}

    @classmethod
    def from_dict(cls, data: dict) -> ChunkSettings:
        return cls(**(data | {"separators": tuple(data.get("separators", KOREAN_SEPARATORS))}))


@dataclass(frozen=True)
class Passage:
    """A verbatim span of one article, with character offsets into its cleaned text."""

    doc_id: str
    title: str
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc_id}:{self.start}-{self.end}"


def splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=settings.overlap,
        separators=list(settings.separators),
        keep_separator="end",
        strip_whitespace=True,
    )


def split_article(article: Article, settings: ChunkSettings | None = None) -> list[Passage]:
    """Cut one article into passages and locate each one in the article text."""
    settings = settings or ChunkSettings()
    text = article.text
    chunks = splitter(settings).split_text(text)
    starts = _positions(text, chunks, settings.overlap)
    return [Passage(article.doc_id, article.title, s, s + len(c), c) for s, c in zip(starts, chunks)]


def _positions(text: str, chunks: list[str], overlap: int) -> list[int]:
    """Where each chunk starts in `text`.

    The splitter returns chunks in order, each one overlapping the one before by at most
    `overlap` characters or following it after whitespace. Searching for a chunk's first
    occurrence is not enough when text repeats (the chunk "다." can also be found inside
    the previous one), so this keeps every placement consistent with that rule and walks
    back one that covers the whole text.
    """
    layers: list[dict[int, int]] = []  # per chunk: start -> start of the previous chunk on a consistent path
    ends = {0: -1}  # the end of the previous chunk -> its start (a virtual chunk before the text)
    for i, chunk in enumerate(chunks):
        back = overlap if i else 0
        windows = [(e - back, _skip_space(text, e), q) for e, q in ends.items()]  # where this chunk may start
        layer: dict[int, int] = {}
        for p in range(max(0, min(w[0] for w in windows)), max(w[1] for w in windows) + 1):
            if text.startswith(chunk, p):
                prev = next((q for lo, hi, q in windows if lo <= p <= hi and q < p), None)
                if prev is not None:
                    layer[p] = prev
        if not layer:  # pragma: no cover - the splitter broke its own rule; fall back to searching
            return _search_positions(text, chunks)
        if len(layer) > 16:  # periodic text ("ㅋㅋㅋㅋ..."): every placement fits; keep the paths bounded
            layer = {p: layer[p] for p in sorted(layer)[-16:]}
        layers.append(layer)
        ends = {p + len(chunk): p for p in layer}
    if not layers:
        return []
    last = layers[-1]
    p = next((p for p in sorted(last, reverse=True) if _skip_space(text, p + len(chunks[-1])) == len(text)),
             max(last))
    starts = [p]
    for layer in reversed(layers[1:]):
        p = layer[p]
        starts.append(p)
    return starts[::-1]


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _search_positions(text: str, chunks: list[str]) -> list[int]:
    starts, cursor = [], 0
    for chunk in chunks:
        start = _locate(text, chunk, cursor)
        starts.append(start)
        cursor = start + 1
    return starts


def _locate(text: str, chunk: str, cursor: int) -> int:
    """Offset of `chunk` at or after `cursor` (chunks come in order, overlapping)."""
    start = text.find(chunk, cursor)
    if start < 0:  # pragma: no cover - the splitter only returns substrings
        raise ValueError(f"splitter returned text that is not in the article: {chunk[:40]!r}")
    return start


def split_articles(articles: list[Article], settings: ChunkSettings | None = None) -> list[Passage]:
    return [p for a in articles for p in split_article(a, settings)]


def embedding_text(passage: Passage, settings: ChunkSettings) -> str:
    """What the model reads for a passage: optionally the title as context, then the span."""
    return f"{passage.title}\n{passage.text}" if settings.title_in_embedding else passage.text
