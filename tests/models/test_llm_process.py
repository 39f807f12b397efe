"""The reader's model in its own process: no AMX in the library it loads; a crash or a hang costs one answer."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest

from assistant.models.llm_process import AMX, LLAMA_VERSION, V4_FLAGS, cpu_flags, library_dir
from assistant.reading.answer import Assistant
from conftest import signal_mid_answer

KO = "엔비디아 주가는 하루에 얼마나 떨어졌나?"


def test_the_loaded_llama_cpp_enables_no_amx(reader_llm):
    """Runs on every machine: the flags are what the library was built with, whatever this CPU has."""
    info = reader_llm.info_request()["system_info"]
    assert "AVX2 = 1" in info, info
    assert not AMX.search(info), info
    # AVX-512 only in the build chosen for a CPU that has it; the portable one runs on any AVX2 CPU.
    assert ("AVX512 = 1" in info) == (library_dir() is not None), info


def test_dispatch_picks_the_avx512_build_only_where_every_flag_is_there(tmp_path):
    lib = tmp_path / f"{LLAMA_VERSION}-x86-64-v4"
    zen4 = cpu_flags("processor: 0\nflags\t\t: fpu sse avx2 " + " ".join(sorted(V4_FLAGS)) + "\n")
    assert library_dir(zen4, tmp_path) is None  # not built here
    lib.mkdir()
    (lib / "libllama.so").write_bytes(b"")
    assert library_dir(zen4, tmp_path) == lib
    assert library_dir(zen4 - {"avx512_bf16"}, tmp_path) is None  # Ice Lake: no BF16, the portable build
    assert library_dir(frozenset({"avx2", "fma"}), tmp_path) is None


def test_model_runs_in_a_child_process(reader_llm):
    reader_llm.info_request()
    assert reader_llm.pid and reader_llm.pid != os.getpid()


def test_sigkill_mid_answer_falls_back_then_a_fresh_model_answers(reader_assistant, monkeypatch):
    llm = reader_assistant.llm
    reader_assistant.ask(KO)  # loaded and warm
    before = llm.pid
    signal_mid_answer(llm, monkeypatch, signal.SIGKILL)
    ans = reader_assistant.ask(KO)
    assert ans.reader.backend == "extractive" and "17%" in ans.text
    assert any("died" in n and "SIGKILL" in n for n in ans.notices), ans.notices
    again = reader_assistant.ask(KO)
    assert llm.pid != before
    assert again.reader.backend == "llama.cpp" and again.diagnostics.chosen == "17%"  # the model chose again


def test_sigstop_hang_hits_the_deadline_then_a_fresh_model_answers(reader_assistant, monkeypatch):
    llm = reader_assistant.llm
    reader_assistant.ask(KO)
    hung = llm.pid
    impatient = Assistant(reader_assistant.retriever,
                          dataclasses.replace(reader_assistant.settings, reader_timeout=4.0), llm=llm)
    signal_mid_answer(llm, monkeypatch, signal.SIGSTOP)
    t = time.perf_counter()
    ans = impatient.ask(KO)
    assert time.perf_counter() - t < 30
    assert ans.reader.backend == "extractive" and "17%" in ans.text
    assert any("in time" in n for n in ans.notices), ans.notices
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # the hung process was killed, not left behind
    again = reader_assistant.ask(KO)
    assert llm.pid != hung and again.reader.backend == "llama.cpp" and again.diagnostics.chosen == "17%"
