"""The connector contract (`poll(cursor) -> Page`, `replies(open mentions)`) and the generic base keeping its state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from config.types import Duration, StrictModel
from connectors._parse import http_url
from listener.clock import Clock, SystemClock
from listener.domain import Cursor, Mention, Page, Reply

if TYPE_CHECKING:
    import aiohttp


# Config keys that name an API endpoint: validated once, here, for every connector that has them.
ENDPOINT_KEYS = ("base_url", "token_url", "auth_url")


class ConnectorConfig(StrictModel):
    """Settings every connector table accepts; connectors subclass it with their own keys."""

    type: str = Field(description="Connector type; defaults to the table name.")
    enabled: bool = True
    poll_interval: Duration = Field(default=timedelta(minutes=2), description="Time between polls.")
    jitter: Duration = Field(default=timedelta(seconds=5), description="Random delay added to each poll.")
    max_backoff: Duration = Field(default=timedelta(hours=1), description="Longest wait after repeated failures.")
    down_alert_after: Duration = Field(
        default=timedelta(minutes=30), description="Alert when the source has been failing this long (0s: never)."
    )
    gap_alert_after: Duration = Field(
        default=timedelta(0), description="Alert when a usually busy source brings no mention this long (0s: never)."
    )

    @field_validator(*ENDPOINT_KEYS, check_fields=False)
    @classmethod
    def _endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Every endpoint key a connector declares is an http(s) root, kept without its trailing slash."""
        if value is None or info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        examples = [e for e in (*(field.examples or ()), field.default) if isinstance(e, str) and e]
        return http_url(value, examples[0] if examples else "https://example.com")


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


ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)


class ConnectorBase(Generic[ConfigT]):
    """What every connector keeps: its name, its own config (typed: `ConnectorBase[XConfig]`), the brands,
    the daemon's shared HTTP session, the clock and a count of skipped items.

    A connector declares `class XConnector(HttpConnectorBase[XConfig])` and, where it derives something
    from its settings (streams, headers, token helpers), overrides `setup`, which runs at the end of
    `__init__` with every attribute here already set; it never repeats the constructor.
    """

    type_name: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]  # set from the type argument: `Connector[XConfig]` -> XConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take `Config` from the concrete type argument, so the schema and `self.config` never disagree."""
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            for arg in get_args(base):
                if isinstance(arg, type) and issubclass(arg, ConnectorConfig):
                    cls.Config = arg

    def __init__(
        self,
        name: str,
        config: ConfigT,
        brands: Sequence[BrandView],
        session: aiohttp.ClientSession,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.config: ConfigT = config
        self.brands = tuple(brands)
        self.session = session
        self.clock: Clock = clock or SystemClock()
        self.malformed = 0  # items skipped because they lacked what we need
        self.setup()

    def setup(self) -> None:
        """Derive what this connector needs from `self.config` (the default: nothing)."""
