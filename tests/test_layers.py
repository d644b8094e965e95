"""Layers point one way: an AST walk over every import in our five packages (function-level and
TYPE_CHECKING imports included) checked against the allowed edges of docs/architecture.md."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("listener", "connectors", "models", "alerts", "config")

# The kernel: domain types, errors, time source, redaction, text/time helpers, identity, config field types.
# It imports nothing of ours but itself.
KERNEL = frozenset({
    "listener",  # __version__, USER_AGENT
    "listener.domain",
    "listener.events",
    "listener.errors",
    "listener.clock",
    "listener.redact",
    "listener.text",
    "listener.timefmt",
    "listener.identity",
    "listener.dedupe",
    "listener.backoff",
    "listener.http",  # User-Agent, body limit, Retry-After: shared by connectors and sinks
    "config.types",
    # The classifier contract: `Classification` is a domain value the store and the outbox events carry.
    "models.base",
})

# Modules that sit in a layer other than their folder's (the rest follows the folder).
LAYER_OF_MODULE = {
    # The clock engine turns settings into SLA decisions; it imports only the SLA core.
    "listener.clocks": "sla",
    # The schema the store creates and migrates (the corrections table is part of it).
    "listener.migrations": "store",
    "listener.corrections": "store",
}

# layer -> the layers (or single modules) it may import. `cli` is the top: it may import anything.
ALLOWED: dict[str, frozenset[str]] = {
    "kernel": frozenset({"kernel"}),
    "sla": frozenset({"kernel", "sla"}),  # the pure response-time core
    # Noise controls and spike detection (what reaches people): pure, on the kernel's Event; quiet hours are
    # business calendars, so it may use the SLA core.
    "noise": frozenset({"kernel", "sla", "noise"}),
    "connectors": frozenset({"kernel", "connectors"}),
    "alerts": frozenset({"kernel", "config", "alerts"}),
    "models": frozenset({"kernel", "config", "models"}),
    # config/ assembles the schemas the components own (connector configs via the registry, SLA policies,
    # noise controls and spikes).
    "config": frozenset({"kernel", "config", "sla", "noise", "connectors"}),
    # The store persists; it knows no plugin package (connectors, alerts, models beyond the kernel's models.base).
    # Migration m002 creates the analyst views from their SQL text. It keeps the noise controls' records
    # (held alerts, what was sent, mutes) in their own types.
    "store": frozenset({"kernel", "sla", "noise", "store", "listener.analytics.schema_sql"}),
    # The read side: plain read-only SQL over the analyst views; only the schema check comes from the store.
    "analytics": frozenset({"kernel", "analytics", "listener.migrations"}),
    # The REST API and dashboard: reports from analytics, queue actions through the same ClockActions as Slack.
    "api": frozenset({"kernel", "config", "analytics", "api", "listener.interact"}),
    # The daemon and its pipeline: everything below the CLI.
    "core": frozenset({"kernel", "sla", "noise", "store", "core", "config", "connectors", "models", "alerts",
                       "analytics", "api"}),
    "cli": frozenset({"kernel", "sla", "noise", "store", "core", "config", "connectors", "models", "alerts",
                      "analytics", "api", "cli"}),
}

# Wrong-way edges that exist today, each with the reason it is not fixed yet. Remove an entry when its
# edge goes away (the test fails on a stale entry too, so this list only ever shrinks).
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    # Empty since the store split (issue 15) moved Event to listener/events.py and same_account to
    # listener/identity.py: the store no longer imports alerts/ or connectors/. Add an entry only with a
    # reason and the issue that removes it.
}

# Private modules or names used across package boundaries (a `_name` is its package's business).
KNOWN_PRIVATE: dict[tuple[str, str], str] = {
    # The daemon's web server hosts the Meta webhook endpoint that the connector package implements.
    ("listener.webhooks", "connectors._meta_webhook"): "the Meta webhook handler should get a public entry point",
}


@dataclass(frozen=True)
class Edge:
    """One import: `source` module imports `target` module (line `line`), maybe a private name."""

    source: str
    target: str
    line: int
    private_name: str | None = None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    """The longest prefix of `name` that is one of our modules (`pkg.mod.Class` -> `pkg.mod`)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


