"""YouTube Data API v3 commentThreads: comments on a channel or videos, and the channel's answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, model_validator

from config.types import Duration
from connectors._http import Response
from connectors._parse import MalformedItemError, mapping_of, required_id, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, data_of, list_at, secret
from connectors._watermark import Watermark
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError, SourceError, TransientSourceError

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")  # the daily quota resets at midnight Pacific time
_QUOTA = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_RATE = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Only these 403/404 reasons concern one video or channel; any other 403 (notably `forbidden`,
# "insufficient permissions") is about our credentials and must not leave the source looking up.
_SKIP = frozenset({"commentsDisabled", "videoNotFound", "channelNotFound"})
_BAD_KEY = frozenset({"keyInvalid", "keyExpired", "accessNotConfigured", "ipRefererBlocked"})


class YouTubeConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "youtube"."""

    type: str = "youtube"
    base_url: str = Field(default="https://www.googleapis.com/youtube/v3", description="Data API v3 root.")
    api_key: SecretStr | None = Field(default=None, description="API key for public comments; ${YOUTUBE_API_KEY}.")
    access_token: SecretStr | None = Field(default=None, description="OAuth bearer token instead of a key.")
    channel_id: str | None = Field(default=None, description="Every thread on this channel's videos.")
    video_ids: tuple[str, ...] = Field(default=(), description="Threads of these videos.")
    search_terms: str | None = Field(default=None, description="Only threads containing these words.")
    max_results: int = Field(default=100, ge=1, le=100, description="Page size (1-100).")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late comments.")
    thread_checks: int = Field(default=50, ge=0, le=1000, description="Open mentions looked up per reply sweep.")


    @model_validator(mode="after")
    def _credentials_and_target(self) -> YouTubeConfig:
        # Checked only when enabled, so a disabled example table with an unset ${VAR} still loads.
        if self.enabled and not secret(self.api_key) and not secret(self.access_token):
            raise ValueError("set api_key (or access_token)")
        if not self.channel_id and not self.video_ids:
            raise ValueError("set channel_id or video_ids")
        return self


def _snippet(comment: Any) -> Mapping[str, Any]:
    snippet = comment.get("snippet") if isinstance(comment, Mapping) else None
    if not isinstance(snippet, Mapping):
        raise MalformedItemError("comment has no snippet")
    return snippet


def channel_of(comment: Mapping[str, Any]) -> str | None:
    """The author's channel id (`snippet.authorChannelId.value`)."""
    ref = _snippet(comment).get("authorChannelId")
    return text_id(ref.get("value")) if isinstance(ref, Mapping) else None


def _text(snippet: Mapping[str, Any]) -> str:
    return str(snippet.get("textOriginal") or snippet.get("textDisplay") or "")


def comment_url(snippet: Mapping[str, Any], ident: str) -> str:
    """`https://www.youtube.com/watch?v=<video>&lc=<comment>` (a web convention)."""
    video = text_id(snippet.get("videoId"))
    return f"https://www.youtube.com/watch?v={video}&lc={ident}" if video else ""


def to_mention(comment: Mapping[str, Any], *, thread_id: str, source: str, brands: tuple[str, ...]) -> Mention:
    """Map a Comment (top-level or reply) to a Mention; replies point at their thread."""
    ident = required_id(comment, "id", "comment")
    snippet = _snippet(comment)
    created = required_time(snippet.get("publishedAt"), "publishedAt")
    updated = snippet.get("updatedAt")
    edited = required_time(updated, "updatedAt") if updated and updated != snippet.get("publishedAt") else None
    author = text_id(snippet.get("authorDisplayName")) or channel_of(comment)
    if not author:
        raise MalformedItemError("comment has no author")
    return Mention(
        source=source, external_id=ident, text=_text(snippet), author=author, created_at=created,
        url=comment_url(snippet, ident), in_reply_to=text_id(snippet.get("parentId")),
        conversation_id=thread_id, brands=brands, edited_at=edited if edited and edited > created else None,
        raw=dict(comment),
    )


def to_reply(comment: Mapping[str, Any], *, source: str, in_reply_to: str) -> Reply:
    """Map the brand channel's reply comment to a Reply."""
    ident = required_id(comment, "id", "comment")
    snippet = _snippet(comment)
    return Reply(
        source=source, external_id=ident, in_reply_to=in_reply_to,
        author=text_id(snippet.get("authorDisplayName")) or channel_of(comment) or "",
        created_at=required_time(snippet.get("publishedAt"), "publishedAt"),
        url=comment_url(snippet, ident), text=_text(snippet),
    )


@dataclass(frozen=True, slots=True)
class _Stream:
    key: str
    params: tuple[tuple[str, str], ...]


