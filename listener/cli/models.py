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
            unsure_band=settings.unsure_band,
            require_agreement=settings.require_agreement,
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
@click.option("--task", type=click.Choice(["sentiment", "complaint", "needs-reply"]), required=True)
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True)
def eval_command(config_path: Path | None, adapter: Path | None, task: str, data_path: Path, as_json: bool) -> None:
    """Score the model on a labelled CSV: n, accuracy, macro recall/F1, per class, and a confusion table.

    DATA is `text,label`, or a split of the brand-mention corpus (models/data/mentions/*.csv); for
    the corpus, every task is also broken down per language and per kind of text (the complaint task
    with the share of praise flagged as a complaint and read as negative). The needs-reply task reads the
    corpus's needs_reply labels (p_needs_reply >= 0.5 counts as "needs a reply"). Texts the model
    leaves unscored count as wrong answers (and are reported as `skipped`).
    """
    from dataclasses import replace

    from models.evaluate import (
        COMPLAINT_CLASSES,
        NEEDS_REPLY_CLASSES,
        NEEDS_REPLY_THRESHOLD,
        SENTIMENT_CLASSES,
        confusion,
        format_confusion,
        format_report,
        score,
    )
    from models.mentions import (
        complaint_breakdown,
        format_breakdown,
        format_label_breakdown,
        is_mentions_csv,
        label_breakdown,
        read_mentions,
    )
    from models.train import read_csv

    mentions = read_mentions(data_path) if is_mentions_csv(data_path) else None
    if task == "needs-reply" and mentions is None:
        raise click.UsageError(f"{data_path}: --task needs-reply needs a brand-mention corpus CSV (needs_reply column)")
    examples = [m.example for m in mentions] if mentions is not None else read_csv(data_path, task)
    if not examples:
        raise click.UsageError(f"{data_path}: no usable rows")
    classifier = _classifier(config_path, adapter)
    results = classifier.predict([e.text for e in examples])
    gold: list[int] = []
    predicted: list[int] = []
    for example, result in zip(examples, results, strict=True):
        label = {"sentiment": example.sentiment, "complaint": example.complaint}.get(task, example.needs_reply)
        gold.append(int(label))  # type: ignore[arg-type]
        if not result.scored:
            predicted.append(-1)
        elif task == "sentiment":
            predicted.append(SENTIMENT_CLASSES.index(result.sentiment.value))
        elif task == "complaint":
            predicted.append(int(result.complaint))
        elif result.p_needs_reply is None:
            raise click.ClickException(f"model {classifier.model_id} has no needs-reply output (no needs-reply head)")
        else:
            predicted.append(int(result.p_needs_reply >= NEEDS_REPLY_THRESHOLD))
    classes = {"sentiment": SENTIMENT_CLASSES, "complaint": COMPLAINT_CLASSES}.get(task, NEEDS_REPLY_CLASSES)
    report = replace(score(gold, predicted, classes), skipped=sum(1 for r in results if not r.scored))
    table = confusion(gold, predicted, len(classes))
    breakdown = None
    if mentions is not None and task == "complaint":
        negative = [r.scored and r.sentiment is not None and r.sentiment.value == "negative" for r in results]
        breakdown = complaint_breakdown(mentions, predicted, negative, [r.unsure for r in results])
    elif mentions is not None:
        breakdown = label_breakdown(mentions, gold, predicted, classes)
    if as_json:
        body = {"task": task, "model_id": classifier.model_id, **report.to_dict(), "confusion": table}
        if breakdown is not None:
            body["breakdown"] = breakdown
        click.echo(json.dumps(body))
        return
    click.echo(f"model {classifier.model_id}, task {task}, data {data_path}")
    click.echo(format_report(report))
    click.echo(format_confusion(table, classes))
    if breakdown is not None:
        click.echo("")
        click.echo(format_breakdown(breakdown) if task == "complaint" else format_label_breakdown(breakdown))


@model_group.command("train")
@_CONFIG
@click.option("--task", type=click.Choice(["sentiment", "complaint", "multitask"]), required=True,
              help="multitask: the recipe of the shipped adapter (sentiment, complaint and needs-reply heads).")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Labelled CSV (text,label) for --task sentiment/complaint.")
@click.option("--val", "val_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--include-corrections", is_flag=True, help="Also learn from stored human corrections.")
@db_option("Database holding the corrections (default: the configured one).")
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("listener-adapter"),
              show_default=True)
