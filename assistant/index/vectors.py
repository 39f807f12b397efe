"""A corpus's passage and sentence vectors, through the embedding cache: separate or pooled.

Sentences have vectors of their own (sharper matching, the answer's quotes). Two ways to get them:

- "separate" (default): each sentence embedded on its own, one model call per sentence.
- "pooled": from the passage's own forward pass, the mean of the token states over each
  sentence's characters (via the tokenizer's offset mapping). One model call per passage,
  about half the model time (sentences hold as many tokens as their passages), but the
  in-context vectors are less sharp: on the dev half Korean recall@1 fell from 0.85 to
  0.65 and English from 0.64 to 0.55, so it is not the default (README, "Build speed").

Pick one with NEWSQA_SENTENCE_VECTORS=separate|pooled. The manifest records the
method, loading refuses an index built the other way, and `build --if-stale`
rebuilds when it changes. Cache keys differ too: a separate sentence vector is
keyed by its text, a pooled one by its passage's text and its span in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from assistant import env_settings as environment
from assistant.models.embedding import EmbeddingCache, embed_with_cache

METHODS = ("pooled", "separate")
DEFAULT_METHOD = "separate"
POOLED_KEY_VERSION = "pooled-v1"


def sentence_method(value: str | None = None) -> str:
    """The method to use: `value`, else NEWSQA_SENTENCE_VECTORS, else the default."""
    method = value or environment.value("NEWSQA_SENTENCE_VECTORS") or DEFAULT_METHOD
    if method not in METHODS:
        raise ValueError(f"NEWSQA_SENTENCE_VECTORS={method!r}: choose one of {', '.join(METHODS)}")
    return method


def can_pool(embedder: object) -> bool:
    """Whether the embedder exposes token states (ONNX Runtime e5 does; USE and fused models do not)."""
    return callable(getattr(embedder, "embed_passages_and_spans", None))


def effective_method(embedder: object, method: str) -> str:
    """What a build with `embedder` really does: a model without token states embeds separately."""
    return method if method == "separate" or can_pool(embedder) else "separate"


def expected_method(model: str, method: str) -> str:
    """What a build of `model` will record, known before loading it (only ONNX Runtime pools)."""
    from assistant.models.embedding import backend_for

    return method if method == "separate" or backend_for(model) == "onnx" else "separate"


def pooled_key(passage_text: str, span: tuple[int, int]) -> str:
    return EmbeddingCache.key(f"{POOLED_KEY_VERSION}\x00{passage_text}\x00{span[0]}:{span[1]}")


def work_units(method: str, passages: int, sentences: int) -> int:
    """What the progress bar counts: every text embedded separately, or passages when pooled."""
    return passages if method == "pooled" else passages + sentences


def embed_corpus(
    embedder: object,
    passage_texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    cache: EmbeddingCache | None,
    *,
    method: str,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    embed: Callable | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(passage vectors, sentence vectors in passage order, how many vectors were newly computed).

    `embed` replaces `embed_with_cache` for the separate method (distributed.RayEmbedding spreads it over
    a Ray cluster); pooled vectors are computed here, in this process.

    `spans[i]` are the sentences of passage i as character offsets into `passage_texts[i]`
    (the text the model reads, title included).
    """
    sentence_texts = [passage_texts[i][s:e] for i, ss in enumerate(spans) for s, e in ss]
    if effective_method(embedder, method) == "separate":
        vecs, embedded = (embed or embed_with_cache)(embedder, list(passage_texts) + sentence_texts, cache,
                                          batch_size=batch_size, progress=progress)
        return vecs[: len(passage_texts)], vecs[len(passage_texts) :], embedded
    if embed is not None:
        raise ValueError("pooled sentence vectors are computed in one process; build with "
                         "NEWSQA_SENTENCE_VECTORS=separate to spread the embedding over Ray")
    return _pooled(embedder, passage_texts, spans, sentence_texts, cache, batch_size=batch_size,
                   progress=progress)


def _pooled(embedder: object, passage_texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
            sentence_texts: list[str], cache: EmbeddingCache | None, *, batch_size: int,
            progress: Callable[[int], None] | None) -> tuple[np.ndarray, np.ndarray, int]:
    model = embedder.weights_sha256
    first = np.cumsum([0, *(len(s) for s in spans)])  # passage i's sentences are rows first[i]:first[i+1]
    p_keys = [EmbeddingCache.key(t) for t in passage_texts]  # the same key as a separate build's passages
    s_keys = [pooled_key(t, sp) for t, ss in zip(passage_texts, spans) for sp in ss]
    cached = cache.get(model, p_keys + s_keys) if cache else {}
    p_out = np.zeros((len(passage_texts), embedder.dim), dtype=np.float32)
    s_out = np.zeros((len(s_keys), embedder.dim), dtype=np.float32)
    todo = []
    for i, key in enumerate(p_keys):
        rows = range(first[i], first[i + 1])
        if key in cached and all(s_keys[r] in cached for r in rows):
            p_out[i] = cached[key]
            for r in rows:
                s_out[r] = cached[s_keys[r]]
        else:
            todo.append(i)
    todo.sort(key=lambda i: -len(passage_texts[i]))  # similar lengths per batch: little padding
    if progress and len(passage_texts) - len(todo):
        progress(len(passage_texts) - len(todo))
    embedded, unread = 0, []
    for b in range(0, len(todo), batch_size):
        idx = todo[b : b + batch_size]
        vecs, pooled = embedder.embed_passages_and_spans([passage_texts[i] for i in idx],
                                                         [spans[i] for i in idx], batch_size=batch_size)
        items = []
        for i, v, sv in zip(idx, vecs, pooled):
            p_out[i] = v
            items.append((p_keys[i], v))
            for r, row in zip(range(first[i], first[i + 1]), sv):
                if np.isnan(row[0]):  # past the model's token limit: embedded on its own below
                    unread.append(r)
                else:
                    s_out[r] = row
                    items.append((s_keys[r], row))
        embedded += len(items)
        if cache:
            cache.put(model, items)
        if progress:
            progress(len(idx))
    if unread:
        vecs, n = embed_with_cache(embedder, [sentence_texts[r] for r in unread], cache, batch_size=batch_size)
        s_out[unread] = vecs
        embedded += n
        if cache:  # under the pooled keys too, so the passage counts as done next time
            cache.put(model, [(s_keys[r], s_out[r]) for r in unread])
    return p_out, s_out, embedded
