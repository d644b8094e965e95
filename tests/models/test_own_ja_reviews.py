"""own_ja_reviews_*.csv: valid, balanced, distinct hand-written sentences that never repeat another set's text."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / "models" / "data"
REVIEW_FILES = sorted(DATA.glob("own_ja_reviews_*.csv"))
OTHER_OWN = (DATA / "own_ja.csv", DATA / "own_ja_general.csv")
SHARED = Path(__file__).parents[2].parent / "shared" / "data"


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_there_is_at_least_one_review_file() -> None:
    assert REVIEW_FILES, f"no own_ja_reviews_*.csv in {DATA}"


@pytest.mark.parametrize("path", REVIEW_FILES, ids=lambda p: p.name)
def test_header_labels_and_texts_are_valid(path: Path) -> None:
    header, rows = _rows(path)
    assert header == ["text", "sentiment"]
    assert all(r["sentiment"] in {"0", "1", "2"} for r in rows)
    texts = [r["text"] for r in rows]
    assert all(t and t.strip() == t for t in texts)
    duplicates = [t for t, n in Counter(texts).items() if n > 1]
    assert not duplicates


@pytest.mark.parametrize("path", REVIEW_FILES, ids=lambda p: p.name)
def test_every_label_is_at_least_a_fifth_of_the_file(path: Path) -> None:
    _, rows = _rows(path)
    counts = Counter(r["sentiment"] for r in rows)
    assert all(counts[s] / len(rows) >= 0.20 for s in "012"), counts


def test_no_text_is_in_two_own_files() -> None:
    seen: dict[str, str] = {}
    for path in (*REVIEW_FILES, *OTHER_OWN):
        for row in _rows(path)[1]:
            assert row["text"] not in seen, f"{row['text']!r} is in {seen.get(row['text'])} and {path.name}"
            seen[row["text"]] = path.name


@pytest.mark.skipif(not (SHARED / "jrte_pn_ja").is_dir(), reason="shared data (JRTE) not present")
def test_no_sentence_is_copied_from_the_jrte_evaluation_set() -> None:
    splits = (SHARED / "jrte_pn_ja" / f"{split}.csv" for split in ("train", "val"))
    jrte = {row["text"].strip() for path in splits for row in _rows(path)[1]}
    ours = {row["text"] for path in REVIEW_FILES for row in _rows(path)[1]}
    assert not ours & jrte
