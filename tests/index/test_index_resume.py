"""An interrupted build resumes: batches that finished come back from the cache, not from the model.

The embedding cache commits each batch as it finishes (embedding.embed_with_cache),
so a build killed at any moment loses at most the batch in flight, and the
previous index stays the one that loads.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.index.build import build_index
from assistant.index.faiss_store import load_index
from assistant.ingest import korean

REPO = Path(__file__).resolve().parents[2]


class Interrupted(Exception):
    """Stands in for Ctrl-C / a kill arriving in the middle of embedding."""


class InterruptingEmbedder:
    """The real embedder, interrupted on its (after+1)-th call, as a kill would interrupt a build."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after = inner, after
        self.calls = self.embedded = 0
        self.name, self.dim, self.weights_sha256 = inner.name, inner.dim, inner.weights_sha256

    def embed_passages(self, texts, batch_size=32):
        if self.calls >= self.after:
            raise Interrupted
        self.calls += 1
        self.embedded += len(texts)
        return self.inner.embed_passages(texts, batch_size)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def truncate(self, text):
        return self.inner.truncate(text)


def synthetic_articles(dest: Path, n_articles: int, sentences_per_article: int = 40, seed: int = 0) -> Path:
    """Korean articles made of the shipped articles' sentences, reshuffled: real text, any amount of it."""
    pool = []
    for f in sorted((REPO / "articles").glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        pool += [text[s:e] for s, e in korean.sentences(text)]
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(n_articles):
        body = [f"({i}.{j}) {s}" for j, s in enumerate(rng.choices(pool, k=sentences_per_article))]  # all distinct
        paragraphs = ["\n".join(body[j : j + 3]) for j in range(0, len(body), 3)]
        (dest / f"synthetic_{i:05d}.txt").write_text(f"[{i}] " + "\n\n".join(paragraphs), encoding="utf-8")
    return dest


def test_interrupted_build_reuses_every_finished_batch(tmp_path, embedder, articles_copy):
    index_dir = tmp_path / "index"
    flaky = InterruptingEmbedder(embedder, after=2)
    with pytest.raises(Interrupted):
        build_index(articles_copy, index_dir, embedder=flaky, progress=False, batch_size=16)
    assert flaky.embedded == 32
    assert not (index_dir / "current").exists()  # nothing half-built is visible

    with sqlite3.connect(index_dir / "cache" / "embeddings.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 32  # both finished batches, committed

    resumed = build_index(articles_copy, index_dir, embedder=embedder, progress=False, batch_size=16)
    # Those 32 vectors come back from the cache (more texts if one of them occurs twice, as an
    # overlap between passages can repeat a sentence); only the rest is embedded.
    assert 32 <= resumed.reused <= 40
    assert resumed.embedded == resumed.passages + resumed.sentences - resumed.reused

    clean = build_index(articles_copy, tmp_path / "clean", embedder=embedder, progress=False, batch_size=16)
    a, b = load_index(index_dir), load_index(tmp_path / "clean")
    assert [p.text for p in a.passages] == [p.text for p in b.passages]
    np.testing.assert_allclose(a.faiss.reconstruct_n(0, a.faiss.ntotal),
                               b.faiss.reconstruct_n(0, b.faiss.ntotal), atol=1e-6)
    np.testing.assert_allclose(a.sentence_faiss.reconstruct_n(0, a.sentence_faiss.ntotal),
                               b.sentence_faiss.reconstruct_n(0, b.sentence_faiss.ntotal), atol=1e-6)
    assert clean.reused == 0


def test_interrupted_rebuild_keeps_the_previous_index(tmp_path, embedder, articles_copy):
    index_dir = tmp_path / "index"
    first = build_index(articles_copy, index_dir, embedder=embedder, progress=False)
    synthetic_articles(articles_copy, 2, seed=1)
    with pytest.raises(Interrupted):
        build_index(articles_copy, index_dir, embedder=InterruptingEmbedder(embedder, after=1), progress=False)
    assert load_index(index_dir).path == first.path


def _cached_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_build_process_resumes_from_cache(tmp_path):
    """SIGKILL a real `python -m assistant build` mid-embedding; the rebuild reuses what it committed."""
    articles = synthetic_articles(tmp_path / "articles", 12)
    index_dir = tmp_path / "index"
    cmd = [sys.executable, "-m", "assistant", "build", "--articles", str(articles), "--index", str(index_dir),
           "--quiet"]
    env = os.environ | {"NEWSQA_INDEX": str(index_dir)}
    db = index_dir / "cache" / "embeddings.sqlite"
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while _cached_rows(db) < 128 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the build finished before it could be interrupted; give it more text"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    committed = _cached_rows(db)
    assert committed >= 128
    assert not (index_dir / "current").exists()

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    m = re.search(r"(\d+) texts embedded, (\d+) reused from cache", done.stdout)
    assert m, done.stdout
    embedded, reused = int(m[1]), int(m[2])
    # Every committed vector came back from the cache (a text that occurs twice counts twice).
    assert reused >= committed
    idx = load_index(index_dir)
    assert embedded + reused == len(idx.passages) + len(idx.sentences)
