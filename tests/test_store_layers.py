"""The store only persists: small modules, no sinks or connectors, no decision code, typed calls."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from listener.store import Store, SyncStore

STORE = Path(__file__).resolve().parents[1] / "listener" / "store"
# Decision code the store must not import: it is handed an engine (`CaseEngine`) and decides nothing.
FORBIDDEN = ("alerts", "connectors", "listener.sla.cases", "listener.sla.ladder", "listener.sla.policy",
             "listener.sla.calendar", "listener.clocks")


def module_imports(path: Path) -> list[str]:
    """Modules imported at module level (TYPE_CHECKING blocks included, function bodies not)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        nodes = node.body if isinstance(node, ast.If) else [node]
        for item in nodes:
            if isinstance(item, ast.ImportFrom) and item.module:
                found.append(item.module)
            elif isinstance(item, ast.Import):
                found += [alias.name for alias in item.names]
    return found


@pytest.mark.parametrize("path", sorted(STORE.glob("*.py")), ids=lambda p: p.name)
def test_store_modules_are_small_and_import_no_decision_code(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400
    bad = [m for m in module_imports(path) if m.startswith(FORBIDDEN)]
    assert bad == [], f"{path.name} imports {bad}"


def test_the_store_builds_no_events_it_only_queues_and_reads_them() -> None:
    builders = {path.name for path in STORE.glob("*.py") if "Event(" in path.read_text()}
    assert builders == set()  # a queued payload is read back by Event.from_json; factories are in listener/events.py


async def test_calls_are_typed_not_proxied(tmp_path: Path) -> None:
    store = await Store(tmp_path / "s.db").open()
    try:
        assert await store.call(SyncStore.counts) == {"mentions": 0, "classified": 0, "complaints": 0, "open": 0,
                                                       "breached": 0}
        with pytest.raises(AttributeError):
            store.counts  # type: ignore[attr-defined]  # noqa: B018  (no __getattr__ proxy any more)
    finally:
        await store.close()
