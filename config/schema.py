"""The root settings model; connector tables are validated by each connector's own model."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from config.sinks import (
    ALL_ALERT_KINDS,
    AlertKindName,
    EmailSettings,
    FreshdeskSettings,
    PagerDutySettings,
    RouteMatch,
    TeamsSettings,
    WebhookSettings,
    ZendeskSettings,
)
from config.types import Duration, StrictModel
from listener.noise import NoiseSettings, SpikeSettings
from listener.sla.policy import CalendarSettings, Policy


class DaemonSettings(StrictModel):
    """[listener]: process-wide settings."""

    database: Path = Field(default=Path("listener.db"), description="SQLite file; LISTENER_DB overrides it.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    shutdown_grace: Duration = Field(
        default="10s", validate_default=True, description="How long shutdown waits for in-flight work."
    )


class ClassifierPoolSettings(StrictModel):
    """[classifier.pool]: the MQTT broker and topics of the worker pool (backend = "pool")."""

    host: str = Field(default="127.0.0.1", description="MQTT 5 broker with shared subscriptions (Mosquitto 2).")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Use ${VAR}; never written to logs.")
    topic_prefix: str = "listener/pool"
    group: str = Field(default="classifiers", description="Shared-subscription group the workers join.")
    timeout: Duration = Field(
        default="30s", validate_default=True, description="An unanswered chunk is published again after this."
    )
    chunk_size: int = Field(default=8, ge=1, description="Texts per work message, so workers share a batch.")
    attempts: int = Field(default=5, ge=1, description="Publishes per chunk before the batch fails.")
    model_id: str = Field(default="pool", description="model_id reported until a worker answers.")

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s (an unanswered chunk is published again after it)")
        return value


class ClassifierSettings(StrictModel):
    """[classifier]: which model judges mentions, and how the pipeline batches them."""

    backend: Literal["builtin", "huggingface", "pool"] = "builtin"
    model: str = Field(default="", description="HF model id or local path (backend = huggingface).")
    labels: dict[str, Literal["negative", "neutral", "positive"]] = Field(
        default_factory=dict, description="Model label name -> sentiment (backend = huggingface)."
    )
    cache_dir: str = Field(
        default="", description="Where the converted backbone is cached (empty: $LISTENER_MODEL_CACHE or ~/.cache)."
    )
    complaint_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Builtin model: |p_complaint - threshold| < unsure_band, or heads disagreeing, marks a result "unsure".
    unsure_band: float = Field(default=0.1, ge=0.0, le=0.5)
    # Builtin model: a complaint also needs the sentiment head not to read the text as positive (models/decision.py).
    require_agreement: bool = True
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_wait: Duration = Field(default="50ms", validate_default=True)
    max_batch: int = Field(
        default=256, ge=1, le=4096, description="Most mentions one predict call takes when a backlog is queued."
    )
    runtime: Literal["onnx", "torch"] = Field(
        default="onnx", description="builtin backend: ONNX Runtime (torch when onnxruntime is missing) or torch."
    )
    int8: Literal["none", "upper", "mixed", "static", "all"] = Field(
        default="static",
        description="ONNX runtime: dynamic int8 on none (plain fp32), the upper six layers, the shipped smoothed "
        "preset, that preset with constant (calibrated) activation scales where they hold (default: 0.00 points "
        "of val accuracy for 2x ONNX fp32's speed; per-token scales on x86 without VNNI), or all.",
    )
    queue_size: int = Field(default=1000, ge=1)
    threads: int = Field(default=2, ge=1, le=64)
    pool: ClassifierPoolSettings = Field(default_factory=ClassifierPoolSettings)

    # Field validators that read earlier fields (`info.data`) so each error names its own key.
    @field_validator("model")
    @classmethod
    def _model_needed(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("backend") == "huggingface" and not value:
            raise ValueError("backend = \"huggingface\" needs `model` (a model id or a local path)")
        return value


class SlaSettings(StrictModel):
    """[sla]: response clocks. Without policies every complaint gets `target`, warned at `warn_after`."""

    target: Duration = Field(
        default="60m", validate_default=True, description="Deadline after the complaint was posted."
    )
    warn_after: Duration = Field(default="45m", validate_default=True, description="When the warning fires.")
    sweep_interval: Duration = Field(default="5s", validate_default=True)
    policies: list[Policy] = Field(default_factory=list, description="Ordered policies; the first match wins.")
    calendars: dict[str, CalendarSettings] = Field(default_factory=dict, description="Business calendars by name.")
    follow_up_window: Duration = Field(
        default="24h",
        validate_default=True,
        description="A complaint or question by the same customer about the same brand this soon "
        "joins their case (posts in the same thread or conversation always do).",
    )
    max_age: Duration | None = Field(
        default="72h",
        validate_default=True,
        description="Posts first seen longer than this after they were written (imports, "
        "backfills) get no clock.",
    )
    alert_unsure: bool = Field(
        default=False, description="Alert complaints the model was unsure of like any other (default: their "
        "clocks run and show in the queue, but warn and breach alerts wait until a person confirms them).",
    )

    @field_validator("target")
    @classmethod
    def _target_positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("target must be positive")
        return value

    @field_validator("warn_after")
    @classmethod
    def _warn_before_target(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        target = info.data.get("target")
        if target is not None and value > target:
            raise ValueError("warn_after must not be later than target")
        return value


class BrandSettings(StrictModel):
    """[brands.<name>]: what to listen for, and the brand's own accounts per source."""

    keywords: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    handles: dict[str, list[str]] = Field(default_factory=dict, description="Source name -> own accounts.")
    bots: dict[str, list[str]] = Field(
        default_factory=dict, description="Source name -> own auto-reply accounts (their replies never stop a clock)."
    )
    competitor: bool = False

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("keywords must not be blank")
        return value


