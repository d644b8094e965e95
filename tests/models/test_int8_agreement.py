"""The int8 sensitivity tool scores the graph serving runs: same preset, same probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.test_onnx import MIXED


@pytest.mark.model
def test_the_sensitivity_tools_variant_of_the_shipped_preset_answers_like_serving() -> None:
    from benchmarks.int8_sensitivity import Scorer
    from models.onnx_runtime import OnnxClassifier, mixed_preset

    preset = mixed_preset()
    serving = OnnxClassifier(threads=1, int8="mixed")
    # The tool's val sets, here only the texts matter (gold labels are scored, not compared).
    val = {name: (MIXED, [0] * len(MIXED)) for name in ("tweeteval", "complaints", "jrte")}
    scorer = Scorer(val, threads=1, smooth_alpha=preset.smooth_alpha, outliers=preset.outliers)
    scorer.variant(preset.fp32_nodes)
    # Before the fix the tool smoothed (and split the FFN outlier units off) an fp32 FFN-out that serving left
    # alone, so serving ran those units through its int8 FFN-in: up to 0.33 apart in complaint probability.
    for got, want in zip(scorer.clf.probabilities(MIXED), serving.probabilities(MIXED), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.model
def test_the_sensitivity_tools_variant_of_the_static_preset_answers_like_serving() -> None:
    import onnx

    from benchmarks.int8_sensitivity import Scorer
    from models.onnx_runtime import MODEL_FILE, OnnxClassifier, mixed_preset, preset_path

    preset = mixed_preset(preset_path("static"))
    serving = OnnxClassifier(threads=1, int8="static")
    val = {name: (MIXED, [0] * len(MIXED)) for name in ("tweeteval", "complaints", "jrte")}
    scorer = Scorer(
        val,
        threads=1,
        smooth_alpha=preset.smooth_alpha,
        outliers=preset.outliers,
        percentile=preset.static_percentile,
        static_nodes=preset.static_nodes,
    )
    scorer.variant(preset.fp32_nodes)
    # The export calibrates its constant scales in the exporter (torch word rows), the tool on the served graph
    # (numpy word rows): the same texts through the same fp32 graph, so the same scales and the same answers.
    assert serving.static_nodes == list(preset.static_nodes)
    served = onnx.load(str(serving.export_dir / MODEL_FILE))
    assert {n.name for n in served.graph.node if n.name.endswith(".static.q")} == {
        f"{n}.static.q" for n in preset.static_nodes
    }
    for got, want in zip(scorer.clf.probabilities(MIXED), serving.probabilities(MIXED), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
