"""The calibration texts for int8 activation smoothing: a fixed sample of the project's own training texts.

The exporter (models/onnx_graph.py) runs them through the fp32 net to find each quantized
projection's largest input per channel. They are a deterministic sample (fixed rows, file order)
of training splits shipped in the repository: brand mentions in seven languages and the Japanese
review sentences, never a val or test split. The sample is shipped as `weights/int8_calibration.json`
(the export key hashes that file), and rewritten by `python -m models.calibration`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
CALIBRATION_FILE = Path(__file__).parent / "weights" / "int8_calibration.json"
# (csv under models/data, texts taken): evenly spaced rows, so every part of each file is represented.
SOURCES = (
    ("mentions/train.csv", 256),
    ("own_ja_general.csv", 48),
    ("own_ja_reviews_shops.csv", 48),
    ("own_ja_reviews_travel.csv", 48),
)


def sample_texts(data_dir: Path = DATA_DIR) -> list[str]:
    """The calibration sample: from each source, `n` rows evenly spaced through the file, in file order."""
    texts: list[str] = []
    for name, n in SOURCES:
        with (data_dir / name).open(newline="", encoding="utf-8") as fh:
            rows = [row["text"] for row in csv.DictReader(fh) if row["text"].strip()]
        if len(rows) < n:
            raise ValueError(f"{data_dir / name}: {len(rows)} texts, need {n}")
        texts += [rows[i * len(rows) // n] for i in range(n)]
    return texts


def load_texts(path: Path = CALIBRATION_FILE) -> list[str]:
    """The shipped calibration texts."""
    texts = json.loads(path.read_text(encoding="utf-8"))["texts"]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{path}: texts must be a non-empty list of strings")
    return texts


def write_texts(path: Path = CALIBRATION_FILE, data_dir: Path = DATA_DIR) -> Path:
    """Writes the sample to `path` with where it came from."""
    data = {
        "sources": {name: n for name, n in SOURCES},
        "chosen_by": "python -m models.calibration",
        "texts": sample_texts(data_dir),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Rewrites the shipped calibration sample."""
    parser = argparse.ArgumentParser(prog="python -m models.calibration", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"wrote {write_texts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
