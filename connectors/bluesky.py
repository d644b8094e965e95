"""Bluesky (AT Protocol): post search, the brand accounts' feeds, and thread walks for replies."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from config.types import Duration
from connectors._http import RateLimitHeaders, Response
from connectors._parse import MalformedItemError, mapping_of, required_id, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, ThreadNode, brand_answers, data_of, list_at, secret
from connectors._watermark import Watermark
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError, SourceError

logger = logging.getLogger(__name__)

BLUESKY_RATE_LIMIT = RateLimitHeaders(remaining="RateLimit-Remaining", reset="RateLimit-Reset")  # reset: epoch s
_EXPIRED = frozenset({"ExpiredToken", "InvalidToken"})


class BlueskyConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "bluesky"."""

    type: str = "bluesky"
    base_url: str = Field(default="https://bsky.social", description="PDS (with login) or public AppView root.")
    auth_url: str | None = Field(default=None, description="Where createSession lives; default: base_url.")
    search: tuple[str, ...] | None = Field(
        default=None, description="Search terms; default: the brands' keywords; [] turns search off."
    )
    identifier: str | None = Field(default=None, description="Login handle or DID; search needs a login.")
    app_password: SecretStr | None = Field(default=None, description="App password; ${BLUESKY_APP_PASSWORD}.")
    lang: str | None = Field(default=None, description="Only posts in this language (searchPosts `lang`).")
    brand_feeds: bool = Field(default=True, description="Read the brand accounts' feeds for their replies.")
    limit: int = Field(default=100, ge=1, le=100, description="Page size (1-100).")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late-indexed posts.")
    thread_checks: int = Field(default=20, ge=0, le=1000, description="Open mentions' threads fetched per reply sweep.")


    @field_validator("identifier")
    @classmethod
    def _login_needed(cls, value: str | None, info: ValidationInfo) -> str | None:
        # searchPosts answers 403 without a login. Brand feeds alone (search = []) and a disabled
        # table (the example's) need none; `search` is declared first so it is known here.
        searching = info.data.get("search", None) != ()
        if info.data.get("enabled", True) and searching and not (value or "").strip():
            raise ValueError(
                'required: searchPosts needs a login (set identifier and app_password = "${BLUESKY_APP_PASSWORD}", '
                "or search = [] to read only the brand feeds)"
            )
        return value

    @field_validator("app_password")
    @classmethod
    def _password_set(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("enabled", True) and info.data.get("identifier") and not secret(value).strip():
            raise ValueError(
                "must not be empty: identifier and app_password go together (put ${BLUESKY_APP_PASSWORD} here)"
            )
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> BlueskyConfig:
        if bool(self.identifier) != bool(secret(self.app_password)):
            raise ValueError("identifier and app_password go together")
        return self


def rkey(uri: str) -> str:
    """The record key: last path segment of an at:// URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def sort_at(post: Mapping[str, Any]) -> datetime:
    """`min(createdAt, indexedAt)`: createdAt is client-declared and may lie in the future."""
    record = mapping_of(post.get("record"))
    indexed = required_time(post.get("indexedAt"), "indexedAt")
    try:
        created = required_time(record.get("createdAt"), "record.createdAt")
    except MalformedItemError:
        return indexed
    return min(created, indexed)


def _author(post: Mapping[str, Any]) -> Mapping[str, Any]:
    author = post.get("author")
    if not isinstance(author, Mapping) or not text_id(author.get("handle")) or not text_id(author.get("did")):
        raise MalformedItemError("post has no author handle/did")
    return author


def _reply_ref(record: Mapping[str, Any], which: str) -> str | None:
    reply = record.get("reply")
    ref = reply.get(which) if isinstance(reply, Mapping) else None
    return text_id(ref.get("uri")) if isinstance(ref, Mapping) else None


def mentioned_dids(record: Mapping[str, Any]) -> list[str]:
    """DIDs @-mentioned in the post (rich-text facets)."""
    found = []
    for facet in record.get("facets") or ():
        for feature in facet.get("features") or () if isinstance(facet, Mapping) else ():
            if isinstance(feature, Mapping) and str(feature.get("$type", "")).endswith("#mention"):
                found.append(str(feature.get("did") or ""))
    return found


def post_url(post: Mapping[str, Any]) -> str:
    """`https://bsky.app/profile/<handle>/post/<rkey>` (the web app's convention)."""
    return f"https://bsky.app/profile/{_author(post)['handle']}/post/{rkey(str(post.get('uri')))}"


def to_mention(post: Mapping[str, Any], *, source: str, brands: tuple[str, ...]) -> Mention:
    """Map a postView to a Mention whose id is its at:// URI."""
    uri = required_id(post, "uri", "post")
    author = _author(post)
    record = mapping_of(post.get("record"))
    langs = record.get("langs")
    return Mention(
        source=source, external_id=uri, text=str(record.get("text") or ""), author="@" + str(author["handle"]),
        created_at=sort_at(post), url=post_url(post), author_name=str(author.get("displayName") or ""),
        lang=str(langs[0]) if isinstance(langs, list) and langs else None,
        in_reply_to=_reply_ref(record, "parent"), conversation_id=_reply_ref(record, "root") or uri,
        brands=brands, raw=dict(post),
    )


def to_reply(post: Mapping[str, Any], *, source: str, in_reply_to: str | None = None) -> Reply:
    """Map a brand account's post to a Reply to its `record.reply.parent` (or to `in_reply_to`)."""
    uri = required_id(post, "uri", "post")
    record = mapping_of(post.get("record"))
    target = in_reply_to or _reply_ref(record, "parent")
    if not target:
        raise MalformedItemError("post answers nothing")
    return Reply(source=source, external_id=uri, in_reply_to=target, author="@" + str(_author(post)["handle"]),
                 created_at=sort_at(post), url=post_url(post), text=str(record.get("text") or ""))


@dataclass(frozen=True, slots=True)
class _Stream:
    key: str
    method: str
    params: tuple[tuple[str, str], ...]


class BlueskyConnector(HttpConnectorBase[BlueskyConfig]):
    """Polls searchPosts (and brand feeds) newest-first down to the last mark; see docs/sources-social.md."""

    type_name: ClassVar[str] = "bluesky"
    rate_limit: ClassVar[RateLimitHeaders | None] = BLUESKY_RATE_LIMIT
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "public posts matching a search (needs a login)", "posts that mention a brand account",
        "the brand's replies (thread)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "search without a login (the public AppView refuses it)", "direct messages (chat)",
        "deletions after a post was read", "replies hidden by a threadgate or block",
    )

    def setup(self) -> None:
        """Search and brand-feed streams from the config (the login happens on the first poll)."""
        self._access: str | None = None
        self._refresh: str | None = None
        cfg, limit = self.config, str(self.config.limit)
        terms = cfg.search if cfg.search is not None else tuple(k for b in self.brands for k in b.keywords)
        extra = (("lang", cfg.lang),) if cfg.lang else ()
        self.streams = [_Stream(f"search:{t}", "app.bsky.feed.searchPosts",
                                (("q", t), ("sort", "latest"), ("limit", limit), *extra)) for t in dict.fromkeys(terms)]
        if cfg.brand_feeds:
            actors = dict.fromkeys(h.strip().lstrip("@") for b in self.brands for h in b.handles)
            self.streams += [_Stream(f"feed:{a.casefold()}", "app.bsky.feed.getAuthorFeed",
                                     (("actor", a), ("filter", "posts_with_replies"), ("limit", limit)))
                             for a in actors if a]

    # -- session --------------------------------------------------------------------------

    async def _login(self) -> None:
        cfg = self.config
        url = (cfg.auth_url or cfg.base_url) + "/xrpc/com.atproto.server.createSession"
        resp = await self.get(url, method="POST", json_body={"identifier": cfg.identifier,
                                                               "password": secret(cfg.app_password)},
                              ok=frozenset({400}))
        self._take_session(resp, "createSession")

    async def _renew(self) -> None:
        """Trade the refresh token for a new session (createSession is limited to 300 a day)."""
        url = (self.config.auth_url or self.config.base_url) + "/xrpc/com.atproto.server.refreshSession"
        resp = await self.get(url, method="POST", headers={"Authorization": f"Bearer {self._refresh}"},
                              ok=frozenset({400, 401}))
        if resp.status != 200:
            self._access = self._refresh = None
            await self._login()
            return
        self._take_session(resp, "refreshSession")

    def _take_session(self, resp: Response, what: str) -> None:
        data = resp.data if isinstance(resp.data, Mapping) else {}
        if resp.status != 200 or not text_id(data.get("accessJwt")):
            raise SourceAuthError(f"{self.name}: {what} refused: {data.get('error')}: {data.get('message')}")
        self._access, self._refresh = str(data["accessJwt"]), text_id(data.get("refreshJwt"))
        secret(self._access), secret(self._refresh)

    async def _xrpc(self, method: str, params: Sequence[tuple[str, str]]) -> Response:
        """GET an XRPC method, logging in first and renewing an expired session once."""
        if self.config.identifier and self._access is None:
            await self._login()
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._access}"} if self._access else {}
            resp = await self.get(f"{self.config.base_url}/xrpc/{method}", params, headers=headers,
                                  ok=frozenset({400, 401, 403}))
            if resp.status == 200:
                return resp
            error = self._error(resp)
            if error in _EXPIRED and self._refresh and attempt == 0:
                await self._renew()
                continue
            if resp.status in (401, 403):
                hint = ("" if self.config.identifier
                        else " (public search needs a login: set identifier and app_password)")
                raise SourceAuthError(f"{self.name}: {method}: HTTP {resp.status} {error or ''}{hint}")
            raise SourceError(f"{self.name}: {method}: HTTP {resp.status} {error}")
        raise SourceAuthError(f"{self.name}: {method}: session still expired after renewal")

    @staticmethod
    def _error(resp: Response) -> str:
        try:
            body = json.loads(resp.body)
        except (ValueError, RecursionError):
            return ""  # e.g. the HTML 403 page of the public AppView
        return str(body.get("error") or "") if isinstance(body, dict) else ""

    # -- polling --------------------------------------------------------------------------

    async def poll(self, since: Cursor | None) -> Page:
        """Read every stream newest-first down to its mark (first run: the newest page only)."""
        return await self.read_marked(since, [(s.key, partial(self._poll_stream, s)) for s in self.streams])

    async def _poll_stream(self, stream: _Stream, mark: Watermark, mentions: dict[str, Mention],
                           replies: dict[str, Reply]) -> bool:
        overlap, first_run, page_cursor, started = self.config.overlap, mark.fresh, None, self.clock.now()
        params = list(stream.params)
        floor = mark.floor(overlap)
        if floor is not None and stream.method.endswith("searchPosts"):
            params.append(("since", floor.strftime("%Y-%m-%dT%H:%M:%S.000Z")))
        taken: list[tuple[str, datetime]] = []
        try:
            for _ in range(self.config.max_pages):
                resp = await self._xrpc(stream.method, [*params, *((("cursor", page_cursor),) if page_cursor else ())])
                data = data_of(resp, f"{self.name}: {stream.method}")
                if stream.method.endswith("getAuthorFeed"):
                    posts = [i.get("post") if isinstance(i, Mapping) and not i.get("reason") else None
                             for i in list_at(data, "feed", f"{self.name}: getAuthorFeed")]
                    posts = [p for p in posts if p is not None]  # reposts (with a reason) are not the brand's words
                else:
                    posts = list_at(data, "posts", f"{self.name}: searchPosts")
                times = [t for t in (self._take(p, mark, mentions, replies, taken) for p in posts) if t is not None]
                if self.exhausted(resp):
                    return True
                page_cursor = text_id(data.get("cursor"))
                if first_run or not page_cursor or not posts or (times and mark.reached(min(times), overlap)):
                    return False
            return False
        finally:
            mark.advance(taken, overlap, started=started)

    def _take(self, post: Any, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
              taken: list[tuple[str, datetime]]) -> datetime | None:
        if not isinstance(post, Mapping):
            self.skip(post, "post is not an object")
            return None
        try:
            uri, when, author = required_id(post, "uri", "post"), sort_at(post), _author(post)
            if not mark.is_new(uri, when, self.config.overlap):
                return when
            record = mapping_of(post.get("record"))
            if self.own("@" + str(author["handle"]), str(author["did"])):
                if _reply_ref(record, "parent"):
                    reply = to_reply(post, source=self.name)
                    replies[reply.external_id] = reply
            else:
                brands = self.attribute(str(record.get("text") or ""), mentioned_dids(record))
                mention = to_mention(post, source=self.name, brands=brands)
                mentions[mention.external_id] = mention
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self.skip(post, why_skipped(err), "uri")
            return None
        taken.append((uri, when))
        return when

    # -- replies --------------------------------------------------------------------------

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Walk each open mention's thread (`getPostThread`) for a brand account's answer."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.thread_checks]:
            try:
                resp = await self._xrpc("app.bsky.feed.getPostThread",
                                        (("uri", mention.external_id), ("depth", "10"), ("parentHeight", "0")))
            except SourceError as err:
                if isinstance(err, SourceAuthError) or "NotFound" not in str(err):
                    raise
                continue  # deleted post
            thread = data_of(resp, f"{self.name}: getPostThread").get("thread")
            nodes = self._flatten(thread)
            answer = brand_answers([mention.external_id], nodes).get(mention.external_id)
            if answer is not None:
                found.append(to_reply(answer.item, source=self.name, in_reply_to=mention.external_id))
        return found

    def _flatten(self, thread: Any) -> list[ThreadNode]:
        nodes: list[ThreadNode] = []
        pending = [thread]
        while pending:
            view = pending.pop()
            post = view.get("post") if isinstance(view, Mapping) else None
            if not isinstance(post, Mapping):
                continue  # notFoundPost / blockedPost
            try:
                record = mapping_of(post.get("record"))
                author = _author(post)
                nodes.append(ThreadNode(required_id(post, "uri", "post"), _reply_ref(record, "parent"), sort_at(post),
                                        bool(self.own("@" + str(author["handle"]), str(author["did"]))), post))
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(post, why_skipped(err), "uri")
            pending.extend(view.get("replies") or ())
        return nodes
