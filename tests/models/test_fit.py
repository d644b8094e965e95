"""Pieces of the training recipe that need no backbone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from models.fit import _gold, fold_threshold, read_own_sentences
from models.train import read_csv


def test_fold_threshold_moves_the_decision_point() -> None:
    head = torch.nn.Linear(4, 1)
    net = SimpleNamespace(complaint_head=head)
    x = torch.randn(200, 4)
    before = torch.sigmoid(head(x)).squeeze(-1)
    fold_threshold(net, 0.65)
    after = torch.sigmoid(head(x)).squeeze(-1)
    assert torch.equal(after >= 0.5, before >= 0.65)


def test_read_csv_skips_bad_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood one,1\n,0\nbad label,x\nout of range,3\nfine,0\n", encoding="utf-8")
    rows = read_csv(path, "complaint")
    assert [(r.text, r.complaint, r.sentiment) for r in rows] == [("good one", 1, None), ("fine", 0, None)]
    assert "d.csv:3" in caplog.text and "d.csv:5" in caplog.text


def test_read_csv_needs_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("sentence,y\nhello,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text,label"):
        read_csv(path, "sentiment")


def test_own_sentences_have_both_labels() -> None:
    rows = read_own_sentences()
    assert len(rows) >= 100
    assert {r.sentiment for r in rows} == {0, 1, 2} and {r.complaint for r in rows} == {0, 1}
    # A complaint is always a negative text in our own set.
    assert all(r.sentiment == 0 for r in rows if r.complaint == 1)


def test_gold_labels_keep_zeros_and_refuse_a_missing_label() -> None:
    assert _gold([0, 1, 0]) == [0, 1, 0]
    with pytest.raises(ValueError, match="lacks the label"):
        _gold([1, None])


def test_own_sentences_may_leave_the_complaint_unlabelled(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("text,sentiment\n駅から近い。,1\n最高でした,2\n", encoding="utf-8")
    rows = read_own_sentences(path)
    assert [(r.sentiment, r.complaint) for r in rows] == [(1, None), (2, None)]
