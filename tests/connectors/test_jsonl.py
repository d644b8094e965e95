"""The jsonl connector: mapping, malformed lines, cursor resume, replay gating, brand replies."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors._parse import MalformedItemError
from connectors.base import BrandView
from connectors.jsonl import JsonlConfig, JsonlConnector, parse_line, route_record, to_mention
from listener.clock import FakeClock
from listener.domain import Mention, Reply
from listener.errors import SourceError

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def record(ident: str, minutes: int = 0, **extra: Any) -> dict[str, Any]:
    """A customer record `minutes` after T0."""
    base = {
        "id": ident,
        "text": f"acme order {ident} is late",
        "author": "@customer",
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
    }
    return {**base, **extra}


def write_lines(path: Path, lines: list[Any], mode: str = "w") -> None:
    """Write records (dicts become JSON, strings are written verbatim) one per line."""
    with path.open(mode, encoding="utf-8") as out:
        for line in lines:
            out.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")


def make(path: Path, brands: list[BrandView], clock: FakeClock | None = None, **config: Any) -> JsonlConnector:
    return JsonlConnector("import", JsonlConfig(path=path, **config), brands, None, clock=clock)  # type: ignore[arg-type]


# -- pure mapping -------------------------------------------------------------------------


def test_to_mention_maps_every_field(brands: list[BrandView]) -> None:
    raw = {
        "id": 42, "text": "アクメのアプリが落ちた", "author": "@taro", "created_at": "2026-01-15 18:12:00",
        "url": "https://example.jp/42", "lang": "ja", "in_reply_to": None, "author_name": "Taro",
        "followers": 120, "conversation_id": "c-1", "unknown_field": {"ignored": True},
    }
    mention = to_mention(raw, source="import", brands=brands, tz="Asia/Tokyo")
    assert mention == Mention(
        source="import", external_id="42", text="アクメのアプリが落ちた", author="@taro",
        created_at=datetime(2026, 1, 15, 9, 12, tzinfo=UTC), url="https://example.jp/42", author_name="Taro",
        author_followers=120, lang="ja", in_reply_to=None, conversation_id="c-1", brands=("acme",),
    )
    assert mention.raw["unknown_field"] == {"ignored": True}


def test_explicit_brand_wins_over_keywords(brands: list[BrandView]) -> None:
    assert to_mention(record("1", brand="globex"), source="s", brands=brands).brands == ("globex",)
    assert to_mention(record("1", brand=["globex", "acme"]), source="s", brands=brands).brands == ("globex", "acme")
    assert to_mention(record("1"), source="s", brands=brands).brands == ("acme",)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"text": "x", "author": "a", "created_at": "2026-01-01T00:00:00Z"}, "missing 'id'"),
        (record("1", author=""), "'author' is blank"),
        (record("1", text=["not", "text"]), "'text' must be a string"),
        (record("1", created_at="last tuesday"), "bad 'created_at'"),
        (record("1", followers="many"), "'followers' must be an integer"),
        (record("1", brand=3), "'brand' must be"),
    ],
)
def test_to_mention_rejects(raw: dict[str, Any], why: str, brands: list[BrandView]) -> None:
    with pytest.raises(MalformedItemError, match=why):
        to_mention(raw, source="s", brands=brands)


def test_route_record_turns_brand_posts_into_replies_or_nothing(brands: list[BrandView]) -> None:
    reply = route_record(record("r1", 5, author="@ACME", in_reply_to="1"), source="s", brands=brands)
    assert isinstance(reply, Reply)
    assert (reply.external_id, reply.in_reply_to, reply.mention_key) == ("r1", "1", "s:1")
    assert route_record(record("p1", author="acme"), source="s", brands=brands) is None  # own announcement
    assert isinstance(route_record(record("c1", in_reply_to="p1"), source="s", brands=brands), Mention)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"id": "1", "text": "t"}', "missing required field\\(s\\): author, created_at"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_parse_line_errors(line: bytes, why: str) -> None:
    with pytest.raises(MalformedItemError, match=why):
        parse_line(line)


def test_parse_line_blank_and_bom() -> None:
    assert parse_line(b"   \n") is None
    parsed = parse_line("\ufeff".encode() + b'{"id": 1, "text": "", "author": "a", "created_at": 0}')
    assert parsed is not None and parsed["id"] == 1


# -- the connector ------------------------------------------------------------------------


async def test_reads_a_good_file(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "mentions.jsonl"
    write_lines(path, [record("1"), record("2", 1, text="love globex"), record("3", 2, text="nothing relevant")])
    page = await make(path, brands).poll(None)
    assert [(m.external_id, m.brands) for m in page.mentions] == [("1", ("acme",)), ("2", ("globex",)), ("3", ())]
    assert page.replies == []
    assert json.loads(page.cursor or "") == {"path": str(path), "offset": path.stat().st_size, "line": 3}


async def test_malformed_lines_are_logged_counted_and_skipped(
    tmp_path: Path, brands: list[BrandView], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "mixed.jsonl"
    write_lines(path, [
        record("1"),
        "{oops",
        "",
        '{"id": "no-time", "text": "t", "author": "a"}',
        record("4", created_at="not a date"),
        record("5"),
    ])
    connector = make(path, brands)
    caplog.set_level(logging.WARNING, logger="connectors.jsonl")
    page = await connector.poll(None)
    assert [m.external_id for m in page.mentions] == ["1", "5"]
    assert connector.malformed == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3
    assert f"{path} line 2 skipped: not valid JSON" in warnings[0]
    assert f"{path} line 4 (id 'no-time') skipped: missing required field(s): created_at" in warnings[1]
    assert f"{path} line 5 (id '4') skipped: bad 'created_at'" in warnings[2]
    assert json.loads(page.cursor or "")["line"] == 6


async def test_cursor_resume_never_rereads_or_skips(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "grow.jsonl"
    write_lines(path, [record("1"), record("2")])
    first = await make(path, brands).poll(None)
    write_lines(path, [record("3"), record("4")], mode="a")
    # A fresh connector (a restart) resumes from the stored cursor.
    second = await make(path, brands).poll(first.cursor)
    third = await make(path, brands).poll(second.cursor)
    assert [m.external_id for m in first.mentions] == ["1", "2"]
    assert [m.external_id for m in second.mentions] == ["3", "4"]
    assert third.mentions == [] and third.cursor == second.cursor


async def test_max_records_splits_a_big_file_across_polls(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "big.jsonl"
    write_lines(path, [record(str(i)) for i in range(7)])
    connector = make(path, brands, max_records=3)
    seen, cursor = [], None
    for _ in range(4):
        page = await connector.poll(cursor)
        seen.append([m.external_id for m in page.mentions])
        cursor = page.cursor
    assert seen == [["0", "1", "2"], ["3", "4", "5"], ["6"], []]


async def test_half_written_last_line_waits(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "live.jsonl"
    write_lines(path, [record("1")])
    with path.open("a") as out:
        out.write('{"id": "2", "text": "acme is')  # the writer is mid-record
    connector = make(path, brands)
    first = await connector.poll(None)
    with path.open("a") as out:
        out.write(' down", "author": "@x", "created_at": "2026-01-15T09:00:00Z"}\n')
    second = await connector.poll(first.cursor)
    assert [m.external_id for m in first.mentions] == ["1"]
    assert [m.external_id for m in second.mentions] == ["2"]
    assert connector.malformed == 0


async def test_complete_last_line_without_newline_is_read(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "no-eol.jsonl"
    path.write_text(json.dumps(record("1")) + "\n" + json.dumps(record("2")))
    page = await make(path, brands).poll(None)
    assert [m.external_id for m in page.mentions] == ["1", "2"]


async def test_replay_emits_records_only_when_due(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "replay.jsonl"
    write_lines(path, [record("1", 0), record("2", 10), record("r", 12, author="@acme", in_reply_to="1"),
                       record("3", 30)])
    clock = FakeClock(T0 + timedelta(minutes=5))
    connector = make(path, brands, clock=clock, replay=True)
    first = await connector.poll(None)
    again = await connector.poll(first.cursor)  # nothing new is due: nothing consumed
    clock.advance(timedelta(minutes=10))  # T0 + 15 min
    second = await connector.poll(again.cursor)
    clock.advance(timedelta(hours=1))
    third = await connector.poll(second.cursor)
    assert [m.external_id for m in first.mentions] == ["1"]
    assert again.mentions == [] and again.cursor == first.cursor
    assert [m.external_id for m in second.mentions] == ["2"]
    assert [(r.external_id, r.in_reply_to) for r in second.replies] == [("r", "1")]
    assert [m.external_id for m in third.mentions] == ["3"]


async def test_without_replay_future_records_are_read_at_once(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "import.jsonl"
    write_lines(path, [record("1", 0), record("2", 600)])
    page = await make(path, brands, clock=FakeClock(T0)).poll(None)
    assert [m.external_id for m in page.mentions] == ["1", "2"]


async def test_brand_replies_and_own_posts(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "thread.jsonl"
    write_lines(path, [
        record("1"),
        record("r1", 20, author="@Acme", in_reply_to="1", text="Sorry! DM us"),
        record("ad", 30, author="@acme", text="acme v5 is out"),  # the brand's own post: not a mention
    ])
    page = await make(path, brands).poll(None)
    assert [m.external_id for m in page.mentions] == ["1"]
    assert len(page.replies) == 1
    reply = page.replies[0]
    assert (reply.external_id, reply.in_reply_to, reply.author, reply.text) == ("r1", "1", "@Acme", "Sorry! DM us")
    assert reply.created_at == T0 + timedelta(minutes=20)


async def test_truncated_file_is_read_again_from_the_start(tmp_path: Path, brands: list[BrandView]) -> None:
    path = tmp_path / "rotated.jsonl"
    write_lines(path, [record("1"), record("2")])
    first = await make(path, brands).poll(None)
    write_lines(path, [record("9")])  # replaced by a shorter file
    second = await make(path, brands).poll(first.cursor)
    assert [m.external_id for m in second.mentions] == ["9"]


async def test_cursor_for_another_file_starts_afresh(tmp_path: Path, brands: list[BrandView]) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    write_lines(old, [record("1"), record("2"), record("3")])
    write_lines(new, [record("a")])
    first = await make(old, brands).poll(None)
    page = await make(new, brands).poll(first.cursor)
    assert [m.external_id for m in page.mentions] == ["a"]


async def test_missing_file_is_a_source_error(tmp_path: Path, brands: list[BrandView]) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        await make(tmp_path / "nope.jsonl", brands).poll(None)


def test_config_rejects_unknown_zone_and_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        JsonlConfig(path=tmp_path / "x", timezone="Nowhere/City")
    with pytest.raises(ValueError, match="extra"):
        JsonlConfig(path=tmp_path / "x", replay_speed=2)  # type: ignore[call-arg]


async def test_record_naming_an_unconfigured_brand_is_rejected_counted_and_logged(
    tmp_path: Path, brands: list[BrandView], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "brands.jsonl"
    write_lines(path, [
        record("1", brand="acme"),
        record("2", brand="initech"),
        record("3", brand=["globex", "acmee"]),
        record("4", brand=["globex"]),
    ])
    connector = make(path, brands)
    caplog.set_level(logging.WARNING, logger="connectors.jsonl")
    page = await connector.poll(None)
    assert [(m.external_id, m.brands) for m in page.mentions] == [("1", ("acme",)), ("4", ("globex",))]
    assert connector.malformed == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert f"{path} line 2 (id '2') skipped: brand 'initech' is not configured (known: acme, globex)" in warnings[0]
    assert f"{path} line 3 (id '3') skipped: brand 'acmee' is not configured (known: acme, globex)" in warnings[1]


async def test_a_record_that_breaks_the_mapper_is_skipped_and_the_cursor_moves_on(  # type: ignore[no-untyped-def]
    tmp_path: Path, brands: list[BrandView], caplog
) -> None:
    # 700 levels of nesting and a lone surrogate escape: valid JSON that sinks the surrogate cleaner.
    hostile = '{"id": "deep", "text": "acme", "author": "@x", "created_at": "2026-01-15T09:00:00Z", "x": ' \
              + '{"a": ' * 700 + '"\\ud800"' + "}" * 700 + "}"
    path = tmp_path / "m.jsonl"
    write_lines(path, [record("m-1"), hostile, record("m-3")])
    conn = make(path, brands)
    caplog.set_level(logging.WARNING)
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["m-1", "m-3"]
    assert conn.malformed == 1 and "line 2" in caplog.text and "RecursionError" in caplog.text
    assert json.loads(page.cursor or "")["line"] == 3
    write_lines(path, [record("m-4")], mode="a")
    assert [m.external_id for m in (await conn.poll(page.cursor)).mentions] == ["m-4"]
