"""Resume points for newest-first APIs without a since-id: newest time seen plus recent ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.timeutil import to_utc

MAX_SEEN = 500  # ids remembered near the mark; bounds the cursor's size


@dataclass
class Watermark:
    """Newest item time seen (`at`) and the ids seen within `overlap` of it.

    Search indexes show items late, and several items share a second, so an item counts as
    new when it is younger than `at - overlap` and its id has not been seen; the store dedupes
    whatever slips through twice.
    """

    at: datetime | None = None
    seen: dict[str, float] = field(default_factory=dict)  # id -> epoch seconds

    @classmethod
    def load(cls, value: Any) -> Watermark:
        """Read what `dump` wrote; anything unreadable starts afresh."""
        if not isinstance(value, Mapping):
            return cls()
        try:
            at = to_utc(value["at"]) if value.get("at") else None
        except ValueError:
            return cls()
        seen = value.get("seen")
        clean = {str(k): float(v) for k, v in seen.items() if isinstance(v, int | float)} if isinstance(seen, Mapping) else {}
        return cls(at, clean)

    def dump(self) -> dict[str, Any]:
        """A JSON-ready form for the cursor."""
        return {"at": self.at.isoformat() if self.at else None, "seen": self.seen}

    @property
    def fresh(self) -> bool:
        """True before the stream was ever polled (first run: read the newest page only)."""
        return self.at is None

    def floor(self, overlap: timedelta) -> datetime | None:
        """Items older than this are known ground."""
        return None if self.at is None else self.at - overlap

    def is_new(self, ident: str, when: datetime, overlap: timedelta) -> bool:
        """Whether an item has not been taken yet."""
        floor = self.floor(overlap)
        if floor is not None and when < floor:
            return False
        return ident not in self.seen

    def reached(self, when: datetime, overlap: timedelta) -> bool:
        """True once a newest-first listing has reached the known ground (so the next page is older)."""
        floor = self.floor(overlap)
        return floor is not None and when <= floor

    def advance(self, items: Sequence[tuple[str, datetime]], overlap: timedelta, *, started: datetime) -> None:
        """Record items taken (or looked at) in a poll that began at `started`.

        A stream still empty after its first poll is marked read up to `started` (its quiet
        start): otherwise every later poll would stay a first poll, read only the newest page,
        and cut the first burst bigger than a page.
        """
        if self.at is None and not items:
            self.at = started
            return
        for ident, when in items:
            if self.at is None or when > self.at:
                self.at = when
            self.seen[ident] = when.timestamp()
        if self.at is None:
            return
        floor = (self.at - overlap).timestamp()
        kept = {k: v for k, v in self.seen.items() if v >= floor}
        if len(kept) > MAX_SEEN:
            kept = dict(sorted(kept.items(), key=lambda kv: kv[1])[-MAX_SEEN:])
        self.seen = kept
