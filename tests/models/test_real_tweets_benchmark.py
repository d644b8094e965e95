"""benchmarks.real_tweets: its label file, the join with the tweets, and the scores it prints."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import real_tweets
from benchmarks.real_tweets import labelled_tweets, measure, score_flags


def test_label_file_has_200_distinct_ids_with_binary_labels() -> None:
    with real_tweets.LABELS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 200 and len({r["tweet_id"] for r in rows}) == 200
    assert {r["complaint"] for r in rows} == {"0", "1"}


def test_score_flags() -> None:
    got = score_flags([1, 1, 0, 0, 1], [True, False, True, False, True])
    assert (got.flagged, got.precision, got.recall) == (3, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert score_flags([0, 1], [False, False]).precision == 0.0


def _twcs(folder: Path, rows: list[tuple[str, str]]) -> Path:
    path = folder / "twcs_slice" / "twcs_first5000.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id",
                         "in_response_to_tweet_id"])  # fmt: skip
        writer.writerows([(i, "1", "True", "", text, "", "") for i, text in rows])
    return folder


def test_tweets_are_joined_in_label_order_and_a_missing_one_is_named(tmp_path: Path) -> None:
    data = _twcs(tmp_path / "data", [("7", "my wifi is down"), ("9", "thanks!")])
    labels = tmp_path / "labels.csv"
    labels.write_text("tweet_id,complaint\n9,0\n7,1\n")
    assert labelled_tweets(data, labels) == (["thanks!", "my wifi is down"], [0, 1])
    labels.write_text("tweet_id,complaint\n8,1\n")
    with pytest.raises(ValueError, match="8"):
        labelled_tweets(data, labels)


def test_measure_applies_the_rule_at_each_threshold() -> None:
    def result(p_complaint: float, p_positive: float = 0.1, unsure: bool = False) -> SimpleNamespace:
        return SimpleNamespace(scored=True, p_negative=0.8 - p_positive, p_positive=p_positive,
                               p_complaint=p_complaint, complaint=p_complaint >= 0.5, unsure=unsure)  # fmt: skip

    served = [result(0.9), result(0.45), result(0.95, p_positive=0.8), result(0.2)]
    classifier = SimpleNamespace(predict=lambda texts: served)
    rows = measure(classifier, ["a", "b", "c", "d"], [1, 1, 0, 0])
    assert rows["`complaint_threshold = 0.4`"].recall == 1.0  # 0.45 counts at 0.4
    # The praise-like text (sentiment positive) is never a complaint under the rule, at any threshold.
    assert rows["`complaint_threshold = 0.3`"].precision == 1.0
    assert rows["`complaint_threshold = 0.5`"].recall == 0.5
