"""`listener classify`, `model train` and `model eval`: run and fine-tune the classifier."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from listener.cli.common import config_option, db_option, load_settings

if TYPE_CHECKING:
    from config.schema import Settings
log = logging.getLogger(__name__)

_CONFIG = config_option("Config file whose [classifier] table picks the model (default: builtin).")
_ADAPTER = click.option(
    "--adapter",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Use this adapter file instead of the packaged one (builtin backend).",
)


def _settings(config_path: Path | None) -> Settings:
    """The config (optional: without one the builtin classifier is used)."""
    return load_settings(config_path, required=False)


def _classifier(config_path: Path | None, adapter: Path | None):
    settings = _settings(config_path).classifier
    if adapter is not None and settings.backend == "builtin":
        from models.transformer import TransformerClassifier

        return TransformerClassifier(
            cache_dir=Path(settings.cache_dir) if settings.cache_dir else None,
            adapter=adapter,
            complaint_threshold=settings.complaint_threshold,
            threads=settings.threads,
            batch_size=settings.batch_size,
        )
    from models.loader import load_classifier

    return load_classifier(settings)


@click.command("classify")
@_CONFIG
@_ADAPTER
@click.argument("texts", nargs=-1)
@click.option(
    "--file", "file", type=click.File("r", encoding="utf-8"), default=None, help="One text per line ('-' = stdin)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (Classification.to_dict()).")
def classify_command(
    config_path: Path | None, adapter: Path | None, texts: tuple[str, ...], file, as_json: bool
) -> None:
    """Classify TEXT arguments and/or the lines of --file."""
    items = list(texts)
    if file is not None:
        items.extend(line.rstrip("\n") for line in file)
    if not items:
        raise click.UsageError("give at least one TEXT or --file")
    classifier = _classifier(config_path, adapter)
    for text, result in zip(items, classifier.predict(items), strict=True):
        data = result.to_dict()
        if as_json:
            click.echo(json.dumps({"text": text, **data}, ensure_ascii=False))
        elif result.scored:
            flag = " COMPLAINT" if result.complaint else ""
            click.echo(
                f"{data['sentiment']:<8} neg={result.p_negative:.2f} neu={result.p_neutral:.2f} "
                f"pos={result.p_positive:.2f} complaint={result.p_complaint:.2f}{flag} "
                f"[{result.language}] {text}"
            )
        else:
            click.echo(f"unscored ({result.unscored_reason}) {text}")


@click.group("model")
def model_group() -> None:
    """Train and evaluate the builtin classifier."""


@model_group.command("eval")
@_CONFIG
@_ADAPTER
@click.option("--task", type=click.Choice(["sentiment", "complaint"]), required=True)
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True)
def eval_command(config_path: Path | None, adapter: Path | None, task: str, data_path: Path, as_json: bool) -> None:
    """Score the model on a labelled CSV (text,label): n, accuracy, macro recall/F1, per class.

    Texts the model leaves unscored count as wrong answers (and are reported as `skipped`).
    """
    from dataclasses import replace

    from models.evaluate import COMPLAINT_CLASSES, SENTIMENT_CLASSES, format_report, score
    from models.train import read_csv

    examples = read_csv(data_path, task)
    if not examples:
        raise click.UsageError(f"{data_path}: no usable rows")
    classifier = _classifier(config_path, adapter)
    results = classifier.predict([e.text for e in examples])
    gold: list[int] = []
    predicted: list[int] = []
    for example, result in zip(examples, results, strict=True):
        label = example.sentiment if task == "sentiment" else example.complaint
        gold.append(int(label))  # type: ignore[arg-type]
        if not result.scored:
            predicted.append(-1)
        elif task == "sentiment":
            predicted.append(SENTIMENT_CLASSES.index(result.sentiment.value))
        else:
            predicted.append(int(result.complaint))
    classes = SENTIMENT_CLASSES if task == "sentiment" else COMPLAINT_CLASSES
    report = replace(score(gold, predicted, classes), skipped=sum(1 for r in results if not r.scored))
    if as_json:
        click.echo(json.dumps({"task": task, "model_id": classifier.model_id, **report.to_dict()}))
    else:
        click.echo(f"model {classifier.model_id}, task {task}, data {data_path}")
        click.echo(format_report(report))


@model_group.command("train")
@_CONFIG
@click.option("--task", type=click.Choice(["sentiment", "complaint"]), required=True)
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--val", "val_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--include-corrections", is_flag=True, help="Also learn from stored human corrections.")
@db_option("Database holding the corrections (default: the configured one).")
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("listener-adapter"),
              show_default=True)
@click.option("--from-scratch", is_flag=True, help="Start from a fresh adapter instead of the packaged one.")
@click.option("--max-steps", type=int, default=None, hidden=True)
def train_command(
    config_path: Path | None,
    task: str,
    data_path: Path,
    val_path: Path | None,
    include_corrections: bool,
    db_path: Path | None,
    epochs: float,
    out_dir: Path,
    from_scratch: bool,
    max_steps: int | None,
) -> None:
    """Fine-tune the adapter and heads on a labelled CSV (uses a GPU when there is one).

    By default training continues from the packaged adapter, so the head of the other task is
    kept. The result goes to OUT/adapter.safetensors; use it with `--adapter` or
    LISTENER_ADAPTER=path.
    """
    from models.fit import fit_task

    settings = _settings(config_path)
    corrections = []
    if include_corrections:
        from listener.corrections import load_corrections

        corrections = load_corrections(db_path or settings.listener.database)
        click.echo(f"{len(corrections)} corrections included", err=True)
    metrics = fit_task(
        task=task,
        data_path=data_path,
        val_path=val_path,
        corrections=corrections,
        epochs=epochs,
        out_dir=out_dir,
        cache_dir=Path(settings.classifier.cache_dir) if settings.classifier.cache_dir else None,
        from_scratch=from_scratch,
        max_steps=max_steps,
    )
    click.echo(f"adapter written to {out_dir / 'adapter.safetensors'}")
    if metrics is not None:
        click.echo(json.dumps(metrics))
    sys.stdout.flush()
