"""ConsoleSink: one readable line per alert, no markup or escape-sequence injection."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from rich.console import Console

from alerts.base import Event, EventKind
from alerts.console import ConsoleSink
from listener.clock import FakeClock


def capture() -> tuple[Console, io.StringIO]:
    """A wide, colourless console writing into a buffer."""
    buffer = io.StringIO()
    return Console(file=buffer, width=400, color_system=None, force_terminal=False), buffer


async def test_one_line_per_alert(make_event: Callable[..., Event], clock: FakeClock) -> None:
    console, buffer = capture()
    sink = ConsoleSink(console, clock=clock)
    await sink.send(make_event(EventKind.WARN, deadline=clock.now() + timedelta(minutes=15)), None)
    await sink.send(make_event(EventKind.BREACH), None)
    await sink.send(make_event(EventKind.REPLIED, response_seconds=3000.0), None)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3
    warn, breach, replied = lines
    assert warn.startswith("10:00:00 WARN") and "deadline 2026-01-05 10:15 UTC (in 15m)" in warn
    assert "BREACH" in breach and "brand acme" in breach and "source mastodon" in breach
    assert "author @dana@example.social" in breach and "age 1h 01m" in breach and "(1m overdue)" in breach
    assert "My acme router dropped the connection again" in breach
    assert "replied after 50m (within target)" in replied


def test_mentions_are_not_printed(make_event: Callable[..., Event]) -> None:
    sink = ConsoleSink(capture()[0])
    assert not sink.accepts(make_event(EventKind.MENTION))
    assert all(sink.accepts(make_event(kind)) for kind in EventKind if kind != EventKind.MENTION)


@pytest.mark.parametrize(
    "hostile",
    [
        "[bold red]fake[/bold red] [link=http://evil]x[/link]",
        "esc \x1b[31mred\x1b[0m \x1b]8;;http://evil\x07x",
        "a\nb\rc",
    ],
)
async def test_untrusted_text_is_printed_literally(
    make_event: Callable[..., Event], clock: FakeClock, hostile: str
) -> None:
    buffer = io.StringIO()
    # A real terminal console: any markup or escape would turn into control sequences here.
    console = Console(file=buffer, width=400, force_terminal=True, color_system="truecolor")
    await ConsoleSink(console, clock=clock).send(make_event(EventKind.BREACH, text=hostile, author=hostile), None)
    out = buffer.getvalue()
    assert out.count("\n") == 1  # still one line
    assert "\x1b]8" not in out  # no hyperlink escape
    assert "\x1b[31m" not in out  # the mention's own colour code was removed
    if "[bold red]" in hostile:
        assert "[bold red]fake[/bold red]" in out  # shown as text, not applied
