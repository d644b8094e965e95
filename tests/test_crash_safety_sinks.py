"""The SIGKILL crash test for the newer sinks: each delivers every breach, and never duplicates beyond the bound."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from listener.store import SyncStore
from tests.alerts.fake_pagerduty import PATH as PD_PATH
from tests.alerts.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.alerts.fake_webhook import PATH as HOOK_PATH
from tests.alerts.fake_webhook import SECRET as HOOK_SECRET
from tests.alerts.fake_webhook import FakeReceiver
from tests.alerts.fake_zendesk import EMAIL as ZENDESK_EMAIL
from tests.alerts.fake_zendesk import TOKEN as ZENDESK_TOKEN
from tests.alerts.fake_zendesk import FakeZendesk
from tests.test_crash_safety import COMPLAINTS, KILLS, kill_at_random_points, start, write_config, write_sample

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def sink_tables(hook_url: str, pagerduty_url: str, zendesk_url: str) -> str:
    """The new sinks' tables, pointing at the loopback fakes."""
    return f"""
[alerts.webhook]
url = "{hook_url}"
secret = "{HOOK_SECRET}"
kinds = ["breach"]
timeout = "2s"
[alerts.pagerduty]
routing_key = "{ROUTING_KEY}"
url = "{pagerduty_url}"
timeout = "2s"
[alerts.zendesk]
base_url = "{zendesk_url}"
email = "{ZENDESK_EMAIL}"
api_token = "{ZENDESK_TOKEN}"
timeout = "2s"
"""


async def test_new_sinks_survive_sigkill_without_loss_or_unbounded_repeats(
    mosquitto: Any, tmp_path: Any, aiohttp_server: Callable[..., Any]
) -> None:
    hook = FakeReceiver()
    hook_server = await aiohttp_server(hook.app())
    pagerduty = FakePagerDuty()
    pagerduty_server = await aiohttp_server(pagerduty.app())
    zendesk = FakeZendesk()
    zendesk_server = await aiohttp_server(zendesk.app())
    sample, db, config = tmp_path / "sample.jsonl", tmp_path / "crash.db", tmp_path / "listener.toml"
    write_sample(sample, datetime.now(UTC))
    write_config(config, sample, db, mosquitto, extra=sink_tables(
        str(hook_server.make_url(HOOK_PATH)), str(pagerduty_server.make_url(PD_PATH)),
        str(zendesk_server.make_url("/")).rstrip("/")))

    await kill_at_random_points(config, db, seed=20261206)
    final = await start(config)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and min(
            len(hook.unique), len(pagerduty.alerts), len(zendesk.tickets)) < COMPLAINTS:
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
    breaches = {f"{c.mention_key}:breach" for c in clocks}
    assert len(breaches) == COMPLAINTS

    # Webhook: every breach arrived (signed), and a crash repeats at most the one send in flight.
    assert hook.rejected == 0
    assert set(hook.unique) == breaches
    repeats = sum(n - 1 for n in Counter(hook.keys).values())
    assert repeats <= KILLS, f"{repeats} repeated webhook deliveries for {KILLS} crashes"

    # PagerDuty: one alert per case, whatever was repeated (dedup_key = the case id).
    cases = {c.mention_key for c in clocks}
    assert sorted(a.dedup_key for a in pagerduty.alerts) == sorted(cases)
    triggers = sum(len(a.triggers) for a in pagerduty.alerts)
    assert COMPLAINTS <= triggers <= COMPLAINTS + KILLS, triggers

    # Zendesk: exactly one ticket per case, each with exactly one note for its breach.
    assert sorted(t.external_id or "" for t in zendesk.tickets.values()) == sorted(f"listener:{c}" for c in cases)
    assert all(len(t.comments) == 1 for t in zendesk.tickets.values())
    print(f"repeats after {KILLS} kills: webhook {repeats}, pagerduty triggers {triggers - COMPLAINTS}, "
          f"zendesk creates {sum(r.method == 'POST' for r in zendesk.requests) - COMPLAINTS}")
