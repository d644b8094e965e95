"""Settings of the sinks beyond Slack, MQTT and the console: [alerts.teams|email|webhook|pagerduty|zendesk]."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from config.types import Duration, StrictModel

AlertKindName = Literal["warn", "breach", "escalate", "action", "replied", "source", "spike", "crisis", "vip"]
ALL_ALERT_KINDS: list[AlertKindName] = [
    "warn", "breach", "escalate", "action", "replied", "source", "spike", "crisis", "vip"
]
# The generic webhook may also carry every classified mention (like MQTT).
WebhookKindName = Literal[
    "mention", "warn", "breach", "escalate", "action", "replied", "source", "spike", "crisis", "vip"
]
_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+")


def _every_alert_kind() -> list[WebhookKindName]:
    return list(ALL_ALERT_KINDS)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _any_glob(patterns: list[str], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _http_url(value: str, what: str) -> str:
    if value and not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"{what} must be an http(s) URL")
    return value


class RouteMatch(StrictModel):
    """What every sink's `routes` entry matches on: brands, policies, sources (globs) and alert kinds."""

    brands: list[str] = Field(default_factory=list, description="Brand names (globs); empty matches any.")
    policies: list[str] = Field(default_factory=list, description="SLA policy names (globs); empty matches any.")
    sources: list[str] = Field(default_factory=list, description="Source names (globs); empty matches any.")
    kinds: list[AlertKindName] = Field(default_factory=list, description="Alert kinds; empty matches any.")

    def matches(self, *, brand: str, policy: str, source: str, kind: str) -> bool:
        """Whether an alert with these facts takes this route."""
        return (
            _any_glob(self.brands, brand)
            and _any_glob(self.policies, policy)
            and _any_glob(self.sources, source)
            and (not self.kinds or kind in self.kinds)
        )


# ---- generic webhook -------------------------------------------------------------------------------


class WebhookSettings(StrictModel):
    """[alerts.webhook]: every accepted event as signed JSON to one URL (wire it into anything)."""

    enabled: bool = True
    url: SecretStr | None = Field(default=None, description="Where events are POSTed (${VAR}: it may hold a token).")
    secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key for the X-Listener-Signature header (${VAR}); required."
    )
    kinds: list[WebhookKindName] = Field(default_factory=_every_alert_kind)
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra request headers, e.g. { Authorization = \"Bearer ${TOKEN}\" }."
    )
    timeout: Duration = Field(default="10s", validate_default=True)
    noise_controls: bool = Field(
        default=False, description="Apply mutes, cooldowns, quiet hours and the rate limit (off: every event)."
    )

    @model_validator(mode="after")
    def _signed(self) -> WebhookSettings:
        url = _secret(self.url)
        _http_url(url, "url")
        if url and not _secret(self.secret):
            raise ValueError(
                "secret: set a signing secret (e.g. \"${LISTENER_WEBHOOK_SECRET}\"); requests are always signed"
            )
        return self

    @property
    def configured(self) -> bool:
        """True when enabled with a URL."""
        return self.enabled and bool(_secret(self.url))


# ---- Microsoft Teams (Workflows) -------------------------------------------------------------------


class TeamsRoute(RouteMatch):
    """[[alerts.teams.routes]]: matching alerts go to this Workflows webhook; the first match wins."""

    webhook_url: SecretStr = Field(description="The route's own Workflows webhook URL (${VAR}).")
    label: str = Field(default="", description="Name of the channel for noise controls (default: route N).")


class TeamsSettings(StrictModel):
    """[alerts.teams]: Adaptive Cards through a Teams Workflows ("When a Teams webhook request is received") URL."""

    enabled: bool = True
    webhook_url: SecretStr | None = Field(default=None, description="The workflow's HTTP POST URL (${VAR}).")
    kinds: list[AlertKindName] = Field(default_factory=lambda: list(ALL_ALERT_KINDS))
    routes: list[TeamsRoute] = Field(default_factory=list)
    timeout: Duration = Field(default="10s", validate_default=True)

    @model_validator(mode="after")
    def _urls(self) -> TeamsSettings:
        _http_url(_secret(self.webhook_url), "webhook_url")
        for number, route in enumerate(self.routes, start=1):
            if not _secret(route.webhook_url) and self.configured:
                raise ValueError(f"routes[{number}].webhook_url: is empty")
            _http_url(_secret(route.webhook_url), f"routes[{number}].webhook_url")
        return self

    @property
    def configured(self) -> bool:
        """True when enabled with a webhook URL."""
        return self.enabled and bool(_secret(self.webhook_url))


