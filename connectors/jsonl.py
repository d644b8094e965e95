"""JSON Lines import and real-time replay of mentions (one JSON object per line)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from pydantic import Field, field_validator

from connectors._cursor import dump_cursor, load_cursor
from connectors._http import without_surrogates
from connectors._parse import MalformedItemError, required_time
from connectors.base import BrandView, ConnectorConfig
from connectors.matching import match_brands, own_brands
from connectors.timeutil import zone
from listener.clock import Clock, SystemClock
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceError

logger = logging.getLogger(__name__)

REQUIRED = ("id", "text", "author", "created_at")


class JsonlConfig(ConnectorConfig):
    """[connectors.<name>] with type = "jsonl"."""

    type: str = "jsonl"
    path: Path = Field(description="The JSON Lines file to read.")
    replay: bool = Field(default=False, description="Emit each record only once its created_at has come.")
    timezone: str = Field(default="UTC", description="IANA zone for timestamps written without one.")
    max_records: int = Field(default=5000, ge=1, description="Most records consumed per poll.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # raises ValueError with a clear message
        return value


def _text_field(record: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise MalformedItemError(f"missing {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedItemError(f"{key!r} must be a string, got {type(value).__name__}")
    return str(value)


def _optional_id(record: Mapping[str, Any], key: str) -> str | None:
    return _text_field(record, key) or None


def created_at_of(record: Mapping[str, Any], tz: str | tzinfo | None) -> datetime:
    """The record's created_at as aware UTC; MalformedItemError if missing or unreadable."""
    return required_time(record.get("created_at"), "'created_at'", tz=tz)


def _brands(record: Mapping[str, Any], text: str, brands: Sequence[BrandView]) -> tuple[str, ...]:
    given = record.get("brand")
    if given is None:
        return match_brands(text, brands)
    if isinstance(given, str) and given:
        names: tuple[str, ...] = (given,)
    elif isinstance(given, list) and given and all(isinstance(b, str) and b for b in given):
        names = tuple(dict.fromkeys(given))
    else:
        raise MalformedItemError("'brand' must be a brand name or a list of names")
    # A typo or a brand nobody configured would open clocks and raise alerts for it: refuse the record.
    known = [b.name for b in brands]
    for name in names:
        if name not in known:
            raise MalformedItemError(f"brand {name!r} is not configured (known: {', '.join(known) or 'none'})")
    return names


def to_mention(
    record: Mapping[str, Any], *, source: str, brands: Sequence[BrandView], tz: str | tzinfo | None = "UTC"
) -> Mention:
    """Map one JSONL record to a Mention; raises MalformedItemError when it is not usable."""
    text = _text_field(record, "text", required=True)
    author = _text_field(record, "author", required=True)
    if not author.strip():
        raise MalformedItemError("'author' is blank")
    followers = record.get("followers")
    if followers is not None and (isinstance(followers, bool) or not isinstance(followers, int)):
        raise MalformedItemError("'followers' must be an integer")
    return Mention(
        source=source,
        external_id=_required_id(record),
        text=text,
        author=author,
        created_at=created_at_of(record, tz),
        url=_text_field(record, "url"),
        author_name=_text_field(record, "author_name"),
        author_followers=followers,
        lang=_text_field(record, "lang") or None,
        in_reply_to=_optional_id(record, "in_reply_to"),
        conversation_id=_optional_id(record, "conversation_id"),
        brands=_brands(record, text, brands),
        raw=dict(record),
    )


def to_reply(record: Mapping[str, Any], *, source: str, tz: str | tzinfo | None = "UTC") -> Reply:
    """Map a brand's own record that answers something to a Reply."""
    target = _optional_id(record, "in_reply_to")
    if target is None:
        raise MalformedItemError("a reply needs 'in_reply_to'")
    return Reply(
        source=source,
        external_id=_required_id(record),
        in_reply_to=target,
        author=_text_field(record, "author", required=True),
        created_at=created_at_of(record, tz),
        url=_text_field(record, "url"),
        text=_text_field(record, "text"),
    )


def _required_id(record: Mapping[str, Any]) -> str:
    value = _text_field(record, "id", required=True)
    if not value.strip():
        raise MalformedItemError("'id' is blank")
    return value


def route_record(
    record: Mapping[str, Any], *, source: str, brands: Sequence[BrandView], tz: str | tzinfo | None = "UTC"
) -> Mention | Reply | None:
    """A customer's record -> Mention; a brand's reply -> Reply; a brand's other posts -> None."""
    author = _text_field(record, "author", required=True)
    if own_brands(author, brands):
        if _optional_id(record, "in_reply_to"):
            return to_reply(record, source=source, tz=tz)
        return None  # the brand's own posts are never customer mentions
    return to_mention(record, source=source, brands=brands, tz=tz)


