"""LinkedIn Community Management API: comments on the organisation's posts, and the organisation's answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from yarl import URL

from config.types import Duration
from connectors._cursor import dump_cursor, load_cursor
from connectors._http import Response, parse_retry_after
from connectors._meta import BAD_ITEM, why
from connectors._parse import MalformedItemError, mapping_of, required_time, text_id
from connectors._social import HttpConnectorBase, HttpSourceConfig, data_of, list_at, secret
from connectors._watermark import Watermark
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError, SourceError, TransientSourceError

logger = logging.getLogger(__name__)

RATE_LIMIT_WAIT = 3600.0  # LinkedIn sends no reset time with its 429; its daily limits reset at midnight UTC


class LinkedInConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "linkedin"."""

    required_when_enabled: ClassVar[dict[str, str]] = {
        "access_token": "r_organization_social_feed of a Page admin",
        "organization_id": "",
    }

    type: str = "linkedin"
    base_url: str = Field(default="https://api.linkedin.com", description="API root (/rest/... below it).")
    access_token: SecretStr | None = Field(default=None, description="Member OAuth token of a Page admin.")
    organization_id: str = Field(default="", description="The company Page's numeric organization id.")
    linkedin_version: str = Field(
        default="202511", description="LinkedIn-Version header (YYYYMM; one year of support)."
    )
    post_checks: int = Field(default=20, ge=1, le=100, description="Newest posts whose comments are read per poll.")
    count: int = Field(default=50, ge=1, le=100, description="Page size (1-100).")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late comments.")
    reply_checks: int = Field(default=25, ge=0, le=500, description="Open mentions looked up per reply sweep.")


    @field_validator("organization_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        value = value.strip().removeprefix("urn:li:organization:")
        if value and not value.isdigit():
            raise ValueError("must be the numeric organization id (or urn:li:organization:<id>)")
        return value

    @field_validator("linkedin_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not (len(value) in (6, 9) and value[:6].isdigit()):
            raise ValueError("must be YYYYMM (e.g. 202511) or YYYYMM.RR")
        return value



def urn_path(urn: str) -> str:
    """A URN as one path segment: every reserved character percent-encoded (Rest.li 2.0)."""
    return quote(urn, safe="")


def comment_urn(comment: Mapping[str, Any]) -> str:
    """`$URN` / `commentUrn` of a comment (`urn:li:comment:(<activity>,<id>)`), or MalformedItemError."""
    value = text_id(comment.get("$URN")) or text_id(comment.get("commentUrn"))
    if not value:
        raise MalformedItemError("comment has no commentUrn")
    return value


def _text(comment: Mapping[str, Any]) -> str:
    message = comment.get("message")
    return str(message.get("text") or "") if isinstance(message, Mapping) else str(message or "")


def _created(comment: Mapping[str, Any]) -> datetime:
    created = comment.get("created")
    millis = created.get("time") if isinstance(created, Mapping) else None
    if not isinstance(millis, int | float) or isinstance(millis, bool):
        raise MalformedItemError("comment has no created.time")
    return required_time(millis / 1000, "created.time")


class LinkedInConnector(HttpConnectorBase[LinkedInConfig]):
    """Polls comments (and comments on comments) under the organisation's newest posts; see docs/sources-social.md."""

    type_name: ClassVar[str] = "linkedin"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "comments and replies on the organisation's posts", "the organisation's own replies",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "posts elsewhere naming the brand (no search API)", "commenters' names (member URNs only)",
        "@mentions of the Page in others' posts (webhook partners only)", "messages to the Page",
        "comments on posts beyond `post_checks`",
    )


    def setup(self) -> None:
        """The organization URN and the versioned REST headers."""
        self.org = f"urn:li:organization:{self.config.organization_id}"
        self.headers.update({"Authorization": f"Bearer {secret(self.config.access_token)}",
                             "LinkedIn-Version": self.config.linkedin_version, "X-Restli-Protocol-Version": "2.0.0"})

    async def _call(self, path: str, query: str) -> Mapping[str, Any]:
        """GET `/rest<path>?<query>` (already encoded) with LinkedIn's error answers mapped."""
        # Rest.li 2.0 reads ':' ',' '(' ')' as syntax: URNs must stay percent-encoded, so the URL is sent as built.
        url = URL(f"{self.config.base_url}/rest{path}?{query}", encoded=True)
        resp = await self.get(url, ok=frozenset({400, 401, 403, 404, 426, 429}))
        what = f"{self.name}: GET /rest/{path.split('/')[1]}"
        if resp.status == 200:
            return data_of(resp, what)
        code, message = _error(resp)
        detail = f"{what}: HTTP {resp.status} {code}: {message}"
        if resp.status in (401, 403):
            raise SourceAuthError(detail)
        if resp.status == 429:
            wait = parse_retry_after(resp.headers.get("Retry-After"), self.clock.now())
            raise TransientSourceError(f"{detail} (rate limit)", retry_after=wait or RATE_LIMIT_WAIT)
        if resp.status == 426:
            raise SourceError(f"{detail} (linkedin_version {self.config.linkedin_version} is not served; "
                              "set a version from the last twelve months)")
        raise LinkedInError(detail, resp.status)

    async def _elements(self, path: str, query: str, max_pages: int | None = None) -> list[Any]:
        """Every element of a paged collection (`start`/`count`), up to `max_pages` pages."""
        found: list[Any] = []
        start = 0
        for _ in range(max_pages or self.config.max_pages):
            data = await self._call(path, f"{query}&start={start}&count={self.config.count}")
            elements = list_at(data, "elements", f"{self.name}: {path}", optional=True)
            found += elements
            paging = mapping_of(data.get("paging"))
            total = paging.get("total")
            listed = paging.get("links")
            links: list[Any] = listed if isinstance(listed, list) else []
            more = any(isinstance(link, Mapping) and link.get("rel") == "next" for link in links)
            start += len(elements)
            if not elements or (isinstance(total, int) and start >= total) or (total is None and not more
                                                                                and len(elements) < self.config.count):
                break
        return found

    async def poll(self, since: Cursor | None) -> Page:
        """Read comments under the newest `post_checks` posts (with their replies) down to the mark."""
        state = load_cursor(since, source=self.name)
        saved = mapping_of(state.get("streams"))
        mark = Watermark.load(saved.get("comments"))
        posts = await self._call("/posts", f"author={urn_path(self.org)}&q=author&count={self.config.post_checks}"
                                           "&sortBy=CREATED")
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        taken: list[tuple[str, datetime]] = []
        try:
            for post in list_at(posts, "elements", f"{self.name}: posts", optional=True)[: self.config.post_checks]:
                post_urn = text_id(post.get("id")) if isinstance(post, Mapping) else None
                if not post_urn:
                    self.skip(post, "post has no id")
                    continue
                try:
                    await self._post(post_urn, mark, mentions, replies, taken)
                except LinkedInError as err:
                    if err.status != 404:
                        raise
                    logger.info("%s: post %s is gone; skipped", self.name, post_urn)
        finally:
            mark.advance(taken, self.config.overlap, started=self.clock.now())
        cursor = dump_cursor({"v": 1, "streams": {"comments": mark.dump()}})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    async def _post(self, post_urn: str, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
                    taken: list[tuple[str, datetime]]) -> None:
        comments = await self._elements(f"/socialActions/{urn_path(post_urn)}/comments", "sort=CHRONOLOGICAL",
                                        1 if mark.fresh else None)
        for comment in comments:
            urn = self._take(comment, post_urn, None, mark, mentions, replies, taken)
            summary = comment.get("commentsSummary") if isinstance(comment, Mapping) else None
            nested = summary.get("aggregatedTotalComments") or summary.get("totalFirstLevelComments") \
                if isinstance(summary, Mapping) else 0
            if urn and isinstance(nested, int) and nested > 0:
                for answer in await self._elements(f"/socialActions/{urn_path(urn)}/comments", "sort=CHRONOLOGICAL"):
                    self._take(answer, post_urn, urn, mark, mentions, replies, taken)

    def _take(self, comment: Any, post_urn: str, parent: str | None, mark: Watermark, mentions: dict[str, Mention],
              replies: dict[str, Reply], taken: list[tuple[str, datetime]]) -> str | None:
        try:
            if not isinstance(comment, Mapping):
                raise MalformedItemError("comment is not an object")
            urn = comment_urn(comment)
            created = _created(comment)
            actor = text_id(comment.get("actor"))
            if not actor:
                raise MalformedItemError("comment has no actor")
            parent = text_id(comment.get("parentComment")) or parent
            if actor == self.org or self.own(actor):
                if parent:
                    replies[urn] = self._reply(comment, urn, created, actor, parent, post_urn)
                return urn
            if mark.is_new(urn, created, self.config.overlap):
                text = _text(comment)
                mentions[urn] = Mention(
                    source=self.name, external_id=urn, text=text, author=actor, created_at=created,
                    url=comment_url(post_urn, urn), in_reply_to=parent, conversation_id=parent or urn,
                    brands=self.attribute(text), raw={**comment, "post": post_urn, "channel": "public_mention"},
                )
                taken.append((urn, created))
            return urn
        except BAD_ITEM as err:
            self.skip(comment, why(err), "$URN", "id")
            return None

    def _reply(self, comment: Mapping[str, Any], urn: str, created: datetime, actor: str, parent: str,
               post_urn: str) -> Reply:
        return Reply(source=self.name, external_id=urn, in_reply_to=parent, author=actor, created_at=created,
                     url=comment_url(post_urn, urn), text=_text(comment))

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Read open mentions' threads and report the organisation's first answer after each."""
        threads: dict[str, list[Mention]] = {}
        for mention in list(to)[: self.config.reply_checks]:
            threads.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        found: list[Reply] = []
        for thread, waiting in threads.items():
            try:
                answers = await self._elements(f"/socialActions/{urn_path(thread)}/comments", "sort=CHRONOLOGICAL")
            except LinkedInError as err:
                if err.status != 404:
                    raise
                continue
            own: list[Reply] = []
            for comment in answers:
                try:
                    if isinstance(comment, Mapping) and (comment.get("actor") == self.org or self.own(
                            text_id(comment.get("actor")))):
                        post = str((waiting[0].raw or {}).get("post") or "")
                        own.append(self._reply(comment, comment_urn(comment), _created(comment),
                                               str(comment["actor"]), thread, post))
                except BAD_ITEM as err:
                    self.skip(comment, why(err), "$URN", "id")
            for mention in waiting:
                later = [r for r in own if r.created_at > mention.created_at]
                if later:
                    first = min(later, key=lambda r: r.created_at)
                    found.append(Reply(source=self.name, external_id=first.external_id,
                                       in_reply_to=mention.external_id, author=first.author,
                                       created_at=first.created_at, url=first.url, text=first.text))
        return found


class LinkedInError(SourceError):
    """A 4xx LinkedIn answer that is neither auth nor rate limit (the status decides what to skip)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def comment_url(post_urn: str, urn: str) -> str:
    """`https://www.linkedin.com/feed/update/<post>?commentUrn=<comment>` (a web convention): one URL per comment."""
    return f"https://www.linkedin.com/feed/update/{post_urn}?commentUrn={quote(urn, safe='')}"


def _error(resp: Response) -> tuple[str, str]:
    """`code`/`serviceErrorCode` and `message` of a LinkedIn error body."""
    try:
        body = json.loads(resp.body)
    except (ValueError, RecursionError):
        return "", resp.text()[:200]
    if not isinstance(body, dict):
        return "", ""
    code = body.get("code") or body.get("serviceErrorCode") or ""
    return str(code), str(body.get("message") or "")[:300]
