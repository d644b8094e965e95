"""`listener export`: stream mentions or complaints to CSV, JSON Lines or Parquet (pyarrow extra)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "jsonl", "parquet")
_FLOATS = frozenset({"p_negative", "p_neutral", "p_positive", "p_complaint", "response_seconds"})
_INTS = frozenset({"author_followers", "complaint"})
_BATCH = 20_000


class ExportError(RuntimeError):
    """The export cannot be written (for example pyarrow is missing)."""


def write_csv(columns: Sequence[str], rows: Iterator[tuple[Any, ...]], out: IO[str]) -> int:
    """Header plus one line per row; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    while batch := list(islice(rows, _BATCH)):
        writer.writerows(batch)
        count += len(batch)
    return count


def write_jsonl(columns: Sequence[str], rows: Iterator[tuple[Any, ...]], out: IO[str]) -> int:
    """One JSON object per line; returns the row count."""
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    for row in rows:
        out.write(dumps(dict(zip(columns, row, strict=True))))
        out.write("\n")
        count += 1
    return count


def write_parquet(columns: Sequence[str], rows: Iterator[tuple[Any, ...]], path: Path) -> int:
    """A Parquet file written in row groups (needs the optional `pyarrow` dependency)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("parquet needs pyarrow: pip install 'listener[parquet]' (or pip install pyarrow)") from None
    types = [pa.float64() if c in _FLOATS else pa.int64() if c in _INTS else pa.string() for c in columns]
    schema = pa.schema(list(zip(columns, types, strict=True)))
    count = 0
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        while batch := list(islice(rows, _BATCH)):
            arrays = [pa.array([r[i] for r in batch], type=t) for i, t in enumerate(types)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(batch)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def export(
    columns: Sequence[str], rows: Iterator[tuple[Any, ...]], fmt: str, output: Path | None, stdout: IO[str]
) -> int:
    """Write rows in `fmt` to `output` (or `stdout` for text formats); returns the row count."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    if fmt == "parquet":
        if output is None:
            raise ExportError("parquet is binary: give --output PATH")
        return write_parquet(columns, rows, output)
    writer = write_csv if fmt == "csv" else write_jsonl
    if output is None:
        return writer(columns, rows, stdout)
    with open(output, "w", encoding="utf-8", newline="") as handle:
        return writer(columns, rows, handle)
