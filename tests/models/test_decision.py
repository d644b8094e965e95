"""The complaint decision rule, the unsure mark and the threshold chosen per precision target."""

from __future__ import annotations

import torch

from models.assemble import classify
from models.decision import DecisionRule, threshold_for_precision


def test_complaint_needs_the_sentiment_to_agree() -> None:
    rule = DecisionRule(threshold=0.5, unsure_band=0.1)
    assert rule.decide(p_negative=0.8, p_positive=0.1, p_complaint=0.9) == (True, False)
    # Praise that the complaint head likes: not a complaint, and unsure because the heads disagree.
    assert rule.decide(p_negative=0.05, p_positive=0.9, p_complaint=0.95) == (False, True)
    assert rule.decide(p_negative=0.1, p_positive=0.8, p_complaint=0.1) == (False, False)
    # Close to the threshold on either side: unsure.
    assert rule.decide(p_negative=0.7, p_positive=0.1, p_complaint=0.55) == (True, True)
    assert rule.decide(p_negative=0.7, p_positive=0.1, p_complaint=0.45) == (False, True)


def test_a_neutral_sounding_complaint_agrees() -> None:
    # Neutral is the sentiment's answer (0.5), positive edges out negative: the sentiment does not call it
    # praise, so the complaint head decides. A text read as positive never agrees, however slightly.
    rule = DecisionRule(threshold=0.5, unsure_band=0.0)
    assert rule.decide(p_negative=0.2, p_positive=0.3, p_complaint=0.9) == (True, False)
    assert rule.decide(p_negative=0.3, p_positive=0.36, p_complaint=0.9) == (False, True)
    assert rule.decide(p_negative=0.4, p_positive=0.4, p_complaint=0.9) == (True, False)


def test_agreement_can_be_switched_off() -> None:
    rule = DecisionRule(threshold=0.5, unsure_band=0.0, require_agreement=False)
    assert rule.decide(p_negative=0.05, p_positive=0.9, p_complaint=0.95) == (True, False)


def test_threshold_for_precision_picks_the_most_recall() -> None:
    p = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4]
    gold = [1, 1, 1, 0, 1, 0, 1, 0]
    agree = [True] * 8
    # At 0.85: 3/3 precision; at 0.7: 4/5 = 0.8; at 0.5: 5/7.
    assert threshold_for_precision(gold, p, agree, 1.0, min_support=1) == 0.85
    assert threshold_for_precision(gold, p, agree, 0.8, min_support=1) == 0.7
    assert threshold_for_precision(gold, p, agree, 0.8, min_support=6) is None
    # Rows whose sentiment disagrees are never flagged, so they do not count.
    assert threshold_for_precision(gold, p, [True, True, True, False] + [True] * 4, 0.8, min_support=1) == 0.5


def test_classify_marks_unsure_and_carries_needs_reply() -> None:
    def probabilities(texts):
        sent = torch.tensor([[0.05, 0.05, 0.9], [0.8, 0.1, 0.1]])
        return sent, torch.tensor([0.97, 0.93]), torch.tensor([0.2, 0.9])

    praise, complaint = classify(
        ["the app is brilliant", "my parcel never came"], model_id="m", probabilities=probabilities,
        complaint_threshold=0.5, check_language=False,
    )
    assert (praise.complaint, praise.unsure) == (False, True)
    assert (complaint.complaint, complaint.unsure) == (True, False)
    assert complaint.p_needs_reply is not None and abs(complaint.p_needs_reply - 0.9) < 1e-6
    assert "unsure" in complaint.to_dict() and "p_needs_reply" in complaint.to_dict()
