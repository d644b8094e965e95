"""RSS and Atom feeds (Google Alerts included), fetched conditionally and parsed with feedparser."""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import feedparser
from pydantic import Field, field_validator

from connectors._cursor import dump_cursor, load_cursor, saved_time
from connectors._http import MalformedResponseError
from connectors._parse import MalformedItemError, http_url, mapping_of, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig
from connectors.htmltext import html_to_text
from listener.dedupe import canonical_url
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError, SourceError, TransientSourceError

logger = logging.getLogger(__name__)

ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
MAX_SEEN = 1000  # entry fingerprints remembered per feed


class RssConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "rss"."""

    type: str = "rss"
    feeds: tuple[str, ...] = Field(description="Feed URLs (RSS 2.0, Atom, Google Alerts).")
    unwrap_google_links: bool = Field(default=True, description="Turn google.com/url?url=... links into the real URL.")

    @field_validator("feeds")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one feed URL")
        return tuple(http_url(v) for v in value)


def unwrap(link: str) -> str:
    """The `url=` target of a Google redirect link (Google Alerts); other links unchanged."""
    parts = urlsplit(link)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url") or parse_qs(parts.query).get("q")
        if target and target[0].startswith(("http://", "https://")):
            return target[0]
    return link


def entry_id(entry: Mapping[str, Any]) -> str:
    """The entry's id/guid, else its link, else a hash of title and date; MalformedItemError if none."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    title = str(entry.get("title") or "")
    if not title.strip():
        raise MalformedItemError("entry has no id, link or title")
    stamp = str(entry.get("published") or entry.get("updated") or "")
    return "sha1:" + hashlib.sha1(f"{title}\x1f{stamp}".encode()).hexdigest()


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """`published_parsed`, else `updated_parsed` (feedparser gives UTC struct_time); None if neither."""
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def entry_text(entry: Mapping[str, Any]) -> str:
    """Title and summary (or content) as plain text."""
    title = html_to_text(str(entry.get("title") or ""))
    body = entry.get("summary")
    if not body and entry.get("content"):
        first = entry["content"][0]
        body = first.get("value") if isinstance(first, Mapping) else None
    text = html_to_text(str(body or ""))
    return f"{title}\n\n{text}".strip() if text and text != title else title


def to_mention(entry: Mapping[str, Any], *, feed_url: str, feed_title: str, source: str, brands: tuple[str, ...],
               seen_at: datetime, unwrap_links: bool = True) -> Mention:
    """Map a feedparser entry to a Mention (an undated entry is dated when first seen).

    The mention's id is the article's canonical link when it has one: two feeds of one source
    (two Google Alerts) that list the same article under different entry ids are one post.
    """
    ident = entry_id(entry)
    link = str(entry.get("link") or "")
    url = unwrap(link) if unwrap_links else link
    when = entry_time(entry)
    author = (str(entry.get("author") or "").strip() or urlsplit(url).hostname or feed_title
              or urlsplit(feed_url).hostname or "")
    return Mention(
        source=source, external_id=canonical_url(url) or ident, text=entry_text(entry), author=author,
        created_at=when or seen_at, url=url,
        brands=brands,
        raw={"feed": feed_url, "feed_title": feed_title, "id": ident, "title": entry.get("title"), "link": link,
             "date_missing": when is None},
    )


def _fingerprint(ident: str) -> str:
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


