"""Fine-tunes the LoRA adapter and both heads; lower encoder layers are run once and cached to save CPU time."""

from __future__ import annotations

import csv
import logging
import math
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
    """A text with a label for one task or both (None = no label for that task)."""

    text: str
    sentiment: int | None = None
    complaint: int | None = None


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


@dataclass(slots=True)
class TrainSettings:
    """Knobs of one training run."""

    epochs: float = 1.0
    batch_size: int = 32
    lr: float = 1e-3
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    complaint_weight: float = 1.0
    complaint_repeat: int = 3
    balance_classes: bool = True
    seed: int = 13
    max_steps: int | None = None
    eval_every: int | None = None
    progress: bool = True


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
    net: ListenerNet, tokenizer, examples: Sequence[Example], *, batch_size: int = 64, progress: bool = True
) -> Cached:
    """Run embeddings and the frozen layers below the adapter once; keep their output per example."""
    device = next(net.parameters()).device
    ids = tokenize(tokenizer, [e.text for e in examples])
    states: list[torch.Tensor | None] = [None] * len(ids)
    start = net.config.first_layer
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
    return Cached([s for s in states if s is not None], list(examples))


def _run(net: ListenerNet, hidden: torch.Tensor, mask: torch.Tensor, stop: int) -> torch.Tensor:
    extended = additive_mask(mask, hidden.dtype)
    for layer in net.encoder.encoder.layer[:stop]:
        hidden = layer(hidden, extended)
    return hidden


def _class_weights(labels: Sequence[int], k: int) -> torch.Tensor:
    counts = torch.tensor([max(1, sum(1 for x in labels if x == c)) for c in range(k)], dtype=torch.float)
    weights = counts.sum() / (k * counts)
    return weights


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
        out = net.forward_layers(hidden.to(dtype), mask, net.config.first_layer)
    sent_logits, comp_logit = net.heads(mean_pool(out.float(), mask))
    loss = torch.zeros((), device=device)
    s_idx = [r for r, i in enumerate(batch) if data.examples[i].sentiment is not None]
    c_idx = [r for r, i in enumerate(batch) if data.examples[i].complaint is not None]
    if s_idx:
        target = torch.tensor([data.examples[batch[r]].sentiment for r in s_idx], device=device)
        loss = loss + F.cross_entropy(sent_logits[s_idx], target, weight=sent_w) * len(s_idx) / len(batch)
    if c_idx:
        target = torch.tensor(
            [float(data.examples[batch[r]].complaint) for r in c_idx], device=device
        )
        c_loss = F.binary_cross_entropy_with_logits(comp_logit[c_idx], target, pos_weight=comp_pos_w)
        loss = loss + settings.complaint_weight * c_loss * len(c_idx) / len(batch)
    return loss


def train(
    net: ListenerNet,
    data: Cached,
    settings: TrainSettings,
    on_eval: Callable[[int], None] | None = None,
) -> int:
    """Train LoRA + heads on cached lower states; returns the number of optimizer steps taken."""
    device = next(net.parameters()).device
    rng = random.Random(settings.seed)
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
    optim = torch.optim.AdamW(
        [{"params": lora, "lr": settings.lr}, {"params": heads, "lr": settings.head_lr}],
        weight_decay=settings.weight_decay,
    )
    # Complaint examples are few; repeating them keeps that head learning alongside sentiment.
    pool = []
    for i, e in enumerate(data.examples):
        pool.extend([i] * (settings.complaint_repeat if e.complaint is not None else 1))
    steps_per_epoch = math.ceil(len(pool) / settings.batch_size)
    total = max(1, int(steps_per_epoch * settings.epochs))
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup))
    )
    net.train()
    step = 0
    bar = tqdm(total=total, desc="training", disable=not settings.progress, unit="step")
    while step < total:
        # Length-sorted chunks with shuffled order: little padding, still random batches.
        shuffled = pool[:]
        rng.shuffle(shuffled)
        chunk = settings.batch_size * 50
        batches: list[list[int]] = []
        for c in range(0, len(shuffled), chunk):
            part = sorted(shuffled[c : c + chunk], key=lambda i: data.states[i].shape[0])
            batches.extend(part[b : b + settings.batch_size] for b in range(0, len(part), settings.batch_size))
        rng.shuffle(batches)
        for batch in batches:
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
                on_eval(step)
                net.train()
    bar.close()
    net.eval()
    if on_eval:
        on_eval(step)
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
            out = net.forward_layers(hidden.to(dtype), mask, net.config.first_layer)
            s_logits, c_logit = net.heads(mean_pool(out.float(), mask))
        sent[batch] = s_logits.softmax(-1).cpu()
        comp[batch] = torch.sigmoid(c_logit).cpu()
    return sent, comp


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
