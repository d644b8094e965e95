"""X (Twitter) API v2 recent search: mentions by query, the brand's replies by `from:` search."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from connectors._cursor import dump_cursor, id_order, load_cursor, saved_time
from connectors._http import RateLimitHeaders, Response
from connectors._parse import MalformedItemError, mapping_of, required_id, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, data_of, list_at, secret
from connectors.base import BrandView
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import ConfigError, TransientSourceError

logger = logging.getLogger(__name__)

X_RATE_LIMIT = RateLimitHeaders(remaining="x-rate-limit-remaining", reset="x-rate-limit-reset")  # reset: epoch s
USAGE_CAP_WAIT = 3600.0  # the monthly cap lifts with the billing cycle; look again hourly
MAX_QUERY = 512
_HANDLE = re.compile(r"(?<![\w@])@(\w{1,15})")
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,lang,public_metrics"


class XConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "x"."""

    type: str = "x"
    base_url: str = Field(default="https://api.x.com/2", description="API v2 root.")
    bearer_token: SecretStr = Field(description="App-only bearer token; ${X_BEARER_TOKEN}.")
    query: str | None = Field(default=None, description="Search query; default: brands' keywords and @handles.")
    include_retweets: bool = Field(default=False, description="Keep retweets in the default query.")
    max_results: int = Field(default=100, ge=10, le=100, description="Page size (10-100).")
    brand_replies: bool = Field(default=True, description="Search `from:<handle> is:reply` for the brand's answers.")
    thread_checks: int = Field(default=10, ge=0, le=450, description="Conversations searched per reply sweep.")


    @field_validator("bearer_token")
    @classmethod
    def _token_set(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        # Checked only when enabled, so a disabled example table with an unset ${VAR} still loads.
        if info.data.get("enabled", True) and not value.get_secret_value().strip():
            raise ValueError("must not be empty (put ${X_BEARER_TOKEN} here)")
        return value


def _quote(term: str) -> str:
    term = term.strip()
    return f'"{term}"' if any(c.isspace() for c in term) else term


def default_query(brands: Sequence[BrandView], *, retweets: bool) -> str:
    """`(kw OR "two words" OR @handle) -is:retweet` from the brands' keywords and handles."""
    terms = [_quote(k) for b in brands for k in b.keywords]
    terms += ["@" + h.strip().lstrip("@") for b in brands for h in b.handles]
    query = "(" + " OR ".join(dict.fromkeys(terms)) + ")"
    return query if retweets else query + " -is:retweet"


def replied_to(raw: Mapping[str, Any]) -> str | None:
    """The id this tweet answers (`referenced_tweets[type=replied_to]`)."""
    for ref in raw.get("referenced_tweets") or ():
        if isinstance(ref, Mapping) and ref.get("type") == "replied_to":
            return text_id(ref.get("id"))
    return None


def mentioned_handles(text: str) -> list[str]:
    """The @handles written in a tweet's text (X user names: letters, digits, underscore)."""
    return ["@" + h for h in _HANDLE.findall(text)]


def retweeted(raw: Mapping[str, Any]) -> str | None:
    """The id a retweet repeats (`referenced_tweets[type=retweeted]`)."""
    for ref in raw.get("referenced_tweets") or ():
        if isinstance(ref, Mapping) and ref.get("type") == "retweeted":
            return text_id(ref.get("id"))
    return None


def _by_id(value: Any) -> dict[str, Mapping[str, Any]]:
    """An `includes` list (users, tweets) by id; anything that is not a list of objects is empty."""
    if not isinstance(value, list):
        return {}
    return {str(item["id"]): item for item in value if isinstance(item, Mapping) and text_id(item.get("id"))}


def _user(raw: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]]:
    author_id = required_id(raw, "author_id", "tweet")
    user = users.get(author_id) or {}
    username = text_id(user.get("username"))
    return ("@" + username if username else f"id:{author_id}"), user


def to_mention(raw: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], *, source: str,
               brands: tuple[str, ...]) -> Mention:
    """Map a v2 Tweet (plus `includes.users`) to a Mention."""
    ident = required_id(raw, "id", "tweet")
    author, user = _user(raw, users)
    metrics = user.get("public_metrics")
    followers = metrics.get("followers_count") if isinstance(metrics, Mapping) else None
    return Mention(
        source=source, external_id=ident, text=str(raw.get("text") or ""), author=author,
        created_at=required_time(raw.get("created_at")),
        url=f"https://x.com/{author.lstrip('@')}/status/{ident}" if author.startswith("@") else "",
        author_name=str(user.get("name") or ""),
        author_followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        lang=text_id(raw.get("lang")), in_reply_to=replied_to(raw),
        conversation_id=text_id(raw.get("conversation_id")) or ident, brands=brands, raw=dict(raw),
    )


