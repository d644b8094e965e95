"""Turns model probabilities into Classification objects, leaving texts that cannot be judged unscored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from listener.domain import Sentiment
from models.base import Classification
from models.textcheck import UNSUPPORTED_LANGUAGE, check_text

SENTIMENTS = (Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE)

if TYPE_CHECKING:
    import numpy as np
    import torch

# texts -> (sentiment probabilities [N, 3] in SENTIMENTS order, complaint probability [N]), as torch
# tensors or numpy arrays (the ONNX path never imports torch, which alone costs ~200 MB resident).
ProbabilityFn = Callable[[Sequence[str]], "tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]"]


def classify(
    texts: Sequence[str],
    *,
    model_id: str,
    probabilities: ProbabilityFn,
    complaint_threshold: float,
    check_language: bool = True,
) -> list[Classification]:
    """Check every text, run `probabilities` once on the judgeable ones, and build the results in order."""
    results: list[Classification | None] = [None] * len(texts)
    languages: list[str | None] = [None] * len(texts)
    to_score: list[int] = []
    for i, text in enumerate(texts):
        check = check_text(text)
        languages[i] = check.language
        reason = check.unscored_reason
        if reason == UNSUPPORTED_LANGUAGE and not check_language:
            reason = None
        if reason:
            results[i] = Classification(
                model_id=model_id, scored=False, language=check.language, unscored_reason=reason
            )
        else:
            to_score.append(i)
    if to_score:
        sent, comp = probabilities([texts[i] for i in to_score])
        for row, i in enumerate(to_score):
            p = [float(x) for x in sent[row].tolist()]
            pc = float(comp[row])
            results[i] = Classification(
                model_id=model_id,
                scored=True,
                sentiment=SENTIMENTS[max(range(3), key=p.__getitem__)],
                p_negative=p[0],
                p_neutral=p[1],
                p_positive=p[2],
                complaint=pc >= complaint_threshold,
                p_complaint=pc,
                language=languages[i],
            )
    return [r for r in results if r is not None]
