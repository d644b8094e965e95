"""The daemon's small error family; foreign exceptions are translated at the edges."""

from __future__ import annotations


class ListenerError(Exception):
    """Base class of every error the daemon raises on purpose."""


class ConfigError(ListenerError):
    """The configuration is invalid; `problems` holds `dotted.key.path: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SourceError(ListenerError):
    """A permanent source failure (bad request, changed schema): needs an operator."""


class TransientSourceError(SourceError):
    """Network trouble, timeout, 5xx or rate limit: retry later, after `retry_after` if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceAuthError(SourceError):
    """Credentials were rejected (401/403)."""


class SinkError(ListenerError):
    """An alert could not be delivered; it stays in the outbox and is retried."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