def to_reply(raw: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], *, source: str,
             in_reply_to: str | None = None) -> Reply:
    """Map a brand account's tweet to a Reply to what it answers (or to `in_reply_to`)."""
    ident = required_id(raw, "id", "tweet")
    target = in_reply_to or replied_to(raw)
    if not target:
        raise MalformedItemError("tweet answers nothing")
    author, _ = _user(raw, users)
    return Reply(
        source=source, external_id=ident, in_reply_to=target, author=author,
        created_at=required_time(raw.get("created_at")),
        url=f"https://x.com/{author.lstrip('@')}/status/{ident}" if author.startswith("@") else "",
        text=str(raw.get("text") or ""),
    )


class XConnector(HttpConnectorBase[XConfig]):
    """Polls recent search with `since_id`; see docs/sources-social.md."""

    type_name: ClassVar[str] = "x"
    rate_limit: ClassVar[RateLimitHeaders | None] = X_RATE_LIMIT
    can_see_replies: ClassVar[bool] = True
    max_lookback: ClassVar[timedelta] = timedelta(days=7)  # recent search reaches back 7 days
    shows: ClassVar[tuple[str, ...]] = (
        "public tweets matching the query (recent search: the last 7 days)",
        "retweets, as reach of the original (include_retweets)", "the brand's replies (`from:` search)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "tweets older than 7 days (after a longer outage)", "protected accounts' tweets", "direct messages",
        "edits and deletions after a tweet was read",
    )

    def setup(self) -> None:
        """The bearer header and the search / brand-replies queries (checked against X's length limit)."""
        self.headers["Authorization"] = f"Bearer {secret(self.config.bearer_token)}"
        handles = (h.strip().lstrip("@") for b in self.brands for h in b.handles if h.strip("@ "))
        self.handles = list(dict.fromkeys(handles))
        self.streams: dict[str, str] = {}
        query = self.config.query or default_query(self.brands, retweets=self.config.include_retweets)
        if query != "()" and query != "() -is:retweet":
            self.streams["search"] = query
        if self.config.brand_replies and self.handles:
            self.streams["replies"] = "(" + " OR ".join(f"from:{h}" for h in self.handles) + ") is:reply"
        for key, text in self.streams.items():
            if len(text) > MAX_QUERY:
                raise ConfigError([f"connectors.{self.name}.query: the {key} query is {len(text)} characters; "
                                   f"X allows {MAX_QUERY} (set a shorter `query`)"])

    async def _search(self, params: list[tuple[str, str]]) -> Response:
        params = [*params, ("max_results", str(self.config.max_results)), ("tweet.fields", TWEET_FIELDS),
                  ("expansions", "author_id,referenced_tweets.id,referenced_tweets.id.author_id"),
                  ("user.fields", "username,name,public_metrics")]
        resp = await self.get(self.config.base_url + "/tweets/search/recent", params, ok=frozenset({429}))
        if resp.status == 429:
            raise self._too_many(resp)
        return resp

    def _too_many(self, resp: Response) -> TransientSourceError:
        """A 429 is either the 15-minute window (wait for x-rate-limit-reset) or the monthly usage cap."""
        try:
            body = json.loads(resp.body)
        except (ValueError, RecursionError):
            body = {}
        kind = " ".join(str(body.get(k, "")) for k in ("title", "type", "detail")) if isinstance(body, dict) else ""
        if "usage" in kind.lower() and "cap" in kind.lower():
            return TransientSourceError(f"{self.name}: X usage cap reached ({body.get('detail') or body.get('title')})",
                                        retry_after=USAGE_CAP_WAIT)
        wait = X_RATE_LIMIT.seconds_until_reset(resp.headers, self.clock.now())
        return TransientSourceError(f"{self.name}: GET /tweets/search/recent: HTTP 429 (rate limit)", retry_after=wait)

    async def poll(self, since: Cursor | None) -> Page:
        """Search each stream above its `since_id`, following `next_token`, newest id kept as the cursor.

        A stream that found nothing at its first poll keeps that poll's time instead (`starts`),
        and the next poll searches from it (`start_time`) through every page.
        """
        state = load_cursor(since, source=self.name)
        saved = mapping_of(state.get("since"))
        positions = {k: v for k, v in saved.items() if k in self.streams and isinstance(v, str)}
        saved_starts = mapping_of(state.get("starts"))
        starts = {k: v for k, v in saved_starts.items()
                  if k in self.streams and k not in positions and saved_time(v) is not None}
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        for key, query in self.streams.items():
            started = self.clock.now()
            stop = await self._poll_stream(key, query, positions, saved_time(starts.get(key)), mentions, replies)
            if key in positions:
                starts.pop(key, None)
            else:
                starts.setdefault(key, started.isoformat())
            if stop:
                break
        cursor = {"v": 1, "since": positions, **({"starts": starts} if starts else {})}
        return Page(mentions=list(mentions.values()), cursor=dump_cursor(cursor), replies=list(replies.values()))

    async def _poll_stream(self, key: str, query: str, positions: dict[str, str], start: datetime | None,
                           mentions: dict[str, Mention], replies: dict[str, Reply]) -> bool:
        first_run = key not in positions and start is None
        token, newest, stop = None, None, False
        if key in positions:
            base = [("query", query), ("since_id", positions[key])]
        elif start is not None:
            # Recent search reaches back 7 days; asking for more is a 400.
            floor = max(start, self.clock.now() - self.max_lookback + timedelta(minutes=1))
            base = [("query", query), ("start_time", floor.strftime("%Y-%m-%dT%H:%M:%SZ"))]
        else:
            base = [("query", query)]
        for number in range(self.config.max_pages):
            resp = await self._search([*base, *((("next_token", token),) if token else ())])
            data = data_of(resp, f"{self.name}: recent search")
            meta = mapping_of(data.get("meta"))
            if number == 0:
                newest = text_id(meta.get("newest_id"))  # absent when result_count is 0
            self._take(data, mentions, replies)
            if self.exhausted(resp):
                stop = True
                break
            token = text_id(meta.get("next_token"))
            if first_run or not token:
                break
        else:
            logger.warning("%s: more than %d pages of new tweets for %s; older ones in between are skipped",
                           self.name, self.config.max_pages, key)
        if newest and (key not in positions or id_order(newest) > id_order(positions[key])):
            positions[key] = newest
        return stop

    def _take(self, data: Mapping[str, Any], mentions: dict[str, Mention], replies: dict[str, Reply]) -> None:
        tweets = list_at(data, "data", f"{self.name}: recent search", optional=True)
        includes = mapping_of(data.get("includes"))
        users = _by_id(includes.get("users"))
        originals = _by_id(includes.get("tweets"))
        for tweet in tweets:
            if not isinstance(tweet, Mapping):
                self.skip(tweet, "tweet is not an object")
                continue
            seen_as = None
            try:
                repeated = retweeted(tweet)
                if repeated and repeated in originals:  # a retweet is one more sighting of the original
                    seen_as, tweet = text_id(tweet.get("id")), originals[repeated]
                author, _ = _user(tweet, users)
                if self.own(author, text_id(tweet.get("author_id"))):
                    if replied_to(tweet) and not seen_as:
                        reply = to_reply(tweet, users, source=self.name)
                        replies[reply.external_id] = reply
                    continue
                text = str(tweet.get("text") or "")
                brands = self.attribute(text, mentioned_handles(text))
                mention = to_mention(tweet, users, source=self.name, brands=brands)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(tweet, why_skipped(err))
                continue
            if seen_as:
                mention = dataclasses.replace(mention, seen_as=seen_as)
            mentions[mention.sighting_key] = mention

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Search each open mention's conversation for the brand's tweets (`conversation_id:` + `from:`)."""
        if not self.handles:
            return []
        by_thread: dict[str, list[Mention]] = {}
        for mention in to:
            by_thread.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        froms = " OR ".join(f"from:{h}" for h in self.handles)
        found: list[Reply] = []
        for thread, waiting in list(by_thread.items())[: self.config.thread_checks]:
            oldest = min((m.external_id for m in waiting), key=id_order)
            resp = await self._search([("query", f"conversation_id:{thread} ({froms})"), ("since_id", oldest)])
            data = data_of(resp, f"{self.name}: recent search")
            includes = mapping_of(data.get("includes"))
            users = _by_id(includes.get("users"))
            listed = list_at(data, "data", f"{self.name}: recent search", optional=True)
            tweets = [t for t in listed if isinstance(t, Mapping)]
            for mention in waiting:
                reply = self._answer(mention, tweets, users)
                if reply is not None:
                    found.append(reply)
        return found

    def _answer(
        self, mention: Mention, tweets: list[Mapping[str, Any]], users: Mapping[str, Mapping[str, Any]]
    ) -> Reply | None:
        """A direct reply wins; otherwise the brand's earliest tweet later in the conversation."""
        best: tuple[bool, datetime, Reply] | None = None
        for tweet in tweets:
            try:
                reply = to_reply(tweet, users, source=self.name, in_reply_to=mention.external_id)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(tweet, why_skipped(err))
                continue
            if reply.created_at < mention.created_at or reply.external_id == mention.external_id:
                continue
            key = (replied_to(tweet) != mention.external_id, reply.created_at, reply)
            if best is None or key[:2] < best[:2]:
                best = key
        return best[2] if best else None
