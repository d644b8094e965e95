"""`listener poll NAME --once [--dry-run]`: one poll of one connector, printed as JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp

from config.schema import Settings
from connectors.registry import connector_class
from listener import USER_AGENT
from listener.clock import SystemClock
from listener.daemon import brands_for_source
from listener.store import SyncStore


async def poll_once(settings: Settings, name: str, *, store: bool) -> list[str]:
    """Poll `name` from its saved cursor; store the page (and cursor) unless `store` is False."""
    config = settings.connectors[name]
    db = SyncStore(settings.listener.database)
    try:
        cursor = db.get_cursor(name)
        async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
            connector = connector_class(config.type)(
                name, config, brands_for_source(settings, name), session, clock=SystemClock()
            )
            page = await connector.poll(cursor)
        if store:
            db.ingest(name, page.mentions, page.replies, page.cursor, datetime.now(UTC))
    finally:
        db.close()
    lines = []
    for m in page.mentions:
        lines.append(json.dumps({
            "kind": "mention", "key": m.key, "author": m.author, "created_at": m.created_at.isoformat(),
            "brands": list(m.brands), "in_reply_to": m.in_reply_to, "url": m.url, "text": m.text,
        }, ensure_ascii=False))
    for r in page.replies:
        lines.append(json.dumps({
            "kind": "reply", "key": f"{r.source}:{r.external_id}", "answers": r.mention_key, "author": r.author,
            "created_at": r.created_at.isoformat(), "url": r.url,
        }, ensure_ascii=False))
    lines.append(json.dumps({"kind": "cursor", "cursor": page.cursor}))
    return lines
