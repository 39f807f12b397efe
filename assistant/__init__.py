"""news-qa: question answering over Korean news articles, with cited passages.

    from assistant import Retriever, Assistant
    hits = Retriever.load().search("엔비디아 주가는 하루에 얼마나 떨어졌나?", k=5)
    ans = Assistant.load().ask("How much did Nvidia fall in one day?")

A question flows through the modules in this order: corpus (load and clean
articles) -> chunking (passages with offsets) -> embedding (vectors) -> index
(FAISS + BM25 on disk) -> retriever (dense, keyword, fused) -> answer (cited
sentences or an honest abstention).
"""

import os

# Passive OpenMP waits: with spinning threads a query took 700+ ms instead of 15 ms
# whenever another process held one of the two cores. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant.ingest.chunking import ChunkSettings, Passage
from assistant.ingest.corpus import Article
from assistant.reading.answer import Answer, Assistant, Quote
from assistant.search.retriever import Hit, Retriever

from .errors import IndexCorrupt, IndexMismatch, IndexMissing, NewsQAError

__all__ = [
    "Answer", "Article", "Assistant", "ChunkSettings", "Hit", "IndexCorrupt", "IndexMismatch",
    "IndexMissing", "NewsQAError", "Passage", "Quote", "Retriever",
]
