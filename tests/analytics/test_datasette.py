"""`datasette` opens the daemon's database and reads the documented analyst views, as docs/analytics.md says."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.analytics.seed import Seeded

datasette_app = pytest.importorskip("datasette.app", reason="datasette is in the test extra")


async def test_datasette_serves_the_analyst_views(seeded: Seeded, tmp_path: Path) -> None:
    snapshot = tmp_path / "listener.db"
    shutil.copy(seeded.path, snapshot)  # the docs advise a snapshot while the daemon writes
    ds = datasette_app.Datasette([], immutables=[str(snapshot)])
    await ds.invoke_startup()
    response = await ds.client.get(
        "/listener.json?sql=select+state,+count(*)+as+n+from+v_complaints+group+by+state+order+by+state&_shape=array"
    )
    assert response.status_code == 200, response.text
    rows = response.json()
    with sqlite3.connect(snapshot) as db:
        expected = db.execute("SELECT state, count(*) FROM v_complaints GROUP BY state ORDER BY state").fetchall()
    assert [(r["state"], r["n"]) for r in rows] == expected and expected
    views = await ds.client.get("/listener.json")
    assert {"v_mentions", "v_complaints", "v_trend_daily"} <= {v["name"] for v in views.json()["views"]}
