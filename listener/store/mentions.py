"""Mentions: ingest (with duplicates, sightings and edits), cursors, and reading them back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.dedupe import canonical_url, fingerprint
from listener.domain import CHANNELS, Cursor, Mention, Reply
from listener.store.db import SinkRouter, iso, parse_iso
from listener.store.outbox import OutboxStore
from listener.text import clean_text


def edited_at(mention: Mention) -> datetime | None:
    """The mention's last edit: the field, or `raw["edited_at"]` as review connectors give it."""
    if mention.edited_at is not None:
        return mention.edited_at
    value = mention.raw.get("edited_at") if mention.raw else None
    if not value:
        return None
    try:
        return parse_iso(str(value))  # the ISO-8601 text `connectors._reviews` writes
    except ValueError:
        return None


def _raw_channel(raw: Mapping[str, Any] | None) -> str | None:
    """A review's channel as connectors written before `Mention.channel` kept it in `raw`."""
    value = raw.get("channel") if raw else None
    return value if value in CHANNELS else None


def _raw_rating(raw: Mapping[str, Any] | None) -> int | None:
    """A review's rating as connectors written before `Mention.rating` kept it in `raw`."""
    value = raw.get("rating") if raw else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class MentionStore(OutboxStore):
    """Store mentions, replies and cursors; read mentions back."""

    def ingest(
        self,
        source: str,
        mentions: Sequence[Mention],
        replies: Sequence[Reply],
        cursor: Cursor | None,
        now: datetime,
        router: SinkRouter | None = None,
    ) -> list[str]:
        """Store new mentions, replies and the cursor in one transaction; return the new keys.

        A mention seen before (same source and external id) is ignored, so polling twice
        never duplicates anything.
        """
        new_keys: list[str] = []
        self._reopened = []
        with self.db.atomic():
            for mention in mentions:
                if self._insert_mention(mention, now):
                    new_keys.append(mention.key)
            for key, edited_at in self._reopened:
                self._reopen(key, edited_at, now)
                new_keys.append(key)  # re-judged by the classifier with the edited text
            if replies:
                self._record_replies(replies, now, router)
            if cursor is not None:
                self.db.table("cursors").upsert(
                    {"source": source, "cursor": cursor, "updated_at": iso(now)}, pk="source"
                )
        return new_keys

    def _insert_mention(self, mention: Mention, now: datetime) -> bool:
        """Store a new post; a post seen again (boost, cross-post, second source) only adds reach."""
        sighting = mention.sighting_key
        if self.db.execute("SELECT 1 FROM mention_sightings WHERE sighting_key = ?", [sighting]).fetchone():
            self._apply_edit(mention, now)
            return False
        url = canonical_url(mention.url)
        text = clean_text(mention.text)
        print_ = fingerprint(text, mention.author)
        existing = self._same_post(mention, url, print_)
        if existing is not None:
            self.db.execute(
                "INSERT OR IGNORE INTO mention_sightings (sighting_key, mention_key, source, seen_at)"
                " VALUES (?, ?, ?, ?)",
                [sighting, existing, mention.source, iso(now)],
            )
            self.db.execute("UPDATE mentions SET reach = COALESCE(reach, 1) + 1 WHERE key = ?", [existing])
            return False
        row = {
            "key": mention.key,
            "source": mention.source,
            "external_id": mention.external_id,
            "text": text,
            "author": clean_text(mention.author, limit=200),
            "author_name": clean_text(mention.author_name, limit=200),
            "author_followers": mention.author_followers,
            "url": clean_text(mention.url, limit=2000),
            "lang": mention.lang,
            "in_reply_to": mention.in_reply_to,
            "conversation_id": mention.conversation_id,
            "created_at": iso(mention.created_at),
            "fetched_at": iso(now),
            "classified_at": None,
            "raw": (
                clean_text(json.dumps(mention.raw, default=str, ensure_ascii=False), limit=10_000_000)
                if mention.raw
                else None
            ),
            "reach": 1,
            "canonical_url": url or None,
            "fingerprint": print_ or None,
            "edited_at": iso(edited) if (edited := edited_at(mention)) else None,
            "channel": mention.channel or _raw_channel(mention.raw),
            "rating": mention.rating if mention.rating is not None else _raw_rating(mention.raw),
        }
        self.db.execute(
            "INSERT INTO mentions ({}) VALUES ({})".format(
                ", ".join(f"[{k}]" for k in row), ", ".join("?" for _ in row)
            ),
            list(row.values()),
        )
        self.db.execute(
            "INSERT OR IGNORE INTO mention_sightings (sighting_key, mention_key, source, seen_at) VALUES (?, ?, ?, ?)",
            [sighting, mention.key, mention.source, iso(now)],
        )
        for brand in mention.brands:
            self.db.execute(
                "INSERT OR IGNORE INTO mention_brands (mention_key, brand) VALUES (?, ?)", [mention.key, brand]
            )
        self.db.execute(
            """INSERT INTO authors (source, handle, name, followers, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(source, handle) DO UPDATE SET
                 name = excluded.name, followers = COALESCE(excluded.followers, followers),
                 last_seen = excluded.last_seen""",
            [mention.source, row["author"], row["author_name"], mention.author_followers, iso(now), iso(now)],
        )
        return True

    def _same_post(self, mention: Mention, url: str, print_: str) -> str | None:
        """Key of a stored mention that is the same post under another source.

        Within one source the external id is the identity: two items with different ids are two
        posts even when they share a URL (every App Store review links to the app's page) or
        their words (a customer repeating a complaint).
        """
        found = self.db.execute("SELECT key FROM mentions WHERE key = ?", [mention.key]).fetchone()
        if found is None and url:
            found = self.db.execute(
                "SELECT key FROM mentions WHERE canonical_url = ? AND source <> ? LIMIT 1", [url, mention.source]
            ).fetchone()
        if found is None and print_:
            found = self.db.execute(
                "SELECT key FROM mentions WHERE fingerprint = ? AND source <> ? AND created_at BETWEEN ? AND ? LIMIT 1",
                [print_, mention.source, iso(mention.created_at - timedelta(days=1)),
                 iso(mention.created_at + timedelta(days=1))],
            ).fetchone()
        return found[0] if found else None

    def _apply_edit(self, mention: Mention, now: datetime) -> None:
        """An edit newer than what we stored: keep the new text, re-judge it, maybe reopen its clock."""
        edited = edited_at(mention)
        if edited is None:
            return
        row = self.db.execute("SELECT edited_at FROM mentions WHERE key = ?", [mention.key]).fetchone()
        if row is None or (row[0] and row[0] >= iso(edited)):
            return
        self.db.execute(
            "UPDATE mentions SET text = ?, edited_at = ?, classified_at = NULL WHERE key = ?",
            [clean_text(mention.text), iso(edited), mention.key],
        )
        self._reopened.append((mention.key, edited))

    def get_cursor(self, source: str) -> Cursor | None:
        """The cursor saved with the last ingest of `source`."""
        row = self.db.execute("SELECT cursor FROM cursors WHERE source = ?", [source]).fetchone()
        return row[0] if row else None

    def unclassified_keys(self, limit: int = 100_000) -> list[str]:
        """Keys of stored mentions that still wait for the classifier (oldest first)."""
        rows = self.db.execute(
            "SELECT key FROM mentions WHERE classified_at IS NULL ORDER BY created_at LIMIT ?", [limit]
        ).fetchall()
        return [r[0] for r in rows]

    def get_mentions(self, keys: Sequence[str]) -> list[Mention]:
        """Load mentions by key (missing keys are skipped), in the order asked."""
        if not keys:
            return []
        found: dict[str, Mention] = {}
        for chunk_start in range(0, len(keys), 500):
            chunk = list(keys[chunk_start : chunk_start + 500])
            marks = ",".join("?" for _ in chunk)
            rows = self.db.execute(
                f"""SELECT m.key, m.source, m.external_id, m.text, m.author, m.author_name,
                           m.author_followers, m.url, m.lang, m.in_reply_to, m.conversation_id,
                           m.created_at, (SELECT group_concat(brand, '\x1f') FROM mention_brands b
                                          WHERE b.mention_key = m.key)
                    FROM mentions m WHERE m.key IN ({marks})""",
                chunk,
            ).fetchall()
            for r in rows:
                found[r[0]] = Mention(
                    source=r[1],
                    external_id=r[2],
                    text=r[3],
                    author=r[4],
                    author_name=r[5] or "",
                    author_followers=r[6],
                    url=r[7] or "",
                    lang=r[8],
                    in_reply_to=r[9],
                    conversation_id=r[10],
                    created_at=parse_iso(r[11]) or datetime.now(UTC),
                    brands=tuple(sorted(r[12].split("\x1f"))) if r[12] else (),
                )
        return [found[k] for k in keys if k in found]

    def mention_exists(self, key: str) -> bool:
        """Whether a mention with this key is stored."""
        return self.db.execute("SELECT 1 FROM mentions WHERE key = ?", [key]).fetchone() is not None

    def open_complaint_mentions(self, source: str, limit: int = 200) -> list[Mention]:
        """Mentions of `source` whose clock is still running (to look for brand replies)."""
        keys = [
            r[0]
            for r in self.db.execute(
                "SELECT mention_key FROM complaints WHERE source = ? AND state = 'open' ORDER BY deadline LIMIT ?",
                [source, limit],
            )
        ]
        return self.get_mentions(keys)

    # Defined by the case part of the store (listener/store/cases.py).
    def _record_replies(self, replies: Sequence[Reply], now: datetime, router: SinkRouter | None) -> int:
        raise NotImplementedError

    def _reopen(self, key: str, edited_at: datetime, now: datetime) -> None:
        raise NotImplementedError
