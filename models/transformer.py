"""The builtin classifier: e5-small backbone + our LoRA adapter and heads, one batched forward pass per call."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from models.adapter_io import load_adapter, packaged_adapter
from models.backbone import BACKBONE_NAME, ensure_backbone
from models.base import Classification
from models.network import ListenerNet
from models.runtime import fast_dtype, set_threads
from models.assemble import classify
from models.train import pad, tokenize

log = logging.getLogger(__name__)


def _load_encoder(path: Path, dtype: torch.dtype) -> torch.nn.Module:
    from transformers import AutoModel

    # The cache is bf16. The word-embedding table (96M of 118M parameters) is only a lookup, so it
    # stays bf16 even on the fp32 path: that saves ~190 MB of resident memory at no accuracy cost
    # (its rows are added to fp32 position embeddings, which promotes them).
    encoder = AutoModel.from_pretrained(
        path, local_files_only=True, add_pooling_layer=False, dtype=torch.bfloat16
    )
    if dtype != torch.bfloat16:
        words = encoder.embeddings.word_embeddings
        encoder.embeddings.word_embeddings = None
        encoder.to(dtype)
        encoder.embeddings.word_embeddings = words
    return encoder


class TransformerClassifier:
    """Sentiment (3 classes) and complaint probability for many languages, from one forward pass."""

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        adapter: Path | None = None,
        complaint_threshold: float = 0.5,
        threads: int = 2,
        batch_size: int = 32,
        dtype: torch.dtype | None = None,
        quantize: bool = False,
    ) -> None:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        set_threads(threads)
        self.complaint_threshold = complaint_threshold
        self.batch_size = batch_size
        self.device = torch.device("cpu")
        self.dtype = dtype or fast_dtype(self.device)
        path = ensure_backbone(cache_dir)
        env_adapter = os.environ.get("LISTENER_ADAPTER")
        adapter_path = adapter or (Path(env_adapter).expanduser() if env_adapter else packaged_adapter())
        if not adapter_path.is_file():
            raise FileNotFoundError(f"adapter weights not found: {adapter_path}")
        state, config, version = load_adapter(adapter_path)
        self.model_id = f"{BACKBONE_NAME}+listener-{version}"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        encoder = _load_encoder(path, self.dtype)
        net = ListenerNet(encoder, config)
        net.load_trainable(state)
        net.merge()  # LoRA folded into the weights: inference costs the same as the bare encoder
        self.quantized = quantize
        if quantize:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            # Per-channel int8 weights keep the accuracy cost small; activations are quantized per batch.
            net.encoder = quantize_dynamic(net.encoder, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        net.eval()
        self.net = net

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Classify `texts` in order; texts that cannot be judged come back unscored with a reason."""
        return classify(
            texts,
            model_id=self.model_id,
            probabilities=self.probabilities,
            complaint_threshold=self.complaint_threshold,
        )

    @torch.inference_mode()
    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw model output for every text: (sentiment probabilities [N, 3], complaint probability [N])."""
        ids = tokenize(self.tokenizer, texts)
        sent = torch.zeros((len(ids), 3))
        comp = torch.zeros(len(ids))
        # Length-sorted batches: neighbours have (nearly) the same length, so almost no padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            input_ids, mask = pad([ids[i] for i in batch], self.tokenizer.pad_token_id, self.device)
            s_logits, c_logit = self.net(input_ids, mask)
            sent[batch] = s_logits.float().softmax(-1)
            comp[batch] = torch.sigmoid(c_logit.float())
        return sent, comp
