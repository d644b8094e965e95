"""`listener trends --chart PATH.png`: negative share and complaint rate per group (matplotlib)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _when(bucket: str) -> datetime | date:
    return datetime.fromisoformat(bucket.replace("Z", "+00:00")) if "T" in bucket else date.fromisoformat(bucket)


# Series colours: none is the breach red (nor the warning orange or on-time green) of the dashboard's clocks.
PALETTE = ("#1f5fa8", "#7b4fb8", "#00838f", "#8c6d1f", "#546e7a", "#3949ab", "#8e5572", "#4e7d8c")


class NoData(ValueError):
    """The report has no scored mentions to draw."""


def draw_trends(report: dict[str, Any], path: Path) -> Path:
    """Draw two stacked line charts (negative share, complaint rate) and save them to `path`.

    Raises NoData (and writes nothing) when no row has a share to draw, rather than drawing empty axes.
    """
    fig = trends_figure(report)
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def trends_figure(report: dict[str, Any]) -> Any:
    """The matplotlib Figure `draw_trends` saves (NoData when there is nothing to draw); close it after use."""
    if not any(r["negative_share"] is not None or r["complaint_rate"] is not None for r in report["rows"]):
        raise NoData("no data in that range: no chart drawn")
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--chart needs matplotlib: pip install matplotlib") from None

    matplotlib.use("Agg")  # no display: always render to a file
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    series: dict[str, list[tuple[Any, float | None, float | None]]] = defaultdict(list)
    for row in report["rows"]:
        label = " / ".join(str(row[d]) for d in report["by"]) or "all"
        series[label].append((_when(row["bucket"]), row["negative_share"], row["complaint_rate"]))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    try:
        peaks = {top: 0.0, bottom: 0.0}
        for i, (label, points) in enumerate(sorted(series.items())):
            xs = [p[0] for p in points]
            colour = PALETTE[i % len(PALETTE)]
            for axis, at in ((top, 1), (bottom, 2)):
                ys = [float("nan") if (share := p[at]) is None else share * 100 for p in points]
                axis.plot(xs, ys, marker=".", label=label, color=colour)
                peaks[axis] = max([peaks[axis], *(y for y in ys if y == y)])
        top.set_ylabel("negative share")
        bottom.set_ylabel("complaint rate")
        top.set_title(f"Sentiment per {report['every']} (UTC)")
        for axis in (top, bottom):
            axis.grid(alpha=0.3)
            # Shares: 0 to a round value just above the peak, never past 100 %.
            axis.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
            axis.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=None))
            axis.set_ylim(0, min(100.0, max(peaks[axis] * 1.08, 1.0)))
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        top.legend(loc="upper left", fontsize="small")
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig
