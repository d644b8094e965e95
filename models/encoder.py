"""Inference-only e5 encoder in plain torch: 4-bit word-embedding lookup, fused QKV, SDPA, LoRA folded in.

The training code keeps transformers' BertModel (models/network.py); serving does not need it.
Building the model here avoids importing transformers, never allocates the 384 MB fp32
embedding table that BertModel's constructor creates before loading, keeps the 250k-row word
embedding in its original Q4_0 blocks (54 MB instead of 192 MB in bf16) and dequantizes only the
rows a batch looks up. The outputs equal `ListenerNet` on the same weights (tests/models).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.network import LORA_TARGETS, AdapterConfig

Q4_EMBEDDING_FILE = "word_embeddings.q4.npy"
Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 18
# Parts of a layer whose Linear may be run in int8 (`int8=` argument).
LINEAR_KINDS = ("qkv", "attn_out", "ffn_in", "ffn_out")


class Q4Embedding(nn.Module):
    """A [vocab, hidden] table kept as Q4_0 blocks (fp16 scale + 32 signed 4-bit values per block)."""

    blocks: torch.Tensor  # a registered buffer: moves with the module, not a parameter

    def __init__(self, blocks: torch.Tensor, hidden: int) -> None:
        super().__init__()
        if blocks.dtype != torch.uint8 or blocks.shape[1] != hidden // Q4_BLOCK * _Q4_BLOCK_BYTES:
            raise ValueError(f"bad Q4 table shape {tuple(blocks.shape)} for hidden size {hidden}")
        self.register_buffer("blocks", blocks.view(blocks.shape[0], hidden // Q4_BLOCK, _Q4_BLOCK_BYTES))
        self.hidden = hidden

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """fp32 rows for `ids` ([...] -> [..., hidden]), rounded to bf16 like the cached table."""
        rows = self.blocks[ids]  # [..., nblocks, 18]
        scale = rows[..., :2].contiguous().view(torch.float16).float()  # [..., nblocks, 1]
        packed = rows[..., 2:]
        # Low nibbles hold a block's first 16 values, high nibbles the last 16 (models/backbone.py).
        values = torch.cat([(packed & 0x0F), (packed >> 4)], dim=-1).to(torch.int8) - 8
        out = (values.float() * scale).reshape(*ids.shape, self.hidden)
        # The cached model (and so the training) saw these rows in bf16: round them the same way.
        return out.to(torch.bfloat16).float()


class EncoderLayer(nn.Module):
    """One post-LayerNorm BERT layer with a fused QKV projection and SDPA attention."""

    def __init__(self, hidden: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in = nn.Linear(hidden, ff)
        self.ffn_out = nn.Linear(ff, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x [B, T, H]; mask [B, 1, 1, T] bool (True = attend) or None when nothing is padded."""
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = self.attn_norm(x + self.attn_out(attn.transpose(1, 2).reshape(b, t, h)))
        return self.out_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class LeanNet(nn.Module):
    """Token ids -> (sentiment logits [B, 3], complaint logit [B]); the serving twin of ListenerNet.

    `forward_all` adds the needs-reply logit when the adapter has that head.
    """

    def __init__(self, config: dict, adapter: AdapterConfig, words: torch.Tensor) -> None:
        super().__init__()
        hidden = config["hidden_size"]
        self.adapter = adapter
        self.words = Q4Embedding(words, hidden)
        self.positions = nn.Parameter(torch.empty(config["max_position_embeddings"], hidden), requires_grad=False)
        self.token_type = nn.Parameter(torch.empty(hidden), requires_grad=False)
        self.emb_norm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])
        self.layers = nn.ModuleList(
            EncoderLayer(hidden, config["num_attention_heads"], config["intermediate_size"], config["layer_norm_eps"])
            for _ in range(config["num_hidden_layers"])
        )
        self.sentiment_head = nn.Linear(hidden, 3)
        self.complaint_head = nn.Linear(hidden, 1)
        self.requires_grad_(False)

    def cast(self, dtype: torch.dtype) -> LeanNet:
        """Run the encoder in `dtype` (bf16 where it pays); the heads stay fp32 like ListenerNet's."""
        self.layers.to(dtype)
        self.emb_norm.to(dtype)
        self.positions.data = self.positions.data.to(dtype)
        self.token_type.data = self.token_type.data.to(dtype)
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as ListenerNet.forward (mask is 0/1 [B, T])."""
        feats = self.features(input_ids, attention_mask)
        return self.sentiment_head(feats), self.complaint_head(feats).squeeze(-1)

    def forward_all(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(sentiment logits [B, 3], complaint logit [B], needs-reply logit [B] or None: the adapter lacks it)."""
        feats = self.features(input_ids, attention_mask)
        # load_lean_net adds the head only when the adapter carries it (adapters older than the head do not).
        reply = self._modules.get("needs_reply_head")
        return (
            self.sentiment_head(feats),
            self.complaint_head(feats).squeeze(-1),
            None if reply is None else reply(feats).squeeze(-1),
        )

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """What every head reads: the mean-pooled, L2-normalised embedding times the feature scale [B, H]."""
        t = input_ids.shape[1]
        x = self.emb_norm(self.words(input_ids).to(self.positions.dtype) + self.token_type + self.positions[:t])
        padded = not bool(attention_mask.all())
        # Without padding SDPA can skip the mask entirely (its fastest path).
        mask = attention_mask[:, None, None, :].bool() if padded else None
        for layer in self.layers:
            x = layer(x, mask)
        keep = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = F.normalize(((x * keep).sum(1) / keep.sum(1).clamp(min=1.0)).float(), dim=-1)
        return pooled * self.adapter.feature_scale


