"""Writes the brand-mention corpus (train/val/test CSVs) from templates: seeded, deterministic, split by template."""

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
    industry = rng.choice(sorted(lexicon.INDUSTRIES))
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
    total_weight = sum(KIND_WEIGHT.values())
    for language, per_language in ROWS_PER_LANGUAGE.items():
        for kind in LABELS:
            templates: Sequence[str] = TEMPLATES[language][kind]
            splits = template_split(language, kind, len(templates))
            want = round(per_language * KIND_WEIGHT[kind] / total_weight)
            per_template = max(1, round(want / len(templates)))
            sentiment, complaint, needs_reply = LABELS[kind]
            for index, (template, split) in enumerate(zip(templates, splits, strict=True)):
                rng = random.Random(f"{seed}:{language}:{kind}:{index}")
                made = 0
                for _ in range(per_template * 20):
                    if made >= per_template:
                        break
                    text, industry, handle = fill(template, language, split, rng)
                    if text in seen:
                        continue
                    seen.add(text)
                    made += 1
                    key = hashlib.sha1(f"{language}|{kind}|{text}".encode()).hexdigest()[:12]
                    out[split].append(
                        Row(key, text, language, kind, industry, sentiment, complaint, needs_reply, handle,
                            f"{language}-{kind}-{index}")
                    )
    for split in SPLITS:
        random.Random(f"{seed}:order:{split}").shuffle(out[split])
    return out


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
