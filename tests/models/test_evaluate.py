"""The metrics `model eval` prints, checked against hand-computed values."""

from __future__ import annotations

import pytest

from models.evaluate import SENTIMENT_CLASSES, score


def test_score_matches_hand_computation() -> None:
    gold = [0, 0, 1, 1, 2, 2, 2]
    pred = [0, 1, 1, 1, 2, 0, -1]  # -1: an unscored text, always wrong
    report = score(gold, pred, SENTIMENT_CLASSES)
    assert report.n == 7
    assert report.accuracy == pytest.approx(4 / 7)
    neg, neu, pos = (report.per_class[c] for c in SENTIMENT_CLASSES)
    assert (neg.precision, neg.recall) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert (neu.precision, neu.recall) == (pytest.approx(2 / 3), pytest.approx(1.0))
    assert (pos.precision, pos.recall) == (pytest.approx(1.0), pytest.approx(1 / 3))
    assert report.macro_recall == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    assert neu.f1 == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))
    assert report.macro_f1 == pytest.approx((neg.f1 + neu.f1 + pos.f1) / 3)


def test_class_never_predicted_has_zero_precision() -> None:
    report = score([0, 1], [1, 1], ("a", "b"))
    assert report.per_class["a"].precision == 0.0
    assert report.per_class["a"].recall == 0.0
    assert report.per_class["b"].precision == pytest.approx(0.5)


def test_length_mismatch_is_refused() -> None:
    with pytest.raises(ValueError):
        score([0, 1], [0], ("a", "b"))
