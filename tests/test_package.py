"""The package face: lazy (PEP 562), so a process that needs one module does not load the rest."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO


def _modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement`."""
    probe = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_model_worker_loads_neither_kiwi_nor_the_chunker():
    loaded = _modules_after("import assistant.models.llm_worker")
    assert "assistant.models.llm_worker" in loaded
    heavy = {"kiwipiepy", "langchain_text_splitters", "assistant.search.retriever", "assistant.reading.answer"}
    assert not heavy & loaded, heavy & loaded


def test_the_public_names_still_import_from_the_package():
    loaded = _modules_after("from assistant import Assistant, Retriever, Hit, Quote, NewsQAError")
    assert {"assistant.reading.answer", "assistant.search.retriever"} <= loaded
    import assistant
    from assistant.reading.answer import Assistant
    from assistant.search.retriever import Retriever

    assert assistant.Assistant is Assistant and assistant.Retriever is Retriever
    assert set(assistant.__all__) <= set(dir(assistant))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        assistant.Nothing  # noqa: B018