class SlackRoute(RouteMatch):
    """[[alerts.slack.routes]]: send matching alerts to another channel; the first matching route wins."""

    channel: str = Field(
        default="", description="Channel for chat.postMessage (bot token); with webhook_url only a label."
    )
    webhook_url: SecretStr | None = Field(
        default=None, description="This route's own incoming webhook (${VAR}); one webhook posts to one channel."
    )

    @field_validator("webhook_url")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None


class SlackSettings(StrictModel):
    """[alerts.slack]: incoming webhook, or bot token for chat.postMessage/chat.update."""

    enabled: bool = True
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = Field(
        default=None, description="Verifies button clicks sent to /slack/actions (the app's Signing Secret)."
    )
    channel: str = ""
    base_url: str = Field(default="https://slack.com/api/", description="Web API root (bot token mode).")
    timeout: Duration = Field(default="10s", validate_default=True)
    kinds: list[AlertKindName] = Field(default_factory=lambda: list(ALL_ALERT_KINDS))
    routes: list[SlackRoute] = Field(
        default_factory=list,
        description="Per brand / policy / source / kind channels; the first match wins, else `channel`.",
    )

    @model_validator(mode="after")
    def _one_mode(self) -> SlackSettings:
        has_token = bool(self.bot_token and self.bot_token.get_secret_value())
        if has_token and not self.channel:
            raise ValueError("bot_token needs `channel`")
        configured = has_token or bool(self.webhook_url and self.webhook_url.get_secret_value().strip())
        for number, route in enumerate(self.routes if configured else (), start=1):
            if route.webhook_url is None and not route.channel:
                raise ValueError(f"routes[{number}]: set `channel` (bot token) or `webhook_url`")
            if route.webhook_url is None and not has_token:
                raise ValueError(
                    f"routes[{number}]: without bot_token a route needs its own `webhook_url` "
                    "(an incoming webhook always posts to the one channel it was made for)"
                )
        return self

    @property
    def configured(self) -> bool:
        """True when a webhook or a bot token is set (and not blank)."""
        webhook = self.webhook_url.get_secret_value() if self.webhook_url else ""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return self.enabled and bool(webhook or token)