_HF = "encoder.layer.{i}."
_PARTS = {
    "attn_out": "attention.output.dense",
    "attn_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense",
    "ffn_out": "output.dense",
    "out_norm": "output.LayerNorm",
}


def _lora_delta(state: dict[str, torch.Tensor], layer: int, target: str, adapter: AdapterConfig) -> torch.Tensor | None:
    key = f"encoder.encoder.layer.{layer}.{target}"
    if f"{key}.lora_a" not in state:
        return None
    scale = adapter.alpha / adapter.rank
    return (state[f"{key}.lora_b"].float() @ state[f"{key}.lora_a"].float()) * scale


def load_lean_net(backbone: Path, state: dict[str, torch.Tensor], adapter: AdapterConfig) -> LeanNet:
    """Build the serving net from the cache directory and an adapter state (LoRA folded into fp32 weights)."""
    from safetensors import safe_open

    config = json.loads((backbone / "config.json").read_text())
    words = torch.from_numpy(np.load(backbone / Q4_EMBEDDING_FILE))
    net = LeanNet(config, adapter, words)
    with safe_open(str(backbone / "model.safetensors"), framework="pt") as fh:

        def get(name: str) -> torch.Tensor:
            return fh.get_tensor(name).float()

        def weight(layer: int, target: str) -> torch.Tensor:
            w = get(_HF.format(i=layer) + target + ".weight")
            delta = _lora_delta(state, layer, target, adapter)
            return w if delta is None else w + delta

        with torch.no_grad():
            net.positions.copy_(get("embeddings.position_embeddings.weight"))
            net.token_type.copy_(get("embeddings.token_type_embeddings.weight")[0])
            net.emb_norm.weight.copy_(get("embeddings.LayerNorm.weight"))
            net.emb_norm.bias.copy_(get("embeddings.LayerNorm.bias"))
            for i, layer in enumerate(net.layers):
                if not isinstance(layer, EncoderLayer):  # nn.ModuleList yields plain Modules
                    raise TypeError(f"layer {i} is {type(layer).__name__}, not an EncoderLayer")
                prefix = _HF.format(i=i)
                qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
                layer.qkv.weight.copy_(torch.cat([weight(i, t) for t in qkv]))
                layer.qkv.bias.copy_(torch.cat([get(prefix + t + ".bias") for t in qkv]))
                for ours, theirs in _PARTS.items():
                    module = getattr(layer, ours)
                    own = weight(i, theirs) if theirs in LORA_TARGETS else get(prefix + theirs + ".weight")
                    module.weight.copy_(own)
                    module.bias.copy_(get(prefix + theirs + ".bias"))
    with torch.no_grad():
        # Every head the adapter carries (sentiment, complaint, and any later one), so exports see them all.
        for key in sorted(k for k in state if k.endswith("_head.weight")):
            head = key.removesuffix(".weight")
            head_weight = state[key].float()
            if not isinstance(getattr(net, head, None), nn.Linear):
                net.add_module(head, nn.Linear(head_weight.shape[1], head_weight.shape[0]).requires_grad_(False))
            getattr(net, head).weight.copy_(head_weight)
            getattr(net, head).bias.copy_(state[f"{head}.bias"].float())
    return net.eval()


def quantize_int8(net: LeanNet, layers: Iterable[int], kinds: Iterable[str]) -> list[str]:
    """Swap the chosen Linear modules for dynamic int8 ones (per-channel weights); returns their names."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    names = []
    for i in layers:
        for kind in kinds:
            if kind not in LINEAR_KINDS:
                raise ValueError(f"unknown Linear kind {kind!r}; expected one of {LINEAR_KINDS}")
            module = getattr(net.layers[i], kind)
            module.qconfig = per_channel_dynamic_qconfig
            setattr(net.layers[i], kind, DynamicLinear.from_float(module))
            names.append(f"layers.{i}.{kind}")
    return names
