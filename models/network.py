"""The torch network: e5 encoder with LoRA on its top layers, mean pooling, sentiment, complaint, needs-reply heads."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:  # serving imports this module without transformers (models/encoder.py)
    from transformers import BertModel

# Every head on the pooled embedding, by attribute (and tensor-name prefix in the adapter file), with its width.
HEADS = {"sentiment_head": 3, "complaint_head": 1, "needs_reply_head": 1}
# Heads that adapters written before the head existed lack; they are initialised from the head named here.
LATE_HEADS = {"needs_reply_head": "complaint_head"}

# The Linear modules of a BertLayer that receive a LoRA adapter, by their dotted path.
LORA_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """Shape of our trainable part: which layers get LoRA, its rank and scaling, the pooled-feature scale."""

    first_layer: int = 6
    rank: int = 4
    alpha: float = 8.0
    feature_scale: float = 16.0

    def to_dict(self) -> dict[str, float | int]:
        """Plain mapping for safetensors metadata."""
        return asdict(self)


class LoRALinear(nn.Module):
    """A frozen Linear plus a low-rank update B·A, merged into the weight for inference."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        # B starts at zero so the adapted model starts exactly at the pretrained one.
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base output plus the low-rank correction."""
        update = F.linear(F.linear(x, self.lora_a.to(x.dtype)), self.lora_b.to(x.dtype)) * self.scale
        return self.base(x) + update

    def merged(self) -> nn.Linear:
        """The base Linear with the update folded into its weight (no extra cost at inference)."""
        delta = (self.lora_b.float() @ self.lora_a.float()) * self.scale
        with torch.no_grad():
            self.base.weight.copy_((self.base.weight.float() + delta).to(self.base.weight.dtype))
        return self.base


def _get(module: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        module = getattr(module, part)
    return module


def _set(module: nn.Module, path: str, value: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    setattr(_get(module, parent_path) if parent_path else module, name, value)


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, T] 0/1 mask -> [B, 1, 1, T] additive mask that BertLayer's attention expects."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens, then L2-normalised (the e5 sentence embedding)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return F.normalize(summed.float(), dim=-1)


def _is_ours(name: str) -> bool:
    return "lora_" in name or name.split(".")[0] in HEADS


class ListenerNet(nn.Module):
    """One forward pass -> (sentiment logits [B, 3], complaint logit [B]); `all_heads` adds the needs-reply logit."""

    def __init__(self, encoder: BertModel, config: AdapterConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        hidden = encoder.config.hidden_size
        self.sentiment_head = nn.Linear(hidden, 3)
        self.complaint_head = nn.Linear(hidden, 1)
        self.needs_reply_head = nn.Linear(hidden, 1)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        layers = encoder.encoder.layer
        for index in range(config.first_layer, len(layers)):
            for target in LORA_TARGETS:
                base = _get(layers[index], target)
                if not isinstance(base, nn.Linear):
                    raise TypeError(f"encoder layer {index}: {target} is {type(base).__name__}, not a Linear")
                _set(layers[index], target, LoRALinear(base, config.rank, config.alpha))

    def heads(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply both heads to the normalised sentence embedding."""
        x = pooled * self.config.feature_scale
        return self.sentiment_head(x), self.complaint_head(x).squeeze(-1)

    def all_heads(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every head on the normalised sentence embedding: (sentiment [B, 3], complaint [B], needs-reply [B])."""
        x = pooled * self.config.feature_scale
        return self.sentiment_head(x), self.complaint_head(x).squeeze(-1), self.needs_reply_head(x).squeeze(-1)

    def forward_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int
    ) -> torch.Tensor:
        """Run encoder layers `start..` on hidden states (training reuses cached lower layers)."""
        mask = additive_mask(attention_mask, hidden.dtype)
        for layer in self.encoder.encoder.layer[start:]:
            hidden = layer(hidden, mask)
        return hidden

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids -> the pooled sentence embedding."""
        hidden = self.encoder.embeddings(input_ids=input_ids)
        hidden = self.forward_layers(hidden, attention_mask, 0)
        return mean_pool(hidden, attention_mask)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids -> (sentiment logits, complaint logit)."""
        return self.heads(self.embed(input_ids, attention_mask))

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Only our parameters (LoRA matrices and heads, frozen or not): what we ship."""
        return {
            name: p.detach().float().contiguous()
            for name, p in self.named_parameters()
            if _is_ours(name)
        }

    def freeze_lora_below(self, layer: int) -> None:
        """Stop training the LoRA matrices of layers below `layer` (their output is cached)."""
        for index, block in enumerate(self.encoder.encoder.layer):
            for name, p in block.named_parameters():
                if "lora_" in name:
                    p.requires_grad_(index >= layer)

    def load_trainable(self, state: dict[str, torch.Tensor], *, new_lora_ok: bool = False) -> list[str]:
        """Load LoRA matrices and heads saved by `trainable_state`; returns the late heads the file lacked.

        An adapter written before a late head existed (e.g. `needs_reply_head`) still loads: that head
        starts as a copy of the head it grew out of (see LATE_HEADS). With `new_lora_ok`, an adapter with
        LoRA in fewer layers loads into this deeper net: the other layers keep their fresh LoRA, whose
        B is zero, so the net computes exactly what the adapter did until those layers train.
        """
        own = dict(self.named_parameters())
        state = dict(state)
        if new_lora_ok:
            state = {name: p.detach().clone() for name, p in own.items() if "lora_" in name} | state
        absent = [h for h in LATE_HEADS if f"{h}.weight" not in state]
        for head in absent:
            for part in ("weight", "bias"):
                state[f"{head}.{part}"] = state[f"{LATE_HEADS[head]}.{part}"].clone()
        missing = [k for k in own if _is_ours(k) and k not in state]
        unknown = [k for k in state if k not in own]
        if missing or unknown:
            raise ValueError(f"adapter does not fit: missing {missing[:3]}, unknown {unknown[:3]}")
        with torch.no_grad():
            for name, value in state.items():
                own[name].copy_(value.to(own[name].dtype))
        return absent

    def merge(self) -> None:
        """Fold every LoRA update into its base weight; afterwards the net is plain Linear layers."""
        for layer in self.encoder.encoder.layer:
            for target in LORA_TARGETS:
                module = _get(layer, target)
                if isinstance(module, LoRALinear):
                    _set(layer, target, module.merged())
