"""The e-mail sink against a real local SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerts import build_sinks
from alerts.base import Event, EventKind
from alerts.mail import EmailSink
from config.loader import parse_config
from config.schema import AlertSettings
from config.sinks import EmailSettings
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.errors import ConfigError, SinkError
from listener.events import Policy
from listener.noise import NoiseSettings
from listener.store import Store, SyncStore
from tests.alerts.conftest import NOW
from tests.alerts.smtp_server import PASSWORD, USER, Received, SmtpServer, make_certificate

ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "h2", "table", "tr", "th", "td", "blockquote", "br", "p", "a"}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path], unused_tcp_port: int) -> Iterator[SmtpServer]:
    server = SmtpServer(*certificate, unused_tcp_port)
    yield server
    server.stop()


def settings_for(server: SmtpServer, cert: Path, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "localhost", "port": server.port, "username": USER, "password": PASSWORD, "ca_file": cert,
        "from_address": "Listener <alerts@acme.example>", "to": ["care@acme.example"], "timeout": "10s",
    }
    values.update(overrides)
    return EmailSettings(**values)


def sink_for(server: SmtpServer, cert: Path, clock: FakeClock, **overrides: Any) -> EmailSink:
    return EmailSink(settings_for(server, cert, **overrides), clock=clock)


def parts(received: Received) -> tuple[str, str]:
    plain = received.message.get_body(("plain",))
    html = received.message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


class Tags(HTMLParser):
    """Every tag and attribute an HTML document really contains."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name == "href":
                self.hrefs.append(value or "")


