"""The one notification model: typed events, their stored JSON (versioned) and the wire form sinks send."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from listener.events import (
    PAYLOAD_VERSION,
    Escalation,
    Event,
    EventKind,
    EventPayloadError,
    Explanation,
    HitFacts,
    Policy,
    SpikeFacts,
)
from listener.store import SyncStore

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

# Payloads as the outbox stored them before the typed event (`Event.to_dict()` with an untyped `extra`).
OLD_ROWS: dict[str, dict[str, Any]] = {
    "escalate": {
        "id": "mastodon:109:esc:lead", "kind": "escalate", "brand": "acme", "thread": "mastodon:109",
        "created_at": "2026-01-05T10:30:00+00:00", "source": "mastodon", "mention_key": "mastodon:109",
        "author": "@dana@example.social", "text": "router down <!here>", "url": "https://example.social/@dana/109",
        "sentiment": "negative", "p_complaint": 0.93, "language": "en", "mention_at": "2026-01-05T09:00:00+00:00",
        "deadline": "2026-01-05T10:00:00+00:00", "response_seconds": None, "state": "escalated", "detail": "",
        "extra": {"explain": "60m business time under policy 'vip'", "policy": "vip", "calendar": "office",
                  "alerted": True, "level": "lead", "to": ["#leads", "S0LEADS"]},
    },
    "replied": {
        "id": "mastodon:109:replied", "kind": "replied", "brand": "acme", "thread": "mastodon:109",
        "created_at": "2026-01-05T10:12:00+00:00", "source": "mastodon", "mention_key": "mastodon:109",
        "author": "@dana", "text": "t", "url": "", "sentiment": None, "p_complaint": None, "language": None,
        "mention_at": "2026-01-05T09:00:00+00:00", "deadline": "2026-01-05T10:00:00+00:00",
        "response_seconds": 4320.0, "state": "replied", "detail": "sam",
        "extra": {"explain": "", "policy": None, "calendar": None, "alerted": False, "business_seconds": 1800.0},
    },
    "dismissed": {
        "id": "mastodon:109:c0:not_complaint:label", "kind": "action", "brand": "acme", "thread": "mastodon:109",
        "created_at": "2026-01-05T10:12:00+00:00", "source": "mastodon", "mention_key": "mastodon:109",
        "author": "@dana", "text": "t", "url": "", "sentiment": None, "p_complaint": None, "language": None,
        "mention_at": None, "deadline": None, "response_seconds": None, "state": "not a complaint (per sam)",
        "detail": "sam", "extra": {"explain": "x", "policy": "default", "calendar": None, "alerted": True,
                                   "closed": True},
    },
    "spike": {
        "id": "spike.volume:acme/social:2026-03-04T00", "kind": "spike", "brand": "acme",
        "thread": "spike.volume:acme/social:2026-03-04T00", "created_at": "2026-03-04T01:10:00+00:00",
        "source": "social", "mention_key": "", "author": "", "text": "30 mentions", "url": "", "sentiment": None,
        "p_complaint": None, "language": None, "mention_at": None, "deadline": None, "response_seconds": None,
        "state": "volume spike; 2 more held back by the cooldown since the last alert", "detail": "volume 30",
        "extra": {"rule": "spike.volume", "subject": "acme/social", "hour": "2026-03-04T00:00:00+00:00",
                  "metric": "volume", "value": 30.0, "count": 30, "mean": 3.0, "sigma": 1.7, "k": 3.0,
                  "threshold": 8.2, "baseline_hours": 336, "why": "volume 30 vs mean 3", "held_back": 2},
    },
    "vip": {
        "id": "vip:social:7", "kind": "vip", "brand": "acme", "thread": "vip:social:7",
        "created_at": "2026-03-04T01:10:00+00:00", "source": "social", "mention_key": "social:7", "author": "@big",
        "text": "hello", "url": "", "sentiment": "neutral", "p_complaint": 0.1, "language": "en",
        "mention_at": "2026-03-04T01:00:00+00:00", "deadline": None, "response_seconds": None,
        "state": "high reach", "detail": "high reach",
        "extra": {"rule": "vip", "subject": "social/big", "why": "high reach", "followers": 25000,
                  "min_followers": 10000, "origin": "alerts.listening"},
    },
    "mention": {
        "id": "social:7:mention", "kind": "mention", "brand": "acme", "thread": "social:7",
        "created_at": "2026-03-04T01:10:00+00:00", "source": "social", "mention_key": "social:7", "author": "@big",
        "text": "hello", "url": "", "sentiment": "neutral", "p_complaint": 0.1, "language": "en",
        "mention_at": "2026-03-04T01:00:00+00:00", "deadline": None, "response_seconds": None,
        "state": "mention", "detail": "", "extra": {"brands": ["acme", "globex"], "scored": True},
    },
    "source": {
        "id": "source:mastodon:down:2026-01-05T09:30:00+00:00", "kind": "source", "brand": "",
        "thread": "source:mastodon", "created_at": "2026-01-05T09:30:00+00:00", "source": "mastodon",
        "mention_key": "", "author": "", "text": "", "url": "", "sentiment": None, "p_complaint": None,
        "language": None, "mention_at": None, "deadline": None, "response_seconds": None, "state": "down",
        "detail": "401 Unauthorized", "extra": {},
    },
}


def test_an_old_outbox_row_is_delivered_as_a_typed_event(tmp_path: Path) -> None:
    """A database written before the typed event keeps working: its queued rows read back with typed fields."""
    store = SyncStore(tmp_path / "old.db")
    try:
        for row in OLD_ROWS.values():
            cur = store.db.execute(
                "INSERT INTO events (id, kind, brand, thread, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)",
                [row["id"], row["kind"], row["brand"], row["thread"], row["created_at"], json.dumps(row)],
            )
            store.db.execute(
                "INSERT INTO deliveries (event_seq, sink, state, attempts, next_attempt_at) "
                "VALUES (?, 'slack', 'pending', 0, ?)", [cur.lastrowid, row["created_at"]],
            )
        events = {d.event.id: d.event for d in store.pending_deliveries("slack", NOW + timedelta(days=90))}
    finally:
        store.close()
    assert len(events) == len(OLD_ROWS)
    escalate = events["mastodon:109:esc:lead"]
    assert escalate.kind is EventKind.ESCALATE and escalate.policy_name == "vip"
    assert escalate.policy == Policy(name="vip", calendar="office", explain="60m business time under policy 'vip'")
    assert escalate.escalation == Escalation(level="lead", to=("#leads", "S0LEADS"))
    assert escalate.alert_rule == "sla.escalate" and escalate.alert_subject == "mastodon:109"
    assert escalate.mention_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    replied = events["mastodon:109:replied"]
    assert not replied.alerted and replied.explanation.business_seconds == 1800.0 and replied.policy_name is None
    assert events["mastodon:109:c0:not_complaint:label"].closed
    spike = events["spike.volume:acme/social:2026-03-04T00"]
    assert spike.alert_rule == "spike.volume" and spike.alert_subject == "acme/social"
    assert spike.explanation.held_back == 2 and spike.explanation.why == "volume 30 vs mean 3"
    assert spike.explanation.spike == SpikeFacts(
        hour=datetime(2026, 3, 4, tzinfo=UTC), metric="volume", value=30.0, count=30, mean=3.0, sigma=1.7, k=3.0,
        threshold=8.2, baseline_hours=336)
    vip = events["vip:social:7"]
    assert vip.explanation.hit == HitFacts(origin="alerts.listening", followers=25000, min_followers=10000)
    assert events["social:7:mention"].brands == ("acme", "globex") and events["social:7:mention"].scored is True
    source = events["source:mastodon:down:2026-01-05T09:30:00+00:00"]
    assert source.policy is None and source.alerted and source.alert_subject == "mastodon"


@pytest.mark.parametrize("name", sorted(OLD_ROWS))
def test_the_wire_form_consumers_receive_is_unchanged(name: str) -> None:
    """MQTT and webhook consumers get the same document as before, `extra` keys included."""
    row = OLD_ROWS[name]
    event = Event.from_json(json.dumps(row))
    assert event.to_dict() == row
    assert Event.from_json(event.to_json()) == event  # and the stored form keeps every fact


def test_the_stored_form_is_versioned_and_typed() -> None:
    event = Event(
        id="c:esc", kind=EventKind.ESCALATE, brand="acme", thread="c", created_at=NOW, text='a "quoted" 日本 \u2028',
        deadline=NOW, policy=Policy(name="vip", explain="why"), alerted=False,
        escalation=Escalation(level="lead", to=("#leads",)),
        explanation=Explanation(why="because", hit=HitFacts(origin="o", keyword="recall")),
    )
    stored = json.loads(event.to_json())
    assert stored["v"] == PAYLOAD_VERSION and "extra" not in stored
    assert stored["policy"] == {"name": "vip", "explain": "why"} and stored["escalation"]["to"] == ["#leads"]
    assert stored["alerted"] is False and "url" not in stored  # defaults are left out
    again = Event.from_json(event.to_json())
    assert again == event and again.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("payload", "message"), [
    ('{"v": 3, "id": "x"}', "version 3"),
    ("[1, 2]", "not a JSON object"),
    ("{", "not JSON"),
    ('{"v": 2, "id": "x", "kind": "warn"}', "'x'"),
    ('{"v": 2, "id": "x", "kind": "nope", "brand": "", "thread": "", "created_at": "2026-01-05T10:00:00Z"}', "'x'"),
])
def test_an_unreadable_payload_is_a_clear_error(payload: str, message: str) -> None:
    with pytest.raises(EventPayloadError, match=message):
        Event.from_json(payload)


def test_there_is_no_untyped_extra_any_more() -> None:
    assert "extra" not in {f for f in Event.__dataclass_fields__}
    with pytest.raises(TypeError):
        Event(id="x", kind=EventKind.WARN, brand="", thread="", created_at=NOW, extra={"policy": "vip"})  # type: ignore[call-arg]


def test_the_payload_examples_in_the_docs_are_events() -> None:
    """docs/alerts.md's MQTT payloads read as typed events and are exactly what those events send."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "alerts.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", doc, flags=re.S)]
    payloads = [e for e in examples if isinstance(e, dict) and "schema_version" in e]
    assert {p["kind"] for p in payloads} >= {"mention", "warn", "breach", "replied", "source"}
    for payload in payloads:
        wire = {k: v for k, v in payload.items() if k != "schema_version"}
        assert Event.from_json(json.dumps(wire)).to_dict() == wire, payload["id"]
