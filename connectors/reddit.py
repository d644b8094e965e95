"""Reddit: post search, new comments of subreddits, and the brand accounts' own comments."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator, model_validator

from config.types import Duration
from connectors._http import MalformedResponseError, RateLimitHeaders, Response
from connectors._parse import MalformedItemError, mapping_of, required_id, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, ThreadNode, brand_answers, data_of, list_at, secret
from connectors._watermark import Watermark
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError

logger = logging.getLogger(__name__)

# Reddit's reset header counts seconds until the 10-minute window ends (not an epoch).
REDDIT_RATE_LIMIT = RateLimitHeaders(remaining="x-ratelimit-remaining", reset="x-ratelimit-reset", reset_is_delta=True)
WEB = "https://www.reddit.com"


class RedditConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "reddit"."""

    type: str = "reddit"
    base_url: str | None = Field(
        default=None, description="API root; default https://oauth.reddit.com with credentials, else https://www.reddit.com."
    )
    token_url: str = Field(default=f"{WEB}/api/v1/access_token", description="OAuth token endpoint.")
    client_id: SecretStr | None = Field(default=None, description="OAuth app id; ${REDDIT_CLIENT_ID}.")
    client_secret: SecretStr | None = Field(default=None, description="OAuth app secret; ${REDDIT_CLIENT_SECRET}.")
    username: str | None = Field(default=None, description="Script-app user (password grant); else app-only.")
    password: SecretStr | None = Field(default=None, description="Script-app password; ${REDDIT_PASSWORD}.")
    user_agent: str | None = Field(
        default=None, description="Reddit wants '<platform>:<app>:<version> (by /u/<name>)'."
    )
    search: tuple[str, ...] | None = Field(default=None, description="Search terms; default: the brands' keywords.")
    subreddits: tuple[str, ...] = Field(
        default=(), description="Restrict search to these, and poll their new comments."
    )
    brand_comments: bool = Field(default=True, description="Poll the brand accounts' comments for replies.")
    limit: int = Field(default=100, ge=1, le=100, description="Page size (Reddit caps it at 100).")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late-indexed posts.")
    thread_checks: int = Field(default=20, ge=0, le=1000, description="Open mentions' threads fetched per reply sweep.")


    @field_validator("subreddits")
    @classmethod
    def _bare_subs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        subs = tuple(s.strip().removeprefix("/").removeprefix("r/") for s in value)
        if any(not s for s in subs):
            raise ValueError("subreddit names must not be blank")
        return subs

    @model_validator(mode="after")
    def _pair(self) -> RedditConfig:
        if bool(secret(self.client_id)) != bool(secret(self.client_secret)):
            raise ValueError("client_id and client_secret go together")
        if self.username and not secret(self.password):
            raise ValueError("username needs password (script app)")
        return self

    @property
    def oauth(self) -> bool:
        """Whether requests go through OAuth (100 QPM) rather than the public .json pages (10 QPM)."""
        return bool(secret(self.client_id))

    @property
    def api_root(self) -> str:
        """The base URL in effect."""
        return self.base_url or ("https://oauth.reddit.com" if self.oauth else WEB)


def reddit_name(value: str) -> str:
    """A user name without '/u/', 'u/' or '@', case-folded for comparison."""
    text = value.strip().lstrip("/@")
    return text[2:].casefold() if text.lower().startswith("u/") else text.casefold()


def _text(raw: Mapping[str, Any]) -> str:
    if raw.get("name", "").startswith("t1_") or "body" in raw:
        return str(raw.get("body") or "")
    title, body = str(raw.get("title") or ""), str(raw.get("selftext") or "")
    return f"{title}\n\n{body}".strip()


def _url(raw: Mapping[str, Any]) -> str:
    permalink = text_id(raw.get("permalink"))
    return WEB + permalink if permalink and permalink.startswith("/") else (permalink or "")


def _fullname(raw: Mapping[str, Any], kind: str) -> str:
    name = text_id(raw.get("name"))
    if name:
        return name
    return f"{kind}_{required_id(raw, 'id', 'thing')}"


def to_mention(raw: Mapping[str, Any], *, kind: str, source: str, brands: tuple[str, ...]) -> Mention:
    """Map a post (t3) or comment (t1) to a Mention whose id is its fullname (`t3_…`, `t1_…`)."""
    author = text_id(raw.get("author"))
    if not author:
        raise MalformedItemError("thing has no author")
    edited = raw.get("edited")  # false, or the epoch of the last edit
    was_edited = isinstance(edited, int | float) and not isinstance(edited, bool) and edited
    edited_at = required_time(edited) if was_edited else None
    fullname = _fullname(raw, kind)
    return Mention(
        source=source,
        external_id=fullname,
        text=_text(raw),
        author=f"u/{author}",
        created_at=required_time(raw.get("created_utc"), "created_utc"),
        url=_url(raw),
        in_reply_to=text_id(raw.get("parent_id")),
        conversation_id=text_id(raw.get("link_id")) or fullname,
        brands=brands,
        edited_at=edited_at,
        raw={**raw, "kind": kind},
    )


