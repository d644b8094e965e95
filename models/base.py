"""The classifier contract used by the pipeline: synchronous, batched `predict`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from listener.domain import Sentiment


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """The model's judgement of one text.

    An unscored text (`scored=False`) has no sentiment and no complaint probability, and
    `unscored_reason` says why (for example "empty", "no_text", "unsupported_language").
    `unsure` marks a low-confidence judgement (the complaint and sentiment heads disagree, or
    `p_complaint` is close to the threshold; models/decision.py): show it in the queue, never
    alert it as a breach. `p_needs_reply` is None when the model has no needs-reply output.
    """

    model_id: str
    scored: bool
    sentiment: Sentiment | None = None
    p_negative: float | None = None
    p_neutral: float | None = None
    p_positive: float | None = None
    complaint: bool = False
    p_complaint: float | None = None
    language: str | None = None
    unscored_reason: str | None = None
    unsure: bool = False
    p_needs_reply: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field."""
        data = asdict(self)
        data["sentiment"] = self.sentiment.value if self.sentiment else None
        return data


class Classifier(Protocol):
    """Anything that can judge a batch of texts. Never called concurrently."""

    model_id: str

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Classify `texts`, returning one Classification per text, in order."""
        ...
