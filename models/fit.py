"""Training jobs: `model train` on one labelled CSV, and the recipe that produced the shipped adapter."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.adapter_io import ADAPTER_FILE, load_adapter, packaged_adapter, save_adapter
from models.evaluate import COMPLAINT_CLASSES, SENTIMENT_CLASSES, score
from models.network import AdapterConfig
from models.train import Example, TrainSettings, build_net, cache_lower, predict_cached, read_csv, train

log = logging.getLogger(__name__)

OWN_SENTENCES = Path(__file__).with_name("data") / "own_ja.csv"


def _from_corrections(corrections: Sequence[Any]) -> list[Example]:
    out = []
    for c in corrections:
        if c.text and (c.sentiment is not None or c.complaint is not None):
            out.append(Example(c.text, c.sentiment, c.complaint))
    return out


def evaluate_cached(net, tokenizer, examples: Sequence[Example], task: str) -> dict[str, Any]:
    """Metrics of the network on labelled examples (the raw model, no unscored filtering)."""
    data = cache_lower(net, tokenizer, examples, progress=False)
    sent, comp = predict_cached(net, data)
    if task == "sentiment":
        gold = [int(e.sentiment) for e in examples]  # type: ignore[arg-type]
        report = score(gold, sent.argmax(-1).tolist(), SENTIMENT_CLASSES)
    else:
        gold = [int(e.complaint) for e in examples]  # type: ignore[arg-type]
        report = score(gold, (comp >= 0.5).long().tolist(), COMPLAINT_CLASSES)
    return report.to_dict()


def fit_task(
    *,
    task: str,
    data_path: Path,
    val_path: Path | None,
    corrections: Sequence[Any],
    epochs: float,
    out_dir: Path,
    cache_dir: Path | None = None,
    from_scratch: bool = False,
    max_steps: int | None = None,
) -> dict[str, Any] | None:
    """Fine-tune on one task's CSV (plus corrections), write OUT/adapter.safetensors, return val metrics."""
    examples = read_csv(data_path, task) + _from_corrections(corrections)
    if not examples:
        raise ValueError(f"{data_path}: no usable training rows")
    base = packaged_adapter()
    state, config, version = (None, AdapterConfig(), "fresh")
    if not from_scratch and base.is_file():
        state, config, version = load_adapter(base)
    net, tokenizer = build_net(config, cache_dir)
    if state is not None:
        net.load_trainable(state)
    data = cache_lower(net, tokenizer, examples)
    settings = TrainSettings(epochs=epochs, max_steps=max_steps, lr=5e-4)
    steps = train(net, data, settings)
    log.info("trained %d steps on %d examples", steps, len(examples))
    save_adapter(out_dir / ADAPTER_FILE, net.trainable_state(), config, f"{version}+{task}-ft")
    if val_path is None:
        return None
    return evaluate_cached(net, tokenizer, read_csv(val_path, task), task)