# ---- PagerDuty Events API v2 -----------------------------------------------------------------------

PagerDutySeverity = Literal["critical", "error", "warning", "info"]
PagerDutyTrigger = Literal["warn", "breach", "escalate", "crisis", "spike", "vip", "source"]
_PAGERDUTY_TRIGGERS: tuple[PagerDutyTrigger, ...] = ("breach", "escalate")
_PAGERDUTY_SEVERITIES: dict[str, PagerDutySeverity] = {"warn": "warning", "breach": "error", "escalate": "critical"}


class PagerDutyRoute(RouteMatch):
    """[[alerts.pagerduty.routes]]: matching cases page this service instead; the first match wins."""

    routing_key: SecretStr = Field(description="The service's Events API v2 integration key (${VAR}).")
    label: str = Field(default="", description="A name for logs and noise controls (default: route N).")


class PagerDutySettings(StrictModel):
    """[alerts.pagerduty]: trigger an incident on breach or escalation, resolve it when the brand replies."""

    enabled: bool = True
    routing_key: SecretStr | None = Field(default=None, description="Events API v2 integration key (${VAR}).")
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint.")
    trigger_on: list[PagerDutyTrigger] = Field(
        default_factory=lambda: list(_PAGERDUTY_TRIGGERS),
        description="Alert kinds that trigger (or re-trigger) the case's incident.",
    )
    severity: dict[str, PagerDutySeverity] = Field(
        default_factory=lambda: dict(_PAGERDUTY_SEVERITIES),
        description="Alert kind -> PagerDuty severity (others: error).",
    )
    client_url: str = Field(default="", description="A link shown in PagerDuty as the sender (your dashboard).")
    routes: list[PagerDutyRoute] = Field(default_factory=list)
    timeout: Duration = Field(default="10s", validate_default=True)
    noise_controls: bool = Field(
        default=False, description="Apply mutes, cooldowns, quiet hours (off: PagerDuty's own schedules decide)."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")

    @property
    def configured(self) -> bool:
        """True when enabled with a routing key."""
        return self.enabled and bool(_secret(self.routing_key))


# ---- e-mail (SMTP) ---------------------------------------------------------------------------------


class EmailRoute(RouteMatch):
    """[[alerts.email.routes]]: these recipients get the alerts that match; every matching route adds its `to`."""

    to: list[str] = Field(min_length=1, description="Addresses that receive what this route matches.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return _check_addresses(value)


def _check_addresses(value: list[str]) -> list[str]:
    for address in value:
        if not _ADDRESS.fullmatch(address.strip()):
            raise ValueError(f"{address!r} is not an e-mail address")
    return [a.strip() for a in value]


class EmailSettings(StrictModel):
    """[alerts.email]: HTML and plain-text alerts over SMTP (STARTTLS), per-recipient routes, digests."""

    enabled: bool = True
    host: str = Field(default="", description="SMTP server; empty leaves the sink off.")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (required, port 587), tls (implicit, port 465) or none (loopback only).",
    )
    username: str = ""
    password: SecretStr | None = None
    ca_file: Path | None = Field(default=None, description="PEM CA bundle for a server with a private certificate.")
    from_address: str = Field(default="", description="The From: address, e.g. \"Listener <alerts@example.com>\".")
    to: list[str] = Field(default_factory=list, description="Recipients of alerts no route matches.")
    routes: list[EmailRoute] = Field(default_factory=list)
    kinds: list[AlertKindName] = Field(default_factory=lambda: list(ALL_ALERT_KINDS))
    subject_prefix: str = "[listener]"
    timeout: Duration = Field(default="30s", validate_default=True)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return _check_addresses(value)

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if not self.configured:
            return self
        if not _ADDRESS.search(self.from_address):
            raise ValueError("from_address: set the sender address")
        if not self.to and not self.routes:
            raise ValueError("to: set recipients (or routes)")
        if self.security == "none" and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("security: \"none\" is only allowed for a loopback relay; use starttls or tls")
        return self

    @property
    def configured(self) -> bool:
        """True when enabled with a server."""
        return self.enabled and bool(self.host.strip())


# ---- help desk: Zendesk ----------------------------------------------------------------------------

TicketKind = Literal["warn", "breach", "escalate"]  # the alert kinds that may open a ticket (Freshdesk too)
_TICKET_KINDS: tuple[TicketKind, ...] = ("breach",)

class ZendeskSettings(StrictModel):
    """[alerts.zendesk]: one ticket per case (external_id), a private note per later event, solved on reply."""

    enabled: bool = True
    subdomain: str = Field(default="", description="`acme` for https://acme.zendesk.com; empty leaves it off.")
    base_url: str = Field(default="", description="Overrides the URL built from `subdomain` (a proxy, a test server).")
    email: str = Field(default="", description="The agent the API token belongs to.")
    api_token: SecretStr | None = Field(default=None, description="Zendesk API token (${VAR}).")
    create_on: list[TicketKind] = Field(
        default_factory=lambda: list(_TICKET_KINDS),
        description="Alert kinds that open the case's ticket; later events of the case add notes.",
    )
    group_id: int | None = Field(default=None, description="Assign new tickets to this group.")
    priority: Literal["", "low", "normal", "high", "urgent"] = "high"
    tags: list[str] = Field(default_factory=lambda: ["listener"])
    timeout: Duration = Field(default="15s", validate_default=True)

    @model_validator(mode="after")
    def _complete(self) -> ZendeskSettings:
        _http_url(self.base_url, "base_url")
        if self.subdomain and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.subdomain):
            raise ValueError("subdomain: only the name, e.g. \"acme\" for acme.zendesk.com")
        if self.configured and not (self.email and _secret(self.api_token)):
            raise ValueError("email and api_token: both are needed (token authentication)")
        return self

    @property
    def configured(self) -> bool:
        """True when enabled with a subdomain (or base URL)."""
        return self.enabled and bool(self.subdomain or self.base_url)

    @property
    def root(self) -> str:
        """The account's API root, without a trailing slash."""
        return (self.base_url or f"https://{self.subdomain}.zendesk.com").rstrip("/")


