"""The complaint decision users can reason about: complaint head and sentiment must agree; near the line is "unsure"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """complaint = p_complaint >= threshold AND the sentiment head does not read the text as positive.

    "Read as positive" = positive is the sentiment head's most probable class, the same answer
    `Classification.sentiment` gives. A neutral-sounding complaint ("still waiting for my refund,
    any news?") therefore counts; praise the complaint head likes does not.
    unsure = the two heads disagree (p_complaint >= threshold but the sentiment is positive), or
    p_complaint lies within `unsure_band` of the threshold. An unsure complaint is queued for a person,
    never alerted as a breach; an unsure non-complaint may be shown for review.
    """

    threshold: float = 0.5
    unsure_band: float = 0.1
    require_agreement: bool = True

    def agrees(self, p_negative: float, p_positive: float) -> bool:
        """Whether the sentiment head supports a complaint (positive is not its most probable class)."""
        # The three sentiment probabilities sum to one, so neutral is what negative and positive leave.
        p_neutral = 1.0 - p_negative - p_positive
        return (not self.require_agreement) or p_positive <= max(p_negative, p_neutral)

    def decide(self, p_negative: float, p_positive: float, p_complaint: float) -> tuple[bool, bool]:
        """(complaint, unsure) for one text."""
        agree = self.agrees(p_negative, p_positive)
        above = p_complaint >= self.threshold
        complaint = above and agree
        unsure = (above and not agree) or abs(p_complaint - self.threshold) < self.unsure_band
        return complaint, unsure


def threshold_for_precision(
    gold: Sequence[int], p_complaint: Sequence[float], agree: Sequence[bool], target: float, min_support: int = 20
) -> float | None:
    """The lowest threshold whose complaints (p >= t and agreeing sentiment) reach `target` precision on labelled data.

    Lowest = the most recall at that precision. None when no threshold with at least `min_support`
    flagged texts reaches the target.
    """
    scored = sorted(
        ((p, g) for p, g, a in zip(p_complaint, gold, agree, strict=True) if a), key=lambda x: -x[0]
    )
    best: float | None = None
    tp = fp = 0
    for index, (p, g) in enumerate(scored):
        tp += g
        fp += 1 - g
        boundary = index + 1 == len(scored) or scored[index + 1][0] < p
        if boundary and tp + fp >= min_support and tp / (tp + fp) >= target:
            best = p
    return best
