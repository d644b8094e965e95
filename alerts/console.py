"""Console sink: one readable, coloured line per alert on standard output (the demo uses it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Console
from rich.text import Text

from alerts._format import deadline_text, human_duration, one_line, state_text, title, truncate
from alerts.base import Event, EventKind, Sink
from alerts.registry import SinkContext
from config.schema import ConsoleSettings
from listener.clock import Clock, SystemClock

TEXT_MAX = 120

_STYLES = {
    EventKind.WARN: "bold yellow",
    EventKind.BREACH: "bold red",
    EventKind.REPLIED: "bold green",
    EventKind.SOURCE: "bold magenta",
}


class ConsoleSink(Sink):
    """Print alerts (never plain mentions) with rich.

    Untrusted text is added as plain `Text` (never parsed as markup) after control characters
    are removed, so a mention cannot inject styles or terminal escape sequences.
    """

    name: ClassVar[str] = "console"

    def __init__(self, console: Console | None = None, *, clock: Clock | None = None) -> None:
        # The demo passes the Console behind its live view so lines print above it.
        self._console = console or Console()
        self._clock = clock or SystemClock()

    @classmethod
    def from_settings(cls, settings: ConsoleSettings, context: SinkContext) -> ConsoleSink:
        """Build from `[alerts.console]` (the registry's entry point)."""
        return cls(context.console, clock=context.clock)

    def accepts(self, event: Event) -> bool:
        """Every alert kind; MENTION events are too many for a terminal."""
        return event.kind != EventKind.MENTION

    def line(self, event: Event) -> Text:
        """The line printed for `event`."""
        now = self._clock.now()
        line = Text()
        line.append(f"{now:%H:%M:%S} ", style="dim")
        line.append(f"{event.kind.value.upper():<7} ", style=_STYLES.get(event.kind, "bold"))
        line.append(title(event), style=_STYLES.get(event.kind, "bold"))
        for label, value in (("brand", event.brand), ("source", event.source), ("author", event.author)):
            if value:
                line.append(f" · {label} ")
                line.append(truncate(one_line(value), 60), style="cyan")
        if event.mention_at is not None and event.kind != EventKind.REPLIED:
            line.append(f" · age {human_duration(now - event.mention_at)}")
        if deadline := deadline_text(event, now):
            line.append(f" · deadline {deadline}")
        line.append(f" · {state_text(event)}")
        body = event.detail if event.kind == EventKind.SOURCE else event.text
        if body:
            line.append(" · “")
            line.append(truncate(one_line(body), TEXT_MAX), style="italic")
            line.append("”")
        return line

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Print the line; nothing to remember between events."""
        self._console.print(self.line(event), soft_wrap=True, markup=False, highlight=False)
        return None

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """Print a digest: a header line, then one line per alert that was held back."""
        why = ", ".join(r.replace("_", " ") for r in reasons) or "held back"
        head = Text()
        head.append(f"{self._clock.now():%H:%M:%S} ", style="dim")
        head.append(f"DIGEST  {len(events)} alert{'s' if len(events) != 1 else ''} ({why})", style="bold blue")
        self._console.print(head, soft_wrap=True, markup=False, highlight=False)
        for event in events:
            line = Text("  ")
            line.append_text(self.line(event))
            self._console.print(line, soft_wrap=True, markup=False, highlight=False)
        return None

