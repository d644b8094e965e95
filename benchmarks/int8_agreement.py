"""Do the int8 tools agree? The complaint probabilities of the served "mixed" classifier against the sensitivity
tool's variant of the same preset, and against each text scored alone, text by text on complaints val.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.int8_agreement [--top 10]

Prints, for each comparison, the largest and mean probability difference, the decisions (p >= 0.5) that
flip and the texts that move most. Validation data is read from the shared data folder here only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from benchmarks.int8_sensitivity import Scorer
from benchmarks.model_speed import _labelled, _shared_data
from models.evaluate import COMPLAINT_CLASSES, score
from models.onnx_runtime import OnnxClassifier, mixed_preset


def report(label: str, texts: Sequence[str], gold: Sequence[int], got: np.ndarray, want: np.ndarray, top: int) -> str:
    """Where `got` and `want` (complaint probabilities of the same texts) diverge, most first."""
    diff = np.abs(got - want)
    flips = int(((got >= 0.5) != (want >= 0.5)).sum())
    f1 = [100 * score(list(gold), (p >= 0.5).astype(int).tolist(), COMPLAINT_CLASSES).macro_f1 for p in (got, want)]
    lines = [
        f"{label}: F1 {f1[0]:.2f} vs {f1[1]:.2f}, max |dp| {diff.max():.4f}, mean {diff.mean():.5f}, {flips} flipped"
    ]
    for i in np.argsort(-diff)[:top]:
        if diff[i] > 1e-4:
            lines.append(f"  {got[i]:.3f} vs {want[i]:.3f} (gold {gold[i]})  {texts[i][:90]!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8_agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, help="texts listed per comparison")
    args = parser.parse_args(argv)
    texts, gold = _labelled(_shared_data() / "complaints" / "val.csv")
    served = OnnxClassifier(threads=1, int8="mixed")
    batched = served.probabilities(texts)[1]
    preset = mixed_preset()
    val = {name: (texts, gold) for name in ("tweeteval", "complaints", "jrte")}
    scorer = Scorer(val, threads=1, smooth_alpha=preset.smooth_alpha, outliers=preset.outliers)
    scorer.variant(preset.fp32_nodes)
    print(report("served vs sensitivity tool", texts, gold, batched, scorer.clf.probabilities(texts)[1], args.top))
    served.batch_size = 1
    print(
        report(
            "served in batches of 32 vs each text alone", texts, gold, batched, served.probabilities(texts)[1], args.top
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