async def test_sends_plain_and_html_over_starttls_with_login(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(smtp, certificate[0], clock)
    ref = await sink.send(make_event(EventKind.BREACH), None)
    [got] = smtp.handler.received
    assert got.tls and got.recipients == ["care@acme.example"] and got.sender == "alerts@acme.example"
    message = got.message
    assert message["Subject"] == ("[listener] Response deadline missed · acme · @dana@example.social: "
                                  "My acme router dropped the connection again, third time today.")
    assert message["Auto-Submitted"] == "auto-generated" and message["X-Listener-Event"] == "mastodon:109:breach"
    assert ref is not None and ref == message["Message-ID"] and ref.endswith("@acme.example>")
    plain, html = parts(got)
    assert "Deadline: 2026-01-05 09:59 UTC (1m overdue)" in plain and "> My acme router" in plain
    assert "Open post: https://example.social/@dana/109" in plain
    assert '<a href="https://example.social/@dana/109">Open post</a>' in html
    assert "<th" in html and "negative (complaint 93%)" in html


async def test_later_events_of_a_case_thread_under_the_first_message(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(smtp, certificate[0], clock)
    root = await sink.send(make_event(EventKind.WARN, deadline=NOW + timedelta(minutes=15)), None)
    assert await sink.send(make_event(EventKind.BREACH), root) == root
    assert await sink.send(make_event(EventKind.REPLIED, response_seconds=600.0, state="replied"), root) == root
    first, breach, replied = (r.message for r in smtp.handler.received)
    assert "In-Reply-To" not in first
    assert breach["In-Reply-To"] == root and replied["References"] == root
    assert replied["Subject"].startswith("[listener] Complaint answered")
    assert "replied after 10m (within target)" in parts(smtp.handler.received[2])[0]


async def test_a_message_sent_again_after_a_crash_has_the_same_message_id(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(smtp, certificate[0], clock)
    await sink.send(make_event(), None)
    clock.advance(timedelta(seconds=30))
    await sink.send(make_event(), None)
    first, again = (r.message["Message-ID"] for r in smtp.handler.received)
    assert first == again


async def test_hostile_text_is_escaped_and_never_a_header_tag_or_link(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(smtp, certificate[0], clock)
    event = make_event(
        text='<script>alert(1)</script><img src=x onerror=alert(2)> "><a href="javascript:alert(3)">win</a>\u202e',
        author="@eve\r\nBcc: victim@evil.example\r\n\r\n<b>",
        url='https://example.social/p?q="><script>x</script>',
        state="assigned to <iframe src=//evil>",
        kind=EventKind.ACTION,
    )
    await sink.send(event, None)
    [got] = smtp.handler.received
    assert got.recipients == ["care@acme.example"] and "Bcc" not in got.message
    assert "\n" not in got.message["Subject"] and "\r" not in got.message["Subject"]
    plain, html = parts(got)
    tags = Tags()
    tags.feed(html)
    assert tags.tags <= ALLOWED_TAGS, tags.tags
    assert "onerror" not in tags.attributes and "src" not in tags.attributes
    assert tags.hrefs == ["https://example.social/p?q=%22%3E%3Cscript%3Ex%3C/script%3E"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;iframe src=//evil&gt;" in html
    assert "\u202e" not in html + plain


async def test_per_recipient_routes_and_digests(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(smtp, certificate[0], clock, routes=[
        {"policies": ["vip*"], "to": ["vip-desk@acme.example", "lead@acme.example"]},
        {"kinds": ["breach"], "to": ["lead@acme.example"]},
    ])
    vip = make_event(EventKind.WARN, policy=Policy(name="vip-gold"))
    assert sink.recipients(vip) == ["lead@acme.example", "vip-desk@acme.example"]
    assert sink.recipients(make_event(EventKind.BREACH)) == ["lead@acme.example"]
    assert sink.recipients(make_event(EventKind.WARN)) == ["care@acme.example"]  # no route: the default
    assert sink.channel_for(vip) == "lead@acme.example,vip-desk@acme.example"
    await sink.send(vip, None)
    assert smtp.handler.received[0].recipients == ["lead@acme.example", "vip-desk@acme.example"]
    events = [make_event(id=f"m{i}:warn", kind=EventKind.WARN, text=f"<b>complaint {i}</b>") for i in range(3)]
    assert await sink.send_digest(sink.channel_for(vip), events, ["quiet_hours"], "digest:mail:1") is None
    digest = smtp.handler.received[1]
    assert digest.recipients == ["lead@acme.example", "vip-desk@acme.example"]
    assert digest.message["Subject"] == "[listener] 3 alerts held during quiet hours"
    plain, html = parts(digest)
    assert plain.count("Complaint nearing its deadline") == 3 and "&lt;b&gt;complaint 2&lt;/b&gt;" in html


async def test_accepts_only_alerts_someone_receives(clock: FakeClock, make_event: Callable[..., Event]) -> None:
    sink = EmailSink(EmailSettings(host="mail.example", from_address="a@acme.example",
                                   routes=[{"brands": ["acme"], "to": ["acme@acme.example"]}]), clock=clock)
    assert sink.accepts(make_event(EventKind.BREACH))
    assert not sink.accepts(make_event(EventKind.BREACH, brand="other"))  # no route and no default `to`
    assert not sink.accepts(make_event(EventKind.MENTION))
    assert not sink.accepts(make_event(EventKind.REPLIED, policy=Policy(), alerted=False))


@pytest.mark.parametrize(
    ("script", "permanent"),
    [
        ({"data": "451 4.7.1 Rate limited, try again later"}, False),
        ({"data": "421 4.3.2 Service shutting down"}, False),
        ({"data": "552 5.3.4 Message too big"}, True),
        ({"rcpt": "450 4.2.1 Mailbox busy"}, False),
        ({"rcpt": "550 5.1.1 No such user"}, True),
    ],
)
async def test_smtp_refusals_are_retried_or_permanent_by_their_code(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event],
    script: dict[str, str], permanent: bool,
) -> None:
    if "data" in script:
        smtp.handler.data_answers.append(script["data"])
    else:
        smtp.handler.rcpt_answers["care@acme.example"] = script["rcpt"]
    with pytest.raises(SinkError) as info:
        await sink_for(smtp, certificate[0], clock).send(make_event(), None)
    assert info.value.permanent is permanent
    assert smtp.handler.received == []


async def test_one_refused_recipient_does_not_stop_the_others(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp.handler.rcpt_answers["gone@acme.example"] = "550 5.1.1 No such user"
    sink = sink_for(smtp, certificate[0], clock, to=["care@acme.example", "gone@acme.example"])
    await sink.send(make_event(), None)
    assert smtp.handler.received[0].recipients == ["care@acme.example"]
    assert "refused by 1 recipient(s): gone@acme.example (550)" in caplog.text


async def test_a_wrong_password_is_permanent_and_never_shown(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as info:
        await sink_for(smtp, certificate[0], clock, password="WRONGpassword").send(make_event(), None)
    assert info.value.permanent and "login refused (535)" in str(info.value)
    assert "WRONGpassword" not in str(info.value) + caplog.text


async def test_an_untrusted_certificate_is_refused(
    smtp: SmtpServer, certificate: tuple[Path, Path], clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    with pytest.raises(SinkError) as info:
        await sink_for(smtp, certificate[0], clock, ca_file=None).send(make_event(), None)
    assert info.value.permanent and "certificate" in str(info.value)
    assert smtp.handler.received == []


async def test_a_server_without_starttls_is_refused(
    certificate: tuple[Path, Path], unused_tcp_port: int, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    plain = SmtpServer(*certificate, unused_tcp_port, starttls=False)
    try:
        with pytest.raises(SinkError) as info:
            await sink_for(plain, certificate[0], clock, username="", password=None).send(make_event(), None)
    finally:
        plain.stop()
    assert info.value.permanent and plain.handler.received == []


async def test_no_server_is_retried(
    certificate: tuple[Path, Path], unused_tcp_port: int, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    sink = EmailSink(EmailSettings(host="127.0.0.1", port=unused_tcp_port, from_address="a@acme.example",
                                   to=["b@acme.example"], ca_file=certificate[0], timeout="3s"), clock=clock)
    with pytest.raises(SinkError) as info:
        await sink.send(make_event(), None)
    assert not info.value.permanent


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"email": {"host": "mail.example", "to": ["a@acme.example"]}}})
    assert any(p.startswith("alerts.email") and "from_address" in p for p in info.value.problems), info.value.problems
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"email": {"host": "mail.example", "from_address": "a@acme.example",
                                           "to": ["a@acme.example"], "security": "none"}}})
    assert any("loopback" in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"email": {"host": "m.example", "from_address": "a@acme.example", "to": ["nope"]}}})
    assert any("alerts.email.to" in p for p in info.value.problems), info.value.problems


async def test_registry_builds_it_only_with_a_host(session: aiohttp.ClientSession) -> None:
    on = AlertSettings.model_validate({"email": {"host": "mail.example", "from_address": "a@acme.example",
                                                 "to": ["b@acme.example"]}})
    assert [s.name for s in build_sinks(on, session)] == ["email"]
    assert build_sinks(AlertSettings(), session) == []


async def test_quiet_hours_through_the_outbox_become_one_digest_mail_per_recipient_list(
    smtp: SmtpServer, certificate: tuple[Path, Path], tmp_path: Path, make_event: Callable[..., Event]
) -> None:
    start = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # a Monday night, quiet from 22:00 to 07:00
    clock = FakeClock(start)
    sink = sink_for(smtp, certificate[0], clock, routes=[{"kinds": ["breach"], "to": ["night-lead@acme.example"]}])
    noise = NoiseSettings.model_validate({"quiet_hours": [{"hours": "22:00-07:00", "timezone": "UTC"}]})
    store = await Store(tmp_path / "db.sqlite").open()
    try:
        dispatcher = Dispatcher(store, {"email": sink}, clock, noise=noise)
        for n in range(3):
            event = make_event(EventKind.BREACH, id=f"c{n}:breach", thread=f"c{n}", created_at=start,
                               text=f"<i>complaint {n}</i>")
            await store.call(SyncStore.enqueue, event, dispatcher.route)
        await store.call(SyncStore.enqueue, make_event(EventKind.WARN, id="c9:warn", thread="c9", created_at=start),
                         dispatcher.route)
        await dispatcher.dispatch_once()
        assert smtp.handler.received == []  # held for the night
        clock.set(start + timedelta(hours=8))  # 07:00
        await dispatcher.dispatch_once()
        await dispatcher.dispatch_once()  # nothing twice
    finally:
        await store.close()
    digests = {tuple(r.recipients): r for r in smtp.handler.received}
    assert sorted(digests) == [("care@acme.example",), ("night-lead@acme.example",)]
    lead = digests[("night-lead@acme.example",)]
    assert lead.message["Subject"] == "[listener] 3 alerts held during quiet hours"
    plain, html = parts(lead)
    assert all(f"complaint {n}" in plain for n in range(3)) and "&lt;i&gt;complaint 0&lt;/i&gt;" in html
    assert digests[("care@acme.example",)].message["Subject"] == "[listener] 1 alert held during quiet hours"
