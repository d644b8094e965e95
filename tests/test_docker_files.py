"""docker/: every path the Dockerfile and compose file name exists, commands are real, configs are valid.

Docker itself is not available where the suite runs, so the files are checked statically, the
stack's listener.toml is validated by the real loader, and the broker config is run by the real
Mosquitto (with the port swapped for a free one).
"""

from __future__ import annotations

import os
import re
import shlex
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from config.loader import load_config
from listener.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
# Services that run our image (the others, e.g. mosquitto, run third-party images).
LISTENER_SERVICES = ("listener", "worker")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with backslash continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    out = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def exec_form(args: str) -> list[str]:
    """The JSON exec form `["a", "b"]` of CMD / ENTRYPOINT / HEALTHCHECK CMD as a list."""
    match = re.search(r"\[(.*)\]\s*$", args)
    assert match, f"expected the exec form [\"...\"], got {args!r}"
    return [part.strip().strip('"') for part in match.group(1).split(",")]


def compose() -> dict[str, Any]:
    """docker/compose.yaml parsed."""
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path (relative to docker/) of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        host, _, rest = str(volume).partition(":")
        if host.startswith((".", "/")):
            mounts[rest.split(":")[0]] = (DOCKER / host).resolve()
    return mounts


def assert_cli_command(args: list[str]) -> None:
    """`listener <args> --help` succeeds: the command and every option in `args` exist."""
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"`listener {shlex.join(args)}` is not a valid command:\n{result.output}"


# -- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_copies_only_existing_paths() -> None:
    copied = 0
    for instruction, args in dockerfile_instructions():
        if instruction in ("COPY", "ADD"):
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in parts[:-1]:  # the last one is the destination in the image
                assert (ROOT / source).exists(), f"{instruction} {source}: not in the repository"
                copied += 1
    assert copied >= 5  # pyproject, README and the packages


def test_dockerfile_run_lines_name_existing_repository_files() -> None:
    # Paths such as config/listener.example.toml used after COPY must exist in the build context.
    named = []
    for instruction, args in dockerfile_instructions():
        if instruction == "RUN":
            named += [t for t in shlex.split(args) if re.fullmatch(r"[\w.-]+/[\w./-]+", t) and not t.startswith("/")]
    assert named, "expected RUN to install the example config from the repository"
    for path in named:
        assert (ROOT / path).exists(), f"RUN names {path}, which is not in the repository"


def test_dockerfile_packages_match_pyproject() -> None:
    # `pip install .` in the image needs every package that pyproject.toml includes.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[(.*?)\]", text)
    assert include
    packages = {p.strip().strip('"').rstrip("*") for p in include.group(1).split(",")}
    copied = {shlex.split(args)[0] for ins, args in dockerfile_instructions() if ins == "COPY"}
    assert packages <= copied, f"packages not copied into the image: {sorted(packages - copied)}"