def parse_line(line: bytes) -> dict[str, Any] | None:
    """Decode one line to a record; None for a blank line; MalformedItemError otherwise."""
    try:
        text = line.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        raise MalformedItemError(f"not UTF-8 ({err.reason} at byte {err.start})") from err
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise MalformedItemError(f"not valid JSON ({err.msg} at column {err.colno})") from err
    except RecursionError as err:  # a hostile line nested thousands deep must not stop the source
        raise MalformedItemError("JSON nested too deeply") from err
    if not isinstance(record, dict):
        raise MalformedItemError(f"expected a JSON object, got {type(record).__name__}")
    if "\\ud" in text.lower():  # `"\ud800"`: a lone surrogate cannot be stored, it becomes `?`
        record = without_surrogates(record)
    missing = [key for key in REQUIRED if record.get(key) is None]
    if missing:
        raise MalformedItemError(f"missing required field(s): {', '.join(missing)}")
    return record


@dataclass(slots=True)
class _Batch:
    """What one read of the file produced, and where the next read starts."""

    offset: int
    line: int
    mentions: list[Mention] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    malformed: int = 0


class JsonlConnector:
    """Reads mentions from a JSON Lines file, resuming at a byte offset; see docs/connectors.md."""

    type_name: ClassVar[str] = "jsonl"
    Config: ClassVar[type[JsonlConfig]] = JsonlConfig
    shows: ClassVar[tuple[str, ...]] = (
        "every record of the file, in order", "replies written in the file (`in_reply_to`)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "anything not in the file (no platform behind it)", "edits and deletions (a record is read once)",
    )

    def __init__(
        self,
        name: str,
        config: JsonlConfig,
        brands: Sequence[BrandView],
        session: aiohttp.ClientSession | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.brands = tuple(brands)
        self.clock = clock or SystemClock()
        self.tz = zone(config.timezone)
        self.malformed = 0  # lines skipped since start (each is also logged with its number)

    async def poll(self, since: Cursor | None) -> Page:
        """Read the records after the cursor (with replay: only those already due)."""
        state = load_cursor(since, source=self.name)
        path = str(self.config.path)
        offset, line = 0, 0
        if state.get("path") == path and isinstance(state.get("offset"), int) and isinstance(state.get("line"), int):
            offset, line = state["offset"], state["line"]
        elif state:
            logger.info("%s: cursor is for another file; reading %s from the start", self.name, path)
        # File reading blocks; keep it off the event loop.
        batch = await asyncio.to_thread(self._read, offset, line, self.clock.now())
        self.malformed += batch.malformed
        cursor = dump_cursor({"path": path, "offset": batch.offset, "line": batch.line})
        return Page(mentions=batch.mentions, cursor=cursor, replies=batch.replies)

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Replies come from the file itself (records by a brand handle), so there is nothing to ask."""
        return []

    def _read(self, offset: int, line: int, now: datetime) -> _Batch:
        path = self.config.path
        try:
            handle = open(path, "rb")  # closed by the `with` below
        except FileNotFoundError as err:
            raise SourceError(f"{self.name}: file {path} does not exist") from err
        except OSError as err:
            raise SourceError(f"{self.name}: cannot open {path}: {err.strerror}") from err
        with handle:
            if offset > os.fstat(handle.fileno()).st_size:
                # Truncated or replaced: start again; records seen before are deduplicated by id.
                logger.warning("%s: %s is shorter than the saved position; reading it from the start", self.name, path)
                offset, line = 0, 0
            handle.seek(offset)
            batch = _Batch(offset=offset, line=line)
            while len(batch.mentions) + len(batch.replies) < self.config.max_records:
                raw_line = handle.readline()
                if not raw_line or not self._take(raw_line, batch, now):
                    break
        return batch

    def _take(self, raw_line: bytes, batch: _Batch, now: datetime) -> bool:
        """Consume one line into `batch`; False (nothing consumed) when it must wait."""
        number = batch.line + 1
        complete = raw_line.endswith(b"\n")
        try:
            record = parse_line(raw_line)
            item = (
                route_record(record, source=self.name, brands=self.brands, tz=self.tz)
                if record is not None else None
            )
        except MalformedItemError as err:
            if not complete:
                return False  # probably still being written; look again next poll
            self._report(number, str(err), batch, raw_line)
            item = None
        except Exception as err:  # noqa: BLE001 - whatever one record breaks, it must not stall the file
            self._report(number, f"{type(err).__name__}: {err}", batch, raw_line)
            item = None
        else:
            if item is not None and self.config.replay and item.created_at > now:
                return False  # not due yet: leave it (and everything after it) for a later poll
        batch.offset += len(raw_line)
        batch.line = number
        if isinstance(item, Mention):
            batch.mentions.append(item)
        elif isinstance(item, Reply):
            batch.replies.append(item)
        return True

    def _report(self, number: int, why: str, batch: _Batch, raw_line: bytes) -> None:
        batch.malformed += 1
        record_id = _peek_id(raw_line)
        ident = f" (id {record_id!r})" if record_id else ""
        logger.warning("%s: %s line %d%s skipped: %s", self.name, self.config.path, number, ident, why)


def _peek_id(raw_line: bytes) -> str | None:
    """The record's id, if the line is JSON enough to have one (for the log line only)."""
    try:
        value = json.loads(raw_line)
    except (ValueError, RecursionError):
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    return str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else None
