"""The web queue and dashboard in a real headless Chromium: tabs, clicks, keys, live updates, hostile text, charts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from listener.api.server import build_app
from listener.clock import FakeClock
from listener.domain import Mention, Sentiment
from listener.interact import ClockActions
from listener.store import Store, SyncStore
from models.base import Classification
from tests.analytics.conftest import analytics_settings
from tests.analytics.seed import Seeded, save_labels

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
# Screenshots go to a temporary folder; LISTENER_SCREENSHOTS=docs/img refreshes the ones in the docs.
SHOTS = os.environ.get("LISTENER_SCREENSHOTS")
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
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "quotes" {{7*7}}'

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


def _open_clock(store: SyncStore, name: str, age_minutes: int, *, text: str | None = None, author: str | None = None,
                brand: str = "acme", unsure: bool = False, complaint: bool = True) -> str:
    """A negative complaint posted `age_minutes` before NOW (the default policy: warning at 45m, deadline 60m);
    `complaint=False`: a neutral post (no clock); `unsure`: the model's judgement was low-confidence."""
    at = NOW - timedelta(minutes=age_minutes)
    mention = Mention(
        source="mastodon",
        external_id=name,
        text=text if text is not None else f"{name}: order broken",
        author=author or f"@{name}",
        created_at=at,
        brands=(brand,),
        url=f"https://social.example/@{name}/1",
    )
    store.ingest("mastodon", [mention], [], None, at)
    label = Classification(model_id="t", scored=True, language="en", unsure=unsure, complaint=complaint,
                           sentiment=Sentiment.NEGATIVE if complaint else Sentiment.NEUTRAL)
    save_labels(store, [(mention, label)], at)
    return mention.key


