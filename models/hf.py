"""Any Hugging Face sequence-classification model (id or local path) behind the same Classifier contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from listener.errors import ConfigError
from models.assemble import SENTIMENTS, classify
from models.base import Classification
from models.runtime import set_threads
from models.train import pad, tokenize

_NAMES = {s.value for s in SENTIMENTS}


def _mapping(id2label: Mapping[int, str], labels: Mapping[str, str]) -> tuple[dict[int, int], int | None]:
    """Model output index -> sentiment column, and the index of a complaint label if the model has one."""
    columns: dict[int, int] = {}
    complaint: int | None = None
    order = [s.value for s in SENTIMENTS]
    for index, name in id2label.items():
        wanted = labels.get(name)
        if wanted is None and not labels and name.lower() in _NAMES:
            wanted = name.lower()  # no mapping given: models labelled negative/neutral/positive work as is
        if wanted is not None:
            columns[int(index)] = order.index(wanted)
        elif "complaint" in name.lower() and not name.lower().startswith(("no", "non")):
            complaint = int(index)
    if not columns:
        raise ConfigError(
            [
                "classifier.labels: none of the model's labels "
                f"{sorted(id2label.values())} maps to negative/neutral/positive"
            ]
        )
    return columns, complaint


class HuggingFaceClassifier:
    """Sentiment from a sequence-classification model's label probabilities.

    Labels mapped to the same sentiment are summed and the three sentiments renormalised (a
    two-label model gets p_neutral = 0). The complaint probability is the model's own
    "complaint" label when it has one, otherwise p_negative.
    """

    def __init__(
        self,
        model: str,
        labels: Mapping[str, str] | None = None,
        *,
        complaint_threshold: float = 0.5,
        threads: int = 2,
        batch_size: int = 32,
    ) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        set_threads(threads)
        self.model_id = f"hf:{model}"
        self.complaint_threshold = complaint_threshold
        self.batch_size = batch_size
        if model.startswith((".", "/", "~")) and not Path(model).expanduser().is_dir():
            # Clearly a path: say so rather than let it be looked up on the model hub.
            raise ConfigError([f"classifier.model: {model!r} is not a directory"])
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSequenceClassification.from_pretrained(model)
        except (OSError, ValueError) as exc:
            raise ConfigError([f"classifier.model: cannot load {model!r}: {exc}"]) from exc
        self.model.eval()
        id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self._columns, self._complaint = _mapping(id2label, dict(labels or {}))

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Classify `texts` in order (empty or wordless texts come back unscored)."""
        # The model's language coverage is unknown here, so no text is refused for its language.
        return classify(
            texts,
            model_id=self.model_id,
            probabilities=self.probabilities,
            complaint_threshold=self.complaint_threshold,
            check_language=False,
        )

    @torch.inference_mode()
    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(sentiment probabilities [N, 3], complaint probability [N]) for `texts`."""
        ids = tokenize(self.tokenizer, texts)
        sent = torch.zeros((len(ids), 3))
        comp = torch.zeros(len(ids))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            input_ids, mask = pad([ids[i] for i in batch], pad_id, torch.device("cpu"))
            probs = self.model(input_ids=input_ids, attention_mask=mask).logits.float().softmax(-1)
            mapped = torch.zeros((len(batch), 3))
            for index, column in self._columns.items():
                mapped[:, column] += probs[:, index]
            mapped = mapped / mapped.sum(-1, keepdim=True).clamp(min=1e-12)
            sent[batch] = mapped
            comp[batch] = probs[:, self._complaint] if self._complaint is not None else mapped[:, 0]
        return sent, comp
