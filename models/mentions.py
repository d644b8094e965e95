"""The brand-mention corpus as labelled examples, and its metrics per language and per kind of text."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.evaluate import COMPLAINT_CLASSES, confusion, score
from models.train import Example

MENTIONS_DIR = Path(__file__).with_name("data") / "mentions"
MENTION_COLUMNS = {"text", "language", "kind", "sentiment", "complaint", "needs_reply"}
# Kinds whose sentiment is positive: praise in all its forms (the texts an alert must leave alone).
PRAISE_SENTIMENT = 2


@dataclass(frozen=True, slots=True)
class Mention:
    """One corpus row: the example (all three labels) and what it is (language, kind)."""

    example: Example
    language: str
    kind: str


def is_mentions_csv(path: Path) -> bool:
    """Whether a CSV has the corpus columns (text, language, kind, sentiment, complaint, needs_reply)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    return MENTION_COLUMNS <= set(header)


def read_mentions(path: Path) -> list[Mention]:
    """Read a corpus split (models/data/mentions/{train,val,test}.csv)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = MENTION_COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        return [
            Mention(
                Example(r["text"], int(r["sentiment"]), int(r["complaint"]), int(r["needs_reply"])),
                r["language"],
                r["kind"],
            )
            for r in reader
        ]


def complaint_breakdown(
    mentions: Sequence[Mention],
    complaint: Sequence[int],
    negative: Sequence[bool],
    unsure: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Complaint precision/recall/F1 overall, per language and per kind, a confusion table, and the praise errors.

    `complaint` is the predicted flag per row (-1 = unscored, counted as wrong); `negative` whether the
    sentiment came out negative. Praise = rows labelled positive.
    """
    def block(rows: list[int]) -> dict[str, Any]:
        gold = [int(mentions[i].example.complaint) for i in rows]  # type: ignore[arg-type]
        pred = [complaint[i] for i in rows]
        report = score(gold, pred, COMPLAINT_CLASSES)
        c = report.per_class["complaint"]
        praise = [i for i in rows if mentions[i].example.sentiment == PRAISE_SENTIMENT]
        out = {
            "n": len(rows),
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
            "macro_f1": report.macro_f1,
            # Share of rows flagged as complaints: for kinds without complaints, the false-alarm rate.
            "flagged": sum(1 for p in pred if p == 1) / len(rows) if rows else 0.0,
            "praise": len(praise),
            "praise_flagged": sum(1 for i in praise if complaint[i] == 1) / len(praise) if praise else None,
            "praise_negative": sum(1 for i in praise if negative[i]) / len(praise) if praise else None,
        }
        if unsure is not None:
            out["unsure"] = sum(1 for i in rows if unsure[i]) / len(rows) if rows else 0.0
        return out

    by_language: dict[str, list[int]] = defaultdict(list)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(mentions):
        by_language[m.language].append(i)
        by_kind[m.kind].append(i)
    gold_all = [int(m.example.complaint) for m in mentions]  # type: ignore[arg-type]
    return {
        "all": block(list(range(len(mentions)))),
        "language": {k: block(v) for k, v in sorted(by_language.items())},
        "kind": {k: block(v) for k, v in sorted(by_kind.items())},
        "confusion": confusion(gold_all, list(complaint), len(COMPLAINT_CLASSES)),
    }


def label_breakdown(
    mentions: Sequence[Mention], gold: Sequence[int], predicted: Sequence[int], classes: Sequence[str]
) -> dict[str, Any]:
    """Any task's scores per language and per kind of text: n, accuracy, macro recall and F1, and
    precision/recall/F1 of the last class (the one a user acts on: "needs_reply", "positive")."""
    target = classes[-1]

    def block(rows: list[int]) -> dict[str, Any]:
        report = score([gold[i] for i in rows], [predicted[i] for i in rows], classes)
        c = report.per_class[target]
        return {"n": len(rows), "accuracy": report.accuracy, "macro_recall": report.macro_recall,
                "macro_f1": report.macro_f1, "precision": c.precision, "recall": c.recall, "f1": c.f1}

    by_language: dict[str, list[int]] = defaultdict(list)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(mentions):
        by_language[m.language].append(i)
        by_kind[m.kind].append(i)
    return {
        "target": target,
        "all": block(list(range(len(mentions)))),
        "language": {k: block(v) for k, v in sorted(by_language.items())},
        "kind": {k: block(v) for k, v in sorted(by_kind.items())},
    }


def format_label_breakdown(report: dict[str, Any]) -> str:
    """Tables of `label_breakdown`: per language and per kind."""
    target = report["target"]
    lines = []
    for title, rows in (("language", report["language"]), ("kind", report["kind"])):
        lines.append(
            f"{title:<20} {'n':>5} {'accuracy':>8} {'macro-R':>7} {'macro-F1':>8} "
            f"{target + ' P':>{len(target) + 2}} {'R':>5} {'F1':>5}"
        )
        for name, r in [("all", report["all"])] + list(rows.items()):
            lines.append(
                f"{name:<20} {r['n']:>5} {r['accuracy']:>8.3f} {r['macro_recall']:>7.3f} {r['macro_f1']:>8.3f} "
                f"{r['precision']:>{len(target) + 2}.3f} {r['recall']:>5.3f} {r['f1']:>5.3f}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def format_breakdown(report: dict[str, Any]) -> str:
    """Tables of `complaint_breakdown`: per language, per kind, and the confusion table."""
    def pct(x: float | None) -> str:
        return "     -" if x is None else f"{100 * x:5.1f}%"

    lines = []
    for title, rows in (("language", report["language"]), ("kind", report["kind"])):
        lines.append(
            f"{title:<20} {'n':>5} {'precision':>9} {'recall':>7} {'f1':>7} {'flagged':>8} "
            f"{'praise→complaint':>17} {'praise→negative':>16}"
        )
        for name, r in [("all", report["all"])] + list(rows.items()):
            lines.append(
                f"{name:<20} {r['n']:>5} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>7.3f} "
                f"{pct(r['flagged']):>8} {pct(r['praise_flagged']):>17} {pct(r['praise_negative']):>16}"
            )
        lines.append("")
    matrix = report["confusion"]
    lines.append("confusion (rows gold, columns predicted; unscored counted in its own column)")
    lines.append(f"{'':<15} {'not_complaint':>13} {'complaint':>9} {'unscored':>8}")
    for g, name in enumerate(COMPLAINT_CLASSES):
        row = matrix[g]
        lines.append(f"{name:<15} {row[0]:>13} {row[1]:>9} {row[2]:>8}")
    return "\n".join(lines)
