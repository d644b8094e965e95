"""Mastodon: status search, hashtag timelines and mention notifications, with brand replies."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from config.types import Duration
from connectors._cursor import dump_cursor, id_order, load_cursor, newest_id, saved_time
from connectors._http import MASTODON_RATE_LIMIT, MalformedResponseError, Response, request
from connectors._parse import MalformedItemError, optional_time, required_time, why_skipped
from connectors.base import BrandView, ConnectorBase, ConnectorConfig
from connectors.htmltext import html_to_text
from connectors.matching import match_brands, own_brands
from connectors.timeutil import to_utc
from listener.domain import Cursor, Mention, Page, Reply
from listener.redact import register_secret

logger = logging.getLogger(__name__)


class MastodonConfig(ConnectorConfig):
    """[connectors.<name>] with type = "mastodon"."""

    type: str = "mastodon"
    base_url: str = Field(description="Instance root, e.g. https://mastodon.social (or a proxy, or a local fake).",
                          examples=["https://mastodon.social"])
    access_token: SecretStr | None = Field(default=None, description="User token; put ${MASTODON_TOKEN} here.")
    instance_domain: str | None = Field(
        default=None, description="Domain of local accounts; defaults to the host of base_url."
    )
    hashtags: tuple[str, ...] = Field(default=(), description="Hashtag timelines to follow (without '#').")
    search: tuple[str, ...] | None = Field(default=None, description="Search terms; default: the brands' keywords.")
    notifications: bool = Field(default=False, description="Poll mention notifications (needs access_token).")
    limit: int = Field(default=40, ge=1, le=40, description="Page size (Mastodon caps it at 40).")
    max_pages: int = Field(default=5, ge=1, le=100, description="Pages per stream and poll when catching up.")
    context_checks: int = Field(default=40, ge=0, le=1000, description="Open mentions checked per reply sweep.")
    timeout: Duration = Field(default=timedelta(seconds=30), description="Limit for one request, body included.")


    @field_validator("hashtags")
    @classmethod
    def _bare_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        tags = tuple(t.strip().lstrip("#") for t in value)
        if any(not t for t in tags):
            raise ValueError("hashtags must not be blank")
        return tags

    @model_validator(mode="after")
    def _token_for_notifications(self) -> MastodonConfig:
        token = self.access_token.get_secret_value() if self.access_token else ""
        if self.notifications and not token:
            raise ValueError("notifications = true needs access_token (scope read:notifications)")
        return self

    @property
    def home_domain(self) -> str:
        """The domain that bare account names (`acct` without @domain) belong to."""
        return (self.instance_domain or urlsplit(self.base_url).hostname or "").lower()


def _status_id(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise MalformedItemError("status has no id")
    return str(value)


def _account(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    account = raw.get("account")
    if not isinstance(account, Mapping) or not isinstance(account.get("acct"), str) or not account["acct"]:
        raise MalformedItemError("status has no account.acct")
    return account


def status_text(raw: Mapping[str, Any]) -> str:
    """Plain text of a status: its content warning (if any), then its content."""
    content = raw.get("content")
    text = html_to_text(content) if isinstance(content, str) else ""
    spoiler = raw.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"{spoiler.strip()}\n\n{text}" if text else spoiler.strip()
    return text


def author_of(raw: Mapping[str, Any]) -> str:
    """`@acct` of a status's author (`@user` for local accounts, `@user@domain` for remote)."""
    return "@" + str(_account(raw)["acct"]).lstrip("@")


def _created_at(raw: Mapping[str, Any]) -> datetime:
    return required_time(raw.get("created_at"))


def _oldest_id(items: Sequence[Mapping[str, Any]]) -> str | None:
    ids = [i for i in (_optional_str(item.get("id")) for item in items) if i]
    return min(ids, key=id_order) if ids else None


def _reached(items: Sequence[Mapping[str, Any]], start: datetime) -> bool:
    """Whether a newest-first page has come down to a time at or before `start`."""
    for item in items:
        try:
            if to_utc(item.get("created_at")) <= start:
                return True
        except (ValueError, TypeError):
            continue
    return False


def _optional_str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def to_mention(
    raw: Mapping[str, Any], *, source: str, brands: Sequence[BrandView], home: str | None = None
) -> Mention:
    """Map a Mastodon Status to a Mention; raises MalformedItemError when it lacks what we need."""
    account = _account(raw)
    text = status_text(raw)
    mentioned = [m.get("acct", "") for m in raw.get("mentions") or () if isinstance(m, Mapping)]
    attributed = set(match_brands(text, brands))
    # A status that @-mentions a brand's own account is about that brand, whatever its words.
    for acct in mentioned:
        if isinstance(acct, str) and acct:
            attributed.update(own_brands(acct, brands, home=home))
    followers = account.get("followers_count")
    return Mention(
        source=source,
        external_id=_status_id(raw),
        text=text,
        author=author_of(raw),
        created_at=_created_at(raw),
        url=_optional_str(raw.get("url")) or _optional_str(raw.get("uri")) or "",
        author_name=str(account.get("display_name") or ""),
        author_followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        lang=_optional_str(raw.get("language")),
        in_reply_to=_optional_str(raw.get("in_reply_to_id")),
        brands=tuple(b.name for b in brands if b.name in attributed),
        edited_at=_edited_at(raw),
        raw=dict(raw),
    )


