"""E-mail sink: HTML and plain-text alerts over SMTP (STARTTLS by default) with aiosmtplib.

Per-recipient routes: every route whose brands/policies/sources/kinds match adds its recipients
(else the default `to`). The events of one case form one thread in mail clients (`In-Reply-To` and
`References` point at the case's first message, remembered as the ref), and each message's
`Message-ID` is derived from the event's stable id, so a message sent again after a crash has the
same id as the first (clients and archives show it once).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import ClassVar

import aiosmtplib

from alerts import mail_render
from alerts._format import one_line, truncate
from alerts.base import Event, EventKind, Sink
from alerts.registry import SinkContext
from config.sinks import EmailSettings
from listener.clock import Clock, SystemClock
from listener.errors import ConfigError, SinkError

logger = logging.getLogger(__name__)


def message_id(kind: str, key: str, domain: str) -> str:
    """A stable `<…@domain>` Message-ID for an event or a case."""
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    return f"<{kind}.{digest}@{domain}>"


class EmailSink(Sink):
    """Send alerts and digests as multipart (plain + HTML) e-mail."""

    name: ClassVar[str] = "email"

    def __init__(self, settings: EmailSettings, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._kinds = frozenset(settings.kinds)
        self._domain = parseaddr(settings.from_address)[1].rpartition("@")[2] or "listener.invalid"
        self._tls = self._tls_context(settings)

    @classmethod
    def from_settings(cls, settings: EmailSettings, context: SinkContext) -> EmailSink:
        """Build from `[alerts.email]` (the registry's entry point)."""
        return cls(settings, clock=context.clock)

    @staticmethod
    def _tls_context(settings: EmailSettings) -> ssl.SSLContext | None:
        if settings.security == "none":
            return None
        try:
            # Certificates and host names are always verified (the system store, or ca_file).
            return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError([f"alerts.email.ca_file: cannot load {settings.ca_file}: {err}"]) from None

    def recipients(self, event: Event) -> list[str]:
        """Everyone whose route matches `event`, else the default recipients (sorted, no repeats)."""
        policy = event.policy_name
        chosen = {address for route in self._settings.routes
                  if route.matches(brand=event.brand, policy=str(policy or ""), source=event.source,
                                   kind=event.kind.value)
                  for address in route.to}
        return sorted(chosen or set(self._settings.to))

    def accepts(self, event: Event) -> bool:
        """Alerts of the configured kinds that someone receives; a reply only after an alert."""
        if event.kind is EventKind.REPLIED and not event.alerted:
            return False
        return event.kind is not EventKind.MENTION and event.kind.value in self._kinds and bool(self.recipients(event))

    def channel_for(self, event: Event) -> str:
        """The recipient list is the channel noise controls count (and digests go to)."""
        return ",".join(self.recipients(event))

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Mail `event` to its recipients; the ref is the case's first Message-ID (for threading)."""
        now = self._clock.now()
        message = self._message(
            mail_render.subject(event, self._settings.subject_prefix), self.recipients(event),
            mail_render.plain(event, now), mail_render.html_part(event, now),
            message_id("event", event.id, self._domain))
        root = previous_ref if previous_ref and previous_ref.startswith("<") else None
        if root:
            message["In-Reply-To"] = root
            message["References"] = root
        message["X-Listener-Event"] = event.id if event.id.isascii() and event.id.isprintable() else "non-ascii"
        await self._send(message, event.id)
        return root or message["Message-ID"]

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """One e-mail listing the alerts held back from these recipients."""
        to = [a for a in channel.split(",") if "@" in a] or list(self._settings.to)
        message = self._message(
            mail_render.digest_subject(events, reasons, self._settings.subject_prefix), to,
            mail_render.digest_plain(events, reasons, digest_id), mail_render.digest_html(events, reasons, digest_id),
            message_id("digest", digest_id, self._domain))
        await self._send(message, digest_id)
        return None


    def _message(self, subject: str, to: Sequence[str], text: str, html: str, mid: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.from_address
        message["To"] = ", ".join(to)
        message["Subject"] = subject  # one line already: no header can be injected
        message["Date"] = format_datetime(self._clock.now())
        message["Message-ID"] = mid
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to alerts
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    async def _send(self, message: EmailMessage, key: str) -> None:
        s = self._settings
        what = f"email: {key} via {s.host}:{s.port}"
        try:
            errors, _ = await aiosmtplib.send(
                message, hostname=s.host, port=s.port,
                username=s.username or None, password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls", start_tls=True if s.security == "starttls" else False,
                tls_context=self._tls, timeout=s.timeout.total_seconds(),
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            raise SinkError(f"{what}: every recipient refused ({', '.join(map(str, codes))})",
                            permanent=all(code >= 500 for code in codes)) from None
        except aiosmtplib.SMTPAuthenticationError as err:
            raise SinkError(f"{what}: login refused ({err.code})", permanent=True) from None
        except aiosmtplib.SMTPResponseException as err:
            # 4xx (421 busy, 450/451/452 rate limits, greylisting) is "try again later"; 5xx is final.
            text = truncate(one_line(err.message), 200)
            raise SinkError(f"{what}: {err.code} {text}", permanent=err.code >= 500) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected,
                TimeoutError, OSError) as err:
            if isinstance(err, ssl.SSLCertVerificationError):
                raise SinkError(f"{what}: the server's certificate was not trusted", permanent=True) from None
            raise SinkError(f"{what}: {type(err).__name__}") from None
        except aiosmtplib.SMTPException as err:  # e.g. the server does not offer STARTTLS
            raise SinkError(f"{what}: {truncate(one_line(str(err)), 200)}", permanent=True) from None
        if errors:
            # Some recipients took it: sending again would repeat it for them. Say who did not.
            logger.warning("email: %s refused by %d recipient(s): %s", key, len(errors),
                           ", ".join(f"{addr} ({resp.code})" for addr, resp in errors.items()))
