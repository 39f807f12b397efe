"""multilingual-e5-small under ONNX Runtime: the same weights, exported once, optionally int8.

Why it exists: ONNX Runtime embeds a one-line query in a few milliseconds where
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
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import weights

MAX_TOKENS = 512
VARIANTS = ("fp32", "int8")


def _cache_dir(weights_sha256: str) -> Path:
    env = os.environ.get("NEWSQA_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "news-qa"
    return root / "onnx" / weights_sha256[:16]


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
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    logging.getLogger().setLevel(logging.ERROR)  # a pre-processing hint we measured as no gain
    try:
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
        self.name = model if variant == "fp32" else f"{model}-onnx-{variant}"
        self.weights_sha256 = base_sha if variant == "fp32" else f"{base_sha}+onnx-{variant}"

        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        config = json.loads((self.path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(config.get("max_seq_length", MAX_TOKENS))
        self.tokenizer.enable_truncation(self.max_tokens)
        pad = self.tokenizer.token_to_id("<pad>")
        self.tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="<pad>")
        st = json.loads((self.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        prompts = st.get("prompts") or {}
        self._query_prefix = prompts.get("query", "")
        self._passage_prefix = prompts.get("passage", "")

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or int(os.environ.get("NEWSQA_THREADS", 0)) or len(
            os.sched_getaffinity(0))
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
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths pad less
        for b in range(0, len(texts), batch_size):
            idx = order[b : b + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            with self._lock:
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[idx] = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return out

    def truncate(self, text: str, max_tokens: int = MAX_TOKENS) -> tuple[str, bool]:
        """Cut text to what the model can read; says whether anything was cut."""
        limit = max_tokens * 8
        head = text[:limit]
        enc = self.tokenizer.encode(head, add_special_tokens=False)
        budget = max_tokens - 8
        if len(enc.offsets) <= budget:
            return head, len(text) > limit
        return head[: enc.offsets[budget - 1][1]], True
