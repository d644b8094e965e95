"""The SIGKILL crash test for the newer sinks: each gets every breach, and repeats stay within the bound.

Reuses tests/test_crash_safety.py (the same sample, config and kill loop) with the webhook, Teams,
e-mail, PagerDuty, Zendesk and Freshdesk sinks pointing at loopback fakes and a real SMTP server.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.freshdesk import case_tag
from listener.store import SyncStore
from tests.alerts import fake_freshdesk, fake_pagerduty, fake_teams, fake_webhook, fake_zendesk
from tests.alerts.smtp_server import SmtpServer
from tests.test_crash_safety import COMPLAINTS, KILLS, kill_at_random_points, start, write_config, write_sample

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


@pytest.fixture
def smtp(tmp_path: Path, unused_tcp_port: int) -> Iterator[SmtpServer]:
    """A plain local SMTP server (the sink's `security = "none"` is allowed on loopback only)."""
    server = SmtpServer(tmp_path / "unused-cert", tmp_path / "unused-key", unused_tcp_port, starttls=False)
    yield server
    server.stop()


def sink_tables(urls: dict[str, str], smtp_port: int) -> str:
    """The new sinks' tables, pointing at the fakes; each gets the breaches."""
    return f"""
[alerts.webhook]
url = "{urls['webhook']}"
secret = "{fake_webhook.SECRET}"
kinds = ["breach"]
timeout = "2s"
[alerts.teams]
webhook_url = "{urls['teams']}?{fake_teams.QUERY}"
kinds = ["breach"]
timeout = "2s"
[alerts.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "listener@acme.example"
to = ["care@acme.example"]
kinds = ["breach"]
timeout = "2s"
[alerts.pagerduty]
routing_key = "{fake_pagerduty.ROUTING_KEY}"
url = "{urls['pagerduty']}"
timeout = "2s"
[alerts.zendesk]
base_url = "{urls['zendesk']}"
email = "{fake_zendesk.EMAIL}"
api_token = "{fake_zendesk.TOKEN}"
timeout = "2s"
[alerts.freshdesk]
base_url = "{urls['freshdesk']}"
api_key = "{fake_freshdesk.API_KEY}"
requester_email = "social@acme.example"
timeout = "2s"
"""


def repeats(keys: list[str]) -> int:
    """How many deliveries were repeats of one already received."""
    return sum(n - 1 for n in Counter(keys).values())


async def test_new_sinks_survive_sigkill_without_loss_or_unbounded_repeats(
    mosquitto: Any, tmp_path: Path, aiohttp_server: Callable[..., Any], smtp: SmtpServer
) -> None:
    hook = fake_webhook.FakeReceiver()
    teams = fake_teams.FakeWorkflow()
    pagerduty = fake_pagerduty.FakePagerDuty()
    zendesk = fake_zendesk.FakeZendesk()
    freshdesk = fake_freshdesk.FakeFreshdesk()
    servers = {name: await aiohttp_server(fake.app()) for name, fake in
               (("webhook", hook), ("teams", teams), ("pagerduty", pagerduty), ("zendesk", zendesk),
                ("freshdesk", freshdesk))}
    urls = {
        "webhook": str(servers["webhook"].make_url(fake_webhook.PATH)),
        "teams": str(servers["teams"].make_url(fake_teams.PATH)),
        "pagerduty": str(servers["pagerduty"].make_url(fake_pagerduty.PATH)),
        "zendesk": str(servers["zendesk"].make_url("/")).rstrip("/"),
        "freshdesk": str(servers["freshdesk"].make_url("/")).rstrip("/"),
    }
    sample, db, config = tmp_path / "sample.jsonl", tmp_path / "crash.db", tmp_path / "listener.toml"
    write_sample(sample, datetime.now(UTC))
    write_config(config, sample, db, mosquitto, extra=sink_tables(urls, smtp.port))

    def card_ids() -> list[str]:
        return [str(c["attachments"][0]["content"]["body"][-1]["inlines"][0]["text"]).removeprefix("event ")
                for c in teams.cards]

    def mail_ids() -> list[str]:
        return [str(r.message["X-Listener-Event"]) for r in smtp.handler.received]

    def counts() -> list[int]:
        return [len(hook.unique), len(set(card_ids())), len(set(mail_ids())), len(pagerduty.alerts),
                len(zendesk.tickets), len(freshdesk.tickets)]

    await kill_at_random_points(config, db, seed=20261206)
    final = await start(config)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and min(counts()) < COMPLAINTS:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # anything still to come would be a duplicate: give it the chance
    final.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(final.communicate(), 30)
    assert final.returncode == 0, out.decode()

    store = SyncStore(db)
    try:
        clocks = store.complaints()
    finally:
        store.close()
    cases = {c.mention_key for c in clocks}
    breaches = {f"{case}:breach" for case in cases}
    assert len(cases) == COMPLAINTS

    # Webhook, Teams, e-mail: every breach arrived; a crash repeats at most the one send in flight.
    assert hook.rejected == 0 and teams.problems == []
    assert set(hook.unique) == set(card_ids()) == set(mail_ids()) == breaches
    found = {"webhook": repeats(hook.keys), "teams": repeats(card_ids()), "email": repeats(mail_ids())}
    # PagerDuty: one alert per case, whatever was repeated (dedup_key = the case id).
    assert sorted(a.dedup_key for a in pagerduty.alerts) == sorted(cases)
    found["pagerduty"] = sum(len(a.triggers) for a in pagerduty.alerts) - COMPLAINTS
    # E-mail repeats keep their Message-ID, so a mail client shows them once.
    by_event: dict[str, set[str]] = {}
    for received in smtp.handler.received:
        by_event.setdefault(str(received.message["X-Listener-Event"]), set()).add(str(received.message["Message-ID"]))
    assert all(len(ids) == 1 for ids in by_event.values())
    # Help desks: exactly one ticket per case, each holding its breach exactly once.
    assert sorted(t.external_id or "" for t in zendesk.tickets.values()) == sorted(f"listener:{c}" for c in cases)
    assert all(len(t.comments) == 1 for t in zendesk.tickets.values())
    assert len(freshdesk.tickets) == COMPLAINTS and all(t.notes == [] for t in freshdesk.tickets.values())
    assert all(len(freshdesk.tagged(tag)) == 1 for tag in {case_tag(c) for c in cases})
    found["zendesk"] = sum(r.method == "POST" for r in zendesk.requests) - COMPLAINTS
    found["freshdesk"] = sum(r.method == "POST" for r in freshdesk.requests) - COMPLAINTS
    print(f"repeated sends after {KILLS} kills: {found}")
    assert all(0 <= n <= KILLS for n in found.values()), found
