"""news-qa: question answering over Korean news articles, with cited passages.

    from assistant import Retriever, Assistant
    hits = Retriever.load().search("엔비디아 주가는 하루에 얼마나 떨어졌나?", k=5)
    ans = Assistant.load().ask("How much did Nvidia fall in one day?")

A question flows through the modules in this order: corpus (load and clean
articles) -> chunking (passages with offsets) -> embedding (vectors) -> index
(FAISS + BM25 on disk) -> retriever (dense, keyword, fused) -> answer (cited
sentences or an honest abstention).

The names below are imported on first use (PEP 562), so `import assistant.models.llm_worker` (the reader's
child process, which needs numpy and llama.cpp only) does not load the chunker, Kiwi or the retriever.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from assistant import env_settings as environment

# Defaults the libraries read when they are imported (passive OpenMP waits, no model hub): before torch loads.
environment.configure_libraries()

_WHERE = {
    "Answer": "assistant.reading.answer", "Assistant": "assistant.reading.answer", "Quote": "assistant.reading.quotes",
    "Hit": "assistant.search.retriever", "Retriever": "assistant.search.retriever",
    "Article": "assistant.ingest.corpus", "ChunkSettings": "assistant.ingest.chunking",
    "Passage": "assistant.ingest.chunking", "IndexCorrupt": "assistant.errors", "IndexMismatch": "assistant.errors",
    "IndexMissing": "assistant.errors", "NewsQAError": "assistant.errors",
}
__all__ = [
    "Answer", "Article", "Assistant", "ChunkSettings", "Hit", "IndexCorrupt", "IndexMismatch",
    "IndexMissing", "NewsQAError", "Passage", "Quote", "Retriever",
]

if TYPE_CHECKING:
    from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing, NewsQAError
    from assistant.ingest.chunking import ChunkSettings, Passage
    from assistant.ingest.corpus import Article
    from assistant.reading.answer import Answer, Assistant
    from assistant.reading.quotes import Quote
    from assistant.search.retriever import Hit, Retriever


def __getattr__(name: str) -> object:
    """`from assistant import Assistant`: the module that defines it, imported now and only now."""
    if name not in _WHERE:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
