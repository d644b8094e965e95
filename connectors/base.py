"""The connector contract: `poll(cursor) -> Page` and `replies(open mentions)`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from config.types import Duration, StrictModel
from listener.domain import Cursor, Mention, Page, Reply


class ConnectorConfig(StrictModel):
    """Settings every connector table accepts; connectors subclass it with their own keys."""

    type: str = Field(description="Connector type; defaults to the table name.")
    enabled: bool = True
    poll_interval: Duration = Field(default="2m", description="Time between polls.")
    jitter: Duration = Field(default="5s", description="Random delay added to each poll.")
    max_backoff: Duration = Field(default="1h", description="Longest wait after repeated failures.")
    down_alert_after: Duration = Field(
        default="30m", description="Alert when the source has been failing this long (0s: never)."
    )
    gap_alert_after: Duration = Field(
        default="0s", description="Alert when a usually busy source brings no mention this long (0s: never)."
    )


class BrandView(BaseModel):
    """What a connector needs to know of one configured brand."""

    model_config = ConfigDict(frozen=True)

    name: str
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()


class Connector(Protocol):
    """One social API or review site. Thin: fetch and map, no policy.

    Optional class attributes read by the daemon: `can_see_replies` (False where the platform
    never shows the brand's answers, so clocks can only be stopped by hand) and `max_lookback`
    (how far back the API can still return posts after an outage, e.g. 7 days); `shows` and
    `hides` (what the platform lets the connector see and what it never shows, for `listener sources`).
    """

    type_name: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]
    name: str

    async def poll(self, since: Cursor | None) -> Page:
        """Return mentions newer than `since` (None on first run) and the next cursor."""
        ...

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Return brand replies to these still-open mentions."""
        ...
