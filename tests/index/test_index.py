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


def test_one_up_to_date_check_for_any_store(index_dir, articles_copy, tmp_path, embedder):
    """`build --if-stale` asks one function, whichever store holds the manifest (Milvus keeps no files)."""
    from assistant.index import stores

    assert not hasattr(stores, "is_up_to_date")  # the store-specific copy is gone
    manifest = {k: v for k, v in read_manifest(index_dir)[1].items() if k != "files"}
    nowhere = tmp_path / "no-files-here"  # a remote store's home directory holds no build
    kw = {"model": embedder.name, "chunk": ChunkSettings()}
    assert is_up_to_date(nowhere, articles_copy, manifest_of=lambda: manifest, **kw)
    assert not is_up_to_date(nowhere, articles_copy, manifest_of=lambda: {**manifest, "chunking": {}}, **kw)

    def missing() -> dict:
        raise IndexMissing("no index")

    assert not is_up_to_date(nowhere, articles_copy, manifest_of=missing, **kw)
    (articles_copy / "new.txt").write_text("[서울=뉴스핌] 기자 = 새로운 기사의 본문입니다.", encoding="utf-8")
    assert not is_up_to_date(nowhere, articles_copy, manifest_of=lambda: manifest, **kw)


def test_each_store_implements_every_capability_of_the_seam():
    """Capabilities are declared by the protocols, so callers never probe: every store implements them all."""
    from assistant.index.faiss_store import FaissVectors
    from assistant.index.lexical import LexicalIndex
    from assistant.index.milvus_store import MilvusKeyword, MilvusVectors
    from assistant.index.store import KeywordIndex, VectorIndex

    def declared(protocol: type) -> set[str]:
        return {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}

    assert {"search", "search_in", "prefetch", "reconstruct", "reconstruct_n"} <= declared(VectorIndex)
    assert {"search", "search_in"} <= declared(KeywordIndex)
    for cls, protocol in ((FaissVectors, VectorIndex), (MilvusVectors, VectorIndex), (LexicalIndex, KeywordIndex),
                          (MilvusKeyword, KeywordIndex)):
        assert all(callable(getattr(cls, name, None)) for name in declared(protocol)), cls


def test_keyword_search_within_a_subset_keeps_to_it(retriever):
    lexical = retriever.index.lexical
    every, _ = lexical.search("엔비디아 주가", lexical.size)
    allowed = every[1::2]
    ids, scores = lexical.search_in("엔비디아 주가", 3, allowed)
    assert len(ids) and set(ids.tolist()) <= set(allowed.tolist())
    assert list(ids) == [i for i in every if i in set(allowed.tolist())][:3]
    assert list(scores) == sorted(scores, reverse=True)
