"""Cost of the outbox event codec per event: `python -m benchmarks.events`.

The dispatcher decodes every queued event it delivers and the store encodes every event it queues, so
these run once per delivery. Reported: the best of five runs of 20,000 calls each, in microseconds, for
a breach (a clock event with its policy), encoded and decoded in the stored form (version 2), decoded
from a row written before the typed event (version 1, flat with `extra`), and the wire form MQTT and
the webhook send (`to_dict`).
"""

from __future__ import annotations

import json
import platform
import timeit
from datetime import UTC, datetime, timedelta

from listener.events import Event, EventKind, Policy

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
CALLS = 20_000


def sample() -> Event:
    """A breach as the sweep raises it."""
    return Event(
        id="mastodon:109:breach", kind=EventKind.BREACH, brand="acme", thread="mastodon:109", created_at=NOW,
        source="mastodon", mention_key="mastodon:109", author="@dana@example.social",
        text="My acme router dropped the connection again, third time today.", url="https://example.social/@dana/109",
        sentiment="negative", p_complaint=0.93, language="en", mention_at=NOW - timedelta(minutes=61),
        deadline=NOW - timedelta(minutes=1), state="breach", alerted=True,
        policy=Policy(name="default", calendar="24/7", explain="60m wall-clock time under policy 'default' on "
                      "calendar '24/7' (24/7 UTC) from @dana@example.social's message at Mon 09:00 -> Mon 10:00"),
    )


def main() -> None:
    """Print one line per operation."""
    event = sample()
    stored = event.to_json()
    old_row = json.dumps(event.to_dict(), ensure_ascii=False)
    cases = {
        "encode (stored, v2)": event.to_json,
        "decode (stored, v2)": lambda: Event.from_json(stored),
        "decode (old row, v1)": lambda: Event.from_json(old_row),
        "wire form (to_dict)": event.to_dict,
    }
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    for name, call in cases.items():
        best = min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6
        print(f"{name:22} {best:6.1f} us")
    print(f"stored bytes: v2 {len(stored.encode())}, v1 {len(old_row.encode())}")


if __name__ == "__main__":
    main()
