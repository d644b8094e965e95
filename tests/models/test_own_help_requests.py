"""own_help_requests.csv: what its generator writes, labelled by frame, in pairs, and never an evaluation text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from models.data import own_help_requests
from models.fit import read_own_sentences

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the repository; a git worktree under /work/wt/NAME has it one level further up.
SHARED = next(
    (p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()), None
)


def _texts(path: Path, column: str = "text") -> set[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {" ".join(r[column].casefold().split()) for r in csv.DictReader(fh)}


def test_csv_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "own_help_requests.csv"
    own_help_requests.write(fresh)
    assert fresh.read_bytes() == own_help_requests.OUT.read_bytes()


def test_own_faults_are_negative_complaints_and_plain_questions_are_neutral() -> None:
    examples = read_own_sentences(own_help_requests.OUT)
    assert len({e.text for e in examples}) == len(examples) >= 500
    assert {(e.sentiment, e.complaint) for e in examples} == {(0, 1), (1, 0)}
    complaints = sum(e.complaint == 1 for e in examples)
    # Minimal pairs: the plain questions are a real share, so "has a question mark" decides nothing.
    assert 0.25 <= 1 - complaints / len(examples) <= 0.5


@pytest.mark.parametrize("language", sorted(own_help_requests.PAIRS))
def test_every_language_has_both_sides(language: str) -> None:
    text = own_help_requests.OUT.read_text(encoding="utf-8")
    for problem, question in own_help_requests.PAIRS[language]:
        assert problem in text and question in text, (problem, question)


@pytest.mark.parametrize("split", ["val", "test"])
def test_no_text_equals_a_mentions_evaluation_row(split: str) -> None:
    path = ROOT / "models" / "data" / "mentions" / f"{split}.csv"
    if not path.is_file():
        pytest.skip(f"{path} not generated")
    assert not _texts(own_help_requests.OUT) & _texts(path)


@pytest.mark.skipif(SHARED is None, reason="shared data not present")
def test_no_text_equals_a_public_evaluation_row_or_a_twcs_tweet() -> None:
    assert SHARED is not None
    ours = _texts(own_help_requests.OUT)
    paths = [SHARED / d / f"{s}.csv" for d in ("tweeteval_sentiment", "complaints") for s in ("val", "test")]
    for path in [p for p in paths if p.is_file()] + sorted((SHARED / "twcs_slice").glob("*.csv")):
        assert not ours & _texts(path), path
