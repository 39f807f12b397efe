"""A broken index on disk never shows a traceback: each fault is one clear line naming the
command that fixes it. A build killed with SIGKILL at any step leaves the previous index
loadable and intact, and two builds at once cannot both write (a lock file)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import BuildLocked, IndexCorrupt, IndexMismatch, IndexMissing, NewsQAError
from assistant.index.build import build_index, build_lock
from assistant.index.faiss_store import load_index
from assistant.index.manifest import is_up_to_date, resolve
from assistant.ingest.chunking import ChunkSettings
from assistant.search.retriever import Retriever
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[2]
REF = "엔비디아 주가는 하루에 얼마나 떨어졌나?"


def copy_index(index_dir: Path, dest: Path) -> Path:
    shutil.copytree(index_dir, dest, symlinks=True)
    return dest


def build_dir(path: Path) -> Path:
    return resolve(path)


def edit_manifest(path: Path, change) -> None:  # noqa: ANN001
    f = build_dir(path) / "manifest.json"
    m = json.loads(f.read_text(encoding="utf-8"))
    change(m)
    f.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


def replace_row(path: Path, name: str, n: int, row: str) -> None:
    """Overwrite line n of a JSONL file of the build, keeping the manifest's size in step."""
    f = build_dir(path) / name
    lines = f.read_text(encoding="utf-8").splitlines()
    lines[n] = row
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    resize_in_manifest(path, name)


def resize_in_manifest(path: Path, name: str) -> None:
    """Make the manifest agree with a file's new size, so the deeper checks are what fire."""
    size = (build_dir(path) / name).stat().st_size
    edit_manifest(path, lambda m: m["files"].__setitem__(name, size))


def assert_one_clear_error(path: Path, error: type[NewsQAError], embedder, *, cli: bool = True, match: str = ""):
    """The library raises `error`, one line naming the fix; the CLI prints that line and exits 1."""
    with pytest.raises(error) as info:
        Retriever.load(path, embedder=embedder)
    msg = str(info.value)
    assert f"python -m assistant build --index {path}" in msg
    assert "\n" not in msg and "Traceback" not in msg
    assert match in msg, msg
    if cli:
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["search", REF, "--index", str(path)])
        assert code == 1
        assert out.getvalue() == ""
        assert err.getvalue() == f"error: {msg}\n"
    return msg


def test_healthy_copy_loads(index_dir, embedder, tmp_path):
    path = copy_index(index_dir, tmp_path / "ix")
    hits = Retriever.load(path, embedder=embedder).search(REF, k=5)
    assert any("17%" in h.text for h in hits)


# --- missing ------------------------------------------------------------------------------


def test_missing_directory(tmp_path, embedder):
    assert_one_clear_error(tmp_path / "nowhere", IndexMissing, embedder, match="No index at")


def test_empty_directory(tmp_path, embedder):
    (tmp_path / "ix").mkdir()
    assert_one_clear_error(tmp_path / "ix", IndexMissing, embedder)


def test_only_lock_and_cache_left_by_a_first_build_that_died(index_dir, tmp_path, embedder):
    path = tmp_path / "ix"
    shutil.copytree(index_dir / "cache", path / "cache")
    (path / "build.lock").write_text("pid 1")
    (path / "builds" / ".tmp-20260101T000000-abcdef").mkdir(parents=True)
    assert_one_clear_error(path, IndexMissing, embedder)


