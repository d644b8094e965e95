"""A seeded database built through the real store (ingest, classify, replies, acks) for analytics tests."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.domain import Mention, Reply, Sentiment
from listener.store import SyncStore
from models.base import Classification

START = datetime(2025, 10, 1, tzinfo=UTC)
DAYS = 100
SOURCES = ("mastodon", "replay", "reviews")


def save_labels(store: SyncStore, pairs: list[tuple[Mention, Classification]], now: datetime) -> list[str]:
    """`store.save_classifications` under the default policy (60m target, warning at 45m)."""
    return store.save_classifications(pairs, now)


@dataclass(frozen=True)
class Seeded:
    """What was written, for tests that want to cross-check."""

    path: Path
    mentions: int
    complaints: int


def _label(rng: random.Random) -> Classification:
    roll = rng.random()
    if roll < 0.06:  # unscored: no sentiment, never a complaint
        return Classification(model_id="seed", scored=False, unscored_reason="unsupported_language", language="xx")
    sentiment = rng.choices(list(Sentiment), weights=[4, 3, 3])[0]
    complaint = sentiment is Sentiment.NEGATIVE and rng.random() < 0.6
    language = rng.choice(["en", "en", "ja", None])  # None: fall back to the source's lang
    return Classification(
        model_id="seed",
        scored=True,
        sentiment=sentiment,
        p_negative=0.5,
        p_neutral=0.3,
        p_positive=0.2,
        complaint=complaint,
        p_complaint=0.9 if complaint else 0.1,
        language=language,
    )


def seed_database(path: Path, *, n: int = 1500, seed: int = 7) -> Seeded:
    """`n` mentions over DAYS days from START for brands acme (own) and globex (competitor)."""
    rng = random.Random(seed)
    store = SyncStore(path)
    store.set_competitors(["globex"])
    complaints = 0
    try:
        for i in range(n):
            created = START + timedelta(seconds=rng.randrange(DAYS * 86400), microseconds=rng.randrange(1_000_000))
            source = rng.choice(SOURCES)
            brands = rng.choices([("acme",), ("globex",), ("acme", "globex")], weights=[6, 3, 1])[0]
            mention = Mention(
                source=source,
                external_id=f"m{i}",
                text=f"mention {i} about {' and '.join(brands)}",
                author=f"@user{rng.randrange(300)}",
                created_at=created,
                brands=brands,
                lang=rng.choice(["en", "ja", None]),
                url=f"https://social.example/{source}/{i}",
            )
            seen = created + timedelta(seconds=30)
            store.ingest(source, [mention], [], None, seen)
            label = _label(rng)
            if label.complaint and i % 13 == 0:  # the model hedged: a clock that never alerts (by index: same rng)
                label = dataclasses.replace(label, unsure=True)
            opened = save_labels(store, [(mention, label)], seen + timedelta(seconds=5))
            if not opened:
                continue
            complaints += 1
            fate = rng.random()
            if fate < 0.55:  # the brand replies, sometimes late
                delay = timedelta(seconds=rng.choice([rng.randrange(60, 3500), rng.randrange(3700, 20000)]))
                handle = rng.choice(["@AcmeSupport", "@acme_help"]) if brands[0] == "acme" else "@globexcare"
                reply = Reply(
                    source=source, external_id=f"r{i}", in_reply_to=f"m{i}", author=handle, created_at=created + delay
                )
                store.record_replies([reply], created + delay + timedelta(seconds=20))
            elif fate < 0.7:  # acknowledged by hand
                store.acknowledge(
                    mention.key, rng.choice(["alice", "bob"]), created + timedelta(seconds=rng.randrange(120, 9000))
                )
            elif fate < 0.78:  # the social team's buttons: dismissed, marked replied, or only assigned
                action = rng.choice(["not_complaint", "replied", "assign"])
                at = created + timedelta(seconds=rng.randrange(120, 9000))
                store.take_action(mention.key, action, rng.choice(["carol", "dave"]), at, None, request_key=f"a{i}")
            # else: still open, long past its deadline
    finally:
        store.close()
    return Seeded(path=path, mentions=n, complaints=complaints)
