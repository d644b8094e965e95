"""Writes the brand-mention corpus (train/val/test CSVs) from templates: seeded, deterministic, split by template.

Templates in templates_train.py only ever add train rows; val.csv and test.csv stay frozen.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.data.mentions import lexicon
from models.data.mentions.templates import TEMPLATES
from models.data.mentions.templates_train import TRAIN_ONLY

HERE = Path(__file__).parent
SPLITS = ("train", "val", "test")
FIELDS = (
    "id", "text", "language", "kind", "industry", "sentiment", "complaint", "needs_reply", "has_handle", "template"
)

# kind -> (sentiment 0/1/2 = negative/neutral/positive, complaint, needs_reply); the label guide in README.md.
LABELS: dict[str, tuple[int, int, int]] = {
    "praise": (2, 0, 0),
    "praise_negation": (2, 0, 0),
    "thanks_solved": (2, 0, 0),
    "review_high": (2, 0, 0),
    "comparison": (2, 0, 0),
    "question": (1, 0, 1),
    "news": (1, 0, 0),
    "joke": (1, 0, 0),
    "spam": (1, 0, 0),
    "complaint_explicit": (0, 1, 1),
    "complaint_mild": (0, 1, 1),
    "complaint_sarcastic": (0, 1, 1),
    "review_low": (0, 1, 1),
    "reply_complaint": (0, 1, 1),
}

# Rows per language (before de-duplication) and the share of each kind: complaints ~40 %, hard negatives in proportion.
ROWS_PER_LANGUAGE = {"en": 2500, "ja": 2500, "de": 950, "fr": 950, "es": 950, "pt": 950, "ko": 950}
KIND_WEIGHT = {
    "praise": 7, "praise_negation": 9, "thanks_solved": 8, "review_high": 5, "comparison": 6,
    "question": 9, "news": 7, "joke": 5, "spam": 4,
    "complaint_explicit": 10, "complaint_mild": 9, "complaint_sarcastic": 8, "review_low": 7, "reply_complaint": 6,
}
HANDLE_SHARE = 0.4
# A train-only template (templates_train.py) yields this share of the rows a template of its (language, kind) yields:
# the extra phrasings add variety to the hard kinds without swamping the kind mix learned from the frozen design.
TRAIN_ONLY_ROW_SHARE = 0.5

_SLOT = re.compile(r"\{(\w+)\}")
_CHOICE = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled mention."""

    id: str
    text: str
    language: str
    kind: str
    industry: str
    sentiment: int
    complaint: int
    needs_reply: int
    has_handle: int
    template: str


def template_split(language: str, kind: str, count: int) -> list[str]:
    """Split of each template of one (language, kind): ~15 % val, ~15 % test (at least one each), rest train."""
    rng = random.Random(f"split:{language}:{kind}")
    order = list(range(count))
    rng.shuffle(order)
    held = max(1, round(count * 0.15))
    out = ["train"] * count
    for pos, index in enumerate(order):
        if pos < held:
            out[index] = "val"
        elif pos < 2 * held:
            out[index] = "test"
    return out


def _expand_choices(text: str, rng: random.Random) -> str:
    while True:
        match = _CHOICE.search(text)
        if not match:
            return text
        text = text[: match.start()] + rng.choice(match.group(1).split("|")) + text[match.end() :]