@click.option("--from-scratch", is_flag=True, help="Start from a fresh adapter instead of the packaged one.")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="multitask: folder with tweeteval_sentiment/, complaints/ and jrte_pn_ja/ (train and val CSVs).")
@click.option("--mentions", "mentions_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="multitask: the brand-mention corpus folder (default: models/data/mentions).")
@click.option("--tweeteval-sample", type=int, default=1000, show_default=True,
              help="multitask: TweetEval train rows used (a seeded sample; 0 = none, -1 = all).")
@click.option("--mentions-sample", type=int, default=3000, show_default=True,
              help="multitask: corpus train rows used (a seeded sample; -1 = all).")
@click.option("--head-lr", type=float, default=1e-3, show_default=True, help="multitask: heads' learning rate.")
@click.option("--freeze-head", "freeze_heads", multiple=True,
              type=click.Choice(["sentiment_head", "complaint_head", "needs_reply_head"]),
              help="multitask: keep this head as packaged (repeatable).")
@click.option("--fold-precision", type=float, default=0.92, show_default=True,
              help="multitask: fold the corpus-val threshold for this precision into the complaint bias (0 = none).")
@click.option("--eval-every", type=int, default=200, show_default=True, help="multitask: steps between val runs.")
@click.option("--lr", type=float, default=5e-4, show_default=True, help="multitask: LoRA learning rate.")
@click.option("--version", default="v2", show_default=True, help="multitask: version written into the adapter.")
@click.option("--train-from", type=int, default=11, show_default=True,
              help="multitask: first encoder layer whose LoRA trains (layers below are cached once).")
@click.option("--sentences", "sentence_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="multitask: extra labelled sentences (text,sentiment,complaint); every fifth row is held out "
              "for selection (repeatable).")
@click.option("--base", "base_adapter", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="multitask: start from this adapter instead of the packaged one.")
@click.option("--distill", type=float, default=0.0, show_default=True,
              help="multitask: weight of keeping general-domain sentiment (TweetEval, --sentences) close to the "
              "starting adapter's (KL divergence).")
@click.option("--lora-from", type=int, default=None,
              help="multitask: add LoRA down to this encoder layer (default: the base adapter's layers).")
@click.option("--max-steps", type=int, default=None, hidden=True)
def train_command(
    config_path: Path | None,
    task: str,
    data_path: Path | None,
    val_path: Path | None,
    include_corrections: bool,
    db_path: Path | None,
    epochs: float,
    out_dir: Path,
    from_scratch: bool,
    data_dir: Path | None,
    mentions_dir: Path | None,
    tweeteval_sample: int,
    mentions_sample: int,
    head_lr: float,
    freeze_heads: tuple[str, ...],
    fold_precision: float,
    eval_every: int,
    lr: float,
    version: str,
    train_from: int,
    max_steps: int | None,
    sentence_files: tuple[Path, ...],
    base_adapter: Path | None,
    distill: float,
    lora_from: int | None,
) -> None:
    """Fine-tune the adapter and heads (uses a GPU when there is one, the CPU otherwise).

    --task sentiment/complaint: on one labelled CSV; training continues from the packaged adapter,
    so the other heads are kept. --task multitask: the recipe of the shipped adapter (see
    models/weights/MODEL_CARD.md); it measures every val set at every evaluation, keeps the best
    step, and resumes from OUT/checkpoint.pt when run again with the same OUT. The result goes to
    OUT/adapter.safetensors; use it with `--adapter` or LISTENER_ADAPTER=path.
    """
    settings = _settings(config_path)
    if task == "multitask":
        from models.fit import train_multitask
        from models.mentions import MENTIONS_DIR

        if data_dir is None:
            raise click.UsageError("--task multitask needs --data-dir")
        metrics = train_multitask(
            out_dir,
            data_dir=data_dir,
            mentions_dir=mentions_dir or MENTIONS_DIR,
            epochs=epochs,
            lr=lr,
            tweeteval_sample=None if tweeteval_sample < 0 else tweeteval_sample,
            mentions_sample=None if mentions_sample < 0 else mentions_sample,
            head_lr=head_lr,
            freeze_heads=freeze_heads,
            fold_precision=fold_precision or None,
            eval_every=eval_every,
            max_steps=max_steps,
            version=version,
            cache_dir=Path(settings.classifier.cache_dir) if settings.classifier.cache_dir else None,
            train_from=train_from,
            sentences=sentence_files,
            base=base_adapter,
            distill=distill,
            lora_from=lora_from,
        )
        click.echo(f"adapter written to {out_dir / 'adapter.safetensors'}")
        best = metrics["best"]
        click.echo(json.dumps({k: best[k] for k in ("step", "tweeteval_val", "complaints_val", "jrte_val",
                                                   "mentions_f1_mean")}))
        return
    if data_path is None:
        raise click.UsageError(f"--task {task} needs --data")
    from models.fit import fit_task

    corrections = []
    if include_corrections:
        from listener.corrections import load_corrections

        corrections = load_corrections(db_path or settings.listener.database)
        click.echo(f"{len(corrections)} corrections included", err=True)
    fitted = fit_task(
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
    if fitted is not None:
        click.echo(json.dumps(fitted))
    sys.stdout.flush()
