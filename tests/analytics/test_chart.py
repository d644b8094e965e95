"""`listener trends --chart`: readable axes (round ticks, never past 100 %), no breach red, "no data" when empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex

from listener.analytics.chart import NoData, draw_trends, trends_figure
from listener.analytics.render import human_seconds
from listener.cli.analytics import trends_command
from tests.analytics.seed import Seeded

BREACH_RED = "#c62828"  # dashboard.css --breach


def _report(shares: list[float | None]) -> dict[str, Any]:
    rows = [
        {"bucket": f"2026-01-{day:02d}", "source": src, "negative_share": s, "complaint_rate": s and s / 2}
        for day, s in enumerate(shares, start=1)
        for src in ("mastodon", "reddit", "x", "trustpilot", "hackernews", "bluesky", "rss", "yelp", "play")
    ]
    return {"rows": rows, "by": ["source"], "every": "day"}


def test_share_axes_stop_at_100_percent_with_round_ticks() -> None:
    fig = trends_figure(_report([0.2, 0.97, 1.0, None, 0.5]))
    try:
        for axis in fig.axes:
            low, high = axis.get_ylim()
            assert low == 0 and high <= 100
            labels = [t.get_text() for t in axis.get_yticklabels() if 0 <= t.get_position()[1] <= high]
            assert labels and all(label.endswith("%") for label in labels)
            assert not any(float(label.rstrip("%")) > 100 for label in labels)
            colours = {to_hex(line.get_color()) for line in axis.get_lines()}
            assert len(colours) == 8 and BREACH_RED not in colours  # nine series cycle eight colours
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_small_shares_get_a_tight_axis() -> None:
    fig = trends_figure(_report([0.02, 0.04, 0.03]))
    try:
        assert fig.axes[0].get_ylim()[1] < 10  # not a 0-100 % axis for a 4 % peak
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_empty_report_draws_nothing(tmp_path: Path) -> None:
    with pytest.raises(NoData):
        draw_trends({"rows": [], "by": [], "every": "day"}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_trends_chart_on_an_empty_range_says_no_data(seeded: Seeded, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    result = CliRunner().invoke(
        trends_command,
        ["--db", str(seeded.path), "--since", "2001-01-01", "--until", "2001-02-01", "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    assert "no data" in result.output
    assert not chart.exists()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"), (45, "45s"), (725, "12m 05s"), (18420, "5h 07m"),
        (2430 * 3600 + 18 * 60, "101d 6h"), (273600, "3d 4h"),
    ],
)
def test_long_times_read_in_days(seconds: float | None, text: str) -> None:
    assert human_seconds(seconds) == text