# ---- help desk: Freshdesk --------------------------------------------------------------------------


class FreshdeskSettings(StrictModel):
    """[alerts.freshdesk]: one ticket per case (tagged), a private note per later event, resolved on reply."""

    enabled: bool = True
    domain: str = Field(default="", description="`acme` for https://acme.freshdesk.com; empty leaves it off.")
    base_url: str = Field(default="", description="Overrides the URL built from `domain` (a proxy, a test server).")
    api_key: SecretStr | None = Field(default=None, description="The agent's Freshdesk API key (${VAR}).")
    requester_email: str = Field(default="", description="Requester of the tickets (Freshdesk requires one).")
    create_on: list[TicketKind] = Field(
        default_factory=lambda: list(_TICKET_KINDS),
        description="Alert kinds that open the case's ticket; later events of the case add notes.",
    )
    solved_status: Literal[4, 5] = Field(default=4, description="4 Resolved (reopenable) or 5 Closed, when replied.")
    priority: Literal[1, 2, 3, 4] = Field(default=3, description="1 low, 2 medium, 3 high, 4 urgent.")
    group_id: int | None = Field(default=None, description="Assign new tickets to this group.")
    tags: list[str] = Field(default_factory=lambda: ["listener"])
    timeout: Duration = Field(default="15s", validate_default=True)

    @model_validator(mode="after")
    def _complete(self) -> FreshdeskSettings:
        _http_url(self.base_url, "base_url")
        if self.domain and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.domain):
            raise ValueError("domain: only the name, e.g. \"acme\" for acme.freshdesk.com")
        if self.configured and not _secret(self.api_key):
            raise ValueError("api_key: needed (the agent's API key)")
        if self.configured and not _ADDRESS.fullmatch(self.requester_email.strip()):
            raise ValueError("requester_email: Freshdesk tickets need a requester, e.g. your social-care inbox")
        return self

    @property
    def configured(self) -> bool:
        """True when enabled with a domain (or base URL)."""
        return self.enabled and bool(self.domain or self.base_url)

    @property
    def root(self) -> str:
        """The account's API root, without a trailing slash."""
        return (self.base_url or f"https://{self.domain}.freshdesk.com").rstrip("/")