def to_reply(raw: Mapping[str, Any], *, source: str, in_reply_to: str | None = None) -> Reply:
    """Map a brand account's comment to a Reply to its `parent_id` (or to `in_reply_to`)."""
    target = in_reply_to or text_id(raw.get("parent_id"))
    author = text_id(raw.get("author"))
    if not target or not author:
        raise MalformedItemError("comment has no parent_id or author")
    return Reply(
        source=source,
        external_id=_fullname(raw, "t1"),
        in_reply_to=target,
        author=f"u/{author}",
        created_at=required_time(raw.get("created_utc"), "created_utc"),
        url=_url(raw),
        text=str(raw.get("body") or ""),
    )


@dataclass(frozen=True, slots=True)
class _Stream:
    key: str
    path: str
    params: tuple[tuple[str, str], ...]


class RedditConnector(HttpConnectorBase[RedditConfig]):
    """Polls Reddit listings newest-first down to the last position; see docs/sources-social.md."""

    type_name: ClassVar[str] = "reddit"
    rate_limit: ClassVar[RateLimitHeaders | None] = REDDIT_RATE_LIMIT
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "posts matching a search (last week)", "comments in the configured subreddits",
        "the brand's replies (comment tree)", "edits made before a post was read",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "comments outside the configured subreddits (search finds posts only)", "private messages and modmail",
        "edits and deletions after a post was read", "brand replies deep in collapsed `more` branches",
    )

    def setup(self) -> None:
        """Reddit's own User-Agent, when set, and the streams to poll."""
        if self.config.user_agent:
            self.headers["User-Agent"] = self.config.user_agent
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self.streams = self._streams()

    def own(self, *names: str | None) -> tuple[str, ...]:
        """Brands whose Reddit handles include this user (u/ prefixes and case ignored)."""
        wanted = {reddit_name(n) for n in names if n}
        return tuple(b.name for b in self.brands if any(reddit_name(h) in wanted for h in b.handles))

    def _streams(self) -> list[_Stream]:
        cfg, limit = self.config, str(self.config.limit)
        terms = cfg.search if cfg.search is not None else tuple(k for b in self.brands for k in b.keywords)
        where = f"/r/{'+'.join(cfg.subreddits)}/search" if cfg.subreddits else "/search"
        restrict = "true" if cfg.subreddits else "false"
        streams = [
            _Stream(f"search:{t}", where, (("q", t), ("sort", "new"), ("t", "week"), ("type", "link"),
                                           ("restrict_sr", restrict), ("limit", limit), ("raw_json", "1")))
            for t in dict.fromkeys(terms)
        ]
        streams += [_Stream(f"comments:{s.lower()}", f"/r/{s}/comments", (("limit", limit), ("raw_json", "1")))
                    for s in dict.fromkeys(cfg.subreddits)]
        if cfg.brand_comments:
            handles = dict.fromkeys(reddit_name(h) for b in self.brands for h in b.handles)
            streams += [_Stream(f"user:{h}", f"/user/{quote(h, safe='')}/comments",
                                (("sort", "new"), ("limit", limit), ("raw_json", "1"))) for h in handles if h]
        return streams

    async def _auth_headers(self) -> dict[str, str]:
        """A bearer header, fetching a new token when there is none or it is about to expire."""
        if not self.config.oauth:
            return {}
        now = self.clock.now()
        if self._token is None or self._token_expires is None or now >= self._token_expires:
            cfg = self.config
            form = ({"grant_type": "password", "username": cfg.username, "password": secret(cfg.password)}
                    if cfg.username else {"grant_type": "client_credentials"})
            resp = await self.get(cfg.token_url, method="POST", form=form,
                                  basic_auth=(secret(cfg.client_id), secret(cfg.client_secret)))
            data = resp.data
            # Reddit reports a refused grant as HTTP 200 with an "error" member.
            if not isinstance(data, Mapping) or data.get("error") or not text_id(data.get("access_token")):
                error = data.get("error") if isinstance(data, Mapping) else "no JSON object"
                raise SourceAuthError(f"{self.name}: Reddit refused the token request ({error})")
            self._token = str(data["access_token"])
            secret(self._token)
            lifetime = data.get("expires_in")
            seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
            self._token_expires = now + timedelta(seconds=max(0.0, seconds - 60))  # renew a minute early
        return {"Authorization": f"bearer {self._token}"}

    async def _listing(
        self, path: str, params: Sequence[tuple[str, str]], *, ok: frozenset[int] = frozenset()
    ) -> Response:
        if not self.config.oauth:
            path += ".json"  # the public site serves JSON under .json paths
        retry = frozenset({401}) if self.config.oauth else frozenset()
        resp = await self.get(self.config.api_root + path, params, headers=await self._auth_headers(), ok=ok | retry)
        if resp.status == 401:  # token revoked early: one fresh token, one retry
            self._token = None
            resp = await self.get(self.config.api_root + path, params, headers=await self._auth_headers(), ok=ok)
        return resp

    async def poll(self, since: Cursor | None) -> Page:
        """Fetch what is new on every stream since the cursor (first run: the newest page only)."""
        return await self.read_marked(since, [(s.key, partial(self._poll_stream, s)) for s in self.streams])

    async def _poll_stream(
        self, stream: _Stream, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply]
    ) -> bool:
        """Read one listing newest-first until known ground; True when the rate limit is used up."""
        overlap, first_run, after, started = self.config.overlap, mark.fresh, None, self.clock.now()
        taken: list[tuple[str, datetime]] = []
        try:
            for _ in range(self.config.max_pages):
                params = [*stream.params, *((("after", after),) if after else ())]
                resp = await self._listing(stream.path, params, ok=frozenset({404}))
                if resp.status == 404:
                    logger.warning("%s: %s does not exist (404); skipped", self.name, stream.path)
                    return False
                listing = data_of(resp, f"{self.name}: {stream.path}")
                body = mapping_of(listing.get("data"))
                children = list_at(body, "children", f"{self.name}: {stream.path}")
                oldest: datetime | None = None
                for child in children:
                    when = self._take(child, mark, mentions, replies, taken)
                    if when is not None:
                        oldest = when if oldest is None else min(oldest, when)
                if self.exhausted(resp):
                    return True
                after = text_id(body.get("after"))
                if first_run or not after or not children or (oldest is not None and mark.reached(oldest, overlap)):
                    return False
            logger.info("%s: %s: more than %d pages new; the rest waits for the next poll",
                        self.name, stream.key, self.config.max_pages)
            return False
        finally:
            mark.advance(taken, overlap, started=started)

    def _take(
        self, child: Any, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
        taken: list[tuple[str, datetime]],
    ) -> datetime | None:
        """Route one listing child; returns its time (None when it was unusable)."""
        raw = child.get("data") if isinstance(child, Mapping) else None
        kind = child.get("kind") if isinstance(child, Mapping) else None
        if kind not in ("t1", "t3") or not isinstance(raw, Mapping):
            if kind != "more":
                self.skip(child, "listing child is not a post or comment")
            return None
        try:
            ident = _fullname(raw, kind)
            when = required_time(raw.get("created_utc"), "created_utc")
            if not mark.is_new(ident, when, self.config.overlap):
                return when
            if self.own(text_id(raw.get("author"))):
                if kind == "t1":
                    reply = to_reply(raw, source=self.name)
                    replies[reply.external_id] = reply
            else:
                mention = to_mention(raw, kind=kind, source=self.name, brands=self.attribute(_text(raw)))
                mentions[mention.external_id] = mention
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self.skip(raw, why_skipped(err), "name", "id")
            return None
        taken.append((ident, when))
        return when

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Walk each open mention's comment tree (`/comments/{post}`) for a brand account's answer."""
        by_post: dict[str, list[Mention]] = {}
        for mention in to:
            post = mention.conversation_id or mention.external_id
            if post.startswith("t3_"):
                by_post.setdefault(post, []).append(mention)
        found: list[Reply] = []
        for post, waiting in list(by_post.items())[: self.config.thread_checks]:
            resp = await self._listing(f"/comments/{quote(post[3:], safe='')}",
                                       (("sort", "old"), ("limit", "500"), ("raw_json", "1")), ok=frozenset({404}))
            if resp.status == 404:
                continue
            if not isinstance(resp.data, list) or len(resp.data) < 2:
                raise MalformedResponseError(f"{self.name}: /comments/{post[3:]} is not [post, comments]")
            nodes = self._tree(resp.data[1], post)
            for mention_id, node in brand_answers([m.external_id for m in waiting], nodes).items():
                try:
                    found.append(to_reply(node.item, source=self.name, in_reply_to=mention_id))
                except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                    self.skip(node.item, why_skipped(err), "name")
        return found

    def _tree(self, listing: Any, post: str) -> list[ThreadNode]:
        """Flatten a comment tree (replies are a Listing, or "" when there are none)."""
        nodes: list[ThreadNode] = []
        pending = [listing]
        while pending:
            current = pending.pop()
            data = current.get("data") if isinstance(current, Mapping) else None
            children = data.get("children") if isinstance(data, Mapping) else None
            for child in children if isinstance(children, list) else ():
                raw = child.get("data") if isinstance(child, Mapping) else None
                if not isinstance(child, Mapping) or child.get("kind") != "t1" or not isinstance(raw, Mapping):
                    continue  # "more" stubs: collapsed children we do not expand
                try:
                    nodes.append(ThreadNode(_fullname(raw, "t1"), text_id(raw.get("parent_id")) or post,
                                            required_time(raw.get("created_utc"), "created_utc"),
                                            bool(self.own(text_id(raw.get("author")))), raw))
                except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                    self.skip(raw, why_skipped(err), "name", "id")
                    continue
                pending.append(raw.get("replies"))
        return nodes
