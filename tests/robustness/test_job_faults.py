"""JobFaults: one database incident however many jobs hit it, backoff per job, edges logged once."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

from listener.faults import JobFaults


def _messages(caplog, level: int = logging.INFO) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.getMessage() for r in caplog.records if r.levelno >= level and r.name == "listener.faults"]


def test_database_outage_is_one_incident_across_jobs(clock, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    faults = JobFaults(clock, base=1.0, cap=8.0)
    full = sqlite3.OperationalError("database or disk is full")
    delays = [faults.failed("poll:feed", full) for _ in range(5)]
    faults.failed("sla:sweep", full)
    assert delays[0] < delays[2] and max(delays) <= 8.0 * 1.1  # doubling, capped (±10 % jitter)
    assert faults.store_failing and not faults.ready("poll:feed")
    faults.succeeded("sla:sweep")
    assert faults.store_failing  # the poll still fails: the incident goes on
    clock.advance(timedelta(seconds=90))
    faults.succeeded("poll:feed")
    assert not faults.store_failing and faults.ready("poll:feed")
    assert _messages(caplog) == [
        "database writes are failing (OperationalError: database or disk is full, first in poll:feed); "
        "every job backs off and retries until they work again",
        "database writes work again after 1m",
    ]
    assert sum(1 for r in caplog.records if r.exc_info) == 1


def test_other_errors_are_an_incident_per_job(clock, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    faults = JobFaults(clock)
    for _ in range(3):
        faults.failed("alerts:listening", KeyError("rule"))
    faults.succeeded("alerts:listening")
    faults.succeeded("alerts:listening")  # a success without a fault says nothing
    assert _messages(caplog) == [
        "alerts:listening failed (KeyError: 'rule'); retrying with backoff",
        "alerts:listening works again after 0s (3 failed runs)",
    ]
    assert not faults.store_failing
