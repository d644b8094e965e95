"""Keep secrets out of logs and error messages."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"xox[abprs]-[A-Za-z0-9-]+"),  # Slack tokens
    re.compile(r"https://hooks\.slack\.com/[^\s\"'<>]+"),  # Slack webhook URLs
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:access_?token|api_?key|password|secret|token)=)[^&\s]+"),
]
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a configured secret so that it is masked wherever it shows up."""
    if value and len(value) >= 6:
        _known.add(value)


def redact(text: str) -> str:
    """Mask known secrets and anything shaped like a token or webhook URL."""
    # Longest first: a secret that contains another must be masked whole, not leave its tail behind.
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that masks secrets in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message, redact it, and keep the record."""
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
