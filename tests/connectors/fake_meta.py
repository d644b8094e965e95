"""A loopback fake of Meta's Graph API (graph.facebook.com, graph.threads.net): edges, paging, errors, usage."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

PAGE_TOKEN = "EAAGfakePageToken123"
VERSION = "v24.0"


def graph_error(status: int, code: int, message: str, *, type_: str = "OAuthException", subcode: int | None = None,
                headers: dict[str, str] | None = None) -> web.Response:
    """Graph's error body: {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": "AbCdEfGhIjK"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status, headers=headers)


def error_body(code: int, message: str, type_: str = "OAuthException", subcode: int | None = None) -> str:
    """The same body as text, for `Scripted` answers."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": "AbCdEfGhIjK"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return json.dumps({"error": error})


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _index(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


class FakeGraph(FakeApi):
    """Edges `/{version}/{id}/{edge}` served from `edges[(id, edge)]`, with the Graph API's paging.

    Most edges page with `paging.cursors.after` and a `next` URL; `/feed` pages by time
    (`next` carries `until` and `__paging_token`, no cursors), as the real Page feed does. Lists are
    kept newest first; `order=chronological` reverses comment lists. `usage` fills X-App-Usage,
    `buc` the X-Business-Use-Case-Usage header. `retired` edges answer error code 12 on versions
    from v22.0 (Page recommendations).
    """

    def __init__(self, fixture: str = "facebook", token: str = PAGE_TOKEN) -> None:
        super().__init__()
        self.token = token
        data = load_fixture(fixture, "graph.json")
        self.edges: dict[tuple[str, str], list[dict[str, Any]]] = {
            tuple(key.split("/", 1)): items for key, items in data["edges"].items()  # type: ignore[misc]
        }
        self.nodes: dict[str, dict[str, Any]] = data.get("nodes", {})
        self.usage: dict[str, int] | None = None
        self.buc: dict[str, Any] | None = None
        self.retired: set[str] = {"ratings"}
        self.gone: set[str] = set()  # deleted objects: code 100 / subcode 33

    def routes(self, app: web.Application) -> None:
        """Every node and edge under any version."""
        app.router.add_get("/{version}/{node}/{edge}", self._edge)
        app.router.add_get("/{version}/{node}", self._node)

    def authorized(self, request: web.Request) -> bool:
        """The token as a bearer header (or `access_token`, as Meta also accepts)."""
        sent = request.headers.get("Authorization", "")
        return sent == f"Bearer {self.token}" or request.query.get("access_token") == self.token

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """An expired or invalid token: HTTP 400 with OAuthException code 190."""
        return graph_error(400, 190, "Error validating access token: Session has expired on Sunday, 04-Jan-26.",
                           subcode=463)

    def rate_headers(self) -> dict[str, str]:
        """X-App-Usage / X-Business-Use-Case-Usage when set."""
        headers = {}
        if self.usage is not None:
            headers["X-App-Usage"] = json.dumps(self.usage)
        if self.buc is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps(self.buc)
        return headers

    async def _node(self, request: web.Request) -> web.Response:
        if request.match_info["node"] == "keyword_search":
            return self._search(request)
        node = self.nodes.get(request.match_info["node"])
        if node is None:
            return graph_error(
                400, 100, "Unsupported get request. Object does not exist.", type_="GraphMethodException", subcode=33
            )
        return web.json_response(copy.deepcopy(node))

    async def _edge(self, request: web.Request) -> web.Response:
        version, node, edge = (request.match_info[k] for k in ("version", "node", "edge"))
        if edge in self.retired and float(version.lstrip("v")) >= 22:
            return graph_error(400, 12, f"({edge}) is deprecated for versions v22.0 and higher", type_="OAuthException")
        if node in self.gone:
            return graph_error(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist",
                               type_="GraphMethodException", subcode=33)
        items = self.edges.get((node, edge), [] if edge in ("comments", "replies") else None)
        if items is None:
            return graph_error(400, 100, f"Tried accessing nonexisting field ({edge})", type_="OAuthException")
        items = self._filtered(request, items, edge)
        size = int(request.query.get("limit", "25"))
        if edge == "feed":
            return web.json_response(self._time_page(request, items, size))
        start = _index(request.query["after"]) + 1 if "after" in request.query else 0
        chunk = items[start:start + size]
        body: dict[str, Any] = {"data": copy.deepcopy(chunk)}
        if chunk:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk) - 1)}}
            if start + size < len(items):
                body["paging"]["next"] = str(request.url.update_query(
                    {"after": _cursor(start + len(chunk) - 1), "access_token": self.token}))
        return web.json_response(body)

    def _filtered(self, request: web.Request, items: list[dict[str, Any]], edge: str) -> list[dict[str, Any]]:
        if request.query.get("filter") != "stream" and edge == "comments":
            # toplevel: replies to comments are nested
            items = [c for c in items if not (isinstance(c, dict) and c.get("parent"))]
        if request.query.get("order") == "chronological":
            items = list(reversed(items))
        since = request.query.get("since")
        if since:
            items = [i for i in items if not isinstance(i, dict) or _epoch(i) >= int(since)]
        return items

    def _time_page(self, request: web.Request, items: list[dict[str, Any]], size: int) -> dict[str, Any]:
        until = request.query.get("until")
        if until is not None:  # the paging token names the last post served; `until` its time
            last = request.query.get("__paging_token", "")
            position = next((n for n, i in enumerate(items) if i["id"] == last), -1)
            items = items[position + 1:]
        chunk = items[:size]
        body: dict[str, Any] = {"data": copy.deepcopy(chunk)}
        if len(items) > size:
            body["paging"] = {"next": str(request.url.update_query(
                {"until": str(_epoch(chunk[-1])), "__paging_token": chunk[-1]["id"], "access_token": self.token}))}
        return body

    def _search(self, request: web.Request) -> web.Response:
        """Threads `/keyword_search`: case-insensitive match on text, newest first, `since` honoured."""
        query = request.query.get("q", "").lower()
        if not query:
            return graph_error(400, 100, "The parameter q is required", type_="THApiException")
        pool = [p for p in self.edges.get(("keyword_search", "posts"), []) if query in str(p.get("text", "")).lower()]
        items = self._filtered(request, pool, "keyword_search")
        size = int(request.query.get("limit", "25"))
        start = _index(request.query["after"]) + 1 if "after" in request.query else 0
        chunk = items[start:start + size]
        body: dict[str, Any] = {"data": copy.deepcopy(chunk)}
        if chunk:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk) - 1)}}
            if start + size < len(items):
                body["paging"]["next"] = str(request.url.update_query({"after": _cursor(start + len(chunk) - 1)}))
        return web.json_response(body)

    def add(self, node: str, edge: str, item: dict[str, Any]) -> None:
        """Put a new item at the top (newest first) of an edge."""
        self.edges.setdefault((node, edge), []).insert(0, item)


def _epoch(item: dict[str, Any]) -> int:
    from connectors.timeutil import to_utc

    stamp = item.get("created_time") or item.get("timestamp")
    return int(to_utc(stamp).timestamp()) if stamp else 0
