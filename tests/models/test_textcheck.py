"""Which texts are left unscored, and why."""

from __future__ import annotations

import pytest

from models.textcheck import EMPTY, NO_TEXT, UNSUPPORTED_LANGUAGE, check_text, strip_noise


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_blank_is_empty(text: str) -> None:
    assert check_text(text).unscored_reason == EMPTY


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/x?y=1", "@acme @support", "🎉🔥😀", "!!! ... ???",
        "@acme https://t.co/abc 🙄 !!", "12345 :-)",
    ],
)
def test_no_words_is_no_text(text: str) -> None:
    assert check_text(text).unscored_reason == NO_TEXT


def test_unsupported_language_is_refused() -> None:
    # Maltese is not among multilingual-e5's pretraining languages.
    check = check_text("Il-prodott huwa tajjeb ħafna u nixtieq nixtrih mill-ġdid, grazzi ħafna lill-impjegati")
    assert check.unscored_reason == UNSUPPORTED_LANGUAGE
    assert check.language == "mt"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("@acme my order never arrived and nobody answers", "en"),
        ("注文した商品がまだ届きません。", "ja"),
        ("Ich liebe dieses Produkt, es funktioniert wunderbar", "de"),
    ],
)
def test_supported_text_is_scored_with_language(text: str, lang: str) -> None:
    check = check_text(text)
    assert check.unscored_reason is None
    assert check.language == lang


def test_strip_noise_keeps_words_and_hashtags() -> None:
    assert strip_noise("@acme see https://x.io/a #fail now").split() == ["see", "#fail", "now"]
