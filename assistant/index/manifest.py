"""An index's manifest: which build is current, what it was built from, and whether this assistant can use it.

Loading checks the manifest before anything else, so a stale, foreign or half-written index is refused
in one line that names the command to fix it, before a model is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from assistant.errors import IndexCorrupt, IndexMismatch, IndexMissing, NewsQAError, rebuild_hint
from assistant.ingest.chunking import ChunkSettings, Passage
from assistant.ingest.corpus import Article, corpus_sha256, load_articles

FORMAT = 2  # 2: articles carry a parsed date (date_iso, date_source)
MANIFEST = "manifest.json"


def package_version() -> str:
    try:
        return version("news-qa")
    except PackageNotFoundError:
        return "0+unknown"


def resolve(index_dir: Path) -> Path:
    """The build directory behind an index home (or the directory itself if it is a build)."""
    current = index_dir / "current"
    if current.exists():
        return current.resolve()
    if (index_dir / MANIFEST).exists():
        return index_dir
    if current.is_symlink():
        raise IndexCorrupt(f"{current} points to a missing build. {rebuild_hint(index_dir)}")
    raise IndexMissing(
        f"No index at {index_dir}. Build it with: python -m assistant build --index {index_dir}"
    )


def read_manifest(index_dir: Path) -> tuple[Path, dict]:
    path = resolve(index_dir)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"The index manifest at {path} is unreadable ({e}). {rebuild_hint(index_dir)}") from e
    if any(not isinstance(manifest.get(key, {}), dict) for key in ("model", "corpus", "chunking", "files", "faiss")):
        raise IndexCorrupt(f"The index manifest at {path} is malformed. {rebuild_hint(index_dir)}")
    if manifest.get("format") != FORMAT:
        raise IndexMismatch(
            f"The index at {index_dir} has format {manifest.get('format')}, this version reads {FORMAT}. "
            f"{rebuild_hint(index_dir)}"
        )
    return path, manifest


def check_compatible(manifest: dict, index_dir: Path, *, model: str, weights_sha256: str | None,
                     chunk: ChunkSettings | None, sentence_vectors: str | None = None) -> None:
    """Refuse an index built with another model, chunking or sentence vectors, naming the fix."""
    built_sv = manifest.get("sentence_vectors", "separate")  # builds before the setting existed
    if sentence_vectors is not None and built_sv != sentence_vectors:
        raise IndexMismatch(
            f"The index at {index_dir} has {built_sv} sentence vectors, this assistant expects "
            f"{sentence_vectors}. {rebuild_hint(index_dir)} (or set NEWSQA_SENTENCE_VECTORS={built_sv})"
        )
    built = manifest.get("model", {})
    if built.get("name") != model or (weights_sha256 and built.get("weights_sha256") != weights_sha256):
        raise IndexMismatch(
            f"The index at {index_dir} was built with model {built.get('name')!r} "
            f"(weights {str(built.get('weights_sha256'))[:12]}), but this assistant uses {model!r}"
            f"{f' (weights {weights_sha256[:12]})' if weights_sha256 else ''}. {rebuild_hint(index_dir)}"
            f" (or set NEWSQA_MODEL={built.get('name')})"
        )
    if chunk is not None and manifest.get("chunking") != chunk.to_dict():
        c = manifest.get("chunking", {})
        differ = sorted(k for k, v in chunk.to_dict().items() if c.get(k) != v)
        raise IndexMismatch(
            f"The index at {index_dir} was cut into passages of {c.get('size')}/{c.get('overlap')} "
            f"characters (size/overlap), this assistant expects {chunk.size}/{chunk.overlap}"
            f" (chunking settings that differ: {', '.join(differ)}). {rebuild_hint(index_dir)}"
        )


def is_up_to_date(index_dir: Path, articles_dir: Path, *, model: str, chunk: ChunkSettings,
                  sentence_vectors: str | None = None, manifest_of: Callable[[], dict] | None = None) -> bool:
    """True when the index was built from these articles with this model, chunking and sentence vectors
    (`build --if-stale`, for any store). `manifest_of` reads the store's manifest (`Store.read_manifest`;
    default: the files under `index_dir`); the files the manifest lists, if any, must be whole too."""
    try:
        manifest = manifest_of() if manifest_of is not None else read_manifest(index_dir)[1]
        check_compatible(manifest, index_dir, model=model, weights_sha256=None, chunk=chunk,
                         sentence_vectors=sentence_vectors)
        files = manifest.get("files", {})
        path = resolve(index_dir) if files else index_dir
    except NewsQAError:
        return False
    for name, size in files.items():  # a truncated file must be rebuilt too
        if not (path / name).is_file() or (path / name).stat().st_size != size:
            return False
    articles, _ = load_articles(articles_dir)
    return manifest.get("corpus", {}).get("sha256") == corpus_sha256(articles)


def passage_mismatch(passages: list[Passage], articles: dict[str, Article]) -> list[str]:
    """The first passage whose text is not its article's text at its offsets, as a problem line (or none)."""
    for p in passages:
        a = articles.get(p.doc_id)
        if a is None or a.text[p.start : p.end] != p.text:
            return [f"passage {p.id} does not match its article text"]
    return []