def _edited_at(raw: Mapping[str, Any]) -> datetime | None:
    """When the author last edited the status (null when never); unreadable values are ignored."""
    return optional_time(raw.get("edited_at") or None)


def to_reply(raw: Mapping[str, Any], *, source: str, in_reply_to: str | None = None) -> Reply:
    """Map a brand's own status to a Reply (to `in_reply_to`, default its `in_reply_to_id`)."""
    target = in_reply_to or _optional_str(raw.get("in_reply_to_id"))
    if not target:
        raise MalformedItemError("status answers nothing (no in_reply_to_id)")
    return Reply(
        source=source,
        external_id=_status_id(raw),
        in_reply_to=target,
        author=author_of(raw),
        created_at=_created_at(raw),
        url=_optional_str(raw.get("url")) or _optional_str(raw.get("uri")) or "",
        text=status_text(raw),
    )


@dataclass(frozen=True, slots=True)
class _Stream:
    """One paged endpoint with its own position in the cursor."""

    key: str
    path: str
    params: tuple[tuple[str, str], ...]
    kind: str  # "search", "tag" or "notifications"


class MastodonConnector(ConnectorBase[MastodonConfig]):
    """Polls one Mastodon-compatible server; see docs/connectors.md."""

    type_name: ClassVar[str] = "mastodon"
    shows: ClassVar[tuple[str, ...]] = (
        "indexable public statuses matching a search", "hashtag timelines",
        "mentions of the brand's account, private ones included (notifications)",
        "the brand's replies (thread context)", "edits made before a status was read",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "non-indexable posts in search (full-text search is not a firehose)",
        "other instances' posts the instance never received", "edits and deletions after a status was read",
        "mentions held back by the account's notification filters",
    )

    def setup(self) -> None:
        """Home domain, bearer header and the streams to poll."""
        self.home = self.config.home_domain
        self._headers: dict[str, str] = {}
        if self.config.access_token and self.config.access_token.get_secret_value():
            register_secret(self.config.access_token.get_secret_value())
            self._headers["Authorization"] = f"Bearer {self.config.access_token.get_secret_value()}"
        self.streams = self._streams()

    def _streams(self) -> list[_Stream]:
        cfg, limit = self.config, str(self.config.limit)
        terms = cfg.search if cfg.search is not None else tuple(k for b in self.brands for k in b.keywords)
        streams = [
            _Stream(f"search:{term}", "/api/v2/search",
                    (("q", term), ("type", "statuses"), ("resolve", "false"), ("limit", limit)), "search")
            for term in dict.fromkeys(terms)  # unique, in order
        ]
        streams += [
            _Stream(f"tag:{tag.lower()}", f"/api/v1/timelines/tag/{quote(tag, safe='')}", (("limit", limit),), "tag")
            for tag in dict.fromkeys(cfg.hashtags)
        ]
        if cfg.notifications:
            streams.append(
                _Stream("notifications", "/api/v1/notifications", (("types[]", "mention"), ("limit", limit)),
                        "notifications")
            )
        return streams

    async def _get(
        self, path: str, params: Sequence[tuple[str, str]] = (), *, ok: frozenset[int] = frozenset()
    ) -> Response:
        return await request(
            self.session, "GET", self.config.base_url + path,
            params=list(params), headers=self._headers, timeout=self.config.timeout.total_seconds(),
            rate_limit=MASTODON_RATE_LIMIT, now=self.clock.now, ok_statuses=ok,
        )

    async def poll(self, since: Cursor | None) -> Page:
        """Fetch what is new on every stream since the cursor (first run: the newest page only)."""
        state = load_cursor(since, source=self.name)
        saved = state.get("streams")
        known = {stream.key for stream in self.streams}
        # Positions of streams no longer configured are dropped; a re-added one starts afresh.
        positions = {k: v for k, v in (saved if isinstance(saved, dict) else {}).items()
                     if k in known and isinstance(v, str)}
        saved_starts = state.get("starts")
        starts = {k: v for k, v in (saved_starts if isinstance(saved_starts, dict) else {}).items()
                  if k in known and k not in positions and saved_time(v) is not None}
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        for stream in self.streams:
            started = self.clock.now()
            exhausted = await self._poll_stream(stream, positions, saved_time(starts.get(stream.key)),
                                                mentions, replies)
            if stream.key in positions:
                starts.pop(stream.key, None)
            else:
                # Empty at its first poll: remember when, so the next poll reads everything since.
                starts.setdefault(stream.key, started.isoformat())
            if exhausted:
                break
        cursor = dump_cursor({"v": 1, "streams": positions, **({"starts": starts} if starts else {})})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    async def _poll_stream(
        self, stream: _Stream, positions: dict[str, str], start: datetime | None,
        mentions: dict[str, Mention], replies: dict[str, Reply],
    ) -> bool:
        """Page through one stream; True when the rate-limit window is used up.

        With a position, pages forward from it (`min_id`); a stream that was empty at its first
        poll (`start`) is read newest first (`max_id`) down to that time instead.
        """
        if stream.key in positions:
            start = None
        first_run = stream.key not in positions and start is None
        older_than: str | None = None
        for _ in range(self.config.max_pages):
            params = list(stream.params)
            if start is not None and older_than is not None:
                params.append(("max_id", older_than))
            elif start is None and stream.key in positions:
                # min_id pages forward from our position without gaps; since_id would skip items.
                params.append(("min_id", positions[stream.key]))
            resp = await self._get(stream.path, params, ok=frozenset({404}) if stream.kind == "tag" else frozenset())
            if resp.status == 404:  # a hashtag nobody has used yet: nothing to read
                return False
            items = self._items(stream, resp)
            newest = newest_id(_optional_str(item.get("id")) for item in items)
            if newest is not None:
                positions[stream.key] = newest_id([newest], positions.get(stream.key)) or newest
            for item in items:
                self._take(item["status"] if stream.kind == "notifications" else item, mentions, replies)
            wait = MASTODON_RATE_LIMIT.exhausted_for(resp.headers, self.clock.now())
            if wait is not None:
                logger.info("%s: rate limit used up; pausing until the window resets in %.0fs", self.name, wait)
                return True
            if first_run or len(items) < self.config.limit:
                return False  # no backfill on the first run; a short page is the last one
            if start is not None:
                older_than = _oldest_id(items)
                if older_than is None or _reached(items, start):
                    return False
        if start is not None:
            logger.warning("%s: %s: more than %d pages since the stream's quiet start; older ones are skipped",
                           self.name, stream.key, self.config.max_pages)
        return False

    def _items(self, stream: _Stream, resp: Response) -> list[Mapping[str, Any]]:
        """The list of entities in a page, checked for shape; bad entries are skipped with a log line."""
        data = resp.data
        if stream.kind == "search":
            data = data.get("statuses") if isinstance(data, Mapping) else None
        if not isinstance(data, list):
            raise MalformedResponseError(
                f"{self.name}: {stream.path} returned {type(resp.data).__name__}, not the documented shape"
            )
        items = []
        for entry in data:
            if not isinstance(entry, Mapping) or _optional_str(entry.get("id")) is None:
                self._skip(entry, "entry is not an object with an id")
            elif stream.kind == "notifications" and not isinstance(entry.get("status"), Mapping):
                self._skip(entry, "mention notification without a status")
            else:
                items.append(entry)
        return items

    def _take(self, status: Mapping[str, Any], mentions: dict[str, Mention], replies: dict[str, Reply]) -> None:
        """Route one status: brand reply, brand's own post (ignored) or customer mention."""
        reblogged = status.get("reblog")
        boost_id = None
        if isinstance(reblogged, Mapping):  # a boost: the boosted status is the mention
            boost_id = _optional_str(status.get("id"))
            status = reblogged
        try:
            if own_brands(author_of(status), self.brands, home=self.home):
                if _optional_str(status.get("in_reply_to_id")):
                    reply = to_reply(status, source=self.name)
                    replies[reply.external_id] = reply
                return  # the brand's own posts are never customer mentions
            mention = to_mention(status, source=self.name, brands=self.brands, home=self.home)
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self._skip(status, why_skipped(err))
            return
        if boost_id:  # each boost is one more sighting of the same post (reach)
            mention = dataclasses.replace(mention, seen_as=boost_id)
        mentions[mention.sighting_key] = mention

    def _skip(self, entry: Any, why: str) -> None:
        self.malformed += 1
        ident = entry.get("id") if isinstance(entry, Mapping) else None
        logger.warning("%s: skipping malformed status %r: %s", self.name, ident, why)

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Look in each open mention's thread (`/context` descendants) for a brand's reply."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.context_checks]:
            resp = await self._get(f"/api/v1/statuses/{quote(mention.external_id, safe='')}/context",
                                   ok=frozenset({404}))
            if resp.status == 404:  # deleted, or not visible to us any more
                logger.debug("%s: no context for %s (404)", self.name, mention.external_id)
                continue
            descendants = resp.data.get("descendants") if isinstance(resp.data, Mapping) else None
            if not isinstance(descendants, list):
                raise MalformedResponseError(f"{self.name}: status context without a descendants list")
            reply = self._first_brand_reply(mention, descendants)
            if reply is not None:
                found.append(reply)
        return found

    def _first_brand_reply(self, mention: Mention, descendants: list[Any]) -> Reply | None:
        """A direct brand reply if there is one, else the brand's earliest post further down the thread."""
        candidates = []
        for status in descendants:
            if not isinstance(status, Mapping):
                continue
            try:
                if not own_brands(author_of(status), self.brands, home=self.home):
                    continue
                reply = to_reply(status, source=self.name, in_reply_to=mention.external_id)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(status, why_skipped(err))
                continue
            direct = _optional_str(status.get("in_reply_to_id")) == mention.external_id
            candidates.append((not direct, reply.created_at, reply))
        if not candidates:
            return None
        return min(candidates, key=lambda c: (c[0], c[1]))[2]
