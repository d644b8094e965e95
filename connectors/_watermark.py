"""Resume points for newest-first lists without a since-id: the newest change time seen plus the ids seen near it.

One `Watermark` serves both families of connectors:

* social search streams read with an `overlap` (search indexes show posts late, so everything younger
  than `at - overlap` is looked at again, and the ids remembered there say what was taken);
* review lists read exactly (`overlap` zero): a review counts as new when it changed after the mark,
  or at the mark's own instant under an id not seen there (many reviews can share one second).

An item is new when it is not older than the floor and its id was not seen, or was seen at an earlier
change time (an edited review). Social items carry their creation time, which never changes, so for
them this is simply "not seen yet".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors._parse import mapping_of, optional_time

MAX_SEEN = 500  # ids remembered near the mark; bounds the cursor's size
MAX_IDS = 200  # ids written in the compact `ids` layout (all at the mark's own instant)
EXACT = timedelta(0)


@dataclass
class Watermark:
    """Newest change time seen (`at`) and the ids seen within the overlap of it (id -> epoch seconds)."""

    at: datetime | None = None
    seen: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, value: Any) -> Watermark:
        """Read what `dump` or `dump_ids` wrote; anything unreadable starts afresh."""
        if not isinstance(value, Mapping):
            return cls()
        written = value.get("at")
        at = optional_time(written) if written else None
        if written and at is None:
            return cls()
        seen = value.get("seen")
        if isinstance(seen, Mapping):
            return cls(at, {str(k): float(v) for k, v in seen.items() if isinstance(v, int | float)})
        ids = value.get("ids")
        if isinstance(ids, list) and at is not None:
            return cls(at, {str(i): at.timestamp() for i in ids})
        return cls(at)

    def dump(self) -> dict[str, Any]:
        """A JSON-ready form for the cursor: `{"at", "seen": {id: epoch seconds}}`."""
        return {"at": self.at.isoformat() if self.at else None, "seen": self.seen}

    def dump_ids(self) -> dict[str, Any]:
        """The compact form exact streams store: `{"at", "ids": [...]}`, the ids seen at `at` itself."""
        mark = self.at.timestamp() if self.at else None
        ids = sorted(k for k, v in self.seen.items() if v == mark)
        return {"at": self.at.isoformat() if self.at else None, "ids": ids[:MAX_IDS]}

    def copy(self) -> Watermark:
        """An independent copy (advancing it leaves this one as it is)."""
        return Watermark(self.at, dict(self.seen))

    @property
    def fresh(self) -> bool:
        """True before the stream was ever read (first run: read the newest page only, no backfill)."""
        return self.at is None

    def floor(self, overlap: timedelta = EXACT) -> datetime | None:
        """Items older than this are known ground."""
        return None if self.at is None else self.at - overlap

    def is_new(self, ident: str, when: datetime, overlap: timedelta = EXACT) -> bool:
        """Whether the item `ident`, changed at `when`, has not been taken yet."""
        floor = self.floor(overlap)
        if floor is not None and when < floor:
            return False
        before = self.seen.get(ident)
        return before is None or when.timestamp() > before

    def reached(self, when: datetime, overlap: timedelta = EXACT) -> bool:
        """True once a newest-first listing has come down to known ground (so the next page is older)."""
        floor = self.floor(overlap)
        return floor is not None and when <= floor

    def advance(
        self, items: Sequence[tuple[str, datetime]], overlap: timedelta = EXACT, *, started: datetime | None = None
    ) -> None:
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


def load_marks(state: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Watermark]:
    """Each configured stream's Watermark from a loaded cursor (streams no longer configured are dropped)."""
    saved = mapping_of(state.get("streams"))
    return {key: Watermark.load(saved.get(key)) for key in keys}


def dump_marks(marks: Mapping[str, Watermark]) -> dict[str, Any]:
    """The cursor's `streams` member: every stream read at least once."""
    return {key: mark.dump() for key, mark in marks.items() if not mark.fresh}
