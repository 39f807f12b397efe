"""The index on disk: complete builds only, a manifest that says how it was made, cheap rebuilds."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.errors import IndexMismatch, IndexMissing
from assistant.index.build import build_index
from assistant.index.faiss_store import load_index
from assistant.index.manifest import check_compatible, is_up_to_date, read_manifest
from assistant.ingest.chunking import ChunkSettings
from assistant.search.retriever import Retriever


def test_manifest_records_model_corpus_and_chunking(index_dir, embedder):
    path, manifest = read_manifest(index_dir)
    assert path.parent.name == "builds" and (index_dir / "current").is_symlink()
    assert manifest["model"] == {"name": "multilingual-e5-small", "dim": 384,
                                 "weights_sha256": embedder.weights_sha256,
                                 "precision": "fp32", "precision_reason": "NEWSQA_PRECISION=fp32"}
    assert len(manifest["corpus"]["sha256"]) == 64 and manifest["corpus"]["articles"] == 2
    assert manifest["chunking"] == ChunkSettings().to_dict()
    assert manifest["faiss"]["type"] == "IndexFlatIP"
    assert manifest["created_at"].endswith("+00:00")
    for name in ("vectors.faiss", "passages.jsonl", "articles.jsonl", "sentences.faiss", "background.npy"):
        assert manifest["files"][name] == (path / name).stat().st_size


def test_loaded_parts_agree(index_dir):
    idx = load_index(index_dir)
    assert idx.faiss.ntotal == len(idx.passages) == idx.lexical.size
    assert idx.sentence_faiss.ntotal == len(idx.sentences)
    for p in idx.passages:
        assert idx.articles[p.doc_id].text[p.start : p.end] == p.text
    for s in idx.sentences:
        p = idx.passages[s.passage]
        assert p.start <= s.start < s.end <= p.end


def test_rebuild_reuses_vectors_and_adding_an_article_embeds_only_it(tmp_path, embedder, articles_copy):
    home = tmp_path / "index"
    first = build_index(articles_copy, home, embedder=embedder, progress=False)
    assert first.embedded == first.reused + first.embedded and first.embedded > 0
    again = build_index(articles_copy, home, embedder=embedder, progress=False)
    assert again.embedded == 0
    assert len(list((home / "builds").iterdir())) == 1  # the old build was removed after the swap
    (articles_copy / "new.txt").write_text("[서울=뉴스핌] 기자 = 새로운 기사의 본문입니다. 반도체 수출이 늘었다.",
                                           encoding="utf-8")
    third = build_index(articles_copy, home, embedder=embedder, progress=False)
    assert third.articles == 3
    assert 0 < third.embedded <= 4  # one passage and its sentences, nothing else
    assert is_up_to_date(home, articles_copy, model=embedder.name, chunk=ChunkSettings())
    (articles_copy / "new.txt").unlink()
    assert not is_up_to_date(home, articles_copy, model=embedder.name, chunk=ChunkSettings())


def test_missing_index_names_the_build_command(tmp_path):
    with pytest.raises(IndexMissing, match="python -m assistant build --index"):
        Retriever.load(tmp_path / "nowhere")


def test_index_from_another_model_or_chunking_is_refused(index_dir, tmp_path):
    _, manifest = read_manifest(index_dir)
    with pytest.raises(IndexMismatch, match="built with model 'multilingual-e5-small'.*python -m assistant build"):
        check_compatible(manifest, index_dir, model="some/other-model", weights_sha256=None, chunk=None)
    with pytest.raises(IndexMismatch, match="500/100.*expects 300/60"):
        check_compatible(manifest, index_dir, model=manifest["model"]["name"], weights_sha256=None,
                         chunk=ChunkSettings(size=300, overlap=60))
    copy = tmp_path / "copy"
    shutil.copytree(index_dir / "current", copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["model"]["name"] = "intfloat/multilingual-e5-large"
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatch, match="NEWSQA_MODEL=intfloat/multilingual-e5-large"):
        Retriever.load(copy)


def test_articles_dir_with_nothing_readable_fails_clearly(tmp_path, embedder):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "empty.txt").write_bytes(b"")
    with pytest.raises(Exception, match="No readable articles"):
        build_index(tmp_path / "a", tmp_path / "i", embedder=embedder, progress=False)
    assert not (tmp_path / "i" / "current").exists()
