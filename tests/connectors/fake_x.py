"""A loopback fake of X API v2 recent search (since_id, next_token, rate-limit headers; apis.md §1)."""

from __future__ import annotations

import copy
import re
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

BEARER = "x-bearer-token-5551234"
RESET_EPOCH = 1767608100  # 2026-01-05T10:15:00Z


def _order(value: str) -> tuple[int, str]:
    return (len(value), value)


class FakeX(FakeApi):
    """Tweets in memory; understands the query operators the connector sends."""

    def __init__(self) -> None:
        super().__init__()
        fixture = load_fixture("x", "search.json")
        self.tweets: list[dict[str, Any]] = fixture["data"]
        self.users: dict[str, dict[str, Any]] = {u["id"]: u for u in fixture["includes"]["users"]}
        self.remaining = 450

    def routes(self, app: web.Application) -> None:
        """Recent search only."""
        app.router.add_get("/2/tweets/search/recent", self._search)

    def authorized(self, request: web.Request) -> bool:
        """App-only bearer token."""
        return request.headers.get("Authorization") == f"Bearer {BEARER}"

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """X's problem JSON for a bad token."""
        return web.json_response({"title": "Unauthorized", "type": "about:blank", "status": 401,
                                  "detail": "Unauthorized"}, status=401)

    def rate_headers(self) -> dict[str, str]:
        """Per-window limit, remaining calls, reset as epoch seconds."""
        self.remaining = max(0, self.remaining - 1)
        return {"x-rate-limit-limit": "450", "x-rate-limit-remaining": str(self.remaining),
                "x-rate-limit-reset": str(RESET_EPOCH)}

    def _matches(self, tweet: dict[str, Any], query: str) -> bool:
        username = self.users.get(tweet.get("author_id", ""), {}).get("username", "")
        conversation = re.search(r"conversation_id:(\d+)", query)
        if conversation and tweet.get("conversation_id") != conversation.group(1):
            return False
        froms = re.findall(r"from:(\w+)", query)
        if froms and username.casefold() not in {f.casefold() for f in froms}:
            return False
        if "-is:retweet" in query and any(r.get("type") == "retweeted" for r in tweet.get("referenced_tweets") or ()):
            return False
        is_reply = any(r.get("type") == "replied_to" for r in tweet.get("referenced_tweets") or ())
        if re.search(r"(?<!-)is:reply", query) and not is_reply:
            return False
        if not froms and not conversation:
            group = re.match(r"\((.*)\)", query)
            terms = [t.strip('"').casefold() for t in (group.group(1) if group else query).split(" OR ")]
            if not any(t in tweet.get("text", "").casefold() for t in terms):
                return False
        return True

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        found = sorted((t for t in self.tweets if self._matches(t, query)), key=lambda t: _order(t["id"]), reverse=True)
        if "since_id" in request.query:
            found = [t for t in found if _order(t["id"]) > _order(request.query["since_id"])]  # exclusive
        if "start_time" in request.query:  # inclusive; ISO-8601 YYYY-MM-DDTHH:mm:ssZ
            found = [t for t in found if t["created_at"][:19] >= request.query["start_time"][:19]]
        if not found:
            return web.json_response({"meta": {"result_count": 0}})
        newest = found[0]["id"]
        start = int(request.query.get("next_token", "tok-0").removeprefix("tok-"))
        size = int(request.query.get("max_results", "10"))
        page = found[start:start + size]
        meta: dict[str, Any] = {"newest_id": page[0]["id"] if start else newest, "oldest_id": page[-1]["id"],
                                "result_count": len(page)}
        if start + size < len(found):
            meta["next_token"] = f"tok-{start + size}"
        wanted = {r["id"] for t in page for r in t.get("referenced_tweets") or () if r.get("type") == "retweeted"}
        referenced = [t for t in self.tweets if t["id"] in wanted]
        authors = dict.fromkeys(t.get("author_id") for t in [*page, *referenced])
        users = [self.users[i] for i in authors if i in self.users]
        includes: dict[str, Any] = {"users": copy.deepcopy(users)}
        if referenced:
            includes["tweets"] = copy.deepcopy(referenced)
        return web.json_response({"data": copy.deepcopy(page), "includes": includes, "meta": meta})
