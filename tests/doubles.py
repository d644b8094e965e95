"""Test doubles: a keyword classifier, a scripted connector and a recording sink."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from alerts.base import Event, EventKind, Sink
from config.types import Duration
from connectors.base import ConnectorConfig
from listener.domain import Cursor, Mention, Page, Reply, Sentiment
from listener.errors import SinkError
from models.base import Classification

NEGATIVE_WORDS = ("broken", "worst", "refund", "still", "never", "down", "charged", "最悪", "届きません")
POSITIVE_WORDS = ("love", "great", "thanks", "最高")


class KeywordClassifier:
    """Marks texts with complaint words as negative complaints; a double for the real model."""

    model_id = "keyword-test-double"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Judge by keywords."""
        self.calls.append(list(texts))
        out = []
        for text in texts:
            lower = text.lower()
            if not lower.strip():
                out.append(Classification(model_id=self.model_id, scored=False, unscored_reason="empty"))
                continue
            negative = any(w in lower for w in NEGATIVE_WORDS)
            positive = any(w in lower for w in POSITIVE_WORDS)
            sentiment = Sentiment.NEGATIVE if negative else Sentiment.POSITIVE if positive else Sentiment.NEUTRAL
            out.append(
                Classification(
                    model_id=self.model_id,
                    scored=True,
                    sentiment=sentiment,
                    p_negative=0.9 if negative else 0.05,
                    p_neutral=0.05 if negative or positive else 0.9,
                    p_positive=0.9 if positive and not negative else 0.05,
                    complaint=negative,
                    p_complaint=0.9 if negative else 0.1,
                    language="en",
                )
            )
        return out


class ScriptedConfig(ConnectorConfig):
    """Connector settings with no start-up jitter, so tests know when the first poll runs."""

    type: str = "scripted"
    jitter: Duration = Field(default="0s", validate_default=True)


class ScriptedConnector:
    """Returns pages from a script; an entry that is an exception is raised instead."""

    type_name: ClassVar[str] = "scripted"
    Config: ClassVar[type[ConnectorConfig]] = ScriptedConfig

    def __init__(self, name: str, pages: list[Page | Exception] | None = None, **config: object) -> None:
        self.name = name
        self.config = ScriptedConfig.model_validate(config)
        self.pages = list(pages or [])
        self.cursors: list[Cursor | None] = []
        self.reply_answers: list[Reply] = []

    async def poll(self, since: Cursor | None) -> Page:
        """Next scripted page (empty when the script is used up)."""
        self.cursors.append(since)
        if not self.pages:
            return Page([], since)
        item = self.pages.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Scripted replies that answer one of `to`."""
        wanted = {m.external_id for m in to}
        found = [r for r in self.reply_answers if r.in_reply_to in wanted]
        self.reply_answers = [r for r in self.reply_answers if r not in found]
        return found


class RecordingSink(Sink):
    """Keeps every event it is sent; can be told to fail. `noise_controls=False` plays a machine sink (MQTT)."""

    name: ClassVar[str] = "recording"

    def __init__(
        self, name: str = "recording", kinds: Sequence[EventKind] | None = None, *, noise_controls: bool = True
    ) -> None:
        self.name = name  # type: ignore[misc]
        self.noise_controls = noise_controls
        self.kinds = set(kinds) if kinds else {k for k in EventKind if k is not EventKind.MENTION}
        self.events: list[tuple[Event, str | None]] = []
        self.fail_with: SinkError | None = None

    def accepts(self, event: Event) -> bool:
        """Whether the kind is wanted; like Slack, a reply only matters after an alert."""
        if event.kind is EventKind.REPLIED and not (event.policy is not None and event.alerted):
            return False
        return event.kind in self.kinds

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Record the event (or fail as told)."""
        if self.fail_with is not None:
            raise self.fail_with
        self.events.append((event, previous_ref))
        return f"ref-{len(self.events)}"

    @property
    def kinds_sent(self) -> list[str]:
        """Event kinds in delivery order."""
        return [e.kind.value for e, _ in self.events]
