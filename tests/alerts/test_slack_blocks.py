"""Slack rendering: hostile text can never ping or forge a link, and Block Kit limits hold."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from alerts._format import clean
from alerts.base import Event, EventKind
from alerts.slack import SlackSink
from alerts.slack_blocks import escape, render, safe_url
from config.schema import SlackSettings
from listener.clock import FakeClock
from tests.alerts.conftest import NOW
from tests.alerts.fake_slack import TOKEN, FakeSlack
from tests.alerts.test_slack import texts

HOSTILE = [
    "<!channel> refund now",
    "<!here|x> look",
    "<!everyone>",
    "<@U1> and <@W123|bob>",
    "<!subteam^S0123|@support> help",
    "<#C0123|general>",
    "<http://evil.example|click here for your refund>",
    "<mailto:x@evil.example|mail>",
    "&lt;!channel&gt; pre-escaped",
    "&amp;lt;@U1&amp;gt; twice",
    "<b>bold</b><script>alert(1)</script><img src=x onerror=alert(1)>",
    "plain @channel and @here and @everyone and @dana",
    "\u202eevil\u202c reversed \u2066isolate\u2069",
    "nul\x00 bell\x07 esc\x1b[31mred\x1b[0m",
    "lone \ud800 surrogate",
    "multi\nline\n<!channel>\n> fake quote",
    "x" * 50_000,
    "<" * 5000 + "!channel" + ">" * 5000,
    "&" * 4000,
]

_SEQUENCE = re.compile(r"<([^<>]*)>")
_PLAIN_MENTION = re.compile(r"@(channel|here|everyone|dana|support|U1)\b")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def assert_harmless(strings: list[str], allowed_links: set[str]) -> None:
    """No ping, no forged link, no bidi override in any rendered string."""
    for text in strings:
        for sequence in _SEQUENCE.findall(text):
            assert sequence in allowed_links, f"control sequence <{sequence}> in {text[:200]!r}"
        # Our own link may contain `@name` in its path; outside it, no plain mention may remain.
        outside = _SEQUENCE.sub("", text)
        assert not _PLAIN_MENTION.search(outside), text[:200]
        assert not _BIDI.search(text)
        assert "\x00" not in text and "\x1b" not in text


def unescape(text: str) -> str:
    """What a Slack reader sees for escaped mrkdwn."""
    return text.replace("\u2060", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def quoted_section(blocks: list[dict[str, Any]]) -> str:
    """The block-quoted text section (the mention text)."""
    [section] = [b for b in blocks if b["type"] == "section" and "text" in b]
    return str(section["text"]["text"])


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_text_renders_harmless(
    fake_slack: tuple[FakeSlack, TestServer],
    session: aiohttp.ClientSession,
    make_event: Callable[..., Event],
    clock: FakeClock,
    hostile: str,
) -> None:
    fake, server = fake_slack
    settings_ = SlackSettings(bot_token=TOKEN, channel="#a", base_url=str(server.make_url("/api/")))
    event = make_event(EventKind.BREACH, text=hostile, author=hostile[:300])
    await SlackSink(settings_, session, clock=clock).send(event, None)
    assert fake.problems == []  # every block parsed back into slack_sdk models
    [message] = fake.messages.values()
    strings = [*texts(message["blocks"]), message["text"]]
    assert_harmless(strings, {"https://example.social/@dana/109"})
    # Nothing is lost but what the limit cuts: the reader sees the original words.
    shown = quoted_section(message["blocks"])
    assert len(shown) <= 3000
    expected = clean(hostile)
    seen = unescape(shown).replace("\n> ", "\n").removeprefix("> ")
    if seen.endswith("…"):
        assert expected.startswith(seen[:-1])
    else:
        assert seen == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://ok.example/a|<!channel>",
        "https://ok.example/<@U1>",
        "http://x.example/?q=<http://evil|x>&a=b",
        "data:text/html,<script>",
        "https://" + "a" * 5000 + ".example/",
        "ftp://files.example/x",
        "//no-scheme.example/x",
        "",
    ],
)
def test_hostile_urls_never_make_a_forged_link(make_event: Callable[..., Event], url: str) -> None:
    event = make_event(EventKind.BREACH, url=url)
    message = render(event, now=NOW, buttons=True)
    link = safe_url(url)
    allowed = {link.replace("&", "&amp;")} if link else set()
    assert_harmless([*texts(message.blocks), message.text], allowed)
    buttons = [el for b in message.blocks if b["type"] == "actions" for el in b["elements"]]
    if link is None:  # no link button for a URL we cannot show safely; the action buttons stay
        assert not [el for el in buttons if "url" in el]
    else:
        assert link.startswith(("http://", "https://"))
        assert not set("<>| ") & set(link)


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("buttons", [True, False])
def test_every_kind_renders_valid_blocks(make_event: Callable[..., Event], kind: EventKind, buttons: bool) -> None:
    extra: dict[str, Any] = {"response_seconds": 1800.0} if kind == EventKind.REPLIED else {}
    if kind == EventKind.SOURCE:
        extra = {"brand": "", "mention_key": "", "text": "", "url": "", "detail": "401 from <!here> server"}
    message = render(make_event(kind, **extra), now=NOW, buttons=buttons)
    for raw in message.blocks:
        model = Block.parse(raw)
        assert model is not None and model.to_dict() == raw
    assert message.blocks[0]["type"] == "header"
    assert len(message.blocks[0]["text"]["text"]) <= 150
    has_buttons = any(b["type"] == "actions" for b in message.blocks)
    assert has_buttons == (buttons and kind != EventKind.SOURCE)
    assert_harmless([*texts(message.blocks), message.text], {"https://example.social/@dana/109"})


def test_replied_shows_the_response_time(make_event: Callable[..., Event]) -> None:
    fast = render(make_event(EventKind.REPLIED, response_seconds=1500.0), now=NOW, buttons=False)
    slow = render(make_event(EventKind.REPLIED, response_seconds=5400.0), now=NOW, buttons=False)
    assert "replied after 25m (within target)" in "\n".join(texts(fast.blocks))
    assert "replied after 1h 30m (30m late)" in "\n".join(texts(slow.blocks))


def test_long_fields_are_cut_to_block_kit_limits(make_event: Callable[..., Event]) -> None:
    event = make_event(EventKind.BREACH, author="<" * 10_000, brand="b" * 500, sentiment="n" * 5000)
    message = render(event, now=NOW, buttons=True)
    fields = next(b for b in message.blocks if b["type"] == "section" and "fields" in b)["fields"]
    assert all(len(field["text"]) <= 2000 for field in fields)
    assert any(field["text"].endswith("…") for field in fields)
    assert len(message.text) <= 500


@pytest.mark.parametrize(("limit", "text"), [(10, "<<<<<<<<"), (7, "a&b<c>d"), (3000, "x" * 2999 + "&")])
def test_escape_never_cuts_an_entity(limit: int, text: str) -> None:
    out = escape(text, limit)
    assert len(out) <= limit
    assert not re.search(r"&(a|am|l|g|lt|gt|amp)?…$", out), out
    assert "<" not in out and ">" not in out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), author=st.text(max_size=60), url=st.text(max_size=80))
def test_any_text_renders_valid_harmless_blocks(
    make_event: Callable[..., Event], text: str, author: str, url: str
) -> None:
    event = make_event(EventKind.BREACH, text=text, author=author, url=url)
    message = render(event, now=NOW, buttons=True)
    for raw in message.blocks:
        model = Block.parse(raw)
        assert model is not None and model.to_dict() == raw
    link = safe_url(url)
    for string in [*texts(message.blocks), message.text]:
        for sequence in _SEQUENCE.findall(string):
            assert link is not None and sequence == link.replace("&", "&amp;")
        assert not _BIDI.search(string)
