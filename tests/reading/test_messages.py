"""Every message the assistant can say is said somewhere, in both languages, with the same placeholders."""

from __future__ import annotations

import string

from assistant.reading.messages import MESSAGES
from conftest import REPO


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_messages_and_placeholders():
    assert set(MESSAGES["ko"]) == set(MESSAGES["en"])
    for key in MESSAGES["ko"]:
        assert _placeholders(MESSAGES["ko"][key]) == _placeholders(MESSAGES["en"][key]), key


def test_no_message_is_dead():
    source = "\n".join(p.read_text(encoding="utf-8") for folder in ("assistant", "ui")
                       for p in (REPO / folder).rglob("*.py") if p.name != "messages.py")
    unused = [k for k in MESSAGES["ko"] if f'["{k}"]' not in source and f"['{k}']" not in source]
    assert not unused, unused
