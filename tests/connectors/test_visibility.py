"""Every connector type says what its platform lets it see and what it never shows, and the docs agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from connectors.registry import connector_class, known_types
from listener.cli import main
from listener.store import SyncStore

ROOT = Path(__file__).resolve().parents[2]
# Each type has its own section in one of these (mastodon and jsonl are in connectors.md).
SOURCE_DOCS = [ROOT / "docs" / name for name in ("sources-social.md", "sources-reviews.md", "connectors.md")]
SECTION = re.compile(r"^##+ `([a-z_]+)`", re.MULTILINE)
# Rows of the "replies visible" tables: `| x | yes | ...` (social) and `` | `yelp` | **no** | ... `` (reviews).
REPLIES_ROW = re.compile(r"^\| `?([a-z_]+)`? \| (\*\*no\*\*|yes)(?= )", re.MULTILINE)


def _docs() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SOURCE_DOCS)


@pytest.mark.parametrize("type_name", known_types())
def test_every_connector_declares_what_it_shows_and_hides(type_name: str) -> None:
    cls = connector_class(type_name)
    for attribute in ("shows", "hides"):
        declared = cls.__dict__.get(attribute)  # its own, not inherited from a base class
        assert isinstance(declared, tuple) and declared, f"{type_name}.{attribute} is not declared"
        assert all(isinstance(item, str) and len(item) > 3 and item == item.strip() for item in declared), (
            f"{type_name}.{attribute} has an empty or untidy item: {declared!r}"
        )
        assert len(set(declared)) == len(declared), f"{type_name}.{attribute} repeats an item"
    if not getattr(cls, "can_see_replies", True):
        # `listener sources` must say why clocks of this source need `listener ack`.
        assert any("repl" in item or "response" in item for item in cls.hides), type_name


def test_every_type_has_its_own_section_in_the_docs() -> None:
    sections = set(SECTION.findall(_docs()))
    missing = sorted(set(known_types()) - sections)
    assert not missing, f"no `## \\`type\\`` section in {[p.name for p in SOURCE_DOCS]} for {missing}"


def test_the_docs_replies_tables_agree_with_the_connectors() -> None:
    rows = REPLIES_ROW.findall(_docs())
    listed = {name: verdict == "yes" for name, verdict in rows if name in known_types()}
    assert sorted(listed) == known_types(), f"types missing from the replies tables: {set(known_types()) - set(listed)}"
    wrong = {name: shown for name, shown in listed.items()
             if bool(getattr(connector_class(name), "can_see_replies", True)) != shown}
    assert not wrong, f"the docs say otherwise about replies for {wrong}"


def test_sources_lists_what_each_platform_cannot_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "listener.toml"
    config.write_text(
        f'[listener]\ndatabase = "{tmp_path / "sources.db"}"\n[brands.acme]\nkeywords = ["acme"]\n'
        '[connectors.news]\ntype = "rss"\nfeeds = ["https://example.com/feed"]\n'
        '[connectors.hn]\ntype = "hackernews"\n'
        '[connectors.cafe]\ntype = "yelp"\nbusinesses = ["acme-cafe"]\nbrand = "acme"\napi_key = "k"\n'
    )
    SyncStore(tmp_path / "sources.db").close()  # a daemon that never polled: the platform facts still show
    monkeypatch.chdir(tmp_path)
    assert main(["sources", "--config", str(config), "--format", "json"]) == 0
    rows = {r["source"]: r for r in map(json.loads, capsys.readouterr().out.strip().splitlines())}
    for name, type_name in (("news", "rss"), ("hn", "hackernews"), ("cafe", "yelp")):
        cls = connector_class(type_name)
        assert rows[name]["shows"] == list(cls.shows) and rows[name]["cannot_show"] == list(cls.hides)
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["sources", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "more than 3 reviews per poll" in out and "Algolia's cap" in out