def test_dockerfile_runs_as_non_root_with_cpu_torch_and_two_malloc_arenas() -> None:
    instructions = dockerfile_instructions()
    users = [args for ins, args in instructions if ins == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must end as an unprivileged user"
    runs = " ".join(args for ins, args in instructions if ins == "RUN")
    assert "download.pytorch.org/whl/cpu" in runs and "torch==" in runs, "torch must come from the CPU index, pinned"
    envs = " ".join(args for ins, args in instructions if ins == "ENV")
    assert re.search(r"\bMALLOC_ARENA_MAX=2\b", envs)


def test_dockerfile_healthcheck_and_entrypoint_are_real_commands() -> None:
    instructions = dict(dockerfile_instructions())  # the last of each kind wins, as in Docker
    health = exec_form(instructions["HEALTHCHECK"])
    assert health[:2] == ["listener", "health"], health
    assert_cli_command(health[1:])
    entry, cmd = exec_form(instructions["ENTRYPOINT"]), exec_form(instructions["CMD"])
    assert entry == ["listener"]
    assert_cli_command(cmd)


# -- compose ------------------------------------------------------------------------------------


def test_compose_has_broker_daemon_and_worker_pool() -> None:
    services = compose()["services"]
    assert {"mosquitto", *LISTENER_SERVICES} <= set(services)
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")  # MQTT 5 shared subscriptions
    assert services["listener"]["command"][0] == "run"
    worker = services["worker"]
    assert worker["command"][0] == "worker"
    assert worker.get("deploy", {}).get("replicas", 1) >= 2, "the worker service is a pool: replicas >= 2"


def test_compose_build_context_and_dockerfile_exist() -> None:
    for name in LISTENER_SERVICES:
        build = compose()["services"][name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, f"{name}: build context {context} is not the repository root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_bind_mounts_exist() -> None:
    mounts = 0
    for name, service in compose()["services"].items():
        for container, host in bind_mounts(service).items():
            assert host.exists(), f"{name}: mounts {host} at {container}, but it does not exist"
            mounts += 1
    assert mounts >= 3


def test_compose_named_volumes_are_declared() -> None:
    data = compose()
    declared = set(data.get("volumes") or {})
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"


@pytest.mark.parametrize("name", LISTENER_SERVICES)
def test_compose_commands_are_real_cli_commands(name: str) -> None:
    service = compose()["services"][name]
    command = [str(part) for part in service["command"]]
    assert_cli_command(command)
    # The config a command names is a file the service mounts from the repository.
    if "--config" in command:
        container_path = command[command.index("--config") + 1]
        host = bind_mounts(service).get(container_path)
        assert host is not None and host.is_file(), f"{name}: --config {container_path} is not mounted"


# -- the stack's configuration ------------------------------------------------------------------


def stack_config_path() -> Path:
    """The host file the daemon service mounts as its config."""
    service = compose()["services"]["listener"]
    command = [str(part) for part in service["command"]]
    return bind_mounts(service)[command[command.index("--config") + 1]]


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret in the environment: the stack config must validate without any."""
    for variable in list(os.environ):
        if variable.startswith(("SLACK_", "MASTODON_", "POOL_", "MQTT_", "LISTENER_")):
            monkeypatch.delenv(variable)


def test_stack_config_validates_with_check_config(bare_env: None) -> None:
    result = CliRunner().invoke(cli, ["check-config", "--config", str(stack_config_path())])
    assert result.exit_code == 0, result.output
    assert ": OK" in result.output


def test_stack_config_points_pool_and_mqtt_at_the_compose_broker(bare_env: None) -> None:
    settings = load_config(stack_config_path())
    services = compose()["services"]
    assert settings.classifier.backend == "pool"
    assert settings.classifier.pool.host in services, "the pool's broker must be a compose service"
    broker_ports = {str(p).rsplit(":", 1)[-1] for p in services[settings.classifier.pool.host].get("ports", [])}
    assert str(settings.classifier.pool.port) in broker_ports | {"1883"}
    if settings.alerts.mqtt.enabled:
        assert settings.alerts.mqtt.host in services
    # The database lives on the daemon's data volume, not in the container's writable layer.
    data_mounts = [str(v).split(":")[1] for v in services["listener"]["volumes"] if not str(v).startswith(".")]
    assert any(settings.listener.database.is_relative_to(m) for m in data_mounts), settings.listener.database


def test_stack_config_needs_no_variable_that_compose_does_not_pass() -> None:
    text = stack_config_path().read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", "\n".join(
        line.split("#", 1)[0] for line in text.splitlines())))  # ${VAR} without a default, outside comments
    passed = set(compose()["services"]["listener"].get("environment", {}))
    assert required <= passed, f"set in the config but not passed by compose: {sorted(required - passed)}"


# -- Mosquitto ----------------------------------------------------------------------------------


def mosquitto_conf() -> Path:
    """The host file the mosquitto service mounts as its config."""
    return bind_mounts(compose()["services"]["mosquitto"])["/mosquitto/config/mosquitto.conf"]


def test_mosquitto_conf_has_nodelay_and_the_compose_port() -> None:
    directives = [line.split() for line in mosquitto_conf().read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    assert ["set_tcp_nodelay", "true"] in directives
    listeners = [d[1] for d in directives if d[0] == "listener"]
    assert listeners == ["1883"]
    published = compose()["services"]["mosquitto"]["ports"]
    assert all(str(p).startswith("127.0.0.1:") for p in published), "publish the broker on loopback only"


@pytest.mark.mqtt
def test_real_mosquitto_accepts_the_conf_and_shares_a_subscription(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    from tests.brokers import Mosquitto, find_mosquitto, free_port

    binary = find_mosquitto()
    if binary is None:
        pytest.fail("mosquitto is not installed: `make test` installs it (Debian package `mosquitto`)")
    port = free_port()
    broker = Mosquitto(binary, tmp_path, port)
    # The compose file's config, verbatim but for the port (and root's `user` line, as the fixture does).
    text = mosquitto_conf().read_text(encoding="utf-8").replace("listener 1883", f"listener {port} 127.0.0.1")
    if os.geteuid() == 0:
        text += "user root\n"
    broker.config.write_text(text, encoding="utf-8")
    broker.start()
    try:
        received: list[tuple[str, bytes]] = []
        got = threading.Event()
        subscribed = threading.Event()
        clients = []
        for name in ("w1", "w2"):
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
            client.on_subscribe = lambda *_a: subscribed.set()

            def on_message(_c: Any, _u: Any, message: Any, who: str = name) -> None:
                received.append((who, message.payload))
                if len(received) >= 4:
                    got.set()

            client.on_message = on_message
            client.connect("127.0.0.1", port)
            client.loop_start()
            subscribed.clear()
            client.subscribe("$share/classifiers/listener/pool/work/+", qos=1)
            assert subscribed.wait(5), "no SUBACK for the shared subscription"
            clients.append(client)
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="core", protocol=mqtt.MQTTv5)
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        for i in range(4):
            publisher.publish("listener/pool/work/core1", f"chunk {i}".encode(), qos=1).wait_for_publish(5)
        assert got.wait(5), f"only {len(received)} of 4 work messages arrived"
        time.sleep(0.3)  # room for copies that a non-shared subscription would deliver to the second client
        # A shared subscription hands each message to one member of the group, not to both.
        assert sorted(payload for _, payload in received) == [f"chunk {i}".encode() for i in range(4)]
        for client in (publisher, *clients):
            client.disconnect()  # before loop_stop, which otherwise waits out paho's 1 s select
            client.loop_stop()
    finally:
        broker.stop()