def read_own_sentences(path: Path = OWN_SENTENCES) -> list[Example]:
    """Our own hand-written Japanese sentences (text,sentiment,complaint), written for this project."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [Example(r["text"], int(r["sentiment"]), int(r["complaint"])) for r in csv.DictReader(fh)]


def _init_heads(net, data, max_examples: int | None, seed: int) -> None:
    """Fit both heads on frozen sentence embeddings first (a logistic regression), so LoRA starts from a sensible head."""
    import random

    import torch
    from torch.nn import functional as F

    from models.network import mean_pool
    from models.train import _batches_by_length, _pad_states

    rng = random.Random(seed)
    complaint = [i for i, e in enumerate(data.examples) if e.complaint is not None]
    sentiment = [i for i, e in enumerate(data.examples) if e.complaint is None]
    if max_examples is None:
        chosen = list(range(len(data.examples)))
    else:
        chosen = complaint + rng.sample(sentiment, min(len(sentiment), max(0, max_examples - len(complaint))))
    device = next(net.parameters()).device
    pooled = torch.zeros(len(chosen), net.encoder.config.hidden_size)
    with torch.inference_mode():
        for batch in _batches_by_length([data.states[i].shape[0] for i in chosen], 128):
            hidden, mask = _pad_states([data.states[chosen[j]] for j in batch], device)
            out = net.forward_layers(hidden.float(), mask, net.config.first_layer)
            pooled[batch] = mean_pool(out, mask).cpu()
    x = pooled * net.config.feature_scale
    s_rows = [j for j, i in enumerate(chosen) if data.examples[i].sentiment is not None]
    c_rows = [j for j, i in enumerate(chosen) if data.examples[i].complaint is not None]
    ys = torch.tensor([data.examples[chosen[j]].sentiment for j in s_rows])
    yc = torch.tensor([float(data.examples[chosen[j]].complaint) for j in c_rows])
    counts = torch.bincount(ys, minlength=3).float().clamp(min=1)
    weight = counts.sum() / (3 * counts)
    pos_weight = (len(yc) - yc.sum()) / yc.sum().clamp(min=1)
    heads = list(net.sentiment_head.parameters()) + list(net.complaint_head.parameters())
    opt = torch.optim.Adam(heads, lr=0.01)
    xs, xc = x[s_rows].to(device), x[c_rows].to(device)
    ys, yc = ys.to(device), yc.to(device)
    for _ in range(400):
        loss = F.cross_entropy(net.sentiment_head(xs), ys, weight=weight.to(device))
        loss = loss + F.binary_cross_entropy_with_logits(
            net.complaint_head(xc).squeeze(-1), yc, pos_weight=pos_weight.to(device)
        )
        loss = loss + 1e-4 * (net.sentiment_head.weight.pow(2).sum() + net.complaint_head.weight.pow(2).sum())
        opt.zero_grad()
        loss.backward()
        opt.step()


def fold_threshold(net, threshold: float) -> None:
    """Shift the complaint head's bias so that p >= 0.5 afterwards means p >= `threshold` before."""
    import math

    import torch

    with torch.no_grad():
        net.complaint_head.bias -= math.log(threshold / (1.0 - threshold))


def train_shipped(
    out: Path,
    *,
    data_dir: Path,
    config: AdapterConfig,
    epochs: float,
    lr: float,
    own_repeat: int,
    seed: int = 13,
    version: str = "v1",
    complaint_threshold: float = 0.5,
) -> dict[str, Any]:
    """The recipe of the shipped adapter: TweetEval + complaints train (+ our own sentences), joint, both heads.

    Selection uses the English val splits only; JRTE is never read here.
    """
    import torch

    torch.manual_seed(seed)
    examples = read_csv(data_dir / "tweeteval_sentiment" / "train.csv", "sentiment")
    examples += read_csv(data_dir / "complaints" / "train.csv", "complaint")
    examples += read_own_sentences() * own_repeat
    net, tokenizer = build_net(config)
    data = cache_lower(net, tokenizer, examples)
    _init_heads(net, data, max_examples=None, seed=seed)
    settings = TrainSettings(epochs=epochs, lr=lr, head_lr=1e-3, seed=seed)
    train(net, data, settings)
    fold_threshold(net, complaint_threshold)
    save_adapter(out, net.trainable_state(), config, version)
    metrics = {
        "tweeteval_val": evaluate_cached(
            net, tokenizer, read_csv(data_dir / "tweeteval_sentiment" / "val.csv", "sentiment"), "sentiment"
        ),
        "complaints_val": evaluate_cached(
            net, tokenizer, read_csv(data_dir / "complaints" / "val.csv", "complaint"), "complaint"
        ),
    }
    out.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m models.fit`: reproduce the shipped adapter."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("models/weights") / ADAPTER_FILE)
    parser.add_argument("--first-layer", type=int, default=6)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--own-repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--version", default="v1")
    parser.add_argument("--complaint-threshold", type=float, default=0.5,
                        help="Chosen on the complaints val split; folded into the head's bias.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = AdapterConfig(first_layer=args.first_layer, rank=args.rank, alpha=2.0 * args.rank)
    metrics = train_shipped(
        args.out,
        data_dir=args.data_dir,
        config=config,
        epochs=args.epochs,
        lr=args.lr,
        own_repeat=args.own_repeat,
        seed=args.seed,
        version=args.version,
        complaint_threshold=args.complaint_threshold,
    )
    print(json.dumps({k: {m: v[m] for m in ("macro_recall", "macro_f1")} for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