class RssConnector(HttpConnectorBase[RssConfig]):
    """Polls feeds with ETag/Last-Modified and remembers which entries it took; see docs/sources-social.md."""

    type_name: ClassVar[str] = "rss"
    can_see_replies: ClassVar[bool] = False  # feeds carry no answers: clocks stop with `listener ack`
    shows: ClassVar[tuple[str, ...]] = (
        "entries in the feeds (news, blogs, Google Alerts)", "the article's link, title and summary",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "the brand's replies (use `listener ack`)", "entries that left the feed between polls",
        "comments under the articles", "the author, often",
    )

    async def poll(self, since: Cursor | None) -> Page:
        """Fetch every feed; one failing feed is logged and retried next poll, unless all fail.

        A feed that answered 429 (or 503) with `Retry-After` is left alone until then; its
        retry time is kept in its cursor entry (`retry_at`), the other feeds go on.
        """
        state = load_cursor(since, source=self.name)
        saved = mapping_of(state.get("feeds"))
        feeds = {url: saved[url] for url in self.config.feeds if isinstance(saved.get(url), dict)}
        mentions: dict[str, Mention] = {}
        failures: list[SourceError] = []
        now = self.clock.now()
        tried = 0
        for url in dict.fromkeys(self.config.feeds):
            where = urlsplit(url).netloc + urlsplit(url).path
            retry_at = saved_time(feeds.get(url, {}).get("retry_at"))
            if retry_at is not None and retry_at > now:
                logger.info("%s: feed %s is rate limited until %s; not asked this poll", self.name, where, retry_at)
                continue
            previous = {k: v for k, v in feeds.get(url, {}).items() if k != "retry_at"}
            tried += 1
            try:
                feeds[url] = await self._poll_feed(url, previous, mentions)
            except SourceError as err:
                logger.warning("%s: feed %s failed: %s", self.name, where, err)
                failures.append(err)
                if isinstance(err, TransientSourceError) and err.retry_after:
                    feeds[url] = {**previous, "retry_at": (now + timedelta(seconds=err.retry_after)).isoformat()}
        if failures and len(failures) == tried:
            # Every feed failed: report the worst (credentials first) so the source shows as down.
            raise next((f for f in failures if isinstance(f, SourceAuthError)), failures[0])
        return Page(mentions=list(mentions.values()), cursor=dump_cursor({"v": 1, "feeds": feeds}))

    async def _poll_feed(self, url: str, state: Mapping[str, Any], mentions: dict[str, Mention]) -> dict[str, Any]:
        headers = {"Accept": ACCEPT}
        if isinstance(state.get("etag"), str):
            headers["If-None-Match"] = state["etag"]
        if isinstance(state.get("modified"), str):
            headers["If-Modified-Since"] = state["modified"]
        resp = await self.get(url, headers=headers, expect_json=False, ok=frozenset({304}))
        if resp.status == 304:
            return dict(state)
        parsed = await asyncio.to_thread(
            feedparser.parse, resp.body, response_headers={"content-type": resp.headers.get("Content-Type", "")}
        )
        if not parsed.get("version") and not parsed.entries:
            raise MalformedResponseError(f"{self.name}: {urlsplit(url).netloc}{urlsplit(url).path} is not an RSS or "
                                         f"Atom feed ({parsed.get('bozo_exception') or 'unknown format'})")
        seen = set(state.get("seen") or ())
        current: list[str] = []
        feed_title = str(parsed.feed.get("title") or "")
        now = self.clock.now()
        for entry in parsed.entries:
            try:
                ident = entry_id(entry)
                mark = _fingerprint(ident)
                current.append(mark)
                if mark in seen:
                    continue
                mention = to_mention(entry, feed_url=url, feed_title=feed_title, source=self.name,
                                     brands=self.attribute(entry_text(entry)), seen_at=now,
                                     unwrap_links=self.config.unwrap_google_links)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip({"id": entry.get("title")}, why_skipped(err))
                continue
            mentions[mention.external_id] = mention
        # Entries that fell out of the feed will not come back; remember the current window only.
        kept = list(dict.fromkeys(current))[:MAX_SEEN]
        result: dict[str, Any] = {"seen": kept}
        if resp.headers.get("ETag"):
            result["etag"] = resp.headers["ETag"]
        if resp.headers.get("Last-Modified"):
            result["modified"] = resp.headers["Last-Modified"]
        return result

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Feeds never show the brand's answers."""
        return []
