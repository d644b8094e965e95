"""build_sinks: only configured and enabled sinks, built from the settings."""

from __future__ import annotations

import aiohttp

from alerts import build_sinks
from alerts.slack import SlackSink
from config.schema import AlertSettings


async def test_nothing_configured_gives_no_sinks(session: aiohttp.ClientSession) -> None:
    assert build_sinks(AlertSettings(), session) == []


async def test_configured_sinks_in_order(session: aiohttp.ClientSession) -> None:
    settings = AlertSettings.model_validate(
        {
            "slack": {"webhook_url": "https://hooks.example/services/T/B/x"},
            "mqtt": {"enabled": True, "host": "127.0.0.1"},
            "console": {"enabled": True},
        }
    )
    sinks = build_sinks(settings, session)
    assert [sink.name for sink in sinks] == ["slack", "mqtt", "console"]


async def test_disabled_or_blank_slack_is_left_out(session: aiohttp.ClientSession) -> None:
    disabled = AlertSettings.model_validate({"slack": {"enabled": False, "webhook_url": "https://h.example/x"}})
    blank = AlertSettings.model_validate({"slack": {"webhook_url": ""}})  # e.g. ${SLACK_WEBHOOK_URL} unset
    assert build_sinks(disabled, session) == []
    assert build_sinks(blank, session) == []


async def test_bot_token_wins_over_webhook(session: aiohttp.ClientSession) -> None:
    settings = AlertSettings.model_validate(
        {"slack": {"webhook_url": "https://h.example/x", "bot_token": "xoxb-1", "channel": "C1"}}
    )
    [slack] = build_sinks(settings, session)
    assert isinstance(slack, SlackSink)
    assert slack.mode == "bot"
