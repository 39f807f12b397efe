"""The reader's model in a process of its own: llama.cpp loads the GGUF here, never in the server.

Native code can crash (an illegal instruction, an out-of-memory kill) or hang; in a child
process that costs one answer, which `llm_process.ProcessLlama` turns into a quoted
fallback before starting a fresh child. The protocol is one JSON object per line:
requests on stdin, replies on a private copy of stdout (fd 1 itself goes to stderr,
so nothing llama.cpp prints can corrupt the protocol).

Requests:
- {"op": "info"} -> {"system_info": ..., "n_vocab": ...}
- {"op": "warm", "keep": prefix} -> {"n": tokens}: evaluate the prefix every request shares, once.
- {"op": "choose", "prompt": p, "keep": system prefix, "options": [...]} -> {"choice": i, "p_first": [...],
  "logprob": ..., "new_tokens": n}: greedy decoding restricted to the options' tokens, so the reply is one
  of them verbatim.
- {"op": "stream", "prompt": p, "keep": ..., "max_tokens": n, "one_line": b} -> {"piece": ...} ... {"done": true}:
  greedy text.

Every prompt is evaluated from the cached system prompt only, in one batch, so the same
prompt gives the same reply whatever was asked before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence

import numpy as np


class Worker:
    def __init__(self, path: str, threads: int, n_ctx: int = 4096) -> None:
        from llama_cpp import Llama, llama_print_system_info

        self.llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512,
                         verbose=False, seed=0)
        self.system_info = llama_print_system_info().decode(errors="replace")
        self._kept: dict[str, int] = {}
        self.end_id = self._ids("<|im_end|>", special=True)[0]
        self.stop_ids = {self.llm.token_eos(), self.end_id, *self._ids("<|endoftext|>", special=True)}

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=special)

    def _logits(self) -> np.ndarray:
        llm = self.llm
        return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)

    def _prefill(self, prompt: str, keep: str) -> tuple[np.ndarray, int]:
        """Evaluate `prompt` reusing the KV cache of its first `keep` characters' tokens, never more; the last
        position's logits and how many tokens past the kept prefix were evaluated."""
        llm = self.llm
        tokens = self._ids(prompt, special=True)
        if keep not in self._kept:  # the same prefix every request: tokenized once
            self._kept = {keep: len(self._ids(keep, special=True)) if keep else 0}
        system = self._kept[keep]
        reuse = min(llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens), system,
                    len(tokens) - 1)
        if reuse < system:  # the system prompt whole, in a batch of its own, as when it is cached: same sums
            reuse = 0
            llm.n_tokens = 0
            llm.eval(tokens[:system])
        llm.n_tokens = max(reuse, system)
        new = len(tokens) - llm.n_tokens
        llm.eval(tokens[llm.n_tokens:])
        return self._logits(), new

    def warm(self, keep: str) -> int:
        """Evaluate the shared prefix now (at start), so no question pays for it."""
        tokens = self._ids(keep, special=True)
        llm = self.llm
        if llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens) < len(tokens):
            llm.n_tokens = 0
            llm.eval(tokens)
        return len(tokens)

    def choose(self, prompt: str, keep: str, options: Sequence[str]) -> dict:
        """The option greedy decoding picks when only the options' own tokens are allowed.

        The first step's probabilities, renormalised over the allowed tokens, say how much the
        model leaned to each option's first token (NONE's among them) before committing.
        """
        seqs = [self._ids(o) + [self.end_id] for o in options]  # the end token tells 17% from 17% 폭락
        logits, new = self._prefill(prompt, keep)
        alive = list(range(len(seqs)))
        step, logprob, p_first, gap = 0, 0.0, [], 99.0
        while True:
            allowed = sorted({seqs[i][step] for i in alive if step < len(seqs[i])})
            logp = _log_softmax(logits[allowed])
            if step == 0:
                first = dict(zip(allowed, np.exp(logp)))
                p_first = [float(first[s[0]]) for s in seqs]
            best = int(np.argmax(logp))
            tok = allowed[best]
            logprob += float(logp[best])
            if len(allowed) > 1:  # how decisively the model took each fork: the narrowest one counts
                gap = min(gap, float(logp[best] - np.partition(logp, -2)[-2]))
            alive = [i for i in alive if step < len(seqs[i]) and seqs[i][step] == tok]
            step += 1
            done = [i for i in alive if step == len(seqs[i])]
            if done or len(alive) <= 1:
                choice = done[0] if done else alive[0]
                return {"choice": choice, "p_first": p_first, "logprob": logprob, "gap": gap, "steps": step,
                        "new_tokens": new}
            self.llm.eval([tok])
            logits = self._logits()

    def stream(self, prompt: str, keep: str, max_tokens: int, one_line: bool = True) -> Iterator[str]:
        """Greedy decoding (of one line, or to the end of the turn), piece by piece; a piece is released once
        its UTF-8 bytes are whole."""
        logits, _ = self._prefill(prompt, keep)
        out: list[int] = []
        shown = ""
        for _ in range(max_tokens):
            tok = int(np.argmax(logits))
            if tok in self.stop_ids:
                return
            out.append(tok)
            text = self.llm.detokenize(out).decode("utf-8", errors="ignore").lstrip()
            line, newline, _ = text.partition("\n") if one_line else (text, "", "")
            if len(line) > len(shown):
                yield line[len(shown):]
                shown = line
            if newline:
                return
            self.llm.eval([tok])
            logits = self._logits()


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def serve(path: str, threads: int) -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever native code prints goes to stderr, never into the protocol

    def send(obj: dict) -> None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()

    worker = Worker(path, threads)
    send({"ready": True, "system_info": worker.system_info, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            op = req["op"]
            if op == "info":
                send({"system_info": worker.system_info, "n_vocab": worker.llm.n_vocab()})
            elif op == "warm":
                send({"n": worker.warm(req["keep"])})
            elif op == "choose":
                send(worker.choose(req["prompt"], req.get("keep", ""), req["options"]))
            elif op == "stream":
                for piece in worker.stream(req["prompt"], req.get("keep", ""), int(req["max_tokens"]),
                                           bool(req.get("one_line", True))):
                    send({"piece": piece})
                send({"done": True})
            else:
                send({"error": f"unknown op {op!r}"})
        except Exception as e:  # noqa: BLE001 - one bad request must not end the worker
            send({"error": " ".join(f"{type(e).__name__}: {e}".split())[:300]})


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else (os.cpu_count() or 2))
