"""Per-language and per-kind complaint metrics of `model eval` on the corpus, checked by hand."""

from __future__ import annotations

import pytest

from models.evaluate import NEEDS_REPLY_CLASSES, confusion, format_confusion
from models.mentions import Mention, complaint_breakdown, format_breakdown, format_label_breakdown, label_breakdown
from models.train import Example


def _m(text: str, sentiment: int, complaint: int, language: str, kind: str) -> Mention:
    return Mention(Example(text, sentiment, complaint, complaint), language, kind)


def test_breakdown_by_language_and_kind() -> None:
    rows = [
        _m("a", 0, 1, "en", "complaint_explicit"),
        _m("b", 0, 1, "en", "complaint_mild"),
        _m("c", 2, 0, "en", "praise_negation"),
        _m("d", 2, 0, "ja", "praise_negation"),
        _m("e", 0, 1, "ja", "complaint_explicit"),
        _m("f", 1, 0, "ja", "news"),
    ]
    flags = [1, 0, 1, 0, 1, -1]  # the last one unscored
    negative = [True, True, True, False, True, False]
    report = complaint_breakdown(rows, flags, negative, [False] * 6)
    en, ja = report["language"]["en"], report["language"]["ja"]
    assert (en["precision"], en["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert en["praise_flagged"] == 1.0 and en["praise_negative"] == 1.0
    assert (ja["precision"], ja["recall"]) == (1.0, 1.0)
    assert ja["praise_flagged"] == 0.0 and ja["praise_negative"] == 0.0
    assert report["kind"]["praise_negation"]["praise_flagged"] == pytest.approx(1 / 2)
    assert report["kind"]["news"]["praise_flagged"] is None
    assert report["kind"]["praise_negation"]["flagged"] == pytest.approx(1 / 2)
    assert report["language"]["ja"]["flagged"] == pytest.approx(1 / 3)
    assert report["confusion"] == [[1, 1, 1], [1, 2, 0]]
    text = format_breakdown(report)
    assert "praise_negation" in text and "ja" in text and "confusion" in text


def test_needs_reply_breakdown_by_language_and_kind() -> None:
    rows = [
        _m("a", 0, 1, "en", "complaint_explicit"),
        _m("b", 1, 0, "en", "question"),
        _m("c", 2, 0, "en", "praise_negation"),
        _m("d", 2, 0, "de", "praise_negation"),
        _m("e", 0, 1, "de", "complaint_explicit"),
    ]
    gold = [1, 1, 0, 0, 1]
    predicted = [1, 0, 1, 0, -1]  # the last one unscored: a wrong answer
    report = label_breakdown(rows, gold, predicted, NEEDS_REPLY_CLASSES)
    en, de = report["language"]["en"], report["language"]["de"]
    assert report["target"] == "needs_reply" and (en["n"], de["n"]) == (3, 2)
    assert (en["precision"], en["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert (de["precision"], de["recall"], de["accuracy"]) == (0.0, 0.0, pytest.approx(1 / 2))
    assert report["kind"]["complaint_explicit"]["recall"] == pytest.approx(1 / 2)
    assert report["all"]["accuracy"] == pytest.approx(2 / 5)
    text = format_label_breakdown(report)
    assert "needs_reply P" in text and "complaint_explicit" in text and "\nde " in text


def test_confusion_table() -> None:
    table = confusion([0, 0, 1, 2, 2], [0, 1, 1, 2, -1], 3)
    assert table == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]
    assert "unscored" in format_confusion(table, ("negative", "neutral", "positive"))
