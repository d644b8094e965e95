"""docs/sla.md stays true: its TOML examples validate and its explanation lines are what the code prints."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from listener.noise import NoiseSettings, SpikeSettings
from listener.sla.policy import CalendarSettings, Policy, build_calendar, check_references, compute_deadline

DOC = Path(__file__).resolve().parents[2] / "docs" / "sla.md"
BERLIN = ZoneInfo("Europe/Berlin")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_toml_examples_validate() -> None:
    calendars: dict[str, CalendarSettings] = {}
    policies: list[Policy] = []
    noise: list[Any] = []
    for text in blocks("toml"):
        data = tomllib.loads(text)
        sla = data.get("sla", {})
        calendars.update(
            {name: CalendarSettings.model_validate(table) for name, table in sla.get("calendars", {}).items()}
        )
        policies.extend(Policy.model_validate(table) for table in sla.get("policies", []))
        alerts = data.get("alerts", {})
        if "noise" in alerts:
            noise.append(NoiseSettings.model_validate(alerts["noise"]))
        if set(alerts.get("listening", {})) == {"spikes"}:  # the detector's own section
            noise.append(SpikeSettings.model_validate(alerts["listening"]["spikes"]))
    assert set(calendars) == {"support-eu", "night-desk", "crisis"}
    assert [p.name for p in policies][:2] == ["crisis", "vip"]
    assert check_references(policies, calendars) == []
    assert len(noise) == 2


def test_explanation_examples_are_real_output() -> None:
    shown = blocks("text")[0].strip().splitlines()
    plain = build_calendar("support-eu", CalendarSettings(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}))
    vip = Policy(name="vip", calendar="support-eu")
    first = compute_deadline(vip, plain, datetime(2026, 1, 9, 16, 30, tzinfo=BERLIN), author="ann")
    with_holidays = build_calendar(
        "support-eu",
        CalendarSettings(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}, holidays={"country": "DE"}),
    )
    complaints = Policy(name="complaints", calendar="support-eu")
    second = compute_deadline(complaints, with_holidays, datetime(2026, 4, 2, 16, 30, tzinfo=BERLIN), author="zoe")
    assert shown == [first.explain(), second.explain()]
