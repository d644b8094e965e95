"""Hostile text through classification, storage and every sink renderer: no crash, no ping, no injection."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts._format import clean
from alerts.base import Event, EventKind
from alerts.mqtt import encode, topic_for
from alerts.slack_blocks import render
from listener.domain import Mention
from listener.store import SyncStore
from listener.text import clean_text
from tests.doubles import KeywordClassifier
from tests.robustness.hostile import corpus

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Anything Slack would act on: special mentions, user/channel/group mentions, and links with labels.
_SLACK_CONTROL = re.compile(r"<[!@#]|<(?:https?|mailto):[^>]*\|")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _event(text: str, kind: EventKind = EventKind.BREACH) -> Event:
    return Event(
        id="ev-1", kind=kind, brand=text[:50] or "acme", thread="m1", created_at=NOW, source=text[:30],
        mention_key="m1", author=text[:80], text=text, url="https://example.com/p?q=" + text[:200],
        sentiment="negative", p_complaint=0.9, mention_at=NOW - timedelta(hours=1),
        deadline=NOW + timedelta(minutes=5), state=text[:40], detail=text,
    )


def _strings(value: object) -> list[str]:
    """Every string inside a nested Block Kit structure."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if value.get("type") == "plain_text":  # Slack shows plain_text literally (no mentions, no links)
            return []
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_slack(text: str) -> None:
    for kind in (EventKind.BREACH, EventKind.SOURCE):
        message = render(_event(text, kind), now=NOW, buttons=True)
        for rendered in [message.text, *_strings(message.blocks)]:
            if rendered.startswith(("http://", "https://")):  # a button URL: percent-encoded, no markup
                assert not re.search(r"[<>|\s]", rendered), rendered
                continue
            if rendered.startswith("<http") and rendered.endswith(">"):  # our link: one URL, no label
                assert not re.search(r"[<>|\s]", rendered[1:-1]), rendered
                continue
            # Our own link is `<https://…>` with no label; nothing else may open a control sequence.
            assert not _SLACK_CONTROL.search(rendered), rendered
            assert not _BIDI.search(rendered) and not _CONTROL.search(rendered.replace("\n", ""))
            assert "@channel" not in rendered and "@here" not in rendered
            rendered.encode("utf-8")  # no lone surrogate left


def _check_mqtt(text: str) -> None:
    event = _event(text, EventKind.MENTION)
    payload = json.loads(encode(event).decode("utf-8"))
    assert payload["id"] == "ev-1"
    topic = topic_for("listener/+/#", event)
    assert not set(topic) & {"+", "#", "\x00"} and topic.endswith("/mentions")
    assert topic.count("/") == 4 and not topic.split("/")[3].startswith("$")


def _check_console(text: str) -> None:
    from alerts.console import ConsoleSink
    from listener.clock import FakeClock

    line = ConsoleSink(clock=FakeClock(NOW)).line(_event(text)).plain
    assert not _CONTROL.search(line) and not _BIDI.search(line)
    line.encode("utf-8")


def test_corpus_through_every_sink() -> None:
    """Thousands of hostile texts render safely in Slack, MQTT and the console."""
    for text in corpus(2000):
        _check_slack(text)
        _check_mqtt(text)
        _check_console(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec=None), max_size=300))
def test_random_text_through_every_sink(text: str) -> None:
    """Arbitrary code points, surrogates included, never break a renderer or open a ping."""
    _check_slack(text)
    _check_mqtt(text)
    _check_console(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=500), st.integers(min_value=1, max_value=600))
def test_clean_text_properties(text: str, limit: int) -> None:
    """Stored text is valid UTF-8, NUL-free, bounded, and unchanged when already clean and short."""
    cleaned = clean_text(text, limit=limit)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned and len(cleaned) <= limit
    assert clean_text(cleaned, limit=limit) == cleaned  # idempotent
    if len(text) <= limit and "\x00" not in text and text == text.encode("utf-8", "replace").decode():
        assert cleaned == text


@given(st.text(alphabet=st.characters(codec=None), max_size=300))
def test_format_clean_properties(text: str) -> None:
    """Sink cleaning drops controls and bidi overrides, keeps newlines, and is idempotent."""
    cleaned = clean(text)
    assert clean(cleaned) == cleaned
    assert not _BIDI.search(cleaned) and not _CONTROL.search(cleaned.replace("\n", ""))
    assert "\r" not in cleaned and "\t" not in cleaned


async def test_corpus_through_classification_storage_and_sweep(make_settings, clock) -> None:
    """Hostile mentions are polled, stored, classified and swept; every alert renders safely."""
    from listener.daemon import Daemon
    from listener.domain import Page
    from tests.doubles import RecordingSink, ScriptedConnector

    texts = [f"acme refund broken {text}" for text in corpus(600, seed=11)]
    mentions = [
        Mention(source="social", external_id=f"id-{i}", text=text, author=f"@u{i}\u202e<!here>",
                created_at=clock.now(), url=f"https://example.com/{i}/" + clean_text(text[:100]), brands=("acme",))
        for i, text in enumerate(texts)
    ]
    settings = make_settings({"sla": {"policies": [{"name": "all", "first_response": "60m"}]}})
    source, sink = ScriptedConnector("social", [Page(mentions, "c1")]), RecordingSink(kinds=None)

    async def burst() -> None:
        daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={"rec": sink},
                        connectors={"social": source})
        await daemon.run_once()

    await burst()
    clock.set(clock.now() + timedelta(hours=2))
    await burst()
    store = SyncStore(settings.listener.database)
    try:
        assert store.unclassified_keys() == []
        stored = store.get_mentions([f"social:id-{i}" for i in range(len(texts))])
    finally:
        store.close()
    assert len(stored) == len(texts)  # nothing lost, hostile or not
    for mention, text in zip(sorted(stored, key=lambda m: int(m.external_id[3:])), texts, strict=True):
        assert mention.text == clean_text(text)
    breaches = [event for event, _ in sink.events if event.kind == EventKind.BREACH]
    assert len(breaches) == len(texts)
    for event in breaches:
        message = render(event, now=clock.now(), buttons=True)
        for rendered in [message.text, *_strings(message.blocks)]:
            if not rendered.startswith(("http", "<http")):
                assert not _SLACK_CONTROL.search(rendered), rendered
        json.loads(encode(event))


def test_store_survives_lone_surrogates_outside_the_text(tmp_path) -> None:
    """A lone surrogate in a URL or author (possible from RSS/HTML sources) must not poison the page."""
    store = SyncStore(tmp_path / "db.sqlite")
    try:
        bad = Mention(source="social", external_id="1", text="acme broken", author="@a\ud800",
                      created_at=NOW, url="https://example.com/\udfff")
        good = Mention(source="social", external_id="2", text="acme broken", author="@b", created_at=NOW)
        assert len(store.ingest("social", [bad, good], [], "c", NOW)) == 2
    finally:
        store.close()


def test_redaction_masks_overlapping_secrets_whole() -> None:
    """When one secret contains another, the longer one is masked entirely (no tail leaks)."""
    from listener.redact import redact, register_secret

    register_secret("robust-short-secret")
    register_secret("robust-short-secret-with-a-long-tail")
    masked = redact("token robust-short-secret-with-a-long-tail and robust-short-secret")
    assert "long-tail" not in masked and "robust" not in masked
