"""The local reader as a supervised child process: a crash or a hang costs one answer, never the server.

`ProcessLlama` starts `python -m assistant.models.llm_worker` (llama.cpp loads the GGUF there)
and talks to it over pipes, one JSON object per line. Every request has a deadline:
a child that stops answering (a hang, SIGSTOP) is killed when it passes; one that dies
(SIGILL, SIGKILL, the OOM killer) is noticed at once. Either way the caller gets an
`LLMError`, which the assistant turns into a quoted answer with a notice, and a fresh
child is started straight away, so the next question finds a loaded model.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from assistant import env_settings as environment
from assistant.models.chat_format import chatml, system_prefix
from assistant.models.llm import Choice, LLMError, Message, ModelInfo

LOAD_TIMEOUT = 180.0  # seconds for a child to load the model (a busy machine, a cold page cache)
# What `prepare` and the tests look for: no AMX code path may be enabled in the library the reader loads.
AMX = re.compile(r"AMX\w*\s*=\s*1")
PORTABLE_FIX = ("reinstall llama.cpp portable: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON "
                "-DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF' "
                ".venv/bin/pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python==0.3.36")


# The second build `make install` leaves where this CPU can run it (Makefile: llama-v4): AVX-512 on, AMX off.
V4_FLAGS = frozenset({"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512vbmi", "avx512_vnni",
                      "avx512_bf16"})
LLAMA_VERSION = "0.3.36"


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    line = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def library_dir(flags: frozenset[str] | None = None, root: Path | None = None) -> Path | None:
    """Runtime dispatch: the x86-64-v4 build where this CPU has every flag it was built with, else None (the
    portable AVX2 build in the venv). NEWSQA_LLAMA_BUILD=portable forces the latter."""
    if environment.value("NEWSQA_LLAMA_BUILD", "auto") == "portable":
        return None
    lib = (root or environment.cache_root() / "llama.cpp") / f"{LLAMA_VERSION}-x86-64-v4"
    have = cpu_flags() if flags is None else flags
    return lib if have >= V4_FLAGS and (lib / "libllama.so").is_file() else None


class ProcessLlama:
    """A GGUF run by llama.cpp in a child process, checked by its sha256 before it is ever loaded."""

    def __init__(self, path: str | os.PathLike, sha256: str, *, threads: int | None = None,
                 log: str | os.PathLike | None = None) -> None:
        self.path = str(path)
        self.threads = threads or os.cpu_count() or 2
        self.info = ModelInfo(os.path.basename(self.path).removesuffix(".gguf"), sha256, "llama.cpp")
        self.lock = threading.Lock()  # held by the caller for a whole exchange: one sequence at a time
        self.log = Path(log) if log else None
        self.system_info = ""
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._buf = b""
        self._ready = False
        self._warming = 0
        self._warm = ""
        self._start()

    def warm(self, prefix: Sequence[Message]) -> None:
        """Have every model process evaluate `prefix` (the turns all requests share) as soon as it loads."""
        keep = system_prefix([*prefix, {"role": "user", "content": ""}])
        if keep == self._warm:
            return
        self._warm = keep
        if self._proc and self._proc.poll() is None:
            self._write({"op": "warm", "keep": keep})

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _start(self) -> None:
        err = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
        env = dict(os.environ)  # the worker's own start-up: its environment is this process's, plus the library
        lib = library_dir()
        if lib is not None:
            env["LLAMA_CPP_LIB_PATH"] = str(lib)
        command = [sys.executable, "-m", "assistant.models.llm_worker", self.path, str(self.threads)]
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                      start_new_session=True)  # a Ctrl-C in the terminal is the server's to handle
        if err is not subprocess.DEVNULL:
            err.close()
        self._buf, self._ready, self._warming = b"", False, 0
        self.starts += 1
        if self._warm:
            self._write({"op": "warm", "keep": self._warm})

    def _write(self, request: dict) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(request, ensure_ascii=False) + "\n").encode())
        self._proc.stdin.flush()
        if request["op"] == "warm":
            self._warming += 1  # replies still to read before the next request's

    def restart(self) -> None:
        """Kill the child (if any) and start a fresh one, which loads while the caller carries on."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
        if self._proc:
            self._proc.wait()
        self._start()

    def close(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _ensure(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        if not self._ready:
            msg = self._read(time.monotonic() + LOAD_TIMEOUT, "loading")
            self.system_info = msg.get("system_info", "")
            self._ready = True
        while self._warming:
            self._read(time.monotonic() + LOAD_TIMEOUT, "loading")
            self._warming -= 1

    def _read(self, deadline: float, doing: str) -> dict:
        """The child's next line, or LLMError (after a restart) if it dies or the deadline passes."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.restart()
                raise LLMError(f"the reader did not answer in time while {doing}; a fresh model was started")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = proc.wait()
                self._start()
                raise LLMError(f"the reader's process died while {doing} ({_describe(code)}); "
                               "a fresh model was started")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        msg = json.loads(line)
        if "error" in msg:
            raise LLMError(f"the reader failed: {msg['error']}")
        return msg

    def _send(self, request: dict, deadline: float | None, doing: str) -> float:
        deadline = deadline if deadline is not None else time.monotonic() + 600
        t = time.monotonic()
        self._ensure()
        deadline += time.monotonic() - t  # loading a fresh model is not the answer's time
        try:
            self._write(request)
        except (BrokenPipeError, OSError):
            code = self._proc.wait()
            self._start()
            raise LLMError(f"the reader's process died while {doing} ({_describe(code)}); "
                           "a fresh model was started") from None
        return deadline

    def info_request(self) -> dict:
        deadline = self._send({"op": "info"}, time.monotonic() + 60, "starting")
        return self._read(deadline, "starting")

    def choose(self, messages: Sequence[Message], options: Sequence[str], deadline: float | None = None) -> Choice:
        request = {"op": "choose", "prompt": chatml(messages), "keep": system_prefix(messages),
                   "options": list(options)}
        deadline = self._send(request, deadline, "choosing")
        msg = self._read(deadline, "choosing")
        return Choice(int(msg["choice"]), tuple(msg["p_first"]), int(msg["new_tokens"]), float(msg.get("logprob", 0.0)),
                      float(msg.get("gap", 0.0)))

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None,
               one_line: bool = True) -> Iterator[str]:
        request = {"op": "stream", "prompt": chatml(messages), "keep": system_prefix(messages),
                   "max_tokens": max_tokens, "one_line": one_line}
        deadline = self._send(request, deadline, "writing")
        finished = False
        try:
            while True:
                msg = self._read(deadline, "writing")
                if msg.get("done"):
                    finished = True
                    return
                yield msg["piece"]
        except LLMError:
            finished = True  # already restarted
            raise
        finally:
            if not finished:  # abandoned mid-reply: its remaining lines would answer the next request
                self.restart()


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return f"{name}, illegal instruction: {PORTABLE_FIX}" if name == "SIGILL" else f"killed by {name}"
    return f"exit code {code}"


def smoke_test(path: str | os.PathLike, sha256: str) -> str:
    """Load the model in a child, decode a few tokens and choose once; one line that names the fix if not.

    Run by `prepare`, so a llama.cpp build that dies on this CPU (SIGILL in AMX code) is found at install
    time, in a child, and never in a server.
    """
    model = ProcessLlama(path, sha256)
    try:
        info = model.info_request().get("system_info", "")
        if AMX.search(info):
            raise LLMError(f"the installed llama.cpp enables AMX ({AMX.search(info).group(0)}), whose code path "
                           f"dies with SIGILL here: {PORTABLE_FIX}")
        messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "1+1="}]
        deadline = time.monotonic() + 120
        text = "".join(model.stream(messages, 4, deadline))
        model.choose(messages, ["2", "3"], deadline)
        return text
    finally:
        model.close()