def _database(seeded: Seeded, folder: Path) -> Path:
    """A copy of the seeded database plus fresh clocks: on time, warned, breached, hostile, a question, a rival's."""
    path = folder / "dash.db"
    with sqlite3.connect(seeded.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    store = SyncStore(path)
    store.set_competitors(["globex"])
    _open_clock(store, "fresh", 10)
    _open_clock(store, "calm", 20)
    _open_clock(store, "warned", 50)
    _open_clock(store, "late", 90)
    _open_clock(store, "evil", 5, text=HOSTILE, author='<b onmouseover="window.__pwned=3">@evil</b>')
    _open_clock(store, "rival", 30, brand="globex")
    question = _open_clock(store, "question", 15)
    store.close()
    with sqlite3.connect(path) as conn:  # as a non-complaint policy (questions-and-praise) would have opened it
        conn.execute("UPDATE complaints SET is_complaint = 0, policy = 'questions-and-praise' WHERE mention_key = ?",
                     [question])
    return path


@dataclass
class Server:
    base: str
    db: Path
    shots: Path


@pytest.fixture
def server(seeded: Seeded, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """The API and page with the daemon's action path; `[api]` settings from an indirect parameter."""
    db = _database(seeded, tmp_path)
    settings = analytics_settings(db, **getattr(request, "param", {}))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        clock = FakeClock(NOW)
        store = await Store(db).open()
        actions = ClockActions(store, None, clock.now)  # the daemon's path, without sinks
        app = build_app(db, settings, clock=clock, actions=actions, live_interval_s=0.2)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder.update(runner=runner, store=store, port=runner.addresses[0][1])

    async def stop() -> None:
        await holder["runner"].cleanup()
        await holder["store"].close()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(20)
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    yield Server(f"http://127.0.0.1:{holder['port']}", db, shots)
    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="listener-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
        logs = driver.get_log("browser")
        asked = [e for e in logs if e["source"] == "network" and "status of 401" in e["message"]]  # token asked
        assert [e for e in logs if e["level"] == "SEVERE" and e not in asked] == []  # no script error on the page
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _api(base: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + path, timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.load(resp)


def _duration(seconds: float | None) -> str:
    """The page's fmtDuration, to compare what it shows with the API's numbers."""
    if seconds is None:
        return "–"
    s = round(abs(seconds))
    d, h, m, r = s // 86400, (s % 86400) // 3600, (s % 3600) // 60, s % 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {r:02d}s" if m else f"{r}s"


def _actions(db: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT mention_key, action, user, COALESCE(assignee, ''), via FROM actions"
            " WHERE via LIKE 'web%' ORDER BY id"
        ).fetchall()


def _loaded(driver: Any) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")


def _row(driver: Any, key: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'#queue tr[data-key="{key}"]')


def _shown(driver: Any) -> list[str]:
    # One script call: the rows may be replaced by a live update between two WebDriver calls.
    keys: list[str] = driver.execute_script(
        'return [...document.querySelectorAll("#queue tbody tr[data-key]")].map(r => r.dataset.key)'
    )
    return keys


def test_queue_tabs_order_hostile_text_and_live_update(server: Server, browser: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(server.base + "/")
    _loaded(driver)
    wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException])  # rows re-rendered live

    # Our complaints by default: due next first (earliest deadline), then overdue (newest breach first).
    api = _api(server.base, "/api/queue?since=30d&limit=200")
    assert _shown(driver) == [i["mention_key"] for i in api["due"] + api["overdue"]]
    assert [i["mention_key"] for i in api["due"]] == [
        "mastodon:warned", "mastodon:calm", "mastodon:fresh", "mastodon:evil"]
    assert api["overdue"][0]["mention_key"] == "mastodon:late"
    overdue = [i["deadline"] for i in api["overdue"]]
    assert overdue == sorted(overdue, reverse=True) and len(overdue) > 1
    shown = set(_shown(driver))
    assert "mastodon:question" not in shown and "mastodon:rival" not in shown
    assert _row(driver, "mastodon:fresh").get_attribute("data-clock") == "ok"
    assert _row(driver, "mastodon:warned").get_attribute("data-clock") == "warning"
    assert _row(driver, "mastodon:late").get_attribute("data-clock") == "breach"
    # Counts per tab, as the API counts them.
    for tab, count in api["counts"].items():
        assert driver.find_element(By.ID, f"tab-{tab}").text.endswith(f"({count})")
    # Long overdue times read in days.
    clocks = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#group-overdue td.clock")]
    assert any(re.fullmatch(r"overdue \d+d \d+h", c) for c in clocks)
    assert not any(re.search(r"\d{3,}h", c) for c in clocks)
    # The live clock ticks.
    before = _row(driver, "mastodon:fresh").find_element(By.CLASS_NAME, "clock").text
    wait.until(lambda _d: _row(driver, "mastodon:fresh").find_element(By.CLASS_NAME, "clock").text != before)

    # Hostile mention text and author are shown as text, never run or parsed as HTML.
    evil = _row(driver, "mastodon:evil")
    assert evil.find_element(By.CLASS_NAME, "text").text == HOSTILE
    assert evil.find_elements(By.CSS_SELECTOR, "img, script, b") == []
    assert driver.execute_script("return window.__pwned === undefined")

    # Title-bar cue: one complaint is about to breach.
    assert driver.title.startswith("(1) about to breach")

    # Tabs: questions and competitors each in their own tab.
    driver.find_element(By.ID, "tab-other").click()
    wait.until(lambda _d: _shown(driver) == ["mastodon:question"])
    driver.find_element(By.ID, "tab-competitors").click()
    wait.until(lambda _d: "mastodon:rival" in _shown(driver) and "mastodon:fresh" not in _shown(driver))
    driver.find_element(By.ID, "tab-complaints").click()
    wait.until(lambda _d: "mastodon:fresh" in _shown(driver))

    # A new complaint about to breach arrives without reloading: the row appears and the title cues it.
    driver.execute_script("window.__same_page = true")
    store = SyncStore(server.db)
    _open_clock(store, "sudden", 55)
    store.close()
    wait.until(lambda _d: "mastodon:sudden" in _shown(driver))
    assert driver.execute_script("return window.__same_page === true")
    wait.until(lambda d: d.title.startswith("(2) about to breach"))
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-cue") == "1"

    # Charts: round ticks, never past 100 %, no breach red among the series colours.
    labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg.chart text.y-tick")]
    values = [float(v.rstrip("%")) for v in labels]
    assert values and max(values) <= 100 and all(v == round(v, 1) for v in values)
    colours = {p.get_attribute("stroke").lower() for p in driver.find_elements(By.CSS_SELECTOR, "path.series")}
    assert colours and "#c62828" not in colours
    # SLA: the API's numbers; the within-target bar is green only when the share is good.
    sla = _api(server.base, "/api/sla?since=30d&by=brand")
    for expected in sla["rows"]:
        tr = driver.find_element(By.CSS_SELECTOR, f'#sla tr[data-brand="{expected["brand"]}"]')
        cell = tr.find_element(By.CSS_SELECTOR, 'td[data-field="median_response_s"]')
        assert cell.text == _duration(expected["median_response_s"])
        share = expected["within_target_share"]
        if share is not None:
            band = tr.find_element(By.CSS_SELECTOR, ".bar").get_attribute("data-band")
            assert band == ("good" if share >= 0.9 else "fair" if share >= 0.75 else "poor")
    assert driver.save_screenshot(str(server.shots / "queue.png"))
    assert driver.find_element(By.CSS_SELECTOR, "section.charts").screenshot(str(server.shots / "charts.png"))


def test_actions_by_click_and_keyboard(server: Server, browser: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(server.base + "/")
    _loaded(driver)
    wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException])  # rows re-rendered live
    name = driver.find_element(By.ID, "my-name")
    name.send_keys("manager", Keys.TAB)

    def who(key: str) -> str:
        return _row(driver, key).find_element(By.CLASS_NAME, "who").text

    # Clicks: Acknowledge, then Assign to a named person.
    _row(driver, "mastodon:fresh").find_element(By.CSS_SELECTOR, "button[data-action=ack]").click()
    wait.until(lambda _d: "acked by manager" in who("mastodon:fresh"))
    _row(driver, "mastodon:fresh").find_element(By.CSS_SELECTOR, "button[data-action=assign]").click()
    field = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "tr.action-form input[name=assignee]"))
    field.clear()
    field.send_keys("sam")
    assert driver.save_screenshot(str(server.shots / "queue-assign.png"))
    field.send_keys(Keys.ENTER)
    wait.until(lambda _d: "→ sam" in who("mastodon:fresh"))
    assert _row(driver, "mastodon:fresh").find_element(By.CSS_SELECTOR, "a[data-action=open]").get_attribute(
        "href") == "https://social.example/@fresh/1"

    # Keyboard: j/k move the selection; s snoozes (Enter picks 30 minutes), n and r close clocks.
    keys = ActionChains(driver)
    assert driver.switch_to.active_element.get_attribute("data-key") == "mastodon:fresh"  # focus stays on the row
    keys.send_keys("j").perform()  # from the last acted-on row (fresh) to the next one down
    wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key") == "mastodon:evil")
    keys.send_keys("kkkk").perform()  # up to the top row, and no further
    wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key") == "mastodon:warned")
    assert _row(driver, "mastodon:warned").get_attribute("aria-selected") == "true"
    keys.send_keys("s").perform()
    snooze = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "tr.action-form select[name=minutes]"))
    assert driver.switch_to.active_element == snooze
    snooze.send_keys(Keys.ENTER)
    wait.until(lambda _d: "snoozed to 12:30 UTC" in who("mastodon:warned"))
    wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key") == "mastodon:warned")
    keys.send_keys("n").perform()  # not a complaint: it leaves the complaints tab
    wait.until(lambda _d: "mastodon:warned" not in _shown(driver))
    # The focus moved on; mark the now-selected clock replied.
    selected = wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key"))
    keys.send_keys("r").perform()
    wait.until(lambda _d: selected not in _shown(driver))
    assert driver.find_element(By.ID, "action-status").get_attribute("data-result") == "done"

    # The same records as Slack's buttons, with who and from where.
    assert _actions(server.db) == [
        ("mastodon:fresh", "ack", "manager", "", "web/open"),
        ("mastodon:fresh", "assign", "manager", "sam", "web/open"),
        ("mastodon:warned", "snooze", "manager", "", "web/open"),
        ("mastodon:warned", "not_complaint", "manager", "", "web/open"),
        (selected, "replied", "manager", "", "web/open"),
    ]
    with sqlite3.connect(server.db) as conn:
        states = dict(conn.execute(
            "SELECT mention_key, state FROM complaints WHERE mention_key IN (?, ?)", ["mastodon:warned", selected]))
    assert states == {"mastodon:warned": "not_complaint", selected: "marked_replied"}
    # The action's follow-up has put the focus back on a row; only then press keys on the tabs.
    wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key") in _shown(d))
    # Tabs by keyboard: arrow keys move between them.
    driver.find_element(By.ID, "tab-complaints").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda _d: _shown(driver) == ["mastodon:question"])
    assert driver.switch_to.active_element.get_attribute("id") == "tab-other"


