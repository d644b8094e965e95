"""The README and docs stay true: every command line they show is run, every relative link resolves.

Every `listener ...` line of README.md and docs/*.md (shell blocks and inline code) gets its
`--help` run and its arguments parsed by the real CLI (synopses like `[--open]`, `a|b` and
`NAME` are expanded into concrete variants). The concrete lines of read-only or harmless
commands are then run for real against a demo database built once per session by
`listener demo` itself, with the config it writes, so an example that stops working fails here.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from listener.cli import cli, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
COMMAND = re.compile(r"`listener ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")

SHELL_FENCES = frozenset({"", "sh", "bash", "shell", "console"})
BLOCK_LINE = re.compile(r"^\s*(?:\$\s+)?(?:[\w.-]*/)*listener\s+(?=[a-z-])(?P<rest>.*)$")
INLINE = re.compile(r"`listener (?=[a-z-])([^`]*)`")
DAEMON_OUTPUT = re.compile(r"^listener (stopped after|running)\b")  # the daemon's own lines, shown as output
PLACEHOLDER = re.compile(r"[A-Z][A-Z_]+")
# Values for the synopses' placeholders; files that must exist are made in the workspace.
PLACEHOLDER_VALUES = {
    "NAME": "acme", "MENTION_ID": "demo:1", "DATE": "2026-01-01", "TEXT": "text", "SQL": "SELECT 1",
    "PATH": "sample.csv", "CSV": "sample.csv", "FILE": "sample.csv", "DIR": ".",
}
# Commands run for real (read-only, or a mute lifted again); the others are parsed and --help'ed.
RUNNABLE = frozenset({
    "check-config", "complaints", "sources", "health", "trends", "sla-report", "query", "export",
    "alerts stats", "backtest", "mute", "unmute",
})


@dataclass(frozen=True)
class DocCommand:
    """One command line shown in the docs."""

    where: str
    text: str
    inline: bool

    def __str__(self) -> str:
        return self.where


def _fences(lines: list[str]) -> Iterator[tuple[int, str, str | None]]:
    """(line number, line, fence language or None outside code blocks)."""
    fence: str | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip() if fence is None else None
            continue
        yield number, line, fence


def documented_commands() -> list[DocCommand]:
    """Every `listener ...` command line of README.md and docs/*.md."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = doc.read_text(encoding="utf-8").splitlines()
        numbered = list(_fences(lines))
        index = 0
        while index < len(numbered):
            number, line, fence = numbered[index]
            index += 1
            if fence is None:
                for match in INLINE.finditer(line):
                    found.append(DocCommand(f"{doc.name}:{number}", "listener " + match.group(1), inline=True))
                continue
            block = BLOCK_LINE.match(line)
            if fence not in SHELL_FENCES or block is None or DAEMON_OUTPUT.match("listener " + block["rest"]):
                continue
            text = "listener " + block["rest"]
            while (text.rstrip().endswith("\\") or not _balanced(text)) and index < len(numbered):
                text = text.rstrip().removesuffix("\\") + "\n" + numbered[index][1]
                index += 1
            found.append(DocCommand(f"{doc.name}:{number}", text, inline=False))
    return found


def _balanced(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def _arguments(command: DocCommand) -> list[str]:
    """The words after `listener`, without comments and shell redirections."""
    words = shlex.split(command.text.replace("\\|", "|"), comments=True)[1:]
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in (">", ">>", "<"):
            skip = True
        elif not word.startswith((">", "<")):
            out.append(word)
    return out


def _resolve(words: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """(command path, command, its arguments); AssertionError naming an unknown command."""
    command: click.Command = cli
    path: list[str] = []
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(click.Context(command), words[0])
        assert sub is not None, f"no command `listener {' '.join([*path, words[0]])}`"
        command, path, words = sub, [*path, words[0]], words[1:]
    return path, command, words


def _is_synopsis(command: DocCommand, words: list[str]) -> bool:
    return (
        "..." in command.text
        or any(c in command.text.replace("\\|", "|") for c in "[]|")
        or any(PLACEHOLDER.fullmatch(w) for w in words)
    )


def _variants(words: list[str]) -> list[list[str]]:
    """Concrete argument lists of a synopsis: optional parts included, each alternative tried once."""
    cleaned = [w.replace("[", "").replace("]", "") for w in words]
    cleaned = [w for w in cleaned if w and w != "..."]
    options = [w.split("|") if "|" in w and " " not in w else [w] for w in cleaned]
    base = [o[0] for o in options]
    variants = [base]
    for position, choices in enumerate(options):
        variants += [[*base[:position], alt, *base[position + 1:]] for alt in choices[1:]]
    return [[PLACEHOLDER_VALUES.get(w, "x") if PLACEHOLDER.fullmatch(w) else w for w in v] for v in variants]


def _repo_paths(words: list[str]) -> list[str]:
    # Paths in the docs are relative to the repository root (`--config docker/listener.toml`).
    return [str(ROOT / w) if "/" in w and not w.startswith("-") and (ROOT / w).is_file() else w for w in words]


def _runnable(command: DocCommand) -> bool:
    """A concrete line (or a synopsis with only `[optional]` parts and `a|b` choices) of a RUNNABLE command."""
    words = _arguments(command)
    path, _, rest = _resolve(words)
    placeholders = "..." in command.text or any(PLACEHOLDER.fullmatch(w.strip("[]")) for w in rest)
    # A bare inline name (`listener ack`) is a reference to the command, not an example to run.
    return " ".join(path) in RUNNABLE and not placeholders and (not command.inline or bool(rest))


COMMANDS = documented_commands()
RUNS = [c for c in COMMANDS if _runnable(c)]


@pytest.fixture(scope="session")
def doc_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with what the docs assume is at hand: their SQL files, a listener.toml, a sample input."""
    folder = tmp_path_factory.mktemp("docs")
    # docs/analytics.md says to save its named queries in files; do so.
    for block in re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8"), re.S):
        name = re.match(r"-- name: ([\w-]+)", block)
        if name:
            (folder / f"{name.group(1)}.sql").write_text(block, encoding="utf-8")
    (folder / "sample.csv").write_text("text,label\nacme is broken,0\n", encoding="utf-8")
    # The README's `cp config/listener.example.toml listener.toml`, trimmed to what runs offline.
    (folder / "listener.toml").write_text('[brands.acme]\nkeywords = ["acme"]\n', encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def workspace(doc_files: Path) -> Path:
    """`doc_files` plus the database and config that `listener demo --database demo.db` leaves (built once)."""
    from rich.console import Console

    from listener import demo
    from listener.daemon import Daemon
    from tests.doubles import KeywordClassifier

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Daemon, "_load_classifier", lambda self: KeywordClassifier())
        patch.delenv("SLACK_WEBHOOK_URL", raising=False)
        console = Console(file=io.StringIO(), width=160)
        assert asyncio.run(demo._demo(3.0, doc_files / "demo.db", console)) == 0
    assert (doc_files / "demo.toml").is_file(), "the demo writes a config beside the database it keeps"
    (doc_files / "listener.toml").write_text((doc_files / "demo.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return doc_files


def _enter(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("LISTENER_DB", raising=False)
    monkeypatch.delenv("LISTENER_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return folder


@pytest.fixture
def in_doc_files(doc_files: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _enter(doc_files, monkeypatch)


@pytest.fixture
def in_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _enter(workspace, monkeypatch)


def test_the_docs_show_command_lines() -> None:
    # The extraction itself works: the README's table, shell blocks and continued lines are found.
    texts = [c.text for c in COMMANDS]
    assert "listener sla-report --group brand" in texts
    assert any(t.startswith("listener query \"SELECT day, sentiment") and "--format csv" in t for t in texts)
    assert not any(DAEMON_OUTPUT.match(t) for t in texts)
    assert len(COMMANDS) > 60 and len(RUNS) > 15


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_documented_command_line_parses(
    command: DocCommand, in_doc_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, cli_command, words = _resolve(_arguments(command))
    assert main([*path, "--help"]) == 0, f"{command}: `listener {' '.join(path)} --help` failed"
    capsys.readouterr()
    synopsis = _is_synopsis(command, words)
    for variant in _variants(words) if synopsis else [words]:
        try:
            cli_command.make_context(" ".join(["listener", *path]), _repo_paths(variant))
        except click.exceptions.Exit:  # `listener --help`
            pass
        except click.MissingParameter:
            # A synopsis with `...`, or an inline mention of a command, may leave required parts out.
            assert synopsis or command.inline, f"{command}: {command.text!r} misses a required part"
        except click.UsageError as err:
            pytest.fail(f"{command}: {command.text!r} is refused by the CLI: {err.format_message()}")


@pytest.mark.parametrize("command", RUNS, ids=str)
def test_documented_command_line_runs(
    command: DocCommand, in_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, rest = _resolve(_arguments(command))
    for variant in _variants(rest) if _is_synopsis(command, rest) else [rest]:
        words = _repo_paths(variant)
        given = "--config" in words or "--db" in words
        if path == ["unmute"]:  # lifting a mute needs one: set it first, as the docs do a line before
            assert main(["mute", *words, "--for", "1m"]) == 0
        status = main([*path, *words, *([] if given else ["--config", str(in_workspace / "demo.toml")])])
        out = capsys.readouterr()
        allowed = (0, 1) if path == ["health"] else (0,)  # health exits 1 to report a stalled stage
        shown = " ".join(["listener", *path, *variant])
        assert status in allowed, f"{command}: `{shown}` exited {status}: {out.err.strip()[-500:]}"
        assert "Traceback" not in out.err


# -- what particular pages say ------------------------------------------------------------------


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
        command = cli.get_command(click.Context(cli), name)
        if command is None:
            missing.append(name)
        elif sub and isinstance(command, click.Group) and command.get_command(click.Context(command), sub) is None:
            missing.append(f"{name} {sub}")
    assert not missing, f"{doc.name} shows commands the CLI does not have: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


async def test_metrics_doc_matches_the_server(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from config.schema import ApiSettings
    from listener.api.auth import bearer_middleware

    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    targets = re.findall(r'targets: \["[\w.-]+:(\d+)"\]', text)
    assert targets == [str(ApiSettings().port)], "the scrape config names the default [api] port"
    assert "no authentication" not in text and "Bearer" in text
    # What the page says about the token is what the server does.
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="listener_up 1\n")

    app = web.Application(middlewares=[bearer_middleware("t" * 32)])
    app.router.add_get("/metrics", metrics)
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})).status == 200


def test_openapi_text_states_the_business_time_figures() -> None:
    from listener.api.openapi import spec

    document = spec()
    description = document["info"]["description"]
    assert "not available" not in description
    row = document["components"]["schemas"]["SlaRow"]["properties"]
    for name in ("median_business_s", "p90_business_s", "median_response_s", "p90_response_s"):
        assert name in description and name in row
    sla = document["paths"]["/api/sla"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "competitors" in sla["properties"]["total"]["description"] and "total_scope" in sla["properties"]


def test_trends_sql_with_the_since_the_docs_suggest_keeps_the_first_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from listener.domain import Mention, Sentiment
    from listener.store import SyncStore
    from models.base import Classification

    monday = datetime(2026, 1, 5, tzinfo=UTC)
    db = tmp_path / "t.db"
    store = SyncStore(db)
    first_hour = Mention(source="s", external_id="1", text="acme", author="@a",
                         created_at=monday.replace(minute=10), brands=("acme",))
    later = Mention(source="s", external_id="2", text="acme", author="@b",
                    created_at=monday.replace(hour=5), brands=("acme",))
    store.ingest("s", [first_hour, later], [], None, monday.replace(hour=6))
    label = Classification(model_id="t", scored=True, sentiment=Sentiment.NEUTRAL, complaint=False, p_complaint=0.1)
    store.save_classifications([(first_hour, label), (later, label)], monday.replace(hour=6))
    store.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTENER_DB", raising=False)
    common = ["--db", str(db), "--brand", "acme", "--format", "json"]
    assert main(["trends", *common, "--by", "source", "--every", "week", "--since", "2026-01-05",
                 "--until", "2026-01-12"]) == 0
    report = json.loads(capsys.readouterr().out)
    since = report["filters"]["since"]  # what the docs tell the reader to pass
    assert since.startswith("2026-01-05T00:00")
    sql = next(
        block for block in re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8"),
                                      re.S)
        if block.startswith("-- name: trends-per-source-weekly\n")
    )
    (tmp_path / "trends.sql").write_text(sql, encoding="utf-8")
    assert main(["query", "--db", str(db), "--file", "trends.sql", "-p", "brand=acme", "-p", f"since={since}",
                 "-p", f"until={report['filters']['until']}", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["mentions"] == report["rows"][0]["mentions"] == 2


def test_the_commands_the_demo_suggests_run(in_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from listener.demo import explore_hint

    hint = explore_hint(in_workspace / "demo.db", in_workspace / "demo.toml")
    lines = [line.split("    (")[0].strip() for line in hint.splitlines() if line.startswith("  listener ")]
    assert len(lines) == 5
    for line in lines:
        words = shlex.split(line)[1:]
        if words[0] == "api":  # serves until stopped: parse it only
            cli.get_command(click.Context(cli), "api").make_context("listener api", words[1:])
            continue
        assert main(words) == 0, f"the demo suggests `{line}`, which fails: {capsys.readouterr().err[-300:]}"
    capsys.readouterr()
    # The config the demo points at keeps the competitor flag for the reports.
    assert main(["sla-report", "--config", str(in_workspace / "demo.toml"), "--by", "brand", "--format", "json"]) == 0
    rows = {row["brand"]: row["competitor"] for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows == {"acme": False, "globex": True}


def test_benchmarks_doc_survives_a_make_bench_rewrite() -> None:
    # `make bench` rewrites docs/benchmarks.md from its marked sections; text outside them would be lost.
    from benchmarks.run import existing_sections, render

    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert render(existing_sections(text)) == text
