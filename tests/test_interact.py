"""Slack's buttons: signed requests only, acted on once, reflected in the complaint's message."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from listener.daemon import Daemon
from listener.domain import Mention, Page
from listener.interact import slack_actions_handler
from listener.store import SyncStore
from tests.alerts.fake_slack import TOKEN as SLACK_TOKEN
from tests.alerts.fake_slack import FakeSlack
from tests.doubles import KeywordClassifier, ScriptedConnector

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example signing secret


async def test_slacks_documented_example_request_verifies(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    # The example from Slack's "Verifying requests from Slack" page.
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    calls: list[tuple[str, ...]] = []

    async def act(*args: str) -> str:
        calls.append(args)
        return "done"

    at = datetime.fromtimestamp(1531420618, UTC)
    app = web.Application()
    app.router.add_post("/slack/actions", slack_actions_handler(SECRET, act, now=lambda: at))
    client = await aiohttp_client(app)
    headers = {"X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": signature}
    assert (await client.post("/slack/actions", data=body, headers=headers)).status == 200
    tampered = body.replace("roadrunner", "coyote")
    assert (await client.post("/slack/actions", data=tampered, headers=headers)).status == 401
    late = web.Application()
    late.router.add_post("/slack/actions", slack_actions_handler(SECRET, act, now=lambda: at + timedelta(minutes=6)))
    late_client = await aiohttp_client(late)
    assert (await late_client.post("/slack/actions", data=body, headers=headers)).status == 401  # replay window
    assert calls == []  # a slash command is not one of our buttons


def signed(body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
            "Content-Type": "application/x-www-form-urlencoded"}


def click(action_id: str, key: str, trigger: str) -> str:
    payload = {"type": "block_actions", "trigger_id": trigger, "user": {"id": "U1", "username": "dana"},
               "actions": [{"action_id": action_id, "value": key, "action_ts": "1.2"}]}
    return urlencode({"payload": json.dumps(payload)})


async def test_buttons_act_once_and_update_the_message(aiohttp_server, make_settings) -> None:  # type: ignore[no-untyped-def]
    slack = FakeSlack()
    api = await aiohttp_server(slack.app())
    settings = make_settings(
        {"api": {"port": 0},
         "sla": {"target": "60m", "warn_after": "45m"},
         "alerts": {"dispatch_interval": "30s",
                    "slack": {"bot_token": "${T}", "channel": "#social", "signing_secret": "${S}",
                              "base_url": str(api.make_url("/api/"))}}},
        T=SLACK_TOKEN, S=SECRET,
    )
    overdue = Mention(source="social", external_id="1", text="acme broken for days", author="@ann",
                      created_at=datetime.now(UTC) - timedelta(minutes=90), brands=("acme",))
    daemon = Daemon(settings, classifier=KeywordClassifier(),
                    connectors={"social": ScriptedConnector("social", [Page([overdue], "c")])})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: bool(slack.messages))
        url = f"http://127.0.0.1:{daemon.web_port}/slack/actions"
        async with aiohttp.ClientSession() as http:
            body = click("listener_ack", "social:1", "t-1")
            assert (await http.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                    ).status == 401  # unsigned
            assert (await http.post(url, data=body, headers=signed(body, int(time.time()) - 600))).status == 401
            for _ in range(2):  # Slack retries: the second one must not act again
                assert (await http.post(url, data=body, headers=signed(body))).status == 200
            await _until(
                lambda: "acknowledged by dana" in json.dumps(list(slack.messages.values())),
                msg=lambda: json.dumps(list(slack.messages.values()))[:3000] + str([c.endpoint for c in slack.calls]),
            )
            done = click("listener_replied", "social:1", "t-2")
            assert (await http.post(url, data=done, headers=signed(done))).status == 200
            await _until(lambda: "Complaint answered" in json.dumps(list(slack.messages.values())))
    finally:
        daemon.stop()
        await task
    assert len(slack.messages) == 1  # every change updated the one message
    store = SyncStore(settings.listener.database)
    actions = list(store.db.query("SELECT action, user, via FROM actions ORDER BY id"))
    (case,) = store.complaints()
    store.close()
    assert actions == [
        {"action": "ack", "user": "dana", "via": "slack"}, {"action": "replied", "user": "dana", "via": "slack"}
    ]
    assert case.state == "marked_replied" and case.closed_by == "dana"


async def _until(predicate, seconds: float = 10, msg=lambda: "") -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, f"timed out {msg()}"
        await asyncio.sleep(0.05)


async def test_web_queue_actions_take_the_slack_buttons_path(aiohttp_server, make_settings) -> None:  # type: ignore[no-untyped-def]
    slack = FakeSlack()
    api = await aiohttp_server(slack.app())
    dana = "dana-token-0123456789abcdef"
    settings = make_settings(
        {"api": {"enabled": True, "port": 0, "users": {"dana": "${DANA}"}},
         "sla": {"target": "60m", "warn_after": "45m"},
         "alerts": {"dispatch_interval": "30s",
                    "slack": {"bot_token": "${T}", "channel": "#social", "signing_secret": "${S}",
                              "base_url": str(api.make_url("/api/"))}}},
        T=SLACK_TOKEN, S=SECRET, DANA=dana,
    )
    overdue = Mention(source="social", external_id="1", text="acme broken for days", author="@ann",
                      created_at=datetime.now(UTC) - timedelta(minutes=90), brands=("acme",))
    daemon = Daemon(settings, classifier=KeywordClassifier(),
                    connectors={"social": ScriptedConnector("social", [Page([overdue], "c")])})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: bool(slack.messages))
        url = f"http://127.0.0.1:{daemon.web_port}/api/actions"
        auth = {"Authorization": f"Bearer {dana}"}
        ack = {"mention_key": "social:1", "action": "ack", "request_id": "click-0001", "by": "someone-else"}
        async with aiohttp.ClientSession() as http:
            assert (await http.post(url, json=ack)).status == 401  # no token
            assert (await http.post(url, data="mention_key=social:1", headers=auth)).status == 415  # a form: CSRF
            assert (await http.post(url, json=ack, headers={**auth, "Origin": "https://evil.example"})).status == 403
            for expected in ("done", "duplicate"):  # a retried click acts once
                resp = await http.post(url, json=ack, headers=auth)
                assert resp.status == 200 and await resp.json() == {"result": expected, "by": "dana"}
            await _until(lambda: "acknowledged by dana" in json.dumps(list(slack.messages.values())))
            assign = {"mention_key": "social:1", "action": "assign", "assignee": "sam", "request_id": "click-0002"}
            assert (await (await http.post(url, json=assign, headers=auth)).json())["result"] == "done"
            await _until(lambda: "assigned to sam by dana" in json.dumps(list(slack.messages.values())))
            bad = {**assign, "action": "delete", "request_id": "click-0003"}
            assert (await http.post(url, json=bad, headers=auth)).status == 400
            done = {"mention_key": "social:1", "action": "replied", "request_id": "click-0004"}
            assert (await (await http.post(url, json=done, headers=auth)).json())["result"] == "done"
            await _until(lambda: "Complaint answered" in json.dumps(list(slack.messages.values())))
            late = {**ack, "request_id": "click-0005"}
            assert (await (await http.post(url, json=late, headers=auth)).json())["result"] == "closed"
            queue = await (await http.get(f"http://127.0.0.1:{daemon.web_port}/api/queue", headers=auth)).json()
            assert queue["counts"]["complaints"] == 0
    finally:
        daemon.stop()
        await task
    assert len(slack.messages) == 1  # every change updated the one message, as Slack's buttons do
    store = SyncStore(settings.listener.database)
    actions = list(store.db.query("SELECT action, user, assignee, via FROM actions ORDER BY id"))
    (case,) = store.complaints()
    store.close()
    assert actions == [
        {"action": "ack", "user": "dana", "assignee": None, "via": "web/user-token"},
        {"action": "assign", "user": "dana", "assignee": "sam", "via": "web/user-token"},
        {"action": "replied", "user": "dana", "assignee": None, "via": "web/user-token"},
        {"action": "ack", "user": "dana", "assignee": None, "via": "web/user-token"},
    ]
    assert case.state == "marked_replied" and case.closed_by == "dana"
