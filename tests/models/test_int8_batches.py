"""Int8 answers do not depend on which texts share a batch: activations are quantized per token."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models import onnx_runtime
from models.onnx_graph import build_graph, per_row_activations, quantize_nodes
from models.onnx_runtime import export_key
from tests.models.test_onnx import MIXED, _fake_backbone
from tests.models.test_smoothing import EVERY_NODE, _inputs, _net


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _batched_and_alone(session: ort.InferenceSession, words: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sentiment logits of the whole batch, and of each row run by itself (cut to its own length)."""
    batched = session.run(["sentiment"], {"words": words, "attention_mask": mask})[0]
    alone = []
    for row in range(len(words)):
        n = int(mask[row].sum())
        alone.append(
            session.run(["sentiment"], {"words": words[row : row + 1, :n], "attention_mask": mask[row : row + 1, :n]})[
                0
            ][0]
        )
    return batched, np.stack(alone)


def test_an_int8_answer_does_not_depend_on_the_rest_of_its_batch(tmp_path: Path) -> None:
    # A net with an outlier channel (the real model's shape) and a batch of texts of different lengths and ranges.
    net = _net(outlier=8.0)
    words, mask = _inputs(net)
    words[0] *= 4.0  # one text with a much larger range than the others
    onnx.save(build_graph(net), str(tmp_path / "fp32.onnx"))
    quantize_nodes(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", EVERY_NODE)
    batched, alone = _batched_and_alone(_session(tmp_path / "int8.onnx"), words, mask)
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    # Still int8 and still close to fp32.
    fp32 = _session(tmp_path / "fp32.onnx").run(["sentiment"], {"words": words, "attention_mask": mask})[0]
    assert 0 < np.abs(batched - fp32).max() < 0.05 * np.abs(fp32).max()
    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert {"MatMulIntegerToFloat", "MultiHeadAttention"} <= ops and not ops & {"QAttention", "DynamicQuantizeLinear"}
    # ONNX Runtime's own per-batch activation scale (per_row=False) is what made answers batch-dependent.
    quantize_nodes(tmp_path / "fp32.onnx", tmp_path / "per_tensor.onnx", EVERY_NODE, per_row=False)
    batched, alone = _batched_and_alone(_session(tmp_path / "per_tensor.onnx"), words, mask)
    assert np.abs(batched - alone).max() > 1e-3


def test_per_row_rewrites_nothing_in_an_fp32_graph() -> None:
    model = build_graph(_net())
    before = [n.op_type for n in model.graph.node]
    assert per_row_activations(model) == 0
    assert [n.op_type for n in model.graph.node] == before


def test_the_int8_format_is_in_the_export_key_of_int8_graphs_only(tmp_path: Path, monkeypatch) -> None:
    backbone, adapter = _fake_backbone(tmp_path)
    fp32, int8 = export_key(backbone, adapter, []), export_key(backbone, adapter, ["layer0.ffn_in"])
    monkeypatch.setattr(onnx_runtime, "INT8_VERSION", "older")
    # An int8 graph cached by an older quantizer is not reused; fp32 exports stay valid.
    assert export_key(backbone, adapter, []) == fp32
    assert export_key(backbone, adapter, ["layer0.ffn_in"]) != int8


@pytest.mark.model
@pytest.mark.parametrize("preset", ["mixed", "static"])
def test_the_served_int8_presets_answer_each_text_as_it_would_alone(preset: str) -> None:
    from models.onnx_runtime import OnnxClassifier

    clf = OnnxClassifier(threads=1, int8=preset)  # type: ignore[arg-type]
    together = clf.probabilities(MIXED)
    clf.batch_size = 1
    alone = clf.probabilities(MIXED)
    for got, want in zip(together, alone, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
