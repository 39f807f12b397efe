"""Quantizing to int8 hushes onnxruntime's quantizer while it runs, and nothing else: the root logger stays."""

from __future__ import annotations

import logging

import numpy as np
import pytest


def _matmul_model(path) -> None:  # noqa: ANN001
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_quantizing_leaves_the_root_logger_as_the_caller_set_it(tmp_path):
    from assistant.models import backends

    root = logging.getLogger()
    level, filters = root.level, list(root.filters)
    root.setLevel(logging.INFO)
    try:
        _matmul_model(tmp_path / "m.onnx")
        backends._quantize(tmp_path / "m.onnx", tmp_path / "q.onnx")
        assert (tmp_path / "q.onnx").stat().st_size > 0
        assert root.level == logging.INFO and root.filters == filters
    finally:
        root.setLevel(level)


@pytest.mark.parametrize(("path", "level", "kept"), [
    ("/venv/onnxruntime/quantization/quant_utils.py", logging.WARNING, False),
    ("/venv/onnxruntime/quantization/quant_utils.py", logging.ERROR, True),
    ("/app/mine.py", logging.WARNING, True),
])
def test_the_filter_drops_only_the_quantizers_hints(path, level, kept):
    from assistant.models.backends import _QuantizerHints

    record = logging.LogRecord("root", level, path, 1, "hint", None, None)
    assert _QuantizerHints().filter(record) is kept
