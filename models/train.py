"""Fine-tunes the LoRA adapter and the heads; lower encoder layers are run once and cached to save CPU time."""

from __future__ import annotations

import csv
import logging
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from models.network import AdapterConfig, ListenerNet, additive_mask, mean_pool
from models.runtime import fast_dtype, pick_device

log = logging.getLogger(__name__)

TASKS = ("sentiment", "complaint")
MAX_TOKENS = 128


@dataclass(frozen=True, slots=True)
class Example:
    """A text with a label for some of the tasks (None = no label for that task)."""

    text: str
    sentiment: int | None = None
    complaint: int | None = None
    needs_reply: int | None = None


def read_csv(path: Path, task: str) -> list[Example]:
    """Read a `text,label` CSV for `task`; bad rows are logged with their line number and skipped."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    allowed = {0, 1, 2} if task == "sentiment" else {0, 1}
    out: list[Example] = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns text,label")
        for line, row in enumerate(reader, start=2):
            text = (row.get("text") or "").strip()
            try:
                label = int(row.get("label") or "")
            except ValueError:
                label = -1
            if not text or label not in allowed:
                log.warning("%s:%d: skipped (empty text or label not in %s)", path, line, sorted(allowed))
                continue
            out.append(Example(text, label, None) if task == "sentiment" else Example(text, None, label))
    return out


@dataclass(slots=True)
class Cached:
    """Lower-layer hidden states of examples, kept in bf16 on the CPU, one [len, H] tensor each."""

    states: list[torch.Tensor]
    examples: list[Example]
    # Index of the first encoder layer still to run on `states` (the layers below it are cached).
    start: int = 0
    # Teacher sentiment probabilities [N, 3] to distil towards (NaN rows: no teacher for that example).
    soft: torch.Tensor | None = None


@dataclass(slots=True)
class TrainSettings:
    """Knobs of one training run."""

    epochs: float = 1.0
    batch_size: int = 32
    lr: float = 1e-3
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    complaint_weight: float = 1.0
    needs_reply_weight: float = 0.5
    # Weight of KL(teacher || student) on the sentiment of rows that carry teacher probabilities (Cached.soft).
    distill_weight: float = 0.0
    complaint_repeat: int = 3
    balance_classes: bool = True
    seed: int = 13
    max_steps: int | None = None
    eval_every: int | None = None
    progress: bool = True
    # Resumable training: the state is written here every `checkpoint_every` steps and read back at start.
    checkpoint: Path | None = None
    checkpoint_every: int = 100


def tokenize(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, truncated to MAX_TOKENS."""
    return tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS)["input_ids"]


