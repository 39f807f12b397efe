"""Split cleaned articles into passages that keep their place in the article.

Every passage is a verbatim span: `article.text[p.start:p.end] == p.text`, so
a citation can always be shown in, and checked against, its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .corpus import Article

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
    passages: list[Passage] = []
    cursor = 0
    for chunk in splitter(settings).split_text(text):
        start = _locate(text, chunk, cursor)
        passages.append(Passage(article.doc_id, article.title, start, start + len(chunk), chunk))
        cursor = start + 1
    return passages


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
