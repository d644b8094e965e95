"""The whole path on real components: a Mastodon-compatible server, a Slack-compatible API and a
real Mosquitto broker, all on loopback, configured only through `base_url`s and the TOML schema."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest

from config.loader import parse_config
from listener.daemon import Daemon
from tests.alerts.fake_slack import TOKEN as SLACK_TOKEN
from tests.alerts.fake_slack import FakeSlack
from tests.connectors.fake_mastodon import FakeMastodon, load_fixture
from tests.doubles import KeywordClassifier

MASTODON_TOKEN = "mastodon-test-token-123"
pytestmark = pytest.mark.mqtt


def status(status_id: str, text: str, author: str, *, reply_to: str | None = None) -> dict[str, Any]:
    """A status shaped like the documented API (from the fixture), posted just now."""
    raw = copy.deepcopy(load_fixture("statuses.json")[1])
    raw.update(
        id=status_id,
        content=f"<p>{text}</p>",
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        in_reply_to_id=reply_to,
        url=f"https://mastodon.example/@{author}/{status_id}",
        tags=[{"name": "acme", "url": "https://mastodon.example/tags/acme"}],
    )
    raw["account"] = {**raw["account"], "id": f"acc-{author}", "username": author, "acct": author,
                      "display_name": author.title(), "url": f"https://mastodon.example/@{author}"}
    return raw


async def test_breach_update_on_reply_and_silence_for_praise(aiohttp_server, mosquitto, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mastodon = FakeMastodon(token=MASTODON_TOKEN)
    slack = FakeSlack()
    fedi = await aiohttp_server(mastodon.app())
    api = await aiohttp_server(slack.app())
    settings = parse_config(
        {
            "listener": {"database": str(tmp_path / "e2e.db")},
            "sla": {"target": "4s", "warn_after": "3s", "sweep_interval": "30s"},
            "brands": {"acme": {"keywords": ["acme"], "handles": {"fedi": ["acme"]}}},
            "connectors": {
                "fedi": {
                    "type": "mastodon", "base_url": str(fedi.make_url("")).rstrip("/"),
                    "access_token": "${MASTODON_TOKEN}", "hashtags": ["acme"], "search": [],
                    "poll_interval": "1s", "jitter": "0s",
                }
            },
            "alerts": {
                "dispatch_interval": "30s",
                "slack": {"bot_token": "${SLACK_TOKEN}", "channel": "#social", "base_url": str(api.make_url("/api/"))},
                "mqtt": {"enabled": True, "host": mosquitto.host, "port": mosquitto.port, "topic_prefix": "e2e"},
            },
        },
        env={"MASTODON_TOKEN": MASTODON_TOKEN, "SLACK_TOKEN": SLACK_TOKEN},
    )
    mastodon.add_statuses([
        status("200000000000000001", "@acme my internet has been down since this morning, still broken", "ann"),
        status("200000000000000002", "I love my new acme phone, thanks!", "bob"),
    ])
    received: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> None:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.subscribe("e2e/#", qos=1)
            async for message in client.messages:
                received.append((str(message.topic), json.loads(message.payload)))

    listener_task = asyncio.create_task(listen())
    await asyncio.sleep(0.3)  # subscribed before anything is published
    daemon = Daemon(settings, classifier=KeywordClassifier())
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        breach_seen = await _wait_for(lambda: _slack_state(slack) == "breach", 15)
        assert breach_seen is not None, f"no breach posted; slack calls: {[c.endpoint for c in slack.calls]}"
        (message,) = slack.messages.values()
        complaint_at = datetime.fromisoformat(
            mastodon.statuses[0]["created_at"].replace("Z", "+00:00")).timestamp()
        # Sweep and dispatch intervals are 30 s: only the scheduled deadline can make this.
        assert 0 <= breach_seen - (complaint_at + 4) <= 2.0
        assert "down since this morning" in json.dumps(message["blocks"])

        # The brand answers on the platform; the next poll sees it and the same message is updated.
        mastodon.add_statuses([status("200000000000000003", "@ann sorry! we are on it", "acme",
                                      reply_to="200000000000000001")])
        assert await _wait_for(lambda: _slack_state(slack) == "replied", 10) is not None, (
            [c.endpoint for c in slack.calls], json.dumps(list(slack.messages.values()))[:3000])
        assert len(slack.messages) == 1  # updated in place, never a second message
        assert [c.endpoint for c in slack.calls].count("chat.postMessage") == 1
        await _wait_for(lambda: any(p.get("kind") == "replied" for _, p in received), 5)
    finally:
        daemon.stop()
        await task
        listener_task.cancel()
    assert slack.problems == []
    text = json.dumps([m["blocks"] for m in slack.messages.values()])
    assert "new acme phone" not in text  # praise is never posted
    topics = {(topic, payload["kind"], payload["mention_key"]) for topic, payload in received}
    assert ("e2e/acme/mentions", "mention", "fedi:200000000000000001") in topics
    assert ("e2e/acme/mentions", "mention", "fedi:200000000000000002") in topics
    for kind in ("warn", "breach", "replied"):
        assert ("e2e/acme/alerts", kind, "fedi:200000000000000001") in topics
    assert not any(kind != "mention" and key.endswith("02") for _, kind, key in topics)


def _slack_state(slack: FakeSlack) -> str | None:
    if not slack.messages:
        return None
    (message,) = slack.messages.values()
    header = message["blocks"][0]["text"]["text"].lower()
    for state, words in (("replied", "answered"), ("breach", "missed"), ("warn", "nearing")):
        if words in header:
            return state
    return "other"


async def _wait_for(predicate, seconds: float) -> float | None:  # type: ignore[no-untyped-def]
    """Poll `predicate` every 20 ms; return the wall time when it first held, or None."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return time.time()
        await asyncio.sleep(0.02)
    return None
