"""Brand attribution by keywords, and recognising a brand's own accounts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import BrandView
from connectors.matching import match_brands, own_brands, parse_handle, same_account

ACME = BrandView(name="acme", keywords=("acme", "#acmeapp", "アクメ"), exclude=("acme anvil", "road runner"))
GLOBEX = BrandView(name="globex", keywords=("@globex", "グロベックス"))
BRANDS = [ACME, GLOBEX]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I hate ACME so much", ("acme",)),
        ("acme's app crashed", ("acme",)),
        ("#acme is down", ("acme",)),
        ("@acme help!", ("acme",)),
        ("acmecorp is a different company", ()),
        ("the subacme module", ()),
        ("acme_bot posted", ()),
        ("#AcmeApp broke again", ("acme",)),
        ("#acmeapps is not our tag", ()),
        ("ＡＣＭＥ（全角）", ("acme",)),  # full-width Latin folds to ASCII
        ("アクメのアプリが落ちた", ("acme",)),  # CJK keyword: substring match
        ("acmeのアプリ", ("acme",)),  # Latin keyword next to kana still has a boundary
        ("Bought an Acme Anvil, it fell on me", ()),  # exclude vetoes
        ("Acme rocks, unlike the road runner", ()),
        ("hey @Globex@mastodon.social and acme", ("acme", "globex")),
        ("globex without the at sign", ()),
        ("グロベックスに電話した", ("globex",)),
        ("", ()),
    ],
)
def test_match_brands(text: str, expected: tuple[str, ...]) -> None:
    assert match_brands(text, BRANDS) == expected


def test_exclude_only_vetoes_its_own_brand() -> None:
    assert match_brands("acme anvil vs @globex", BRANDS) == ("globex",)


def test_brand_without_keywords_never_matches() -> None:
    assert match_brands("anything at all", [BrandView(name="empty")]) == ()


# Noise that can never spell an exclude term ("acme anvil", "road runner") nor glue onto "ACME".
NOISE = st.text(alphabet=st.sampled_from(list("xyz0123 ,.!?-#@'\"()\t\nアクメ漢字éßÄ")), max_size=30)


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(NOISE, NOISE)
def test_keyword_between_spaces_always_matches(before: str, after: str) -> None:
    assert match_brands(f"{before} ACME {after}", [ACME]) == ("acme",)


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(NOISE)
def test_exclude_term_always_vetoes(noise: str) -> None:
    assert match_brands(f"{noise} acme anvil {noise}", [ACME]) == ()


@pytest.mark.parametrize(
    ("a", "b", "home", "same"),
    [
        ("@Acme", "acme", None, True),
        ("@acme@Mastodon.Social", "acme", "mastodon.social", True),
        ("acme", "@acme@other.example", "mastodon.social", False),
        ("acme", "@acme@other.example", None, True),  # no home known: the user name decides
        ("@acme@a.example", "@acme@b.example", None, False),
        ("@acme", "@acmesupport", None, False),
        ("@", "@", None, False),
    ],
)
def test_same_account(a: str, b: str, home: str | None, same: bool) -> None:
    assert same_account(a, b, home=home) is same
    assert same_account(b, a, home=home) is same


def test_parse_handle() -> None:
    handle = parse_handle(" @User@Example.Social ")
    assert (handle.user, handle.domain) == ("user", "example.social")
    assert parse_handle("bob", home="Mastodon.Example").domain == "mastodon.example"


def test_own_brands() -> None:
    brands = [
        BrandView(name="acme", handles=("@acme", "@acme_help@support.example")),
        BrandView(name="globex", handles=("globex",)),
    ]
    assert own_brands("@ACME", brands) == ("acme",)
    assert own_brands("acme_help@support.example", brands) == ("acme",)
    assert own_brands("@globex", brands) == ("globex",)
    assert own_brands("@alice", brands) == ()
