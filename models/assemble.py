"""Turns model probabilities into Classification objects, leaving texts that cannot be judged unscored."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from listener.domain import Sentiment
from models.base import Classification
from models.decision import DecisionRule
from models.textcheck import UNSUPPORTED_LANGUAGE, check_text

SENTIMENTS = (Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE)

# texts -> (sentiment probabilities [N, 3] in SENTIMENTS order, complaint probability [N][, needs-reply probability [N]])
ProbabilityFn = Callable[[Sequence[str]], tuple[torch.Tensor, ...]]


def classify(
    texts: Sequence[str],
    *,
    model_id: str,
    probabilities: ProbabilityFn,
    complaint_threshold: float,
    check_language: bool = True,
    rule: DecisionRule | None = None,
) -> list[Classification]:
    """Check every text, run `probabilities` once on the judgeable ones, and build the results in order.

    The complaint flag and `unsure` come from `rule` (default: `DecisionRule(complaint_threshold)`).
    """
    rule = rule or DecisionRule(threshold=complaint_threshold)
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
        outputs = probabilities([texts[i] for i in to_score])
        sent, comp = outputs[0], outputs[1]
        reply = outputs[2] if len(outputs) > 2 else None
        for row, i in enumerate(to_score):
            p = [float(x) for x in sent[row].tolist()]
            pc = float(comp[row])
            complaint, unsure = rule.decide(p[0], p[2], pc)
            results[i] = Classification(
                model_id=model_id,
                scored=True,
                sentiment=SENTIMENTS[max(range(3), key=p.__getitem__)],
                p_negative=p[0],
                p_neutral=p[1],
                p_positive=p[2],
                complaint=complaint,
                p_complaint=pc,
                language=languages[i],
                unsure=unsure,
                p_needs_reply=None if reply is None else float(reply[row]),
            )
    return [r for r in results if r is not None]
