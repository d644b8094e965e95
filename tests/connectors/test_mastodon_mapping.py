"""Pure mapping of Mastodon statuses (fixtures shaped as in apis.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors._parse import MalformedItemError
from connectors.base import BrandView
from connectors.mastodon import MastodonConfig, status_text, to_mention, to_reply
from tests.connectors.fake_mastodon import load_fixture

STATUSES = {s["id"]: s for s in load_fixture("statuses.json")}
NOTIFICATIONS = load_fixture("notifications.json")


def test_customer_status_to_mention(brands: list[BrandView]) -> None:
    mention = to_mention(STATUSES["110000000000000101"], source="fedi", brands=brands, home="mastodon.example")
    assert mention.external_id == "110000000000000101"
    assert mention.text == "My #acme order never arrived and support is silent & useless"
    assert mention.author == "@alice@remote.example"
    assert mention.author_name == "Alice"
    assert mention.author_followers == 120
    assert mention.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert mention.url == "https://remote.example/@alice/1"
    assert mention.lang == "en"
    assert mention.in_reply_to is None
    assert mention.brands == ("acme",)
    assert mention.key == "fedi:110000000000000101"


def test_content_warning_and_hidden_link_parts_are_kept() -> None:
    text = status_text(STATUSES["110000000000000105"])
    assert text == (
        "acme billing rant\n\nCharged twice this month. #acme\n\n"
        "Second paragraph: https://example.com/receipts/2026/01"
    )


def test_line_breaks_survive() -> None:
    assert status_text(STATUSES["110000000000000102"]) == "Love the new Acme app!\nDark mode at last #acme"


def test_japanese_keyword(brands: list[BrandView]) -> None:
    mention = to_mention(STATUSES["110000000000000106"], source="fedi", brands=brands)
    assert mention.brands == ("acme",)
    assert mention.lang == "ja"


def test_mentioning_a_brand_account_attributes_the_brand(brands: list[BrandView]) -> None:
    status = NOTIFICATIONS[0]["status"]  # "@acme my router keeps rebooting, any fix?"
    only_handle = [BrandView(name="acme", keywords=(), handles=("@acme@mastodon.example",))]
    mention = to_mention(status, source="fedi", brands=only_handle, home="mastodon.example")
    assert mention.brands == ("acme",)
    # Without a handle for this instance the mention is attributed to nobody.
    elsewhere = [BrandView(name="acme", keywords=(), handles=("@acme@elsewhere.example",))]
    assert to_mention(status, source="fedi", brands=elsewhere, home="mastodon.example").brands == ()


def test_brand_status_to_reply() -> None:
    reply = to_reply(STATUSES["110000000000000103"], source="fedi")
    assert reply.in_reply_to == "110000000000000101"
    assert reply.mention_key == "fedi:110000000000000101"
    assert reply.author == "@acme"
    assert reply.created_at == datetime(2026, 1, 5, 8, 20, tzinfo=UTC)
    assert reply.text.startswith("@alice So sorry!")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"id": None}, "no id"),
        ({"account": None}, "no account.acct"),
        ({"account": {"id": "1"}}, "no account.acct"),
        ({"created_at": "soon"}, "bad created_at"),
        ({"created_at": None}, "missing created_at"),
    ],
)
def test_malformed_statuses(change: dict[str, object], why: str, brands: list[BrandView]) -> None:
    status = {**STATUSES["110000000000000101"], **change}
    with pytest.raises(MalformedItemError, match=why):
        to_mention(status, source="fedi", brands=brands)


def test_reply_needs_a_target() -> None:
    with pytest.raises(MalformedItemError, match="answers nothing"):
        to_reply(STATUSES["110000000000000104"], source="fedi")


def test_config_validation() -> None:
    config = MastodonConfig.model_validate({"base_url": "https://Mastodon.Example/", "hashtags": ["#Acme", "support"]})
    assert config.base_url == "https://Mastodon.Example"
    assert config.hashtags == ("Acme", "support")
    assert config.home_domain == "mastodon.example"
    assert MastodonConfig(base_url="http://127.0.0.1:8080", instance_domain="acme.social").home_domain == "acme.social"
    with pytest.raises(ValueError, match="needs access_token"):
        MastodonConfig(base_url="https://m.example", notifications=True)
    with pytest.raises(ValueError, match="http\\(s\\) URL"):
        MastodonConfig(base_url="mastodon.social")
    with pytest.raises(ValueError, match="less than or equal to 40"):
        MastodonConfig(base_url="https://m.example", limit=80)
