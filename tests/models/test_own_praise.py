"""own_*_praise.csv: valid, balanced hand-written sentences that repeat no other own file and no evaluation text."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from models.fit import read_own_sentences

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "models" / "data"
PRAISE_FILES = (DATA / "own_en_praise.csv", DATA / "own_eu_praise.csv")
# ../shared beside the repository; a git worktree under /work/wt/NAME has it one level further up.
SHARED = next(
    (p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()), None
)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _norm(text: str) -> str:
    """Case- and whitespace-insensitive form: two texts that differ only there are the same sentence."""
    return " ".join(text.casefold().split())


def _praise_texts() -> dict[str, str]:
    """Normalised text of every praise row -> the file it is in."""
    return {_norm(r["text"]): path.name for path in PRAISE_FILES for r in _rows(path)[1]}


@pytest.mark.parametrize("path", PRAISE_FILES, ids=lambda p: p.name)
def test_header_labels_and_texts_are_valid(path: Path) -> None:
    header, rows = _rows(path)
    assert header == ["text", "sentiment", "complaint"]
    assert all(r["sentiment"] in {"0", "1", "2"} and r["complaint"] in {"0", "1"} for r in rows)
    assert all(r["text"] and r["text"].strip() == r["text"] and "\n" not in r["text"] for r in rows)


@pytest.mark.parametrize("path", PRAISE_FILES, ids=lambda p: p.name)
def test_a_complaint_is_always_negative(path: Path) -> None:
    _, rows = _rows(path)
    assert not [r["text"] for r in rows if r["complaint"] == "1" and r["sentiment"] != "0"]


@pytest.mark.parametrize("path", PRAISE_FILES, ids=lambda p: p.name)
def test_every_sentiment_is_at_least_15_percent_and_positive_leads(path: Path) -> None:
    _, rows = _rows(path)
    counts = Counter(r["sentiment"] for r in rows)
    assert all(counts[s] / len(rows) >= 0.15 for s in "012"), counts
    # the point of the file is the hard praise; the near misses must not outnumber it
    assert counts["2"] > counts["0"] > counts["1"], counts


@pytest.mark.parametrize("path", PRAISE_FILES, ids=lambda p: p.name)
def test_the_trainer_reads_every_row_with_both_labels(path: Path) -> None:
    examples = read_own_sentences(path)
    assert len(examples) == len(_rows(path)[1]) >= 300
    assert all(e.complaint in (0, 1) for e in examples)


def test_no_text_repeats_within_or_across_own_files() -> None:
    seen: dict[str, str] = {}
    for path in PRAISE_FILES:
        for row in _rows(path)[1]:
            key = _norm(row["text"])
            assert key not in seen, f"{row['text']!r} is in {seen.get(key)} and {path.name}"
            seen[key] = path.name
    for path in sorted(set(DATA.glob("own_*.csv")) - set(PRAISE_FILES)):
        clashes = [r["text"] for r in _rows(path)[1] if _norm(r["text"]) in seen]
        assert not clashes, f"{path.name} repeats {clashes[:5]}"


@pytest.mark.parametrize("split", ["val", "test"])
def test_no_text_equals_a_mentions_evaluation_row(split: str) -> None:
    path = DATA / "mentions" / f"{split}.csv"
    if not path.is_file():
        pytest.skip(f"{path} not generated")
    ours = _praise_texts()
    clashes = [r["text"] for r in _rows(path)[1] if _norm(r["text"]) in ours]
    assert not clashes, clashes[:5]


@pytest.mark.skipif(SHARED is None, reason="shared data (TweetEval, complaints) not present")
@pytest.mark.parametrize("dataset", ["tweeteval_sentiment", "complaints"])
def test_no_text_equals_a_public_evaluation_row(dataset: str) -> None:
    assert SHARED is not None
    splits = [SHARED / dataset / f"{split}.csv" for split in ("val", "test")]
    assert any(p.is_file() for p in splits), f"no val/test split in {SHARED / dataset}"
    ours = _praise_texts()
    clashes = [r["text"] for p in splits if p.is_file() for r in _rows(p)[1] if _norm(r["text"]) in ours]
    assert not clashes, clashes[:5]
