"""Korean text analysis with kiwipiepy: morphemes for keyword search, sentences for answers.

One analyzer per process: loading it takes about 2.5 s (1 s to build, 1.4 s to initialise).
"""

from __future__ import annotations

import functools
import re
import threading

# Content morphemes: nouns, verb/adjective stems, roots, foreign words, numbers, hanja.
CONTENT_TAGS = frozenset(
    {"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG", "XSN"}
)
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_lock = threading.Lock()  # Kiwi objects are not documented as thread-safe; the UI is threaded


def has_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))


@functools.cache
def kiwi():  # noqa: ANN201 - kiwipiepy.Kiwi, imported lazily
    from kiwipiepy import Kiwi

    analyzer = Kiwi()
    # Kiwi initialises lazily: its first analysis takes ~1.4 s more (measured by `assistant bench`).
    # Pay it here, while loading, not on the first question; the documented way is an empty tokenize.
    analyzer.tokenize("")
    return analyzer


def tokens(text: str) -> list[str]:
    """Content morphemes of `text`, lower-cased (Latin words too, so English terms match)."""
    with _lock:
        toks = kiwi().tokenize(text)
    return [t.form.lower() for t in toks if t.tag.split("-")[0] in CONTENT_TAGS]


def morphemes(text: str) -> list[tuple[str, str]]:
    """(form, tag) of every morpheme in `text`, tags without Kiwi's irregular-conjugation suffix (VV-R -> VV)."""
    with _lock:
        toks = kiwi().tokenize(text)
    return [(t.form, t.tag.split("-")[0]) for t in toks]


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in `text`, trimmed of surrounding space."""
    with _lock:
        sents = kiwi().split_into_sents(text)
    spans = []
    for s in sents:
        start, end = s.start, s.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def proper_nouns(text: str) -> list[str]:
    """The proper nouns (NNP) Kiwi finds: the Hangul spellings of names, for checking transliterations."""
    analyzer = kiwi()
    with _lock:
        return [t.form for t in analyzer.tokenize(text) if t.tag == "NNP"]
