"""`listener trends --chart PATH.png`: negative share and complaint rate per group (matplotlib)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _when(bucket: str) -> datetime | date:
    return datetime.fromisoformat(bucket.replace("Z", "+00:00")) if "T" in bucket else date.fromisoformat(bucket)


def draw_trends(report: dict[str, Any], path: Path) -> Path:
    """Draw two stacked line charts (negative share, complaint rate) and save them to `path`."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--chart needs matplotlib: pip install matplotlib") from None

    matplotlib.use("Agg")  # no display: always render to a file
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[Any, float | None, float | None]]] = defaultdict(list)
    for row in report["rows"]:
        label = " / ".join(str(row[d]) for d in report["by"]) or "all"
        series[label].append((_when(row["bucket"]), row["negative_share"], row["complaint_rate"]))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    try:
        for label, points in sorted(series.items()):
            xs = [p[0] for p in points]
            top.plot(xs, [None if p[1] is None else p[1] * 100 for p in points], marker=".", label=label)
            bottom.plot(xs, [None if p[2] is None else p[2] * 100 for p in points], marker=".", label=label)
        top.set_ylabel("negative share (%)")
        bottom.set_ylabel("complaint rate (%)")
        top.set_title(f"Sentiment per {report['every']} (UTC)")
        for axis in (top, bottom):
            axis.grid(alpha=0.3)
            axis.set_ylim(bottom=0)
        if series:
            top.legend(loc="upper left", fontsize="small")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
