"""Complaint precision and recall on real inbound customer-support tweets (twcs_slice), labelled by hand.

The brand-mention corpus is written by us and flatters the model; this section measures what a brand
actually receives. The tweets are the first customer tweets of conversations in `twcs_slice`
(`inbound` true, not a reply), 200 drawn at random (seed 2026); `benchmarks/data/twcs_inbound200_labels.csv`
holds only their ids and one label each, so the tweets themselves stay in the shared data folder, which is
read here and never at run time. Label: 1 when the customer reports a problem of their own with the brand's
product or service or expresses dissatisfaction with it (also as a request for help: "my code doesn't work,
what do I do?"), 0 for praise, thanks, plain or hypothetical questions, promotions, jokes and news. One
person labelled them in one pass; read the figures as a rough real-world check (a 95 % interval on a recall
near 0.75 over 135 complaints is about +/- 0.07), never train or tune on them (twcs_slice is
evaluation-only).

    python -m benchmarks.real_tweets            # markdown section (also run by `make bench`)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.model_speed import _shared_data, cpu_description
from models.decision import DecisionRule
from models.evaluate import COMPLAINT_CLASSES, score

LABELS = Path(__file__).with_name("data") / "twcs_inbound200_labels.csv"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Scores:
    """Complaint flags against the hand labels."""

    flagged: int
    precision: float
    recall: float


def score_flags(gold: Sequence[int], flags: Sequence[bool]) -> Scores:
    """Precision and recall of complaint `flags` against `gold` (1 = complaint)."""
    complaint = score(list(gold), [int(f) for f in flags], COMPLAINT_CLASSES).per_class[COMPLAINT_CLASSES[1]]
    return Scores(sum(1 for f in flags if f), complaint.precision, complaint.recall)


def labelled_tweets(data: Path | None = None, labels: Path = LABELS) -> tuple[list[str], list[int]]:
    """The labelled tweets' texts and labels, in the labels file's order."""
    source = (data or _shared_data()) / "twcs_slice" / "twcs_first5000.csv"
    with source.open(newline="", encoding="utf-8") as fh:
        text_by_id = {row["tweet_id"]: row["text"] for row in csv.DictReader(fh)}
    with labels.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = [r["tweet_id"] for r in rows if r["tweet_id"] not in text_by_id]
    if missing:
        raise ValueError(f"{source}: tweets {missing[:5]} of {labels.name} are not there")
    return [text_by_id[r["tweet_id"]] for r in rows], [int(r["complaint"]) for r in rows]


def measure(classifier, texts: Sequence[str], gold: Sequence[int], require_agreement: bool = True) -> dict[str, Scores]:
    """Scores of the served decision (complaint, and alerted = not unsure) and of other complaint thresholds."""
    results = classifier.predict(list(texts))
    out = {
        "served decision (`complaint`)": score_flags(gold, [r.complaint for r in results]),
        "alerted (`complaint` and not `unsure`)": score_flags(gold, [r.complaint and not r.unsure for r in results]),
    }
    for t in THRESHOLDS:
        rule = DecisionRule(threshold=t, require_agreement=require_agreement)
        flags = [r.scored and rule.decide(r.p_negative, r.p_positive, r.p_complaint)[0] for r in results]
        out[f"`complaint_threshold = {t}`"] = score_flags(gold, flags)
    return out


def run() -> str:
    """The markdown section for docs/benchmarks.md."""
    from config.schema import ClassifierSettings
    from models.loader import load_classifier

    texts, gold = labelled_tweets()
    settings = ClassifierSettings()
    classifier = load_classifier(settings)
    rows = measure(classifier, texts, gold, settings.require_agreement)
    lines = [
        "## Real customer tweets (issue 14)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `python -m benchmarks.real_tweets`, model "
        f"`{classifier.model_id}`, default `[classifier]` settings, on {cpu_description()}. 200 first customer "
        f"tweets of `twcs_slice` conversations, labelled by hand ({sum(gold)} complaints; how: the module's "
        "docstring). The threshold rows apply the complaint head at that threshold with the same decision rule.",
        "",
        "| decision | flagged | precision | recall |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {s.flagged} | {s.precision:.3f} | {s.recall:.3f} |" for name, s in rows.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
