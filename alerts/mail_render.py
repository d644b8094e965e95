"""Render alerts as e-mail: an HTML part (every untrusted value escaped) and a plain-text part.

The HTML has no scripts, no remote images and no styles from outside: values are escaped with
`html.escape(quote=True)`, the only link is the post's own http(s) URL (percent-encoded, then
escaped as an attribute), and control and bidi characters are removed before anything else.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from alerts._format import body_text, facts, one_line, safe_http_url, title, truncate, utc_text
from alerts.base import Event

SUBJECT_MAX = 150
TEXT_MAX = 5000
DIGEST_SHOWN = 50
_REASONS = {"quiet_hours": "held during quiet hours", "rate_limit": "over the rate limit"}
_COLOURS = {"breach": "#b42318", "escalate": "#b42318", "warn": "#b54708", "replied": "#067647"}
_CELL = 'style="padding:2px 12px 2px 0;vertical-align:top"'


def esc(text: str) -> str:
    """Text we did not write, safe in HTML content and in quoted attributes."""
    return html.escape(text, quote=True)


def subject(event: Event, prefix: str) -> str:
    """One line: `[listener] Response deadline missed · acme · @dana: My router…`."""
    who = one_line(event.author)
    line = f"{title(event)} · {one_line(event.brand or event.source)}" + (f" · {who}" if who else "")
    text = one_line(body_text(event))
    line += f": {text}" if text else ""
    return truncate(f"{one_line(prefix)} {line}".strip(), SUBJECT_MAX)


def plain(event: Event, now: datetime) -> str:
    """The text/plain part."""
    lines = [title(event), ""]
    lines += [f"{label}: {value}" for label, value in facts(event, now)]
    quoted = truncate(body_text(event), TEXT_MAX)
    if quoted:
        lines += ["", *(f"> {line}" for line in quoted.splitlines())]
    if url := safe_http_url(event.url):
        lines += ["", f"Open post: {url}"]
    lines += ["", f"event {event.id}"]
    return "\n".join(lines) + "\n"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th {_CELL} align=\"left\">{esc(label)}</th><td {_CELL}>{esc(value)}</td></tr>"
                    for label, value in rows)
    return f"<table role=\"presentation\">{cells}</table>"


def _page(heading: str, colour: str, inner: str) -> str:
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + esc(heading) + "</title></head>"
            "<body style=\"font-family:sans-serif\">"
            f"<h2 style=\"color:{colour}\">{esc(heading)}</h2>{inner}</body></html>")


def html_part(event: Event, now: datetime) -> str:
    """The text/html part: the facts as a table, the mention as a quote, the post as a link."""
    return _page(title(event), _COLOURS.get(event.kind.value, "#344054"), html_fragment(event, now))


def html_fragment(event: Event, now: datetime) -> str:
    """The body of the HTML (also a help-desk note): facts, quote, link and the event id, all escaped."""
    inner = _table(facts(event, now))
    quoted = truncate(body_text(event), TEXT_MAX)
    if quoted:
        body = "<br>".join(esc(line) for line in quoted.splitlines())
        inner += f"<blockquote style=\"border-left:3px solid #ccc;margin:12px 0;padding-left:12px\">{body}</blockquote>"
    if url := safe_http_url(event.url):
        inner += f"<p><a href=\"{esc(url)}\">Open post</a></p>"
    inner += f"<p style=\"color:#667085;font-size:small\">event {esc(event.id)}</p>"
    return inner


def digest_subject(events: Sequence[Event], reasons: Sequence[str], prefix: str) -> str:
    """`[listener] 12 alerts held during quiet hours`."""
    return truncate(f"{one_line(prefix)} {_digest_heading(events, reasons)}".strip(), SUBJECT_MAX)


def _digest_heading(events: Sequence[Event], reasons: Sequence[str]) -> str:
    why = ", ".join(_REASONS.get(r, r.replace("_", " ")) for r in reasons) or "held back"
    return f"{len(events)} alert{'s' if len(events) != 1 else ''} {why}"


def _digest_row(event: Event) -> tuple[str, str, str, str]:
    return (utc_text(event.created_at), title(event), truncate(one_line(f"{event.brand} {event.author}"), 120),
            truncate(one_line(body_text(event)), 200))


def digest_plain(events: Sequence[Event], reasons: Sequence[str], digest_id: str) -> str:
    """The digest's text/plain part: one line per alert."""
    lines = [_digest_heading(events, reasons), ""]
    lines += [" · ".join(part for part in _digest_row(e) if part) for e in events[:DIGEST_SHOWN]]
    if len(events) > DIGEST_SHOWN:
        lines.append(f"…and {len(events) - DIGEST_SHOWN} more")
    return "\n".join([*lines, "", f"digest {digest_id}"]) + "\n"


def digest_html(events: Sequence[Event], reasons: Sequence[str], digest_id: str) -> str:
    """The digest's text/html part: a table, one row per alert."""
    rows = "".join("<tr>" + "".join(f"<td {_CELL}>{esc(cell)}</td>" for cell in _digest_row(e)) + "</tr>"
                   for e in events[:DIGEST_SHOWN])
    inner = f"<table role=\"presentation\">{rows}</table>"
    if len(events) > DIGEST_SHOWN:
        inner += f"<p>…and {len(events) - DIGEST_SHOWN} more</p>"
    inner += f"<p style=\"color:#667085;font-size:small\">digest {esc(digest_id)}</p>"
    return _page(_digest_heading(events, reasons), "#344054", inner)