class MqttSettings(StrictModel):
    """[alerts.mqtt]: every classified mention and every alert as JSON on a broker."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle that signed the broker's certificate (tls = true); the system store when unset.",
    )
    topic_prefix: str = "listener"
    client_id: str = ""
    qos: Literal[0, 1, 2] = 1
    timeout: Duration = Field(default="10s", validate_default=True)

    @field_validator("ca_file")
    @classmethod
    def _ca_needs_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not info.data.get("tls"):
            raise ValueError("ca_file needs tls = true")
        return value


class ConsoleSettings(StrictModel):
    """[alerts.console]: print alerts to standard output (the demo uses it)."""

    enabled: bool = False


class ListeningSettings(StrictModel):
    """[alerts.listening]: volume and negative-share spikes, crisis keywords and VIP or high-reach authors."""

    enabled: bool = True
    interval: Duration = Field(default="5m", validate_default=True, description="How often the listening job runs.")
    settle: Duration = Field(
        default="15m",
        validate_default=True,
        description="Wait this long after an hour ends before judging it (late polls, classification)."
    )
    spikes: SpikeSettings = Field(default_factory=SpikeSettings)
    crisis_keywords: list[str] = Field(
        default_factory=list, description="Whole words or phrases; each mention with one raises one alert."
    )
    vip_authors: dict[str, list[str]] = Field(
        default_factory=dict, description="Source name (glob) -> VIP handles; each mention by one raises one alert."
    )
    min_followers: int | None = Field(
        default=None, ge=1, description="Authors with this many followers are high-reach."
    )
    from_policies: bool = Field(
        default=True,
        description="Also watch the keywords, authors and min_followers of [[sla.policies]], "
        "within their brands/sources.",
    )
    max_age: Duration = Field(
        default="24h", validate_default=True, description="Older posts (backfills) raise no crisis or VIP alert."
    )
    cooldowns: dict[str, Duration] = Field(
        default_factory=lambda: {
            "spike.*": timedelta(hours=3), "crisis": timedelta(minutes=10), "vip": timedelta(hours=1)
        },
        description="Rule (glob) -> least time between two alerts of the rule for one subject "
        "(brand/source for spikes, brand/keyword for crisis, source/author for vip).",
    )

    @field_validator("crisis_keywords")
    @classmethod
    def _keywords_not_blank(cls, value: list[str]) -> list[str]:
        if any(not k.strip() for k in value):
            raise ValueError("crisis keywords must not be blank")
        return value

    @field_validator("vip_authors")
    @classmethod
    def _handles_not_blank(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if any(not h.strip() for handles in value.values() for h in handles):
            raise ValueError("VIP handles must not be blank")
        return value

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("interval must be positive")
        return value


class AlertSettings(StrictModel):
    """[alerts]: outbox dispatch and the sinks."""

    dispatch_interval: Duration = Field(default="1s", validate_default=True)
    retry_base: Duration = Field(default="2s", validate_default=True)
    retry_max: Duration = Field(default="5m", validate_default=True)
    max_in_flight: int = Field(
        default=1, ge=1, le=64,
        description=(
            "Sends per sink at once, across different complaints (one complaint's messages stay in order). "
            "Each send in flight is one message a crash can repeat: 1 keeps it to one per crash."
        ),
    )
    slack: SlackSettings = Field(default_factory=SlackSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    zendesk: ZendeskSettings = Field(default_factory=ZendeskSettings)
    freshdesk: FreshdeskSettings = Field(default_factory=FreshdeskSettings)
    noise: NoiseSettings = Field(default_factory=NoiseSettings)
    listening: ListeningSettings = Field(default_factory=ListeningSettings)


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


class ApiSettings(StrictModel):
    """[api]: the REST API, dashboard and web queue served by the daemon."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", description="Bind address; anything but loopback needs `token`.")
    port: int = Field(default=8787, ge=0, le=65535)
    token: SecretStr | None = Field(default=None, description="Bearer token clients must send (from ${ENV}).")
    users: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per-user bearer tokens (name = \"${ENV}\"): the web queue records actions under the name.",
    )

    @field_validator("token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("token must be at least 16 characters (generate one with `openssl rand -hex 32`)")
        return value

    @field_validator("users")
    @classmethod
    def _user_tokens(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        kept = {name: secret for name, secret in value.items() if secret.get_secret_value().strip()}
        for name, secret in kept.items():
            if not name.strip() or len(name) > 80 or not name.isprintable():
                raise ValueError(f"user name {name!r} must be 1 to 80 printable characters")
            if len(secret.get_secret_value()) < 16:
                raise ValueError(f"{name}: token must be at least 16 characters")
        tokens = [s.get_secret_value() for s in kept.values()]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two users have the same token")
        return kept

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ApiSettings:
        if not _is_loopback(self.host) and self.token is None and not self.users:
            raise ValueError(
                f"binding to {self.host!r} (not loopback) requires `token` "
                "(e.g. token = \"${LISTENER_API_TOKEN}\")"
            )
        return self


class Settings(StrictModel):
    """The whole configuration file."""

    listener: DaemonSettings = Field(default_factory=DaemonSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    brands: dict[str, BrandSettings] = Field(default_factory=dict)
    # Validated table by table against each connector's own model (see config.loader).
    connectors: dict[str, Any] = Field(default_factory=dict)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
