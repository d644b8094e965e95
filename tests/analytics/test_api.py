"""REST API: same reports as the CLI, paging, live clock fields, auth, OpenAPI, errors."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from listener.analytics.db import connect_readonly
from listener.analytics.filters import build_filters
from listener.analytics.trends import trends
from listener.api.server import build_app
from listener.clock import FakeClock
from tests.analytics.conftest import analytics_settings
from tests.analytics.seed import Seeded

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
TOKEN = "s3cret-token-0123456789"


@pytest.fixture
async def client(seeded: Seeded, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(build_app(seeded.path, analytics_settings(seeded.path), clock=FakeClock(NOW)))


async def test_trends_equal_the_library_report(client: TestClient, seeded: Seeded) -> None:
    resp = await client.get(
        "/api/trends",
        params=[
            ("by", "source,brand"),
            ("every", "week"),
            ("since", "2025-10-06"),
            ("until", "2025-12-29"),
            ("brand", "acme"),
            ("brand", "globex"),
        ],
    )
    assert resp.status == 200
    body = await resp.json()
    conn = connect_readonly(seeded.path)
    expected = trends(
        conn,
        every="week",
        by=["source", "brand"],
        filters=build_filters(since="2025-10-06", until="2025-12-29", brands=["acme", "globex"]),
    )
    conn.close()
    assert body == expected and body["rows"]


async def test_relative_since_is_counted_from_the_clock(client: TestClient) -> None:
    body = await (await client.get("/api/trends", params={"since": "7d", "every": "week"})).json()
    assert body["filters"]["since"] == "2026-01-12T00:00:00.000000Z"  # 13 Jan floored to its Monday


async def test_open_complaints_queue_is_ordered_by_deadline_and_paged(client: TestClient, seeded: Seeded) -> None:
    seen: list[dict[str, Any]] = []
    page: str | None = None
    while True:
        params = {"state": "open", "limit": "25", **({"page": page} if page else {})}
        body = await (await client.get("/api/complaints", params=params)).json()
        seen += body["items"]
        page = body["next"]
        if page is None:
            break
    conn = sqlite3.connect(seeded.path)
    expected = [
        r[0]
        for r in conn.execute("SELECT mention_key FROM complaints WHERE state = 'open' ORDER BY deadline, mention_key")
    ]
    conn.close()
    assert [c["mention_key"] for c in seen] == expected
    assert all(c["clock"] == "breach" and c["seconds_left"] < 0 for c in seen)  # the seed's clocks are long overdue
    assert {c["competitor"] for c in seen} == {True, False}
    assert body["now"] == "2026-01-20T12:00:00.000000Z"


async def test_mentions_filters_and_keyset_paging(client: TestClient, seeded: Seeded) -> None:
    params = {
        "brand": "globex",
        "sentiment": "negative",
        "complaint": "true",
        "since": "2025-11-01",
        "until": "2025-12-01",
        "limit": "7",
    }
    keys: list[str] = []
    page = None
    while True:
        body = await (await client.get("/api/mentions", params={**params, **({"page": page} if page else {})})).json()
        assert len(body["items"]) <= 7
        keys += [m["key"] for m in body["items"]]
        for m in body["items"]:
            assert "globex" in m["brands"] and m["sentiment"] == "negative" and m["complaint"] is True
        page = body["next"]
        if not page:
            break
    conn = sqlite3.connect(seeded.path)
    expected = [
        r[0]
        for r in conn.execute(
            """SELECT m.key FROM mentions m JOIN classifications c ON c.mention_key = m.key
           WHERE m.created_at >= '2025-11-01' AND m.created_at < '2025-12-01' AND c.sentiment = 'negative'
             AND c.complaint = 1 AND m.key IN (SELECT mention_key FROM mention_brands WHERE brand = 'globex')
           ORDER BY m.created_at DESC, m.key DESC"""
        )
    ]
    conn.close()
    assert keys == expected and len(expected) > 7


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/trends", {"every": "fortnight"}),
        ("/api/trends", {"by": "colour"}),
        ("/api/sla", {"by": "weekday"}),
        ("/api/complaints", {"state": "lost"}),
        ("/api/mentions", {"limit": "0"}),
        ("/api/mentions", {"page": "!!"}),
        ("/api/mentions", {"since": "yesterday"}),
        ("/api/sla", {"since": "2026-01-02", "until": "2026-01-01"}),
    ],
)
async def test_bad_parameters_answer_400(client: TestClient, path: str, params: dict[str, str]) -> None:
    resp = await client.get(path, params=params)
    assert resp.status == 400
    assert (await resp.json())["error"]


async def test_openapi_describes_every_route(client: TestClient) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    routes = {r.resource.canonical for r in client.app.router.routes() if r.resource.canonical.startswith("/api/")}
    assert routes == set(spec["paths"])


async def test_dashboard_and_assets_are_served_locally(client: TestClient) -> None:
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    for asset in ("/static/dashboard.js", "/static/chart.js", "/static/dashboard.css"):
        resp = await client.get(asset)
        assert resp.status == 200, asset
        assert "https://" not in await resp.text()


async def test_bearer_token_is_required_when_configured(seeded: Seeded, aiohttp_client: Any) -> None:
    settings = analytics_settings(seeded.path, host="0.0.0.0", token=TOKEN)
    client = await aiohttp_client(build_app(seeded.path, settings, clock=FakeClock(NOW)))
    assert (await client.get("/api/sla")).status == 401
    assert (await client.get("/api/sla", headers={"Authorization": "Bearer wrong-token-0123456789"})).status == 401
    assert (await client.get("/api/sla", headers={"Authorization": f"Basic {TOKEN}"})).status == 401
    ok = await client.get("/api/sla", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200
    assert (await client.get("/")).status == 200  # the page itself holds no data
    assert (await client.get("/api/openapi.json")).status == 200


async def test_start_api_serves_on_a_socket(seeded: Seeded) -> None:
    import aiohttp

    from listener.api.server import start_api

    runner = await start_api(analytics_settings(seeded.path, port=0), seeded.path, clock=FakeClock(NOW))
    try:
        host, port = runner.addresses[0][:2]
        assert host == "127.0.0.1"
        async with aiohttp.ClientSession() as session, session.get(f"http://{host}:{port}/api/meta") as resp:
            body = await resp.json()
        assert {"name": "globex", "competitor": True} in body["brands"]
        assert set(body["sources"]) == {"mastodon", "replay", "reviews"}
    finally:
        await runner.cleanup()


def test_api_command_refuses_an_open_bind_without_token(seeded: Seeded) -> None:
    from click.testing import CliRunner

    from listener.cli.analytics import api_command

    out = CliRunner().invoke(api_command, ["--db", str(seeded.path), "--host", "0.0.0.0"])
    assert out.exit_code == 2 and "token" in out.output