def test_current_points_to_a_missing_build(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    shutil.rmtree(build_dir(path))
    assert_one_clear_error(path, IndexCorrupt, embedder, match="points to a missing build")


@pytest.mark.parametrize("name", ["vectors.faiss", "passages.jsonl", "articles.jsonl", "sentences.faiss",
                                  "background.npy"])
def test_a_file_is_missing(index_dir, tmp_path, embedder, name):
    path = copy_index(index_dir, tmp_path / "ix")
    (build_dir(path) / name).unlink()
    assert_one_clear_error(path, IndexCorrupt, embedder, match=f"missing {name}")


# --- truncated and corrupt ------------------------------------------------------------


@pytest.mark.parametrize("name", ["vectors.faiss", "sentences.faiss", "passages.jsonl"])
@pytest.mark.parametrize("keep", [0, 0.5, -1])
def test_truncated_file(index_dir, tmp_path, embedder, name, keep):
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / name
    size = f.stat().st_size
    os.truncate(f, int(size * keep) if keep >= 0 else size - 1)
    assert_one_clear_error(path, IndexCorrupt, embedder, match="truncated or modified")
    assert not is_up_to_date(path, REPO / "articles", model=Settings().model, chunk=Settings().chunk)


@pytest.mark.parametrize("name", ["vectors.faiss", "sentences.faiss", "background.npy"])
def test_truncated_file_and_a_manifest_that_agrees(index_dir, tmp_path, embedder, name):
    """Even if the sizes were rewritten, the file itself fails to parse: still one clear line."""
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / name
    os.truncate(f, f.stat().st_size // 2)
    resize_in_manifest(path, name)
    assert_one_clear_error(path, IndexCorrupt, embedder, match="unreadable")


def overwrite_middle(f: Path, data: bytes) -> None:
    raw = bytearray(f.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + len(data)] = data
    f.write_bytes(bytes(raw))


@pytest.mark.parametrize("name", ["passages.jsonl", "articles.jsonl", "sentences.jsonl"])
@pytest.mark.parametrize("garbage", [b"}{\x00\x00garbage{{", b"\xff\xfe\xfd\xfc\xfb", b'"\n"\n"\n'])
def test_corrupt_jsonl_same_size(index_dir, tmp_path, embedder, name, garbage):
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / name
    size = f.stat().st_size
    overwrite_middle(f, garbage)
    assert f.stat().st_size == size  # the size check cannot see this one
    assert_one_clear_error(path, IndexCorrupt, embedder, match="unreadable")


@pytest.mark.parametrize("row", ['[1, 2, 3]', '"text"', '42', 'null', '{"doc_id": "x"}',
                                 '{"doc_id": "000_a64cfab21b31744d", "title": "t", "start": "0", "end": "5", '
                                 '"text": "abcde"}',
                                 '{"doc_id": "000_a64cfab21b31744d", "title": "t", "start": 0, "end": 5, '
                                 '"text": "abcde", "extra": 1}'])
def test_jsonl_row_of_the_wrong_shape(index_dir, tmp_path, embedder, row):
    path = copy_index(index_dir, tmp_path / "ix")
    replace_row(path, "passages.jsonl", 3, row)
    assert_one_clear_error(path, IndexCorrupt, embedder)


@pytest.mark.parametrize("row,match", [
    ('{"passage": 1000000, "start": 0, "end": 5}', "belongs to no passage"),
    ('{"passage": 0, "start": "0", "end": 5}', "Sentence.start is str"),
    ('{"passage": true, "start": 0, "end": 5}', "Sentence.passage is bool"),
])
def test_sentence_row_that_would_break_a_query(index_dir, tmp_path, embedder, row, match):
    path = copy_index(index_dir, tmp_path / "ix")
    replace_row(path, "sentences.jsonl", 0, row)
    assert_one_clear_error(path, IndexCorrupt, embedder, match=match)


def test_article_text_changed_under_its_passages(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / "articles.jsonl"
    rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] = "X" + rows[0]["text"]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    resize_in_manifest(path, "articles.jsonl")
    assert_one_clear_error(path, IndexCorrupt, embedder, match="does not match its article text")


def test_bm25_state_damaged(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    files = sorted(p for p in (build_dir(path) / "bm25").iterdir() if p.is_file())
    assert files
    for p in files:
        p.write_bytes(b"\x00" * p.stat().st_size)  # same sizes, nothing readable
    assert_one_clear_error(path, IndexCorrupt, embedder, match="unreadable")


# --- counts that disagree -----------------------------------------------------------------


def test_passages_and_vectors_of_different_counts(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / "passages.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    f.write_text("".join(lines[:-1]), encoding="utf-8")
    resize_in_manifest(path, "passages.jsonl")
    n = len(lines)
    assert_one_clear_error(path, IndexCorrupt, embedder, match=f"{n} vectors but {n - 1} passages")


def test_sentences_and_sentence_vectors_of_different_counts(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / "sentences.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    f.write_text("".join(lines + lines[-2:]), encoding="utf-8")
    resize_in_manifest(path, "sentences.jsonl")
    n = len(lines)
    assert_one_clear_error(path, IndexCorrupt, embedder, match=f"{n + 2} sentences but {n} sentence vectors")


def test_vectors_of_another_dimension(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    edit_manifest(path, lambda m: m["model"].__setitem__("dim", 768))
    assert_one_clear_error(path, IndexCorrupt, embedder, match="dimension")


# --- another model, another chunking, another format ------------------------------------


def test_manifest_from_another_model(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    edit_manifest(path, lambda m: m["model"].__setitem__("name", "bge-m3"))
    msg = assert_one_clear_error(path, IndexMismatch, embedder, match="built with model 'bge-m3'")
    assert "NEWSQA_MODEL=bge-m3" in msg


def test_manifest_from_other_weights_of_the_same_model(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    edit_manifest(path, lambda m: m["model"].__setitem__("weights_sha256", "0" * 64))
    assert_one_clear_error(path, IndexMismatch, embedder, cli=False, match="weights 000000000000")


@pytest.mark.parametrize("change,match", [
    (lambda c: c.__setitem__("size", 300), "300/"),
    (lambda c: c.__setitem__("overlap", 7), "/7"),
    (lambda c: c.__setitem__("title_in_embedding", not c["title_in_embedding"]), "title_in_embedding"),
    (lambda c: c.__setitem__("separators", ["\n"]), "separators"),
])
def test_manifest_from_another_chunking(index_dir, tmp_path, embedder, change, match):
    path = copy_index(index_dir, tmp_path / "ix")
    edit_manifest(path, lambda m: change(m["chunking"]))
    msg = assert_one_clear_error(path, IndexMismatch, embedder, match=match)
    c = ChunkSettings()
    assert f"expects {c.size}/{c.overlap}" in msg
    assert not is_up_to_date(path, REPO / "articles", model=Settings().model, chunk=Settings().chunk)


@pytest.mark.parametrize("fmt", [1, 99])  # 1: articles without parsed dates, from before they had them
def test_manifest_of_another_format(index_dir, tmp_path, embedder, fmt):
    path = copy_index(index_dir, tmp_path / "ix")
    edit_manifest(path, lambda m: m.__setitem__("format", fmt))
    msg = assert_one_clear_error(path, IndexMismatch, embedder, match=f"format {fmt}, this version reads 2")
    assert "Rebuild it with: python -m assistant build" in msg
    assert not is_up_to_date(path, REPO / "articles", model=Settings().model, chunk=Settings().chunk)


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[]", b"null", b'"manifest"',
                                     b'{"format": 1, "model": "e5"}', b'{"format": 1, "files": [1, 2]}',
                                     b'{"format": 1, "chunking": null}'])
def test_manifest_unreadable_or_malformed(index_dir, tmp_path, embedder, content):
    path = copy_index(index_dir, tmp_path / "ix")
    (build_dir(path) / "manifest.json").write_bytes(content)
    assert_one_clear_error(path, IndexCorrupt, embedder)
    assert not is_up_to_date(path, REPO / "articles", model=Settings().model, chunk=Settings().chunk)


def test_the_named_command_fixes_it(index_dir, tmp_path, embedder):
    """Truncate the FAISS file; `build` (what the message names) repairs it, reusing cached vectors."""
    path = copy_index(index_dir, tmp_path / "ix")
    f = build_dir(path) / "vectors.faiss"
    os.truncate(f, 100)
    with pytest.raises(IndexCorrupt):
        load_index(path)
    report = build_index(REPO / "articles", path, embedder=embedder, progress=False)
    assert report.embedded == 0  # the cache survived
    assert any("17%" in h.text for h in Retriever.load(path, embedder=embedder).search(REF))
    assert [p.name for p in (path / "builds").iterdir()] == [report.path.name]


# --- the build lock ------------------------------------------------------------------------


def snapshot(path: Path) -> dict[str, bytes]:
    b = build_dir(path)
    return {str(p.relative_to(b)): p.read_bytes() for p in sorted(b.rglob("*")) if p.is_file()}


def test_second_build_fails_fast_while_one_holds_the_lock(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    before, current = snapshot(path), os.readlink(path / "current")
    with build_lock(path):
        t0 = time.perf_counter()
        with pytest.raises(BuildLocked, match=f"Another build of {path} is running \\(pid {os.getpid()}\\)"):
            build_index(REPO / "articles", path, embedder=embedder, progress=False)
        assert time.perf_counter() - t0 < 1.0
    assert snapshot(path) == before and os.readlink(path / "current") == current
    build_index(REPO / "articles", path, embedder=embedder, progress=False)  # released: builds again
    load_index(path)


def test_two_builds_at_once_in_threads(index_dir, tmp_path, embedder, articles_copy):
    """Started together on one index: one builds, the other is refused; the result is whole."""
    path = copy_index(index_dir, tmp_path / "ix")
    (articles_copy / "002_new.txt").write_text("현대자동차가 새 전기차 공장을 울산에 짓는다고 밝혔습니다.\n",
                                               encoding="utf-8")
    barrier, results = threading.Barrier(2), []

    def run() -> None:
        barrier.wait()
        try:
            build_index(articles_copy, path, embedder=embedder, progress=False)
            results.append("built")
        except BuildLocked:
            results.append("locked")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) in (["built", "locked"], ["built", "built"])
    loaded = load_index(path)
    assert "002_new" in loaded.articles
    assert len(list((path / "builds").iterdir())) == 1


def test_a_failed_build_keeps_the_index_and_releases_the_lock(index_dir, tmp_path, embedder):
    path = copy_index(index_dir, tmp_path / "ix")
    before = snapshot(path)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "empty.txt").write_bytes(b"")
    (junk / "binary.txt").write_bytes(os.urandom(512))
    with pytest.raises(NewsQAError, match="No readable articles"):
        build_index(junk, path, embedder=embedder, progress=False)
    assert snapshot(path) == before
    with build_lock(path):  # nobody holds it
        pass


# --- SIGKILL at every step of a real build ------------------------------------------------

# Runs the real CLI build; at each step it drops a marker file, and at the step under test
# it stops (sleeps) so the test can SIGKILL it right there.
DRIVER = textwrap.dedent('''
    import os, shutil, sys, time
    from pathlib import Path

    point, markers = sys.argv[1], Path(sys.argv[2])
    argv = sys.argv[3:]

    def hit(name):
        (markers / name).write_text(str(os.getpid()))
        if name == point:
            time.sleep(3600)

    import faiss
    import assistant.index.build as index
    from assistant.models.embedding import EmbeddingCache

    real_load, real_put, real_write = index.load_articles, EmbeddingCache.put, faiss.write_index
    real_rename, real_symlink, real_replace = os.rename, os.symlink, os.replace

    def load_articles(*a, **k):
        hit("locked")
        return real_load(*a, **k)

    def put(self, *a, **k):
        real_put(self, *a, **k)
        hit("embedded")

    def write_index(ix, name):
        real_write(ix, name)
        if "/.tmp-" in name and name.endswith("vectors.faiss"):
            hit("tmp-written")

    def rename(src, dst, *a, **k):
        real_rename(src, dst, *a, **k)
        if Path(src).name.startswith(".tmp-"):
            hit("renamed")

    def symlink(src, dst, *a, **k):
        real_symlink(src, dst, *a, **k)
        if Path(dst).name.startswith(".current-"):
            hit("linked")

    def replace(src, dst, *a, **k):
        real_replace(src, dst, *a, **k)
        if Path(dst).name == "current":
            hit("swapped")

    index.load_articles, EmbeddingCache.put, faiss.write_index = load_articles, put, write_index
    os.rename, os.symlink, os.replace = rename, symlink, replace

    from assistant.cli import main
    sys.exit(main(argv))
''')
KILL_POINTS = ["locked", "embedded", "tmp-written", "renamed", "linked", "swapped"]


def child_env() -> dict:
    return os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"build exited ({proc.returncode}) before {marker.name}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"build never reached {marker.name}")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_at_every_step_leaves_a_loadable_index(index_dir, tmp_path, embedder, articles_copy):
    path = copy_index(index_dir, tmp_path / "ix")
    (articles_copy / "002_new.txt").write_text(
        "삼성바이오로직스가 송도에 다섯 번째 공장을 완공했다고 밝혔습니다.\n\n생산능력은 세계 최대 규모입니다.\n",
        encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    build_argv = ["build", "--articles", str(articles_copy), "--index", str(path), "--quiet"]
    old_corpus = load_index(path).manifest["corpus"]["sha256"]
    old_snapshot = snapshot(path)
    survived = []

    for point in KILL_POINTS:
        markers = tmp_path / f"markers-{point}"
        markers.mkdir()
        proc = subprocess.Popen([sys.executable, str(driver), point, str(markers), *build_argv], cwd=REPO,
                                env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(markers / point, proc)
            if point == "linked":
                # A second real build while this one holds the lock: refused in one line, exit 1.
                second = subprocess.run([sys.executable, "-m", "assistant", *build_argv], cwd=REPO,
                                        env=child_env(), capture_output=True, text=True, timeout=300)
                assert second.returncode == 1, second.stderr
                assert second.stderr == (f"error: Another build of {path} is running (pid {proc.pid}); "
                                         "wait for it to finish.\n")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL

        loaded = load_index(path)  # every check passes: sizes, counts, offsets
        hits = Retriever(loaded, embedder).search(REF, k=5)
        assert any("17%" in h.text for h in hits)
        if point == "swapped":
            assert "002_new" in loaded.articles  # the new build was complete when it went live
        else:
            assert loaded.manifest["corpus"]["sha256"] == old_corpus
            assert snapshot(path) == old_snapshot  # the previous index, byte for byte
        with build_lock(path):  # the dead build's lock went with it
            pass
        survived.append(point)

    assert survived == KILL_POINTS
    # Then a plain build finishes and sweeps up what the killed ones left behind.
    done = subprocess.run([sys.executable, "-m", "assistant", *build_argv], cwd=REPO, env=child_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    loaded = load_index(path)
    assert "002_new" in loaded.articles
    assert [p.name for p in (path / "builds").iterdir()] == [loaded.path.name]
    assert not list(path.glob(".current-*"))
    print(f"\nSIGKILL survived at {len(survived)} steps: {', '.join(survived)}")
