"""Render report dicts for the terminal: rich tables, CSV or JSON (the API's JSON is the same dict)."""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from listener.timefmt import human_duration


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def human_seconds(value: float | None) -> str:
    """45s, 12m 05s, 5h 07m, 3d 4h (or '-' when unknown): days past a day, never "2430h"."""
    return "-" if value is None else human_duration(abs(value), exact=True)


def write_json(report: dict[str, Any], out: IO[str]) -> None:
    """The report as one pretty JSON document."""
    out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")


def write_csv(report: dict[str, Any], out: IO[str]) -> None:
    """The report's rows as CSV (header from the first row)."""
    rows = report["rows"]
    if not rows:
        out.write("")
        return
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def trends_table(report: dict[str, Any], console: Console) -> None:
    """Trend rows as a table with shares in percent."""
    table = Table(title=f"Trends per {report['every']} (UTC), shares of scored mentions")
    dims = report["by"]
    for name in ["period", *dims, "mentions", "scored", "negative", "neutral", "positive", "complaint rate"]:
        table.add_column(name, justify="left" if name in ("period", *dims) else "right")
    for row in report["rows"]:
        table.add_row(
            str(row["bucket"]),
            *(str(row[d]) for d in dims),
            str(row["mentions"]),
            str(row["scored"]),
            _pct(row["negative_share"]),
            _pct(row["neutral_share"]),
            _pct(row["positive_share"]),
            _pct(row["complaint_rate"]),
        )
    console.print(table)


def sla_table(report: dict[str, Any], console: Console) -> None:
    """SLA rows as a table; competitor brands are marked."""
    table = Table(title="First response (business time and wall clock)", caption=report["note"])
    dims = report["by"]
    head = (["period"] if report["every"] else []) + dims
    for name in [
        *head,
        "complaints",
        "answered",
        "response rate",
        "median (business)",
        "p90 (business)",
        "median (wall)",
        "p90 (wall)",
        "within target",
        "breaches",
        "open",
        "not a complaint",
        "questions unanswered",
    ]:
        table.add_column(name, justify="left" if name in head else "right")
    # The total is ours alone when competitors are configured; say so on the row.
    total_label = "all ours" if report.get("competitors") else "all"
    for row in [*report["rows"], {**report["total"], "_total": True}]:
        cells = []
        if report["every"]:
            cells.append("" if row.get("_total") else str(row["bucket"]))
        for d in dims:
            value = total_label if row.get("_total") else str(row[d] if row[d] is not None else "-")
            if d == "brand" and row.get("competitor"):
                value += " (competitor)"
            cells.append(value)
        cells += [
            str(row["complaints"]),
            str(row["answered"]),
            _pct(row["response_rate"]),
            human_seconds(row["median_business_s"]),
            human_seconds(row["p90_business_s"]),
            human_seconds(row["median_response_s"]),
            human_seconds(row["p90_response_s"]),
            _pct(row["within_target_share"]),
            str(row["breaches"]),
            str(row["open"]),
            str(row["not_complaint"]),
            str(row["other_unanswered"]),
        ]
        table.add_row(*cells, style="bold" if row.get("_total") else None)
    console.print(table)