@functools.cache
def edges() -> tuple[Edge, ...]:
    """Every import of one of our modules, from any of our modules, at any nesting level."""
    return tuple(_walk())


def _walk() -> Iterator[Edge]:
    for module, path in MODULES.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PACKAGES:
                        yield Edge(module, _resolve(alias.name), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base.split(".")[0] not in PACKAGES:
                    continue
                for alias in node.names:
                    target = _resolve(f"{base}.{alias.name}")
                    private = alias.name if target == _resolve(base) and _is_private(alias.name) else None
                    yield Edge(module, target, node.lineno, private)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # A registry entry ("connectors.x:XConnector") is an import made later by importlib.
                dotted = _DOTTED.fullmatch(node.value)
                if dotted and dotted["module"].split(".")[0] in PACKAGES:
                    yield Edge(module, _resolve(dotted["module"]), node.lineno)


_DOTTED = re.compile(r"(?P<module>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+):[A-Za-z_][A-Za-z0-9_]*")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def layer(module: str) -> str:
    """The layer a module belongs to."""
    if module in KERNEL:
        return "kernel"
    if module in LAYER_OF_MODULE:
        return LAYER_OF_MODULE[module]
    if module == "listener.__main__":
        return "cli"
    for sub in ("cli", "sla", "noise", "store", "analytics", "api"):
        if module == f"listener.{sub}" or module.startswith(f"listener.{sub}."):
            return sub
    top = module.split(".")[0]
    return "core" if top == "listener" else top


def _owner(module: str) -> str:
    """Who owns a module's private names: the top-level package, or listener.<sub> inside listener."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "listener" and len(parts) > 1 else parts[0]


def _group(module: str) -> str:
    """The granularity of the known-exception keys: listener.<sub> or the module itself."""
    return _owner(module) if module.startswith("listener.") else module


def wrong_way() -> dict[tuple[str, str], list[str]]:
    """Imports that break ALLOWED, keyed by (source group, target module), with file:line of each."""
    found: dict[tuple[str, str], list[str]] = {}
    for edge in edges():
        allowed = ALLOWED[layer(edge.source)]
        if layer(edge.target) in allowed or edge.target in allowed:
            continue
        found.setdefault((_group(edge.source), edge.target), []).append(f"{edge.source}:{edge.line}")
    return found


def private_crossings() -> dict[tuple[str, str], list[str]]:
    """Private modules or names imported from another package (listener.<sub> counts as a package)."""
    found: dict[tuple[str, str], list[str]] = {}
    for edge in edges():
        if _owner(edge.source) == _owner(edge.target):
            continue
        hidden = edge.private_name or next((p for p in edge.target.split(".") if _is_private(p)), None)
        if hidden:
            found.setdefault((edge.source, edge.target), []).append(f"{edge.source}:{edge.line} ({hidden})")
    return found


def test_the_walk_sees_every_package_and_function_level_imports() -> None:
    seen = {(e.source, e.target) for e in edges()}
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    # A function-level import (the daemon is imported inside the `run` command only).
    assert ("listener.cli.run", "listener.daemon") in seen
    # A TYPE_CHECKING import.
    assert ("listener.cli.common", "listener.store") in seen


def test_no_new_wrong_way_import() -> None:
    found = wrong_way()
    new = {key: where for key, where in found.items() if key not in KNOWN_EXCEPTIONS}
    assert not new, "imports against the layers (docs/architecture.md):\n" + "\n".join(
        f"  {src} -> {dst}: {', '.join(where)}" for (src, dst), where in sorted(new.items())
    )


def test_known_exceptions_are_still_real() -> None:
    stale = set(KNOWN_EXCEPTIONS) - set(wrong_way())
    assert not stale, f"these edges are gone: remove them from KNOWN_EXCEPTIONS: {sorted(stale)}"


def test_no_private_name_crosses_a_package() -> None:
    found = private_crossings()
    new = {key: where for key, where in found.items() if key not in KNOWN_PRIVATE}
    assert not new, f"private modules or names used from another package: {new}"
    assert not set(KNOWN_PRIVATE) - set(found), "a KNOWN_PRIVATE entry is gone: remove it"


@pytest.mark.parametrize("module", sorted(KERNEL & set(MODULES)))
def test_the_kernel_imports_only_the_kernel(module: str) -> None:
    outside = sorted({e.target for e in edges() if e.source == module and e.target not in KERNEL})
    assert not outside, f"{module} is kernel but imports {outside}"


def test_command_modules_import_cli_common_only_and_nobody_imports_the_cli() -> None:
    for edge in edges():
        if layer(edge.source) == "cli":
            if edge.source.startswith("listener.cli.") and edge.target.startswith("listener.cli"):
                assert edge.target == "listener.cli.common", f"{edge.source}:{edge.line} imports {edge.target}"
        else:
            assert layer(edge.target) != "cli", f"{edge.source}:{edge.line} imports the CLI ({edge.target})"


def test_the_rules_catch_the_edges_this_test_exists_for() -> None:
    """The checker itself: the wrong-way imports issue 17 found would fail it."""
    assert layer("models.commands") == "models" and "cli" not in ALLOWED["models"]
    assert "core" not in ALLOWED["models"]  # models -> listener.pool
    assert "sla" not in ALLOWED["kernel"] and "alerts" not in ALLOWED["store"]
    assert layer("listener.pool") == "core" and layer("config.schema") == "config"
    assert "connectors" not in ALLOWED["store"] and "core" not in ALLOWED["config"]
    # Noise controls and spikes are not SLA: their own layer, which the SLA core never imports.
    assert layer("listener.noise.controls") == "noise" and "noise" not in ALLOWED["sla"]
    assert "store" not in ALLOWED["noise"] and "alerts" not in ALLOWED["noise"]
    # The store knows nothing above it; the read side never needs the daemon, the store or a plugin.
    assert "core" not in ALLOWED["store"] and layer("listener.migrations") == "store"
    assert layer("listener.analytics.trends") == "analytics" and layer("listener.api.server") == "api"
    assert not {"core", "store", "connectors", "alerts", "models"} & ALLOWED["analytics"]
    assert not {"core", "store", "cli"} & ALLOWED["api"]


def test_registry_entries_are_edges_too() -> None:
    """Dotted paths imported later by importlib count: a lazy registry cannot hide a wrong-way import."""
    seen = {(e.source, e.target) for e in edges()}
    assert ("connectors.registry", "connectors.mastodon") in seen
    assert ("alerts.registry", "alerts.slack") in seen
    assert ("listener.cli", "listener.cli.analytics") in seen


def test_no_module_level_getattr() -> None:
    """A module `__getattr__` (lazy re-exports) once hid config -> listener.sla: import names explicitly."""
    found = [
        f"{m}:{node.lineno}"
        for m, path in MODULES.items()
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name in ("__getattr__", "__dir__")
    ]
    assert not found, found


def test_one_user_agent_and_one_strict_base() -> None:
    from connectors import _http
    from listener import USER_AGENT, daemon, probe

    assert _http.USER_AGENT is USER_AGENT
    assert not hasattr(daemon, "USER_AGENT") or daemon.USER_AGENT is USER_AGENT
    assert probe.USER_AGENT is USER_AGENT
    strict_bases = [
        f"{m}:{node.name}"
        for m, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.name.lower().lstrip("_") in {"strict", "strictmodel"}
    ]
    assert strict_bases == ["config.types:StrictModel"], strict_bases
    forbidding = [  # a model that refuses unknown keys by itself instead of deriving from StrictModel
        f"{m}:{node.lineno}"
        for m, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ConfigDict"
        and any(k.arg == "extra" and getattr(k.value, "value", None) == "forbid" for k in node.keywords)
    ]
    assert [f.split(":")[0] for f in forbidding] == ["config.types"], forbidding
