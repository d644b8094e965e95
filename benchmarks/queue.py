"""The web queue on the analytics benchmark database: one tab of /api/queue and the live-update poll."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.analytics import END, generate, timed
from listener.analytics.db import connect_readonly
from listener.analytics.filters import build_filters
from listener.analytics.queue import QueueQuery, queue
from listener.api.live import QueueWatcher


def run(n: int | None = None) -> str:
    """Generate the analytics database, time the queue queries, return the docs/benchmarks.md section."""
    n = n or int(os.environ.get("LISTENER_BENCH_MENTIONS", "1000000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queue.db"
        built = generate(path, n)
        conn = connect_readonly(path)
        now = END
        rows = {}
        for label, since in (("30 days", "30d"), ("365 days", "365d")):
            f = build_filters(since=since, until=None, now=now)
            page = queue(conn, f, QueueQuery(), competitors=["globex"], now=now)
            rows[label] = (timed(lambda f=f: queue(conn, f, QueueQuery(), competitors=["globex"], now=now)),
                           page["counts"]["complaints"])
        open_clocks = conn.execute("SELECT COUNT(*) FROM complaints WHERE state = 'open'").fetchone()[0]
        conn.close()
        watcher = QueueWatcher(path)
        # A fresh watcher reads the signature every time: the cost of one poll after a commit.
        poll = timed(lambda: (setattr(watcher, "_version", None), watcher._poll()))
        if watcher._conn is not None:
            watcher._conn.close()
    lines = [
        "## Web queue (`benchmarks/queue.py`)",
        "",
        f"The analytics benchmark's database: {n:,} mentions over 365 days, {int(built['complaints']):,} complaint "
        f"clocks of which {open_clocks:,} still open (the generator leaves a fifth open: far more than a real "
        "queue). Times in ms: first run, then the median of the following runs.",
        "",
        "| query | first | median |",
        "| --- | ---: | ---: |",
    ]
    for label, ((first, median), count) in rows.items():
        lines.append(f"| `/api/queue` our complaints, opened in the last {label} ({count:,} open, 200 per group, "
                     f"with counts and facets) | {first:.1f} | {median:.1f} |")
    lines += [
        f"| live-update poll after a commit (the clocks' signature) | {poll[0]:.1f} | {poll[1]:.1f} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
