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