class YouTubeConnector(HttpConnectorBase[YouTubeConfig]):
    """Polls commentThreads (order=time) down to the last mark; see docs/sources-social.md."""

    type_name: ClassVar[str] = "youtube"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "comments and replies on the channel's or the listed videos", "the channel's replies",
        "edits made before a comment was read",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "comments on other channels' videos", "comments held for review (needs the owner's OAuth)",
        "edits and deletions after a comment was read", "the comment's language", "community posts and live chat",
    )

    def setup(self) -> None:
        """Credentials and the channel / video streams to poll."""
        self._auth: list[tuple[str, str]] = []
        if secret(self.config.access_token):
            self.headers["Authorization"] = f"Bearer {secret(self.config.access_token)}"
        else:
            self._auth = [("key", secret(self.config.api_key))]
        common = [("part", "snippet,replies"), ("order", "time"), ("textFormat", "plainText"),
                  ("maxResults", str(self.config.max_results))]
        if self.config.search_terms:
            common.append(("searchTerms", self.config.search_terms))
        self.streams = []
        if self.config.channel_id:
            self.streams.append(_Stream(f"channel:{self.config.channel_id}",
                                        (("allThreadsRelatedToChannelId", self.config.channel_id), *common)))
        self.streams += [_Stream(f"video:{v}", (("videoId", v), *common)) for v in dict.fromkeys(self.config.video_ids)]

    def _brand_of(self, comment: Mapping[str, Any]) -> tuple[str, ...]:
        snippet = _snippet(comment)
        return self.own(channel_of(comment), text_id(snippet.get("authorDisplayName")))

    async def _call(self, path: str, params: Sequence[tuple[str, str]]) -> Response | None:
        """GET with YouTube's error reasons mapped; None when this target is to be skipped."""
        resp = await self.get(self.config.base_url + path, [*params, *self._auth], ok=frozenset({400, 403, 404}))
        if resp.status == 200:
            return resp
        reason, message, infos = _reason(resp)
        what = f"{self.name}: {path}: HTTP {resp.status} {reason}"
        if reason in _QUOTA:
            raise TransientSourceError(f"{what} (daily quota used up)", retry_after=self._until_pacific_midnight())
        if reason in _RATE:
            raise TransientSourceError(f"{what} (per-minute limit)", retry_after=60.0)
        if _credentials_refused(resp.status, reason, message, infos):
            raise SourceAuthError(f"{what}: {message}")
        if reason in _SKIP or resp.status == 404:
            logger.warning("%s: skipped (%s)", what, message or reason)
            return None
        raise SourceError(f"{what}: {message}")

    def _until_pacific_midnight(self) -> float:
        now = self.clock.now().astimezone(PACIFIC)
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
        return (midnight - now).total_seconds()

    async def poll(self, since: Cursor | None) -> Page:
        """Read each target's threads newest-first down to its mark (first run: the newest page only)."""
        return await self.read_marked(since, [(s.key, partial(self._poll_stream, s)) for s in self.streams])

    async def _poll_stream(self, stream: _Stream, mark: Watermark, mentions: dict[str, Mention],
                           replies: dict[str, Reply]) -> None:
        overlap, first_run, token, started = self.config.overlap, mark.fresh, None, self.clock.now()
        taken: list[tuple[str, datetime]] = []
        try:
            for _ in range(self.config.max_pages):
                page = (("pageToken", token),) if token else ()
                resp = await self._call("/commentThreads", [*stream.params, *page])
                if resp is None:
                    return
                data = data_of(resp, f"{self.name}: commentThreads")
                times = [t for t in (self._thread(item, mark, mentions, replies, taken)
                                     for item in list_at(data, "items", f"{self.name}: commentThreads")) if t]
                token = text_id(data.get("nextPageToken"))
                if first_run or not token or (times and mark.reached(min(times), overlap)):
                    return
        finally:
            mark.advance(taken, overlap, started=started)

    def _thread(self, item: Any, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
                taken: list[tuple[str, datetime]]) -> datetime | None:
        """Take a thread's new comments; brand replies in it become Replies. Returns its time."""
        try:
            thread_id = required_id(item, "id", "thread") if isinstance(item, Mapping) else None
            snippet = item.get("snippet") if isinstance(item, Mapping) else None
            top = snippet.get("topLevelComment") if isinstance(snippet, Mapping) else None
            if thread_id is None or not isinstance(top, Mapping):
                raise MalformedItemError("thread has no id or topLevelComment")
            when = required_time(_snippet(top).get("publishedAt"), "publishedAt")
            comments = [(top, None)] + [(c, thread_id) for c in _inline_replies(item)]
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self.skip(item, why_skipped(err))
            return None
        top_is_brand = False
        for comment, parent in comments:
            try:
                ident = required_id(comment, "id", "comment")
                published = required_time(_snippet(comment).get("publishedAt"), "publishedAt")
                if self._brand_of(comment):
                    top_is_brand = top_is_brand or parent is None
                    if parent is not None and not top_is_brand:
                        reply = to_reply(comment, source=self.name, in_reply_to=thread_id)
                        replies[reply.external_id] = reply
                    continue
                if not mark.is_new(ident, published, self.config.overlap):
                    continue
                brands = self.attribute(_text(_snippet(comment)))
                mention = to_mention(comment, thread_id=thread_id, source=self.name, brands=brands)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(comment, why_skipped(err))
                continue
            mentions[mention.external_id] = mention
            taken.append((ident, published))
        return when

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Look up open mentions' threads (50 ids a call) and their replies for the channel's answer."""
        waiting = list(to)[: self.config.thread_checks]
        threads: dict[str, list[Mention]] = {}
        for mention in waiting:
            threads.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        ids = list(threads)
        found: list[Reply] = []
        for start in range(0, len(ids), 50):
            resp = await self._call("/commentThreads", [("part", "snippet,replies"), ("textFormat", "plainText"),
                                                        ("id", ",".join(ids[start:start + 50]))])
            if resp is None:
                continue
            for item in list_at(data_of(resp, f"{self.name}: commentThreads"), "items", f"{self.name}: commentThreads"):
                if not isinstance(item, Mapping) or text_id(item.get("id")) not in threads:
                    continue
                comments = await self._all_replies(item)
                for mention in threads[str(item["id"])]:
                    reply = self._answer(mention, comments)
                    if reply is not None:
                        found.append(reply)
        return found

    async def _all_replies(self, item: Mapping[str, Any]) -> list[Any]:
        """The thread's replies; fetched with comments.list when commentThreads returned only some."""
        inline = _inline_replies(item)
        snippet = mapping_of(item.get("snippet"))
        total = snippet.get("totalReplyCount")
        if not isinstance(total, int) or total <= len(inline):
            return inline
        comments: list[Any] = []
        token = None
        for _ in range(self.config.max_pages):
            resp = await self._call("/comments", [("part", "snippet"), ("parentId", str(item["id"])),
                                                  ("textFormat", "plainText"), ("maxResults", "100"),
                                                  *((("pageToken", token),) if token else ())])
            if resp is None:
                break
            data = data_of(resp, f"{self.name}: comments")
            comments += list_at(data, "items", f"{self.name}: comments")
            token = text_id(data.get("nextPageToken"))
            if not token:
                break
        return comments

    def _answer(self, mention: Mention, comments: list[Any]) -> Reply | None:
        """The channel's earliest reply after the mention (threads are flat: one level of replies)."""
        best: Reply | None = None
        for comment in comments:
            try:
                if not isinstance(comment, Mapping) or not self._brand_of(comment):
                    continue
                reply = to_reply(comment, source=self.name, in_reply_to=mention.external_id)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(comment, why_skipped(err))
                continue
            if reply.created_at > mention.created_at and (best is None or reply.created_at < best.created_at):
                best = reply
        return best


