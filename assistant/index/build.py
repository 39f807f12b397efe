"""Build an index: clean, split, embed and hand the parts to the store, under the build lock.

Layout of an index home (default `index/`)::

    index/
      current -> builds/<id>      symlink, swapped atomically when a build finishes
      builds/<id>/                one complete index:
        manifest.json             model, dimension, weights and corpus hashes, chunking, ...
        vectors.faiss             FAISS inner-product index over unit vectors
        passages.jsonl            one passage per line, in FAISS id order
        articles.jsonl            the cleaned articles the offsets point into
        sentences.jsonl/.faiss    sentence spans and vectors: sharper matching, and the answer's quotes
        background.npy            vectors of generic off-topic sentences: the abstention baseline
        bm25/                     the Korean BM25 state (bm25s)
      cache/embeddings.sqlite     vectors by content hash: rebuilds re-embed only what changed
      build.lock                  one build at a time

The store writes a temp directory and renames it into place (faiss_store.py), so a build that is
killed at any moment leaves the previous index loadable. Loading is the store's job too.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import BuildLocked, NewsQAError
from assistant.index.manifest import FORMAT, package_version
from assistant.index.store import Sentence, StoreSpec
from assistant.index.stores import open_store
from assistant.ingest import korean
from assistant.ingest.chunking import ChunkSettings, embedding_text, split_articles
from assistant.ingest.corpus import Skipped, corpus_sha256, load_articles
from assistant.models.precision import manifest_record

BACKGROUND = Path(__file__).parents[1] / "data" / "background.txt"


def background_sentences() -> list[str]:
    """Generic sentences on other topics; how well a question matches them is its off-topic baseline."""
    lines = BACKGROUND.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]



@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock; a second build fails fast instead of corrupting anything."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / "build.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise BuildLocked(
                f"Another build of {index_dir} is running ({holder}); wait for it to finish."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- build -------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    path: Path
    articles: int
    passages: int
    sentences: int
    embedded: int
    reused: int
    skipped: list[Skipped]
    seconds: float
    sentence_vectors: str = "separate"

    @property
    def passages_per_s(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0


def build_index(
    articles_dir: Path,
    index_dir: Path,
    *,
    embedder,  # noqa: ANN001 - embedding.Embedder (typed loosely to keep imports light)
    chunk: ChunkSettings | None = None,
    progress: bool = True,
    batch_size: int = 64,
    cache_dir: Path | None = None,
    embed=None,  # noqa: ANN001 - embed_with_cache's signature; distributed.RayEmbedding spreads it over Ray
    store=None,  # noqa: ANN001 - store.StoreSpec; None or faiss: this directory, milvus: a Milvus alias
    sentence_vectors: str | None = None,
) -> BuildReport:
    """Clean, split, embed and index every article; swap the result in atomically.

    `sentence_vectors` is "pooled" or "separate" (see vectors.py; default NEWSQA_SENTENCE_VECTORS).
    """
    from assistant.index.vectors import effective_method, embed_corpus, sentence_method, work_units
    from assistant.models.embedding import EmbeddingCache

    target = open_store(store if store is not None else StoreSpec(), index_dir)  # issue 11: FAISS files or Milvus

    chunk = chunk or ChunkSettings()
    method = effective_method(embedder, sentence_method(sentence_vectors))
    t0 = time.perf_counter()
    with build_lock(index_dir):
        articles, skipped = load_articles(articles_dir)
        if not articles:
            raise NewsQAError(f"No readable articles in {articles_dir} (.txt, .md, .html).")
        passages = split_articles(articles, chunk)
        texts = [embedding_text(p, chunk) for p in passages]
        spans = []  # per passage: its sentences as offsets into the text the model reads
        for p, text in zip(passages, texts):
            shift = len(text) - len(p.text)  # the title in front, if any
            spans.append([(shift + s, shift + e) for s, e in korean.sentences(p.text)])
        sentences = []
        for i, (p, text, ss) in enumerate(zip(passages, texts, spans)):
            base = p.start - (len(text) - len(p.text))  # embedding-text offsets -> article offsets
            sentences += [Sentence(i, base + s, base + e) for s, e in ss]
        n_vectors = len(passages) + len(sentences)

        cache = EmbeddingCache((cache_dir or index_dir / "cache") / "embeddings.sqlite")
        try:
            with _progress_bar(work_units(method, len(passages), len(sentences)), progress,
                               "passages" if method == "pooled" else "text") as bar:
                passage_vectors, sentence_vectors, embedded = embed_corpus(
                    embedder, texts, spans, cache, method=method, batch_size=batch_size, progress=bar, embed=embed
                )
        finally:
            cache.close()
        background = embedder.embed_passages(background_sentences())

        manifest = {
            "format": FORMAT,
            "package_version": package_version(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": {"name": embedder.name, "dim": embedder.dim, "weights_sha256": embedder.weights_sha256,
                      **manifest_record(embedder, method)},
            "corpus": {
                "sha256": corpus_sha256(articles),
                "articles": len(articles),
                "passages": len(passages),
                "sentences": len(sentences),
                "skipped": [str(s) for s in skipped],
            },
            "chunking": chunk.to_dict(),
            "sentence_vectors": method,
            "faiss": {},  # the FAISS store fills these in (faiss_store.py); Milvus keeps its own
            "sentence_faiss": {},
        }
        # Through the seam (store.py): a new build directory, or new Milvus collections behind the alias.
        path = Path(target.write_build(manifest, passages, articles, sentences, passage_vectors,
                                       sentence_vectors, background))
    return BuildReport(path, len(articles), len(passages), len(sentences), embedded,
                       n_vectors - embedded, skipped, time.perf_counter() - t0, method)


@contextmanager
def _progress_bar(total: int, enabled: bool, unit: str = "text") -> Iterator:
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, desc="embedding", disable=not enabled, dynamic_ncols=True) as bar:
        yield bar.update
