"""A number followed by a unit of measure is a quantity, not a phone number (and a lottery
draw is no phone either).

"The speed of light is 299 792 458 m/s" is grouped like a Spanish or French number; with
its unit it is a measurement. Only unlabelled phone guesses give way: a phone with a
context word, an international number, and checksummed values (cards, IBANs, national ids)
are still found whatever follows them, and a one-letter word after a number ("m. Smith",
"s'il vous plaît") is no unit.
"""

from __future__ import annotations

import pytest

from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker

MASKER = Masker([BuiltinDetector()])


def found(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "The speed of light is 299 792 458 m/s.",
        "The speed of light is 299\xa0792\xa0458\xa0m/s.",
        "It weighs 1 048 576 kg, really",
        "Disk: 1 048 576 KB free",
        "Disk: 1 048 576 MiB free",
        "Frequency 2 412 000 kHz",
        "Earth's circumference is 40 075 017 m\nand more",
        "Area 510 072 000 km² in total",
        "Output 612 345 678 kWh last year",
        "Pressure 101 325 Pa, roughly 1 013 250 hPa",
        "Transfer 612 345 678 bytes done",
        "Sampled 912 345 678 ms after boot",
    ],
)
def test_a_number_with_a_unit_is_no_phone(text):
    assert not [value for value, entity in found(text) if entity == "PHONE"], found(text)


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Call 912 345 678 m. Smith", "912 345 678", "PHONE"),  # an initial, not metres
        ("Call me on 0171 234 5678 s'il vous plait", "0171 234 5678", "PHONE"),
        ("Tel 06 12 34 56 78 ms. Dupont", "06 12 34 56 78", "PHONE"),  # labelled: stays
        ("Ring +33 6 12 34 56 78 m/s", "+33 6 12 34 56 78", "PHONE"),  # international: stays
        ("card 4111 1111 1111 1111 mb", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("SSN 536-90-4399 ms", "536-90-4399", "US_SSN"),
        ("IBAN DE89 3704 0044 0532 0130 00 km", "DE89 3704 0044 0532 0130 00", "IBAN"),
        ("Call 020 7946 0958 or 020 7946 0959", "020 7946 0959", "PHONE"),
    ],
)
def test_values_before_a_unit_like_word_are_still_found(text, value, entity):
    assert (value, entity) in found(text), found(text)


def test_no_part_of_a_quantity_is_reported_instead():
    # Dropping the whole run's guess must not leave a shorter guess inside it.
    assert found("06 12 34 56 78 ms after the start") == []


@pytest.mark.parametrize(
    "text",
    [
        "Lottery numbers: 04 11 23 35 42 48",
        "Lotto numbers 04 11 23 35 42 48",
        "Die Lottozahlen: 04 11 23 35 42 48",
        "Winning numbers: 04 11 23 35 42",
    ],
)
def test_lottery_draws_are_no_phones(text):
    assert found(text) == []


def test_a_phone_of_a_lottery_office_is_still_a_phone():
    assert found("Lottery office phone: 04 11 23 35 42") == [("04 11 23 35 42", "PHONE")]
