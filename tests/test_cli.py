"""The CLI: JSON a script can read, one-line errors with the right exit codes, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.cli import main
from conftest import REPO


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env=env)


def test_ask_json_end_to_end(index_dir):
    out = run("ask", "엔비디아 주가는 하루에 얼마나 떨어졌나?", "--index", str(index_dir), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["abstained"] is False and "17%" in data["text"]
    assert {"doc_id", "title", "start", "end", "text", "score"} <= set(data["citations"][0])
    assert "Traceback" not in out.stderr


def test_search_json_lists_hits(index_dir, capsys):
    assert main(["search", "How much did Nvidia fall?", "--index", str(index_dir), "--json", "--k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and hits[0]["rank"] == 1


@pytest.mark.parametrize("question", ["", "   ", "?!..."])
def test_empty_question_is_exit_2_with_one_line(question, capsys, index_dir):
    assert main(["ask", question, "--index", str(index_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Please ask a question") and "\n" not in err


def test_missing_index_is_exit_1_naming_the_fix(tmp_path, capsys):
    assert main(["search", "엔비디아", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip()
    missing = tmp_path / "none"
    assert err == f"error: No index at {missing}. Build it with: python -m assistant build --index {missing}"


def test_build_if_stale_does_nothing_when_up_to_date(index_dir, capsys):
    from conftest import ARTICLES

    assert main(["build", "--if-stale", "--index", str(index_dir), "--articles", str(ARTICLES)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_search_since_until_and_dates_in_output(index_dir, capsys):
    assert main(["search", "엔비디아 주가", "--index", str(index_dir), "--since", "2026-01", "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "000_a64cfab21b31744d, 2026-01," in out and "001_aa84c3a65afaa900" not in out
    assert main(["search", "엔비디아 주가", "--index", str(index_dir), "--until", "someday"]) == 2
    assert capsys.readouterr().err.startswith("error: Not a date: 'someday'")


def test_add_and_remove_from_the_command_line(library_home, tmp_path, capsys):
    from conftest import cp949_story

    articles, index = library_home
    story, blob = tmp_path / "hanbit.txt", tmp_path / "blob.txt"
    story.write_bytes(cp949_story())
    blob.write_bytes(bytes(range(256)) * 8)
    common = ["--articles", str(articles), "--index", str(index), "--quiet"]
    assert main(["add", str(story), str(blob), "--outlet", "한빛일보", *common]) == 2  # one file refused
    out, err = capsys.readouterr()
    assert out.startswith("added hanbit;") and err.strip().splitlines() == [
        "rejected blob.txt: binary file or unknown text encoding"]
    assert main(["list", "--index", str(index)]) == 0
    assert "hanbit\t2025-03-14 (guessed)\t1 passages\t한빛일보" in capsys.readouterr().out
    assert main(["remove", "hanbit", *common]) == 0
    assert "0 texts embedded" in capsys.readouterr().out
    assert main(["remove", "hanbit", *common]) == 2
    assert capsys.readouterr().err.strip() == f"error: No article 'hanbit' in {articles}."


def test_ask_resolves_relative_dates_in_sources(index_dir, capsys):
    assert main(["ask", "딥시크 R1이 나왔을 때 트럼프 대통령은 뭐라고 했나?", "--index", str(index_dir)]) == 0
    assert "dates: 지난해 1월 = 2025년 1월" in capsys.readouterr().out  # the script is dated 2026-01
