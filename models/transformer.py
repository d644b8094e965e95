"""The builtin classifier: e5-small backbone + our LoRA adapter and heads, one batched forward pass per call."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from models.memory import configure_process, release_memory

# Before torch is imported and starts its worker threads (each would get its own malloc arena).
configure_process()

import torch  # noqa: E402

from models.adapter_io import load_adapter, packaged_adapter  # noqa: E402
from models.assemble import classify  # noqa: E402
from models.backbone import BACKBONE_NAME, ensure_backbone  # noqa: E402
from models.base import Classification  # noqa: E402
from models.decision import DecisionRule  # noqa: E402
from models.encoder import load_lean_net, quantize_int8  # noqa: E402
from models.network import ListenerNet  # noqa: E402
from models.runtime import fast_dtype, set_threads  # noqa: E402
from models.spm import SentencePieceTokenizer  # noqa: E402
from models.train import MAX_TOKENS, pad  # noqa: E402

log = logging.getLogger(__name__)


def load_listener_net(path: Path, adapter: Path, dtype: torch.dtype = torch.float32) -> ListenerNet:
    """The transformers-based twin of the serving net (training code path), LoRA merged, in `dtype`.

    Serving does not use it; the benchmark's plain-fp32 reference and the equivalence test do.
    """
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(path, local_files_only=True, add_pooling_layer=False, dtype=dtype)
    state, config, _ = load_adapter(adapter)
    net = ListenerNet(encoder, config)
    net.load_trainable(state)
    net.merge()
    return net.eval()


class TransformerClassifier:
    """Sentiment (3 classes), complaint and (if the adapter has the head) needs-reply probability in one pass."""

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
        unsure_band: float = 0.1,
        require_agreement: bool = True,
    ) -> None:
        set_threads(threads)
        self.complaint_threshold = complaint_threshold
        self.unsure_band = unsure_band
        self.require_agreement = require_agreement
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
        self.tokenizer = SentencePieceTokenizer(path / "sentencepiece.model")
        # LoRA is folded into the weights here: inference costs the same as the bare encoder.
        net = load_lean_net(path, state, config)
        if self.dtype != torch.float32:
            net.cast(self.dtype)
        self.quantized = quantize
        if quantize:
            # Per-channel int8 weights keep the accuracy cost small; activations are quantized per batch.
            quantize_int8(net, range(len(net.layers)), ("qkv", "attn_out", "ffn_in", "ffn_out"))
        self.net = net

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Classify `texts` in order; texts that cannot be judged come back unscored with a reason."""
        return classify(
            texts,
            model_id=self.model_id,
            probabilities=self.probabilities,
            complaint_threshold=self.complaint_threshold,
            rule=DecisionRule(self.complaint_threshold, self.unsure_band, self.require_agreement),
        )

    @property
    def has_needs_reply(self) -> bool:
        """Whether the adapter carries the needs-reply head (adapters written before it do not)."""
        return "needs_reply_head" in self.net._modules

    @torch.inference_mode()
    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, ...]:
        """(sentiment probabilities [N, 3], complaint probability [N][, needs-reply probability [N]]);
        the third only when the adapter has a needs-reply head, as on the ONNX runtime."""
        ids = self.tokenizer.encode(texts, MAX_TOKENS)
        sent = torch.zeros((len(ids), 3))
        comp = torch.zeros(len(ids))
        reply = torch.zeros(len(ids)) if self.has_needs_reply else None
        # Length-sorted batches: neighbours have (nearly) the same length, so almost no padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            input_ids, mask = pad([ids[i] for i in batch], self.tokenizer.pad_token_id, self.device)
            s_logits, c_logit, r_logit = self.net.forward_all(input_ids, mask)
            sent[batch] = s_logits.float().softmax(-1)
            comp[batch] = torch.sigmoid(c_logit.float())
            if reply is not None and r_logit is not None:
                reply[batch] = torch.sigmoid(r_logit.float())
        release_memory()
        return (sent, comp) if reply is None else (sent, comp, reply)
