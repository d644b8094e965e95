"""Security checks: no secret in a full run's DEBUG output, TLS always verified, API auth, read-only SQL."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-SECRETbottoken",
    "SLACK_SIGNING_SECRET": "signing-SECRET-8f3a9c1d2e",
    "MASTODON_TOKEN": "mastoSECRETtoken-ZZ9plural",
    "LISTENER_API_TOKEN": "api-SECRET-token-0123456789abcdef",
    "MQTT_PASSWORD": "mqtt-SECRET-pass-42",
}


@pytest.mark.slow
async def test_full_run_with_debug_logs_leaks_no_secret(aiohttp_server, tmp_path) -> None:
    """`listener run --once` against servers that echo credentials back never prints a secret."""
    seen: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        # A hostile or broken server quoting our credentials back in its error body.
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        body = f"error for {auth} at {request.url} token={SECRETS['MASTODON_TOKEN']}"
        status = 401 if len(seen) % 2 else 500
        return web.Response(status=status, text=body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    config = tmp_path / "listener.toml"
    config.write_text(f'''
[listener]
database = "{tmp_path / 'db.sqlite'}"
log_level = "DEBUG"
[brands.acme]
keywords = ["acme"]
[connectors.mastodon]
base_url = "{base}"
access_token = "${{MASTODON_TOKEN}}"
hashtags = ["acme"]
[alerts.slack]
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
channel = "#alerts"
base_url = "{base}/api/"
[alerts.mqtt]
enabled = false
password = "${{MQTT_PASSWORD}}"
[api]
token = "${{LISTENER_API_TOKEN}}"
''', encoding="utf-8")
    # The real HOME, so the packaged model converted on first use is reused from its cache.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(tmp_path)), **SECRETS}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "listener", "run", "--once", "--config", str(config),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    output = (out + err).decode("utf-8", "replace")
    (tmp_path / "run.log").write_text(output, encoding="utf-8")
    assert seen, f"the run never reached the fake source:\n{output[-3000:]}"
    assert "DEBUG" in output  # the scan covers the noisiest level
    for name, secret in SECRETS.items():
        assert secret not in output, f"{name} leaked:\n{output[-3000:]}"
    assert not re.search(r"xox[abprs]-[A-Za-z0-9]", output)


def test_tls_verification_is_never_disabled() -> None:
    """No code path turns certificate checks off (ssl=False, CERT_NONE, check_hostname=False...)."""
    forbidden = re.compile(
        r"ssl\s*=\s*False|verify_ssl\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|"
        r"_create_unverified_context|verify\s*=\s*False|PYTHONHTTPSVERIFY|tls_insecure|insecure\s*=\s*True"
    )
    offenders = []
    for folder in ("listener", "connectors", "alerts", "config", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if forbidden.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.fixture
def api_settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings({"api": {"token": "${TOK}"}}, TOK=SECRETS["LISTENER_API_TOKEN"])


async def test_api_refuses_requests_without_the_token(aiohttp_client, api_settings) -> None:
    """Every data endpoint answers 401 without the right bearer token, whatever the path trick."""
    from listener.api.server import build_app
    from listener.store import SyncStore

    SyncStore(api_settings.listener.database).close()
    client = await aiohttp_client(build_app(api_settings.listener.database, api_settings))
    token = SECRETS["LISTENER_API_TOKEN"]
    for path in ("/api/mentions", "/api/complaints", "/api/trends", "/api/sla", "/api/meta",
                 "/api/mentions?token=" + token, "/api//mentions", "/api/./mentions",
                 "/static/../api/mentions", "/api/%6Dentions"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                        {"Authorization": "Basic " + token}, {"Authorization": "Bearer " + token[:-1]}):
            resp = await client.get(path, headers=headers)
            body = await resp.text()
            assert resp.status in (401, 404), (path, headers, resp.status)
            assert '"items"' not in body and token not in body
    ok = await client.get("/api/meta", headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "127.0.0.1.nip.io"])
def test_non_loopback_bind_without_token_is_refused(make_settings, host: str) -> None:
    """Config refuses to expose the API off loopback without a token."""
    from listener.errors import ConfigError

    with pytest.raises(ConfigError, match=r"api"):
        make_settings({"api": {"host": host}})


WRITES = [
    "INSERT INTO mentions (key) VALUES ('x')",
    "UPDATE mentions SET text = 'pwned'",
    "DELETE FROM mentions",
    "DROP TABLE mentions",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "PRAGMA writable_schema = ON",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 99",
    "VACUUM",
    "VACUUM INTO '/tmp/copy.db'",
    "REINDEX",
    "ANALYZE",
    "SELECT 1; DELETE FROM mentions",
    "WITH x AS (SELECT 1) DELETE FROM mentions",
    "REPLACE INTO mentions (key) VALUES ('x')",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT writefile('/tmp/evil', 'x')",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s",
    "CREATE TRIGGER t AFTER INSERT ON mentions BEGIN DELETE FROM mentions; END",
]


@pytest.mark.parametrize("sql", WRITES)
def test_read_only_query_path_cannot_write(tmp_path: Path, sql: str) -> None:
    """`listener query` refuses every statement that would change or leave the database."""
    from listener.analytics.db import QueryRefused, connect_readonly
    from listener.analytics.query import run_query
    from listener.store import SyncStore

    db = tmp_path / "db.sqlite"
    SyncStore(db).close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    conn = connect_readonly(db)
    try:
        with pytest.raises((QueryRefused, sqlite3.DatabaseError)):
            run_query(conn, sql, {})
    finally:
        conn.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path("/tmp/evil.db").exists() and not Path("/tmp/copy.db").exists()
