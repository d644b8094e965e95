"""Classification metrics (accuracy, macro recall/F1, per class) and CSV evaluation of a classifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SENTIMENT_CLASSES = ("negative", "neutral", "positive")
COMPLAINT_CLASSES = ("not_complaint", "complaint")
NEEDS_REPLY_CLASSES = ("no_reply", "needs_reply")
# p_needs_reply at or above this counts as "needs a reply" (the cut the multi-task training measures with).
NEEDS_REPLY_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class ClassReport:
    """Precision, recall, F1 and support of one class."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    """The figures `model eval` prints."""

    n: int
    accuracy: float
    macro_recall: float
    macro_f1: float
    per_class: dict[str, ClassReport] = field(default_factory=dict)
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": {
                k: {"precision": v.precision, "recall": v.recall, "f1": v.f1, "support": v.support}
                for k, v in self.per_class.items()
            },
            "skipped": self.skipped,
        }


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def score(gold: Sequence[int], predicted: Sequence[int], classes: Sequence[str]) -> Report:
    """Compare predicted class indices with gold ones (macro averages over all `classes`)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    per_class: dict[str, ClassReport] = {}
    for index, name in enumerate(classes):
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == index and p == index)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != index and p == index)
        support = sum(1 for g in gold if g == index)
        precision = _safe_div(tp, tp + fp)
        recall = _safe_div(tp, support)
        f1 = _safe_div(2 * precision * recall, precision + recall)
        per_class[name] = ClassReport(precision, recall, f1, support)
    n = len(gold)
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    k = len(classes)
    return Report(
        n=n,
        accuracy=_safe_div(correct, n),
        macro_recall=sum(c.recall for c in per_class.values()) / k,
        macro_f1=sum(c.f1 for c in per_class.values()) / k,
        per_class=per_class,
    )


def format_report(report: Report) -> str:
    """Human-readable table of a report."""
    lines = [
        f"n            {report.n}" + (f"  (unscored, counted as wrong: {report.skipped})" if report.skipped else ""),
        f"accuracy     {report.accuracy:.4f}",
        f"macro_recall {report.macro_recall:.4f}",
        f"macro_f1     {report.macro_f1:.4f}",
        f"{'class':<14} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}",
    ]
    for name, c in report.per_class.items():
        lines.append(f"{name:<14} {c.precision:>9.4f} {c.recall:>7.4f} {c.f1:>7.4f} {c.support:>8}")
    return "\n".join(lines)


def confusion(gold: Sequence[int], predicted: Sequence[int], k: int) -> list[list[int]]:
    """k x (k+1) counts: row = gold class, column = predicted; the last column counts unscored (-1 or out of range)."""
    table = [[0] * (k + 1) for _ in range(k)]
    for g, p in zip(gold, predicted, strict=True):
        table[g][p if 0 <= p < k else k] += 1
    return table


def format_confusion(table: list[list[int]], classes: Sequence[str]) -> str:
    """The confusion table as text (rows gold, columns predicted, then unscored)."""
    width = max(len(c) for c in classes) + 1
    header = " " * width + "".join(f"{c:>{width}}" for c in classes) + f"{'unscored':>{width}}"
    lines = ["confusion (rows gold, columns predicted)", header]
    for name, row in zip(classes, table, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{x:>{width}}" for x in row))
    return "\n".join(lines)
