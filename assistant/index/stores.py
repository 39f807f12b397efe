"""Which store `NEWSQA_STORE` names: open it, and ask whether its build is up to date.

The one place that knows both implementations of the seam (store.py): FAISS files under the
index directory, or a Milvus collection behind an alias.
"""

from __future__ import annotations

from pathlib import Path

from assistant.index.store import Store, StoreSpec, parse_store


def open_store(spec: str | StoreSpec | None, index_dir: Path) -> Store:
    """The store NEWSQA_STORE (or `spec`) names; `index_dir` stays home to the build lock and cache."""
    spec = spec if isinstance(spec, StoreSpec) else parse_store(spec)
    if spec.is_milvus:
        from assistant.index.milvus_store import MilvusStore

        return MilvusStore(spec, index_dir)
    from assistant.index.faiss_store import FaissStore

    return FaissStore(spec, index_dir)


def is_up_to_date(spec: StoreSpec, index_dir: Path, articles_dir: Path, *, model: str, chunk: object,
                  sentence_vectors: str | None = None) -> bool:
    """`build --if-stale` for any store: built from these articles with this model, chunking and vectors."""
    if not spec.is_milvus:
        from assistant.index.manifest import is_up_to_date as faiss_up_to_date

        return faiss_up_to_date(index_dir, articles_dir, model=model, chunk=chunk, sentence_vectors=sentence_vectors)
    from assistant.errors import NewsQAError
    from assistant.index.manifest import check_compatible
    from assistant.ingest.corpus import corpus_sha256, load_articles

    try:
        manifest = open_store(spec, index_dir).read_manifest()
        check_compatible(manifest, index_dir, model=model, weights_sha256=None, chunk=chunk,
                         sentence_vectors=sentence_vectors)
    except NewsQAError:
        return False
    articles, _ = load_articles(articles_dir)
    return manifest.get("corpus", {}).get("sha256") == corpus_sha256(articles)
