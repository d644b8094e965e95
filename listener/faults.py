"""Failures of the daemon's own jobs: back off, log one line per incident, notice the recovery.

A database that cannot be written (full disk, I/O error, lock held too long) fails every job at
once: that is one incident, "the database", logged when the first job hits it and again when the
last failing job works. Any other error is its own incident per job. Tracebacks go to DEBUG, once
per incident: a sick disk must not also fill the log.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime

from listener.backoff import Backoff
from listener.clock import Clock
from listener.redact import redact
from listener.timefmt import human_duration

logger = logging.getLogger(__name__)


def is_store_error(err: BaseException) -> bool:
    """Whether `err` came from the database rather than from the job's own logic."""
    return isinstance(err, sqlite3.Error)


def describe(err: BaseException) -> str:
    """`Type: message`, secrets masked."""
    return redact(f"{type(err).__name__}: {err}")


@dataclass(slots=True)
class Fault:
    """A job that is failing: since when, why, and when to try again."""

    job: str
    since: datetime
    error: str
    store: bool
    backoff: Backoff
    retry_at: float = 0.0  # time.monotonic()


@dataclass(slots=True)
class JobFaults:
    """Failure state of every periodic job of one daemon process."""

    clock: Clock
    base: float = 1.0
    cap: float = 60.0
    faults: dict[str, Fault] = field(default_factory=dict)
    # Bumped at every edge, so the daemon knows the stored picture is out of date.
    version: int = 0
    _store_since: datetime | None = field(default=None, init=False)

    def failed(self, job: str, err: BaseException) -> float:
        """Record a failed run of `job`; return how long it should wait before the next one (seconds)."""
        store = is_store_error(err)
        now = self.clock.now()
        fault = self.faults.get(job)
        if fault is None:
            fault = self.faults[job] = Fault(job, now, describe(err), store, Backoff(self.base, self.cap))
            self._first_failure(fault, err)
            self.version += 1
        else:
            became_store = store and not fault.store
            fault.error, fault.store = describe(err), store
            if became_store:
                self._first_failure(fault, err)
                self.version += 1
        delay = fault.backoff.next()
        fault.retry_at = time.monotonic() + delay
        return delay

    def _first_failure(self, fault: Fault, err: BaseException) -> None:
        if fault.store:
            if self._store_since is not None:
                return  # the database incident is already reported
            self._store_since = fault.since
            logger.warning("database writes are failing (%s, first in %s); every job backs off and retries "
                           "until they work again", fault.error, fault.job)
        else:
            logger.warning("%s failed (%s); retrying with backoff", fault.job, fault.error)
        logger.debug("%s: first failure of this incident", fault.job, exc_info=err)

    def succeeded(self, job: str) -> None:
        """Record a successful run of `job`: the end of its incident, if it had one."""
        fault = self.faults.pop(job, None)
        if fault is None:
            return
        self.version += 1
        now = self.clock.now()
        if not fault.store:
            logger.info("%s works again after %s (%d failed runs)", job, human_duration(now - fault.since, sep=""),
                        fault.backoff.failures)
        if self._store_since is not None and not any(f.store for f in self.faults.values()):
            logger.info("database writes work again after %s", human_duration(now - self._store_since, sep=""))
            self._store_since = None

    def ready(self, job: str) -> bool:
        """Whether `job` may run now (not waiting out a backoff)."""
        fault = self.faults.get(job)
        return fault is None or time.monotonic() >= fault.retry_at

    @property
    def store_failing(self) -> bool:
        """Whether some job is failing on the database right now."""
        return self._store_since is not None

