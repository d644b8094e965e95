"""pyproject.toml declares what the code imports, and nothing else (issue 17: no unused dependencies)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = frozenset({"listener", "connectors", "models", "alerts", "config", "tests", "benchmarks"})
PRODUCT = ("listener", "connectors", "models", "alerts", "config")
# Test-extra distributions that are used without an import statement: pytest plugins (fixtures and the
# asyncio mode), tools run as commands, and a package the tests load with pytest.importorskip.
USED_WITHOUT_IMPORT = frozenset({"pytest-asyncio", "pytest-aiohttp", "ruff", "mypy", "datasette"})


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them (`PyJWT` == `pyjwt`, `slack_sdk` == `slack-sdk`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {_normal(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in requirements}


def _imported(folders: tuple[str, ...]) -> set[str]:
    """Distributions providing the third-party modules imported anywhere under `folders`."""
    owners = packages_distributions()
    found: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in OURS or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    where = path.relative_to(ROOT)
                    assert top in owners, f"{where} imports {top!r}, which no installed package provides"
                    found.update(_normal(dist) for dist in owners[top])
    return found


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = _declared(PROJECT["dependencies"])
EXTRAS = {name: _declared(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}


def test_every_runtime_dependency_is_imported_by_the_product() -> None:
    unused = RUNTIME - _imported(PRODUCT)
    assert not unused, f"declared in [project] dependencies but imported nowhere in {PRODUCT}: {sorted(unused)}"


def test_every_module_the_product_imports_is_declared() -> None:
    optional = set().union(*(names for extra, names in EXTRAS.items() if extra != "test"))  # e.g. [parquet]
    undeclared = _imported(PRODUCT) - RUNTIME - optional
    assert not undeclared, f"imported by the product but not declared (only pulled in by another package): {undeclared}"


def test_test_and_optional_extras_are_used_and_cover_the_tests() -> None:
    used = _imported(("tests", "benchmarks"))
    for extra, names in EXTRAS.items():
        unused = names - used - _imported(PRODUCT) - USED_WITHOUT_IMPORT
        assert not unused, f"[{extra}] declares {sorted(unused)}, imported nowhere"
    undeclared = used - RUNTIME - set().union(*EXTRAS.values())
    assert not undeclared, f"tests or benchmarks import {sorted(undeclared)}, declared in no extra"