def fill(template: str, language: str, split: str, rng: random.Random) -> tuple[str, str, int]:
    """One text from a template: (text, industry, has_handle). Brands of one split never appear in another."""
    # A template written for some industries only (templates_hard.ForIndustries) draws from those; same single draw.
    industry = rng.choice(sorted(getattr(template, "industries", None) or lexicon.INDUSTRIES))
    brands = lexicon.brands(industry, split)
    brand = rng.choice(brands)
    others = [b for b in lexicon.brands(industry, None) if b != brand]
    competitor = rng.choice(others)
    use_handle = rng.random() < HANDLE_SHARE
    words = lexicon.WORDS[language]
    slots = {
        "brand": brand.handle if use_handle else brand.name(language),
        "name": brand.name(language),
        "handle": brand.handle,
        "comp": competitor.name(language),
        "thing": rng.choice(words[industry]["thing"]),
        "issue": rng.choice(words[industry]["issue"]),
        "prob": rng.choice(words[industry]["prob"]),
        "city": rng.choice(lexicon.CITIES[language]),
        "n": str(rng.randint(2, 9)),
        "big": str(rng.choice([12, 15, 20, 30, 40, 45, 90])),
        "url": rng.choice(lexicon.URLS).format(slug=brand.slug),
    }
    text = _expand_choices(template, rng)
    if "{brand}" not in text and "{handle}" in text:
        use_handle = True
    text = _SLOT.sub(lambda m: slots[m.group(1)], text)
    return " ".join(text.split()), industry, int(use_handle or "{handle}" in template)


def generate(seed: int = 14) -> dict[str, list[Row]]:
    """Every row of the corpus, by split; the same seed always gives the same rows."""
    out: dict[str, list[Row]] = {s: [] for s in SPLITS}
    seen: set[str] = set()
    for language in ROWS_PER_LANGUAGE:
        for kind in LABELS:
            templates: Sequence[str] = TEMPLATES[language][kind]
            splits = template_split(language, kind, len(templates))
            per_template = rows_per_template(language, kind)
            for index, (template, split) in enumerate(zip(templates, splits, strict=True)):
                rng = random.Random(f"{seed}:{language}:{kind}:{index}")
                out[split] += _template_rows(template, f"{language}-{kind}-{index}", split, per_template, rng, seen)
    # After every split-assigned row, so the frozen val/test rows (and the train rows before them) keep their draws.
    for language, by_kind in TRAIN_ONLY.items():
        for kind, extra in by_kind.items():
            per_template = max(1, round(rows_per_template(language, kind) * TRAIN_ONLY_ROW_SHARE))
            for index, template in enumerate(extra):
                rng = random.Random(f"{seed}:{language}:{kind}:x{index}")
                template_id = f"{language}-{kind}-x{index}"
                out["train"] += _template_rows(template, template_id, "train", per_template, rng, seen)
    for split in SPLITS:
        random.Random(f"{seed}:order:{split}").shuffle(out[split])
    return out


def rows_per_template(language: str, kind: str) -> int:
    """How many rows each split-assigned template of (language, kind) yields (before de-duplication)."""
    want = round(ROWS_PER_LANGUAGE[language] * KIND_WEIGHT[kind] / sum(KIND_WEIGHT.values()))
    return max(1, round(want / len(TEMPLATES[language][kind])))


def _template_rows(
    template: str, template_id: str, split: str, per_template: int, rng: random.Random, seen: set[str]
) -> list[Row]:
    """Up to `per_template` rows from one template, none equal to a text in `seen` (which they are added to)."""
    language, kind, _ = template_id.split("-")
    sentiment, complaint, needs_reply = LABELS[kind]
    rows: list[Row] = []
    for _ in range(per_template * 20):
        if len(rows) >= per_template:
            break
        text, industry, handle = fill(template, language, split, rng)
        if text in seen:
            continue
        seen.add(text)
        key = hashlib.sha1(f"{language}|{kind}|{text}".encode()).hexdigest()[:12]
        rows.append(Row(key, text, language, kind, industry, sentiment, complaint, needs_reply, handle, template_id))
    return rows


def write(rows: dict[str, list[Row]], directory: Path, splits: Sequence[str] = SPLITS) -> None:
    """Write `splits` as CSVs (UTF-8, header, one row per mention)."""
    directory.mkdir(parents=True, exist_ok=True)
    for split in splits:
        with (directory / f"{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(FIELDS)
            for r in rows[split]:
                writer.writerow([getattr(r, f) for f in FIELDS])


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m models.data.mentions.generate`: (re)write the corpus CSVs."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    args = parser.parse_args(argv)
    rows = generate(args.seed)
    write(rows, args.out, args.splits)
    for split in SPLITS:
        print(split, len(rows[split]))


if __name__ == "__main__":
    main()