def _inline_replies(thread: Mapping[str, Any]) -> list[Any]:
    """The replies a commentThread carries inline (`replies.comments`); none when that is not a list."""
    replies = thread.get("replies")
    comments = replies.get("comments") if isinstance(replies, Mapping) else None
    return list(comments) if isinstance(comments, list) else []


def _reason(resp: Response) -> tuple[str, str, frozenset[str]]:
    """`error.errors[0].reason`, `error.message` and the `google.rpc.ErrorInfo` reasons of a Google error body."""
    try:
        body = json.loads(resp.body)
    except (ValueError, RecursionError):
        return "", "", frozenset()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", frozenset()
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    details = error.get("details")
    infos = frozenset(str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason")) \
        if isinstance(details, list) else frozenset()
    return str(first.get("reason") or ""), str(error.get("message") or ""), infos


def _credentials_refused(status: int, reason: str, message: str, infos: frozenset[str]) -> bool:
    """Whether an error means our key or token is wrong, not this video or request.

    Google answers a wrong key today with 400 `badRequest` ("API key not valid", ErrorInfo
    `API_KEY_INVALID`); older answers said `keyInvalid`. A token without the permission gets 403
    `forbidden`. Any 403 not about one video or channel is treated the same way.
    """
    if reason in _BAD_KEY or any(i.startswith("API_KEY_") for i in infos):
        return True
    if reason == "badRequest" and "api key" in message.casefold():
        return True
    return status == 403 and reason not in _SKIP
