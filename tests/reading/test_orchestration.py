"""The reader's orchestration, branch by branch, with a scripted fake LLM (never a test of the model itself).

The fake answers `choose` with the option a test names and `stream` with a scripted reply; the
decision models are hand-written here, so each test reaches exactly one branch of `Assistant._read`:
NONE, a short answer held back for low confidence, a shown short answer, a model crash, a
translation that fails its check and one that passes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from assistant.models.llm import Choice, LLMError, ModelInfo
from assistant.reading import decide
from assistant.reading.answer import Assistant

FALL = "엔비디아의 시가총액은 1월27일 얼마나 증발했나?"
FALL_EN = "How much did Nvidia's stock fall in one day?"


class ScriptedLLM:
    """Picks the first option `pick` accepts (NONE when none does); streams `replies` in turn."""

    def __init__(self, pick: Callable[[str], bool] = lambda o: False, replies: Sequence[str] = (),
                 crash: bool = False, p_first: float = 0.9) -> None:
        self.info = ModelInfo("scripted", "", "fake")
        self.lock = threading.Lock()
        self.pick, self.replies, self.crash, self.p = pick, list(replies), crash, p_first
        self.asked: list[list[str]] = []

    def warm(self, messages: Sequence[dict]) -> None:
        return None

    def choose(self, messages: Sequence[dict], options: Sequence[str], deadline: float | None = None) -> Choice:
        if self.crash:
            raise LLMError("the reader's process died (scripted)")
        self.asked.append(list(options))
        i = next((i for i, o in enumerate(options) if i and self.pick(o)), 0)
        rest = (1 - self.p) / max(1, len(options) - 1)
        return Choice(i, tuple(self.p if j == i else rest for j in range(len(options))), 10, -0.1, 3.0)

    def stream(self, messages: Sequence[dict], max_tokens: int, deadline: float | None = None,
               one_line: bool = True) -> Iterator[str]:
        reply = self.replies.pop(0) if self.replies else ""
        for word in reply.split(" "):
            yield word + " "


def _model(threshold: float, coef: float = 0.0, n: int = 5, intercept: float = 0.0) -> dict:
    return {"coef": [coef] + [0.0] * (n - 1), "intercept": intercept, "threshold": threshold}


@pytest.fixture
def decisions(monkeypatch):
    """Set the answer-or-refuse and the show-short models for one test: (refuse_none, show_short)."""

    def set_(refuse_none: bool, show_short: bool) -> None:
        # P(answerable) = sigmoid(5 - 10 * p_none): a NONE lean of 0.9 refuses at threshold 0.5; a small one answers
        monkeypatch.setattr(decide, "weights", lambda: _model(0.5 if refuse_none else 0.0, -10.0, intercept=5.0))
        monkeypatch.setattr(decide, "short_model", lambda: _model(0.01 if show_short else 0.99, 0.0,
                                                                  len(decide.SHORT_FEATURES)))
    return set_


def test_none_with_a_strong_lean_refuses(retriever, decisions):
    decisions(refuse_none=True, show_short=True)
    ans = Assistant(retriever, llm=ScriptedLLM()).ask(FALL)
    assert ans.abstained and ans.short == "" and ans.citations == ()
    assert ans.diagnostics.chosen == "NONE" and ans.diagnostics.decision["p_none"] > 0.5


def test_a_span_below_the_short_threshold_is_not_shown_but_its_sentence_is_quoted(retriever, decisions):
    decisions(refuse_none=True, show_short=False)
    ans = Assistant(retriever, llm=ScriptedLLM(lambda o: o.startswith("6000억"))).ask(FALL)
    assert not ans.abstained and ans.short == "" and ans.span is None
    assert ans.text.startswith("기사 내용:")
    assert ans.diagnostics.chosen.startswith("6000억") and not ans.diagnostics.short_shown
    assert ans.sentences and all(s.kind == "quote" for s in ans.sentences)
    assert "6000억" in ans.sentences[0].text


def test_a_confident_span_is_the_short_answer_and_slices_its_article(retriever, decisions):
    decisions(refuse_none=True, show_short=True)
    ans = Assistant(retriever, llm=ScriptedLLM(lambda o: o.startswith("6000억"))).ask(FALL)
    assert ans.short.startswith("6000억") and ans.text.startswith(ans.short)
    assert ans.span is not None
    assert retriever.index.articles[ans.span.doc_id].text[ans.span.start:ans.span.end] == ans.short
    assert ans.diagnostics.short_shown and ans.diagnostics.p_short is not None


def test_a_model_crash_costs_this_answer_only_quoted_with_a_notice(retriever, decisions):
    decisions(refuse_none=True, show_short=True)
    ans = Assistant(retriever, llm=ScriptedLLM(crash=True)).ask(FALL)
    assert not ans.abstained and ans.short == "" and ans.quotes
    assert any("died" in n for n in ans.notices)
    assert ans.reader.backend == "extractive"


def test_a_translation_that_flips_the_direction_is_not_shown(retriever, decisions):
    decisions(refuse_none=True, show_short=True)
    llm = ScriptedLLM(lambda o: o == "17%", replies=["Nvidia's stock rose 17% in a single day."])
    ans = Assistant(retriever, llm=llm).ask(FALL_EN)
    assert ans.short == "17%"  # an amount: converted, not translated, so checked by construction
    assert "rose" not in ans.text
    s = ans.sentences[0]  # the rejected translation: kept for the record, never verified nor in the text
    assert s.kind == "translation" and not s.verified and s.text not in ans.text
    assert "폭락" in s.quotes[0].text and s.missing
    assert ans.diagnostics.translation_ok is False
    assert "quoted below in the original Korean" in ans.text


def test_a_faithful_translation_is_shown_beside_its_original(retriever, decisions):
    decisions(refuse_none=True, show_short=True)
    llm = ScriptedLLM(lambda o: o == "17%", replies=["Nvidia's stock plunged 17% in a single day."])
    ans = Assistant(retriever, llm=llm).ask(FALL_EN)
    assert ans.short == "17%"
    assert ans.sentences[0].kind == "translation" and "plunged 17%" in ans.sentences[0].text
    assert "폭락" in ans.sentences[0].quotes[0].text
    assert ans.diagnostics.translation_ok is True
