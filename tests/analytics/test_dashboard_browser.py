"""The dashboard in a real headless Chromium: live clocks with colours, charts, SLA numbers as the API."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from listener.api.server import build_app
from listener.clock import FakeClock
from listener.domain import Mention, Sentiment
from listener.store import SyncStore
from models.base import Classification
from tests.analytics.conftest import analytics_settings
from tests.analytics.seed import Seeded, save_labels

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


def _database(seeded: Seeded, folder: Path) -> Path:
    """A copy of the seeded database plus three fresh open clocks: on time, warned, breached."""
    path = folder / "dash.db"
    with sqlite3.connect(seeded.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    store = SyncStore(path)
    for name, age in (("fresh", 10), ("warned", 50), ("late", 90)):
        at = NOW - timedelta(minutes=age)
        mention = Mention(
            source="mastodon",
            external_id=name,
            text=f"<b>{name}</b> order broken",
            author=f"@{name}",
            created_at=at,
            brands=("acme",),
        )
        store.ingest("mastodon", [mention], [], None, at)
        label = Classification(model_id="t", scored=True, sentiment=Sentiment.NEGATIVE, complaint=True, language="en")
        save_labels(store, [(mention, label)], at)
    store.close()
    return path


@pytest.fixture
def server(seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    db = _database(seeded, tmp_path)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(build_app(db, analytics_settings(db), clock=FakeClock(NOW)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{holder['port']}"
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="listener-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _api(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.load(resp)


def _duration(seconds: float | None) -> str:
    """The dashboard's fmtDuration, to compare what it shows with the API's numbers."""
    if seconds is None:
        return "–"
    s = round(abs(seconds))
    h, m, r = s // 3600, (s % 3600) // 60, s % 60
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{r:02d}s" if m else f"{r}s"


def test_dashboard_shows_clocks_charts_and_the_api_numbers(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    driver.get(server + "/")  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

    # Live clocks, coloured by state.
    def row(key: str):  # type: ignore[no-untyped-def]
        return driver.find_element(By.CSS_SELECTOR, f'#queue tr[data-key="{key}"]')  # type: ignore[attr-defined]

    assert row("mastodon:fresh").get_attribute("data-clock") == "ok"
    assert row("mastodon:warned").get_attribute("data-clock") == "warning"
    assert row("mastodon:late").get_attribute("data-clock") == "breach"
    assert "overdue" in row("mastodon:late").find_element(By.CLASS_NAME, "clock").text
    assert row("mastodon:fresh").find_element(By.CLASS_NAME, "text").text.startswith("<b>fresh</b>")  # text, not HTML
    before = row("mastodon:fresh").find_element(By.CLASS_NAME, "clock").text
    WebDriverWait(driver, 5).until(lambda _d: row("mastodon:fresh").find_element(By.CLASS_NAME, "clock").text != before)
    queue = _api(server, "/api/complaints?state=open&limit=200")
    shown = [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr")]  # type: ignore[attr-defined]
    assert shown == [c["mention_key"] for c in queue["items"]]

    # Charts: one line per source, then per brand after changing the grouping.
    trend = _api(server, "/api/trends?since=30d&by=source")
    sources = {r["source"] for r in trend["rows"]}
    paths = driver.find_elements(By.CSS_SELECTOR, "#negative-chart path.series")  # type: ignore[attr-defined]
    assert sorted(p.get_attribute("data-label") for p in paths) == sorted(sources)
    assert all(p.get_attribute("d").count("L") >= 5 for p in paths)
    Select(driver.find_element(By.ID, "by")).select_by_value("brand")  # type: ignore[attr-defined]
    wait.until(
        lambda d: (
            d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true"
            and sorted(
                p.get_attribute("data-label") for p in d.find_elements(By.CSS_SELECTOR, "#complaint-chart path.series")
            )
            == ["acme", "globex"]
        )
    )

    # SLA compliance: the same numbers as the API, competitor marked.
    sla = _api(server, "/api/sla?since=30d&by=brand")
    for expected in sla["rows"]:
        tr = driver.find_element(By.CSS_SELECTOR, f'#sla tr[data-brand="{expected["brand"]}"]')  # type: ignore[attr-defined]

        def cell(name: str, tr: object = tr) -> str:
            return tr.find_element(By.CSS_SELECTOR, f'td[data-field="{name}"]').text  # type: ignore[attr-defined]

        assert cell("complaints") == str(expected["complaints"])
        assert cell("breaches") == str(expected["breaches"])
        assert cell("median_response_s") == _duration(expected["median_response_s"])
        assert cell("median_business_s") == _duration(expected["median_business_s"])
        assert cell("not_complaint") == str(expected["not_complaint"])
        assert cell("response_rate") == f"{expected['response_rate'] * 100:.1f}%"
        assert ("(competitor)" in tr.text) is expected["competitor"]