def _batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad(ids: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a batch of id lists to its longest member."""
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids.to(device), mask.to(device)


def _pad_states(states: Sequence[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(s.shape[0] for s in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]), dtype=states[0].dtype)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for row, s in enumerate(states):
        hidden[row, : s.shape[0]] = s
        mask[row, : s.shape[0]] = 1
    return hidden.to(device), mask.to(device)


@torch.inference_mode()
def cache_lower(
    net: ListenerNet,
    tokenizer,
    examples: Sequence[Example],
    *,
    batch_size: int = 64,
    progress: bool = True,
    upto: int | None = None,
) -> Cached:
    """Run embeddings and the layers below `upto` (default: the first adapted layer) once; keep their output.

    Layers below `upto` that carry LoRA run with it and must stay frozen while training on the cache.
    """
    device = next(net.parameters()).device
    # Repeated texts (an oversampled set) are encoded once and share their cached tensor.
    unique = list(dict.fromkeys(e.text for e in examples))
    ids = tokenize(tokenizer, unique)
    states: dict[int, torch.Tensor] = {}  # by index in `unique`, filled batch by batch
    start = net.config.first_layer if upto is None else upto
    dtype = fast_dtype(device)
    batches = _batches_by_length([len(x) for x in ids], batch_size)
    for batch in tqdm(batches, desc="encoding", disable=not progress, unit="batch"):
        input_ids, mask = pad([ids[i] for i in batch], tokenizer.pad_token_id, device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            hidden = net.encoder.embeddings(input_ids=input_ids)
            if start:
                hidden = _run(net, hidden, mask, start)
        hidden = hidden.to(torch.bfloat16).cpu()
        for row, i in enumerate(batch):
            states[i] = hidden[row, : len(ids[i])].clone()
    by_text = {text: states[i] for i, text in enumerate(unique)}
    return Cached([by_text[e.text] for e in examples], list(examples), start)


def _run(net: ListenerNet, hidden: torch.Tensor, mask: torch.Tensor, stop: int) -> torch.Tensor:
    extended = additive_mask(mask, hidden.dtype)
    for layer in net.encoder.encoder.layer[:stop]:
        hidden = layer(hidden, extended)
    return hidden


def _class_weights(labels: Sequence[int], k: int) -> torch.Tensor:
    counts = torch.tensor([max(1, sum(1 for x in labels if x == c)) for c in range(k)], dtype=torch.float)
    weights = counts.sum() / (k * counts)
    return weights


def _labelled(labels: Sequence[int | None]) -> tuple[list[int], list[int]]:
    """The rows of a batch that carry this task's label, and their labels (a row may lack some tasks)."""
    rows = [r for r, y in enumerate(labels) if y is not None]
    return rows, [y for y in labels if y is not None]


def _loss(
    net: ListenerNet,
    batch: Sequence[int],
    data: Cached,
    device: torch.device,
    sent_w: torch.Tensor | None,
    comp_pos_w: torch.Tensor | None,
    settings: TrainSettings,
) -> torch.Tensor:
    hidden, mask = _pad_states([data.states[i] for i in batch], device)
    dtype = fast_dtype(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        out = net.forward_layers(hidden.to(dtype), mask, data.start)
    sent_logits, comp_logit, reply_logit = net.all_heads(mean_pool(out.float(), mask))
    sent_logits, comp_logit, reply_logit = sent_logits.float(), comp_logit.float(), reply_logit.float()
    loss = torch.zeros((), device=device)
    s_idx, s_labels = _labelled([data.examples[i].sentiment for i in batch])
    c_idx, c_labels = _labelled([data.examples[i].complaint for i in batch])
    r_idx, r_labels = _labelled([data.examples[i].needs_reply for i in batch])
    if r_idx:
        target = torch.tensor([float(y) for y in r_labels], device=device)
        r_loss = F.binary_cross_entropy_with_logits(reply_logit[r_idx], target)
        loss = loss + settings.needs_reply_weight * r_loss * len(r_idx) / len(batch)
    if s_idx:
        target = torch.tensor(s_labels, device=device)
        loss = loss + F.cross_entropy(sent_logits[s_idx], target, weight=sent_w) * len(s_idx) / len(batch)
    if c_idx:
        target = torch.tensor([float(y) for y in c_labels], device=device)
        c_loss = F.binary_cross_entropy_with_logits(comp_logit[c_idx], target, pos_weight=comp_pos_w)
        loss = loss + settings.complaint_weight * c_loss * len(c_idx) / len(batch)
    if settings.distill_weight and data.soft is not None:
        teacher = data.soft[list(batch)].to(device)
        rows = ~teacher.isnan().any(-1)
        if rows.any():
            kl = F.kl_div(sent_logits[rows].log_softmax(-1), teacher[rows], reduction="batchmean")
            loss = loss + settings.distill_weight * kl * int(rows.sum()) / len(batch)
    return loss


def _epoch_batches(pool: Sequence[int], data: Cached, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch; a function of (seed, epoch) only, so a resumed run sees the same ones."""
    rng = random.Random(f"{seed}:{epoch}")
    shuffled = list(pool)
    rng.shuffle(shuffled)
    # Length-sorted chunks with shuffled order: little padding, still random batches.
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for c in range(0, len(shuffled), chunk):
        part = sorted(shuffled[c : c + chunk], key=lambda i: data.states[i].shape[0])
        batches.extend(part[b : b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def save_checkpoint(path: Path, net: ListenerNet, optim, sched, step: int, extra: dict | None = None) -> None:
    """Write the resumable state (trainable tensors, optimizer, schedule, step) beside `path`, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"step": step, "trainable": net.trainable_state(), "optim": optim.state_dict(),
         "sched": sched.state_dict(), "extra": extra or {}},
        tmp,
    )
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by `save_checkpoint`."""
    return torch.load(path, map_location="cpu", weights_only=False)


def train(
    net: ListenerNet,
    data: Cached,
    settings: TrainSettings,
    on_eval: Callable[[int], dict | None] | None = None,
) -> int:
    """Train LoRA + heads on cached lower states; returns the number of optimizer steps taken.

    With `settings.checkpoint` set, the run state is saved every `checkpoint_every` steps and after
    every evaluation, and a run started with the same settings resumes from it. `on_eval(step)` may
    return a JSON-able dict that is kept in the checkpoint (e.g. the best step so far).
    """
    device = next(net.parameters()).device
    torch.manual_seed(settings.seed)
    sent_labels = [e.sentiment for e in data.examples if e.sentiment is not None]
    comp_labels = [e.complaint for e in data.examples if e.complaint is not None]
    sent_w = _class_weights(sent_labels, 3).to(device) if settings.balance_classes and sent_labels else None
    comp_pos_w = None
    if settings.balance_classes and comp_labels:
        pos = max(1, sum(comp_labels))
        comp_pos_w = torch.tensor((len(comp_labels) - pos) / pos, device=device)
    lora = [p for n, p in net.named_parameters() if p.requires_grad and "lora_" in n]
    heads = [p for n, p in net.named_parameters() if p.requires_grad and "lora_" not in n]
    groups = [{"params": lora, "lr": settings.lr}, {"params": heads, "lr": settings.head_lr}]
    # A heads-only run (every LoRA frozen) has no LoRA group.
    optim = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=settings.weight_decay)
    # Examples with only a complaint label are few; repeating them keeps that head learning alongside sentiment.
    pool = []
    for i, e in enumerate(data.examples):
        only_complaint = e.complaint is not None and e.sentiment is None
        pool.extend([i] * (settings.complaint_repeat if only_complaint else 1))
    steps_per_epoch = math.ceil(len(pool) / settings.batch_size)
    total = max(1, int(steps_per_epoch * settings.epochs))
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup))
    )
    step = 0
    if settings.checkpoint is not None and settings.checkpoint.is_file():
        saved = load_checkpoint(settings.checkpoint)
        net.load_trainable(saved["trainable"])
        optim.load_state_dict(saved["optim"])
        sched.load_state_dict(saved["sched"])
        step = int(saved["step"])
        log.info("resumed from %s at step %d of %d", settings.checkpoint, step, total)
    extra: dict = {}

    def checkpoint() -> None:
        if settings.checkpoint is not None:
            save_checkpoint(settings.checkpoint, net, optim, sched, step, extra)

    net.train()
    bar = tqdm(total=total, initial=step, desc="training", disable=not settings.progress, unit="step")
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        for batch in _epoch_batches(pool, data, settings.batch_size, settings.seed, epoch)[offset:]:
            if step >= total:
                break
            loss = _loss(net, batch, data, device, sent_w, comp_pos_w, settings)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lora + heads, 1.0)
            optim.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if on_eval and settings.eval_every and step % settings.eval_every == 0 and step < total:
                net.eval()
                extra = on_eval(step) or extra
                net.train()
                checkpoint()
            elif step % settings.checkpoint_every == 0:
                checkpoint()
    bar.close()
    net.eval()
    if on_eval:
        extra = on_eval(step) or extra
    checkpoint()
    return step


@torch.inference_mode()
def predict_cached(net: ListenerNet, data: Cached, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities for cached examples: (sentiment [N, 3], complaint [N])."""
    device = next(net.parameters()).device
    dtype = fast_dtype(device)
    sent = torch.zeros((len(data.states), 3))
    comp = torch.zeros(len(data.states))
    for batch in _batches_by_length([s.shape[0] for s in data.states], batch_size):
        hidden, mask = _pad_states([data.states[i] for i in batch], device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = net.forward_layers(hidden.to(dtype), mask, data.start)
            s_logits, c_logit = net.heads(mean_pool(out.float(), mask))
        # Under bf16 autocast the heads return bf16; the result tensors are fp32.
        sent[batch] = s_logits.float().softmax(-1).cpu()
        comp[batch] = torch.sigmoid(c_logit.float()).cpu()
    return sent, comp


@torch.inference_mode()
def predict_all(
    net: ListenerNet, data: Cached, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Probabilities of every head for cached examples: (sentiment [N, 3], complaint [N], needs-reply [N])."""
    device = next(net.parameters()).device
    dtype = fast_dtype(device)
    sent = torch.zeros((len(data.states), 3))
    comp = torch.zeros(len(data.states))
    reply = torch.zeros(len(data.states))
    for batch in _batches_by_length([s.shape[0] for s in data.states], batch_size):
        hidden, mask = _pad_states([data.states[i] for i in batch], device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = net.forward_layers(hidden.to(dtype), mask, data.start)
            s_logits, c_logit, r_logit = net.all_heads(mean_pool(out.float(), mask))
        sent[batch] = s_logits.float().softmax(-1).cpu()
        comp[batch] = torch.sigmoid(c_logit.float()).cpu()
        reply[batch] = torch.sigmoid(r_logit.float()).cpu()
    return sent, comp, reply


def build_net(config: AdapterConfig, cache_root: Path | None = None, device: torch.device | None = None):
    """Backbone (fp32 for training) + fresh adapter, and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    from models.backbone import ensure_backbone

    path = ensure_backbone(cache_root)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    encoder = AutoModel.from_pretrained(
        path, local_files_only=True, add_pooling_layer=False, dtype=torch.float32
    )
    encoder.config.hidden_dropout_prob = 0.0
    net = ListenerNet(encoder, config)
    net.to(device or pick_device())
    net.eval()
    return net, tokenizer
