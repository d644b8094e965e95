"""`listener worker`: run one classification worker of the MQTT pool until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from listener.cli.common import CONFIG_OPTION, load_settings

logger = logging.getLogger(__name__)


@click.command("worker")
@CONFIG_OPTION
@click.option("--classifier", "classifier_path", default=None, help="module:Class instead of the builtin model.")
@click.option("--host", default=None, help="Broker host (overrides [classifier.pool] host).")
@click.option("--port", type=int, default=None, help="Broker port (overrides [classifier.pool] port).")
@click.option("--prefix", default=None, help="Topic prefix (overrides [classifier.pool] topic_prefix).")
@click.option("--group", default=None, help="Shared-subscription group (overrides [classifier.pool] group).")
@click.option("--threads", type=int, default=1, show_default=True, help="Torch threads for the builtin model.")
@click.option("--name", default=None, help="Worker name in results and logs (default host-pid).")
def worker_command(
    config_path: Path | None,
    classifier_path: str | None,
    host: str | None,
    port: int | None,
    prefix: str | None,
    group: str | None,
    threads: int,
    name: str | None,
) -> None:
    """Run one classification worker for the MQTT pool until SIGTERM or Ctrl-C."""
    from listener.logging_setup import setup_logging
    from models.pool.worker import Worker, import_classifier, settings_from

    # A --config that names no file is an error (load_settings exits 2 and says so); no --config: defaults.
    loaded = load_settings(config_path) if config_path is not None else None
    # The daemon's logging: [listener] log_level and log_format, and every configured secret masked.
    listener = loaded.listener if loaded is not None else None
    setup_logging(listener.log_level if listener else "INFO", listener.log_format if listener else "text")
    overrides = {"host": host, "port": port, "topic_prefix": prefix, "group": group}
    pool_settings, classifier_settings = settings_from(loaded)
    settings = pool_settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if classifier_path:
        try:
            classifier = import_classifier(classifier_path)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--classifier") from None
    else:
        from models.loader import load_classifier

        # One model per process: scale out with more workers, not more threads per worker.
        classifier = load_classifier(classifier_settings.model_copy(update={"threads": threads}))
    worker = Worker(classifier, settings, name=name)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    logger.info("worker %s starting (%s)", worker.name, classifier.model_id)
    worker.run()
