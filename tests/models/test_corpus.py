"""The brand-mention corpus: deterministic, big enough, labelled by kind, split by template and brand."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from models.data.mentions import generate, lexicon
from models.data.mentions.templates import TEMPLATES
from models.data.mentions.templates_hard import ForIndustries
from models.data.mentions.templates_train import TRAIN_ONLY
from models.mentions import MENTIONS_DIR, read_mentions
from tests.conftest import SHARED

# sha256 of val.csv and test.csv as frozen in commit 0318196, before any tuning; they must never change.
FROZEN_SHA256 = {
    "val": "17159aa52b07ff4968ead7968140c67254bcdf1919ae62eee150f705ca190dfc",
    "test": "63a5c9d00683de4ad25ea24a7a639cd55f797abcf53811c60347a9ec1be45204",
}


def _rows(split: str) -> list[dict[str, str]]:
    with (MENTIONS_DIR / f"{split}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict[str, str]]]:
    return {s: _rows(s) for s in generate.SPLITS}


def test_committed_csvs_are_what_the_generator_writes(tmp_path: Path) -> None:
    generate.write(generate.generate(), tmp_path)
    for split in generate.SPLITS:
        assert (tmp_path / f"{split}.csv").read_bytes() == (MENTIONS_DIR / f"{split}.csv").read_bytes(), split


def test_val_and_test_stay_frozen(tmp_path: Path) -> None:
    generate.write(generate.generate(), tmp_path)
    for split, digest in FROZEN_SHA256.items():
        assert hashlib.sha256((MENTIONS_DIR / f"{split}.csv").read_bytes()).hexdigest() == digest, split
        assert hashlib.sha256((tmp_path / f"{split}.csv").read_bytes()).hexdigest() == digest, split


def test_train_only_templates_only_add_train_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    with_extra = generate.generate()
    monkeypatch.setattr(generate, "TRAIN_ONLY", {})
    without = generate.generate()
    assert with_extra["val"] == without["val"] and with_extra["test"] == without["test"]
    extra = [r for r in with_extra["train"] if _is_train_only(r.template)]
    assert sorted(r.id for r in with_extra["train"] if not _is_train_only(r.template)) == sorted(
        r.id for r in without["train"]
    )
    assert {r.template for r in extra} == {
        f"{lang}-{kind}-x{i}" for lang, by_kind in TRAIN_ONLY.items() for kind, ts in by_kind.items()
        for i in range(len(ts))
    }


def _normalised(template: str) -> str:
    return re.sub(r"\W+", " ", template).strip().lower()


def test_train_only_templates_are_new_and_well_formed() -> None:
    held_out = {
        _normalised(t)
        for lang, by_kind in TEMPLATES.items()
        for kind, templates in by_kind.items()
        for t, split in zip(templates, generate.template_split(lang, kind, len(templates)), strict=True)
        if split != "train"
    }
    every = {_normalised(t) for by_kind in TEMPLATES.values() for ts in by_kind.values() for t in ts}
    extra = [(lang, kind, t) for lang, by_kind in TRAIN_ONLY.items() for kind, ts in by_kind.items() for t in ts]
    assert extra
    for lang, kind, t in extra:
        assert lang in TEMPLATES and kind in generate.LABELS, (lang, kind)
        assert _normalised(t) not in held_out and _normalised(t) not in every, t
        assert set(re.findall(r"\{(\w+)\}", t)) <= {
            "brand", "name", "handle", "comp", "thing", "issue", "prob", "city", "n", "big", "url"
        }, t
    assert len({_normalised(t) for _, _, t in extra}) == len(extra)  # no template twice


def test_industry_bound_templates_draw_only_their_industries(splits) -> None:
    # A trade-in question needs a handset seller, a late-bag claim an airline: such templates name their industries.
    bound = {
        f"{lang}-{kind}-x{i}": t.industries
        for lang, by_kind in TRAIN_ONLY.items() for kind, ts in by_kind.items() for i, t in enumerate(ts)
        if isinstance(t, ForIndustries)
    }
    assert bound and all(set(industries) <= set(lexicon.INDUSTRIES) for industries in bound.values())
    rows = [r for r in splits["train"] if r["template"] in bound]
    assert {r["template"] for r in rows} == set(bound)
    for r in rows:
        assert r["industry"] in bound[r["template"]], r


def test_size_and_languages(splits) -> None:
    rows = [r for s in splits.values() for r in s]
    assert len(rows) >= 8000
    by_language = Counter(r["language"] for r in rows)
    assert by_language["en"] >= 2000 and by_language["ja"] >= 2000
    assert {"de", "fr", "es", "pt", "ko"} <= set(by_language)
    assert all(by_language[lang] >= 500 for lang in ("de", "fr", "es", "pt", "ko"))
    assert len({r["text"] for r in rows}) == len(rows)  # no text twice, not even across splits


def test_labels_follow_the_kind(splits) -> None:
    for rows in splits.values():
        for r in rows:
            sentiment, complaint, needs_reply = generate.LABELS[r["kind"]]
            labels = (int(r["sentiment"]), int(r["complaint"]), int(r["needs_reply"]))
            assert labels == (sentiment, complaint, needs_reply)
            assert "{" not in r["text"] and "[" not in r["text"], r["text"]  # every slot and choice filled


def test_every_language_and_kind_is_in_every_split(splits) -> None:
    for split, rows in splits.items():
        seen = {(r["language"], r["kind"]) for r in rows}
        expected = {(lang, kind) for lang in TEMPLATES for kind in generate.LABELS}
        assert seen == expected, split


def test_split_by_template_and_by_brand(splits) -> None:
    templates = {s: {r["template"] for r in rows} for s, rows in splits.items()}
    assert not templates["train"] & templates["val"]
    assert not templates["train"] & templates["test"]
    assert not templates["val"] & templates["test"]
    for industry in lexicon.INDUSTRIES:
        held_out = [b for s in ("val", "test") for b in lexicon.brands(industry, s)]
        for brand in held_out:
            names = (brand.latin, brand.katakana, brand.handle)
            # A held-out brand may appear in train only as somebody else's competitor, never as the brand talked about.
            for r in splits["train"]:
                if not _names_competitor(r["template"]):
                    assert not any(n in r["text"] for n in names), r["text"]


def _is_train_only(template_id: str) -> bool:
    return template_id.split("-")[2].startswith("x")


def _names_competitor(template_id: str) -> bool:
    language, kind, index = template_id.split("-")
    if index.startswith("x"):
        return "{comp}" in TRAIN_ONLY[language][kind][int(index[1:])]
    return "{comp}" in TEMPLATES[language][kind][int(index)]


def test_hard_cases_in_proportion(splits) -> None:
    rows = [r for s in splits.values() for r in s]
    kinds = Counter(r["kind"] for r in rows)
    share = {k: v / len(rows) for k, v in kinds.items()}
    assert 0.35 <= sum(share[k] for k in kinds if generate.LABELS[k][1] == 1) <= 0.5
    for kind in ("praise_negation", "thanks_solved", "question", "news", "joke", "comparison", "spam"):
        assert share[kind] >= 0.03, kind


def test_train_copies_nothing_from_the_issue_or_the_reading_only_data(splits) -> None:
    issue_texts = (
        "stupidly fast", "just works, never had to restart", "never had a reason to leave",
        "不満ない", "Was expecting pain, got none", "fixed the mast within a day",
    )
    for r in splits["train"]:
        assert not any(t.lower() in r["text"].lower() for t in issue_texts), r["text"]
    twcs = SHARED / "data" / "twcs_slice" / "twcs_first5000.csv"
    if not twcs.is_file():
        pytest.skip("../shared/data not present")
    with twcs.open(newline="", encoding="utf-8") as fh:
        real = {row.get("text", "").strip() for row in csv.DictReader(fh)}
    assert not real & {r["text"] for rows in splits.values() for r in rows}


def test_read_mentions_gives_all_three_labels() -> None:
    rows = read_mentions(MENTIONS_DIR / "val.csv")
    assert rows and all(r.example.needs_reply in (0, 1) for r in rows)
    assert {r.language for r in rows} == set(TEMPLATES)
