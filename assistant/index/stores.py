"""Which store `NEWSQA_STORE` names: open it (whether its build is up to date: manifest.is_up_to_date).

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
