"""own_ja_general.csv is exactly what its seeded generator writes, with valid, balanced labels."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from models.data import own_ja_general


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "own_ja_general.csv"
    own_ja_general.write(fresh)
    assert fresh.read_bytes() == own_ja_general.OUT.read_bytes()


def test_labels_are_valid_distinct_and_balanced() -> None:
    rows = _read(own_ja_general.OUT)
    assert list(rows[0]) == ["text", "sentiment", "complaint"]
    assert all(r["sentiment"] in {"0", "1", "2"} and r["complaint"] in {"0", "1"} for r in rows)
    # A complaint is a grievance: never on a neutral or positive sentence.
    assert all(r["sentiment"] == "0" for r in rows if r["complaint"] == "1")
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts) >= 1500
    assert all(t.strip() == t and t for t in texts)
    counts = Counter(r["sentiment"] for r in rows)
    assert all(counts[s] / len(rows) >= 0.25 for s in "012"), counts
