"""The README and docs stay true: every command they show exists, every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from listener.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
COMMAND = re.compile(r"`listener ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    broken = [
        target
        for target in LINK.findall(doc.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:") and not (doc.parent / target).exists()
    ]
    assert not broken, f"{doc.name} links to missing files: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_commands_shown_exist(doc: Path) -> None:
    missing = []
    for name, sub in COMMAND.findall(doc.read_text(encoding="utf-8")):
        command = cli.commands.get(name)
        if command is None:
            missing.append(name)
        elif sub and hasattr(command, "commands") and sub not in command.commands:  # a group
            missing.append(f"{name} {sub}")
    assert not missing, f"{doc.name} shows commands the CLI does not have: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
