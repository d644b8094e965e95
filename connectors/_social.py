"""Shared plumbing of the HTTP social connectors: config keys, GET helper, brand checks, threads."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self, TypeVar

import aiohttp
from pydantic import Field, model_validator
from yarl import URL

from config.types import Duration
from connectors._cursor import dump_cursor, load_cursor
from connectors._http import (
    MalformedResponseError,
    RateLimitHeaders,
    Response,
    request,
)
from connectors._parse import ident_of
from connectors._watermark import Watermark, dump_marks, load_marks
from connectors.base import BrandView, ConnectorBase, ConnectorConfig
from connectors.matching import match_brands, own_brands
from listener.clock import Clock
from listener.domain import Cursor, Mention, Page, Reply
from listener.redact import register_secret

logger = logging.getLogger(__name__)


class HttpSourceConfig(ConnectorConfig):
    """Keys shared by the HTTP social connectors (each subclass adds `base_url` and its own)."""

    # Keys an enabled table must set -> a hint for the error ("set access_token (a Page access token)").
    # Checked only when enabled, so a disabled example table with an unset ${VAR} still loads.
    required_when_enabled: ClassVar[dict[str, str]] = {}

    timeout: Duration = Field(default=timedelta(seconds=30), description="Limit for one request, body included.")
    max_pages: int = Field(default=5, ge=1, le=100, description="Pages per stream and poll when catching up.")
    attribute_to: tuple[str, ...] = Field(
        default=(), description="Brands every item of this source is about (e.g. the brand's own channel or forum)."
    )

    @model_validator(mode="after")
    def _required(self) -> Self:
        if self.enabled:
            for key, hint in self.required_when_enabled.items():
                if not is_set(getattr(self, key)):
                    raise ValueError(f"set {key}" + (f" ({hint})" if hint else ""))
        return self


def is_set(value: Any) -> bool:
    """Whether a config value is given: a non-empty string, or a non-empty secret (registered for log masking)."""
    if value is None or isinstance(value, str):
        return bool(value)
    return bool(secret(value))


def secret(value: Any) -> str:
    """The plain value of an optional SecretStr ('' when unset); registered for log masking."""
    if value is None:
        return ""
    plain = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    register_secret(plain)
    return str(plain)


SocialConfigT = TypeVar("SocialConfigT", bound=HttpSourceConfig)
# Reads one stream down to its watermark into (mentions, replies); True: stop the poll here (rate limit).
StreamReader = Callable[[Watermark, dict[str, Mention], dict[str, Reply]], Awaitable[bool | None]]


class HttpConnectorBase(ConnectorBase[SocialConfigT]):
    """GET helper, malformed counter and brand checks shared by the social connectors."""

    rate_limit: ClassVar[RateLimitHeaders | None] = None

    def __init__(
        self,
        name: str,
        config: SocialConfigT,
        brands: Sequence[BrandView],
        session: aiohttp.ClientSession,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.headers: dict[str, str] = {}  # sent with every request; `setup` adds credentials
        super().__init__(name, config, brands, session, clock=clock)

    async def get(
        self,
        url: str | URL,
        params: Sequence[tuple[str, Any]] | Mapping[str, Any] = (),
        *,
        headers: Mapping[str, str] | None = None,
        ok: frozenset[int] = frozenset(),
        expect_json: bool = True,
        method: str = "GET",
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> Response:
        """One request through `connectors._http.request` with this connector's headers and limits."""
        sent = {**self.headers, **(headers or {})}
        return await request(
            self.session, method, url,
            params=list(params.items()) if isinstance(params, Mapping) else list(params),
            headers=sent, json_body=json_body, form=form, basic_auth=basic_auth,
            timeout=self.config.timeout.total_seconds(),
            expect_json=expect_json, rate_limit=self.rate_limit, now=self.clock.now, ok_statuses=ok,
        )

    async def read_marked(self, since: Cursor | None, streams: Sequence[tuple[str, StreamReader]]) -> Page:
        """Read each `(key, reader)` stream down to its watermark (saved under `key`), as one Page.

        A reader returning True ends the poll (a rate limit used up): the streams after it wait for
        the next poll, from the marks they had.
        """
        marks = load_marks(load_cursor(since, source=self.name), (key for key, _ in streams))
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        for key, read in streams:
            if await read(marks[key], mentions, replies):
                break
        cursor = dump_cursor({"v": 1, "streams": dump_marks(marks)})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    def exhausted(self, resp: Response) -> bool:
        """True (and logged) when the response says no calls remain in the rate-limit window."""
        if self.rate_limit is None:
            return False
        wait = self.rate_limit.exhausted_for(resp.headers, self.clock.now())
        if wait is None:
            return False
        logger.info("%s: rate limit used up; pausing until the window resets in %.0fs", self.name, wait)
        return True

    def skip(self, raw: Any, why: str, *keys: str) -> None:
        """Log and count one item that lacks what we need; the run continues."""
        self.malformed += 1
        logger.warning("%s: skipping malformed %s %r: %s", self.name, self.type_name, ident_of(raw, *keys), why)

    def own(self, *names: str | None) -> tuple[str, ...]:
        """Brands whose handles for this source include any of `names` (user name, id, DID...)."""
        found: list[str] = []
        for name in names:
            if name:
                found.extend(b for b in own_brands(name, self.brands) if b not in found)
        return tuple(found)

    def attribute(self, text: str, mentioned: Iterable[str | None] = ()) -> tuple[str, ...]:
        """Brands a text is about: keywords, @-mentions of a brand account, and `attribute_to`."""
        names = set(match_brands(text, self.brands))
        names.update(self.config.attribute_to)
        for account in mentioned:
            if account:
                names.update(own_brands(account, self.brands))
        return tuple(b.name for b in self.brands if b.name in names)


def data_of(resp: Response, what: str) -> Mapping[str, Any]:
    """The decoded body as a JSON object, or MalformedResponseError naming `what`."""
    if not isinstance(resp.data, Mapping):
        raise MalformedResponseError(f"{what} returned {type(resp.data).__name__}, not a JSON object")
    return resp.data


def list_at(data: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> list[Any]:
    """`data[key]` as a list; absent is empty when `optional`, anything else is MalformedResponseError."""
    value = data.get(key)
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise MalformedResponseError(f"{what}: {key!r} is {type(value).__name__}, not a list")
    return value


@dataclass(frozen=True, slots=True)
class ThreadNode:
    """One post of a conversation tree: who wrote it, when, and what it answers."""

    id: str
    parent: str | None
    created_at: datetime
    own: bool
    item: Any = None


def brand_answers(mention_ids: Iterable[str], nodes: Sequence[ThreadNode]) -> dict[str, ThreadNode]:
    """For each mention id, the brand post that answers it, if any.

    A direct answer (parent is the mention) wins; otherwise the brand's earliest post further
    down the mention's sub-thread counts (e.g. an answer to the customer's follow-up).
    """
    parents = {n.id: n.parent for n in nodes}
    found: dict[str, ThreadNode] = {}
    for mention_id in mention_ids:
        best: tuple[bool, datetime, ThreadNode] | None = None
        for node in nodes:
            if not node.own or node.id == mention_id or not _descends(node.id, mention_id, parents):
                continue
            key = (node.parent != mention_id, node.created_at, node)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is not None:
            found[mention_id] = best[2]
    return found


def _descends(node: str, ancestor: str, parents: Mapping[str, str | None]) -> bool:
    seen: set[str] = set()
    current = parents.get(node)
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = parents.get(current)
    return False