def test_unsure_items_show_a_badge_a_review_tab_and_can_be_confirmed(server: Server, browser: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = SyncStore(server.db)
    store.set_competitors(["globex"])
    hedged = _open_clock(store, "hedged", 70, unsure=True)  # past its deadline, never alerted
    maybe = _open_clock(store, "maybe", 8, text=HOSTILE, unsure=True, complaint=False)  # no clock: to review
    store.close()
    time.sleep(1)  # the server's watcher (0.2 s) has seen these writes: no redraw under the checks below
    driver = browser
    driver.get(server.base + "/")
    _loaded(driver)
    wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException])

    # Our complaints: the unsure clock is listed, with its badge and a Confirm button; sure ones have neither.
    assert _row(driver, hedged).find_element(By.CSS_SELECTOR, ".badge.unsure").text == "unsure"
    assert _row(driver, hedged).find_elements(By.CSS_SELECTOR, "button[data-action=confirm]")
    assert not _row(driver, "mastodon:late").find_elements(
        By.CSS_SELECTOR, ".badge.unsure, button[data-action=confirm]")
    # The review tab: the unsure clock, and the unsure judgement without a clock (hostile text stays text).
    driver.find_element(By.ID, "tab-unsure").click()
    wait.until(lambda _d: {hedged, maybe} <= set(_shown(driver)) and "mastodon:late" not in _shown(driver))
    review = _row(driver, maybe)
    assert review.find_element(By.CLASS_NAME, "text").text == HOSTILE
    assert review.find_elements(By.CSS_SELECTOR, "img, script, b") == []
    assert driver.execute_script("return window.__pwned === undefined")
    assert review.find_element(By.CLASS_NAME, "clock").text == "to review"
    assert [b.get_attribute("data-action") for b in review.find_elements(By.TAG_NAME, "button")] == [
        "confirm", "not_complaint"]
    assert driver.save_screenshot(str(server.shots / "queue-unsure.png"))
    # Confirm by click (the judgement gets its clock), then the unsure clock by keyboard (c).
    review.find_element(By.CSS_SELECTOR, "button[data-action=confirm]").click()
    wait.until(lambda _d: maybe not in _shown(driver))
    # Our own action redraws the queue: click the row again if it was replaced under us.
    wait.until(lambda _d: _row(driver, hedged).find_element(By.CLASS_NAME, "text").click() is None)
    wait.until(lambda d: d.switch_to.active_element.get_attribute("data-key") == hedged)
    ActionChains(driver).send_keys("c").perform()
    wait.until(lambda _d: hedged not in _shown(driver))
    assert _actions(server.db) == [
        (maybe, "confirm", "web", "", "web/open"), (hedged, "confirm", "web", "", "web/open")]
    with sqlite3.connect(server.db) as conn:
        rows = dict(conn.execute(
            "SELECT mention_key, unsure FROM complaints WHERE mention_key IN (?, ?)", [hedged, maybe]))
    assert rows == {hedged: 0, maybe: 0}


DANA = "dana-token-0123456789abcdef"


@pytest.mark.parametrize("server", [{"token": "shared-token-0123456789abc", "users": {"dana": DANA}}], indirect=True)
def test_sign_in_with_a_personal_token_records_the_user(server: Server, browser: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(server.base + "/")
    wait = WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException])
    token = wait.until(
        lambda d: d.find_element(By.ID, "token") if d.find_element(By.ID, "login").is_displayed() else None)
    token.send_keys(DANA, Keys.ENTER)
    _loaded(driver)
    assert driver.find_element(By.ID, "signed-in").text == "signed in as dana"
    assert not driver.find_element(By.ID, "my-name").is_displayed()  # the token names the user
    wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "on")  # events carry the token
    _row(driver, "mastodon:late").find_element(By.CSS_SELECTOR, "button[data-action=replied]").click()
    wait.until(lambda _d: "mastodon:late" not in _shown(driver))
    assert _actions(server.db) == [("mastodon:late", "replied", "dana", "", "web/user-token")]
