"""Values the corpus's other seeds found leaking or masked wrongly, each a class of text:
a value followed by a token glued to a word (an ISO timestamp in parentheses), a phone
number before a date written with slashes, a lettered id that is a part number's tail,
and a short random token that repeats characters by chance.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker

MASKER = Masker([BuiltinDetector()])


def masked(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Steuer-ID: 85 379 341 064 (2022-09-15T17:46:56Z)", "85 379 341 064", "DE_TAX_ID"),
        ("Cell. 0286787210 (2024-10-21T07:01:42Z)", "0286787210", "PHONE"),
        ("Creditcard: 2720564140689670 (2024-08-08T07:00:00Z)", "2720564140689670", "CREDIT_CARD"),
        ("call +44 20 7946 0958 2024-01-15T10:00Z", "+44 20 7946 0958", "PHONE"),
    ],
)
def test_a_value_before_a_token_glued_to_a_word_is_read_without_it(text: str, value: str, entity: str) -> None:
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize("text", ["ORD 2024 004512abc", "build 1.2.3 2024-01-15T10:00Z", "id 12345 67890abc"])
def test_what_stays_glued_to_a_word_is_still_no_value(text: str) -> None:
    assert masked(text) == []


def test_a_phone_before_a_date_with_slashes_ends_before_the_date() -> None:
    assert masked("Telefono: 0288964946 (13/12/2020)\n") == [("0288964946", "PHONE")]
    # A card's expiry after a slash still ends the card.
    assert masked("card 4111 1111 1111 1111/12/27 ok") == [("4111 1111 1111 1111", "CREDIT_CARD")]


@pytest.mark.parametrize(
    "text",
    ["ref: sku-y9824359-s today", "item pn_x1234567-l shipped", "see part.12345678z now", "code a/x1234567l"],
)
def test_a_lettered_id_joined_to_a_word_is_part_of_that_word(text: str) -> None:
    assert masked(text) == []


def test_the_same_ids_standing_alone_are_masked() -> None:
    assert masked("NIE x-1234567-l") == [("x-1234567-l", "ES_NIE")]
    assert masked("DNI 12345678Z") == [("12345678Z", "ES_NIF")]


def _entropy(value: str) -> float:
    return -sum(c / len(value) * math.log2(c / len(value)) for c in Counter(value).values())


def test_short_random_tokens_that_repeat_characters_by_chance_are_masked() -> None:
    assert masked('"access_token": "00b77400e0d34087233530203703308d",') == [
        ("00b77400e0d34087233530203703308d", "API_KEY")
    ]
    rng = random.Random(11)
    tokens = [
        t
        for t in ("".join(rng.choice("0123456789abcdef") for _ in range(16)) for _ in range(3000))
        if 2.5 <= _entropy(t) < 3.0 and any(c.isalpha() for c in t) and any(c.isdigit() for c in t)
    ]
    assert len(tokens) > 100  # one random 16-digit hex token in seven measures under 3 bits
    for token in tokens:
        assert masked(f"api_key = {token}") == [(token, "API_KEY")], token


@pytest.mark.parametrize("value", ["aaaaaaaa11111111", "abab1212abab1212", "0000000000000001x"])
def test_repetitive_values_under_a_secret_name_stay(value: str) -> None:
    assert masked(f"api_key = {value}") == []


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("DNI-12345678Z", "12345678Z", "ES_NIF"),
        ("N.I.F.12345678Z", "12345678Z", "ES_NIF"),
        ("NIF/12345678Z", "12345678Z", "ES_NIF"),
        ("NIE-X1234567L", "X1234567L", "ES_NIE"),
        ("NI No.AB123456C", "AB123456C", "UK_NINO"),
        ("Nº.12345678Z", "12345678Z", "ES_NIF"),
    ],
)
def test_a_label_joined_to_its_id_by_punctuation_is_a_label_not_a_word(text: str, value: str, entity: str) -> None:
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize("text", ["Open 0800 1200 1300 1700hrs daily", "Lot 2024 0315 1234 567B"])
def test_only_an_iso_timestamp_is_cut_off_a_run_glued_to_a_word(text: str) -> None:
    assert masked(text) == []
