"""Values written to slip past the patterns while a model reads them unchanged: invisible
characters inside them, dashes and spaces of typesetting, Cyrillic and Greek letters drawn
like Latin ones, tag characters, e-mail addresses spelled out or bracketed; and the forms
people also write: a codice fiscale in spaced groups, a CURP in lower case, an Irish PPS
number with its letter set apart, a quoted local part.

Whatever is masked comes back exactly as the application sent it, invisible characters
included. None of this reports anything in text that holds no value (Russian and Greek
prose, "at" and "dot" in English, emoji sequences, bidi marks).
"""

from __future__ import annotations

import random

import pytest

from bench.pii.spans_digest import fuzz_texts
from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker
from byom_sdk.trust._pii.evasion import strip_invisible

MASKER = Masker([BuiltinDetector()])
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "left-to-right mark": "\u200e",
}
VALUES = [
    ("mail jane.doe@example.com please", "jane.doe@example.com", "EMAIL"),
    ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("card 4111111111111111 ok", "4111111111111111", "CREDIT_CARD"),
    ("IBAN DE89 3704 0044 0532 0130 00 ok", "DE89 3704 0044 0532 0130 00", "IBAN"),
    ("IBAN DE89370400440532013000 ok", "DE89370400440532013000", "IBAN"),
    ("call +44 20 7946 0958 ok", "+44 20 7946 0958", "PHONE"),
    ("SSN 536-90-4399 ok", "536-90-4399", "US_SSN"),
    ("NINO AB123456C ok", "AB123456C", "UK_NINO"),
    ("DNI 12345678Z ok", "12345678Z", "ES_NIF"),
    ("CF RSSMRA85T10A562S ok", "RSSMRA85T10A562S", "IT_FISCAL_CODE"),
]


def found(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize(("text", "value", "entity"), VALUES)
def test_invisible_characters_inside_a_value_are_masked_with_it(text: str, value: str, entity: str, char: str) -> None:
    middle = value[: len(value) // 2] + char + value[len(value) // 2 :]
    everywhere = char.join(value)
    for hidden in (middle, everywhere):
        assert found(text.replace(value, hidden)) == [(hidden, entity)]


def test_invisible_characters_round_trip_exactly(round_trip) -> None:
    prompt = (
        "Card 4111\u200b1111\u200b1111\u20601111, mail j\u00adane@exa\ufeffmple.com, IBAN D\u200dE89370400440532013000."
    )
    sent, answer = round_trip(prompt)
    assert "1111" not in sent and "mple.com" not in sent and "0532" not in sent
    assert answer == f"echo: {prompt}"  # the echoing model's answer, restored exactly


def test_invisible_characters_outside_values_are_left_where_they_are() -> None:
    text = "\u200bHi\u200b, call\u00a0\u200b+44 20 7946 0958\u200b now\ufeff"
    assert found(text) == [("+44 20 7946 0958", "PHONE")]


def test_the_invisible_characters_map_back_to_their_places() -> None:
    assert strip_invisible("plain text, no marks: ñ") is None
    text = "\u200ba\u200b\u200bb\u00adc\u2060"
    stripped = strip_invisible(text)
    assert stripped is not None
    visible, place = stripped
    assert visible == "abc"
    assert [text[place(k)] for k in range(3)] == ["a", "b", "c"]


def test_fuzzed_texts_read_the_same_with_invisible_characters_between_values() -> None:
    """Zero-width spaces dropped between any two characters: every value found in the clean
    text is found in the marked one, at the same characters."""
    rng = random.Random(7)
    for text in list(fuzz_texts(120, 5)):
        marked, where = [], []
        for char in text:
            where.append(len("".join(marked)))
            marked.append(char)
            if rng.random() < 0.05:
                marked.append("\u200b")
        noisy = "".join(marked)
        clean = {(s.start, s.end, s.entity) for s in MASKER.find(text)}
        back = set()
        for s in MASKER.find(noisy):
            start = where.index(s.start)  # a span starts on a visible character
            end = max(k for k, pos in enumerate(where) if pos < s.end) + 1
            back.add((start, end, s.entity))
        assert back == clean, text


@pytest.mark.parametrize("dash", ["\u2014", "\u2015", "\ufe58"], ids=["em dash", "horizontal bar", "small em dash"])
def test_em_dashes_and_bars_group_digits_as_hyphens_do(dash: str) -> None:
    for value, entity in (("4111-1111-1111-1111", "CREDIT_CARD"), ("536-90-4399", "US_SSN"), ("212-555-0134", "PHONE")):
        typed = value.replace("-", dash)
        assert found(f"Ref: {typed}") == [(typed, entity)]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("IBAN D\u041589 3704 0044 0532 0130 00", "D\u041589 3704 0044 0532 0130 00", "IBAN"),  # Cyrillic IE
        ("IBAN G\u041282 W\u0415ST 1234 5698 7654 32", "G\u041282 W\u0415ST 1234 5698 7654 32", "IBAN"),
        ("NINO \u0410\u0412123456C", "\u0410\u0412123456C", "UK_NINO"),  # Cyrillic A and VE
        ("NINO \u0410\u0412 12 34 56 \u0421", "\u0410\u0412 12 34 56 \u0421", "UK_NINO"),
        ("NINO \u0391\u0392123456C", "\u0391\u0392123456C", "UK_NINO"),  # Greek alpha and beta
        ("CF RSS\u041cR\u041085\u042210\u0410562S", "RSS\u041cR\u041085\u042210\u0410562S", "IT_FISCAL_CODE"),
        ("IBAN d\u043589370400440532013000", "d\u043589370400440532013000", "IBAN"),  # small Cyrillic ie
    ],
)
def test_letters_drawn_like_latin_ones_read_as_them(text: str, value: str, entity: str) -> None:
    assert found(text) == [(value, entity)]


def test_tag_characters_spelling_a_value_are_masked() -> None:
    smuggled = "".join(chr(0xE0000 + ord(c)) for c in "jane@example.com")
    assert found(f"note {smuggled} end") == [(smuggled, "EMAIL")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("write to jane[at]example.com", "jane[at]example.com"),
        ("write to jane(at)example(dot)com", "jane(at)example(dot)com"),
        ("write to Jane.Doe (AT) example.co.uk today", "Jane.Doe (AT) example.co.uk"),
        ("write to jane [at] example [dot] com", "jane [at] example [dot] com"),
        ("write to jane dot doe at example dot com", "jane dot doe at example dot com"),
        ("write to jane AT example DOT com", "jane AT example DOT com"),
        ("write to jane at mail dot example dot org", "jane at mail dot example dot org"),
        ("write to jane_doe [at] example [.] co [.] uk", "jane_doe [at] example [.] co [.] uk"),
        ("write to jane@example[.]com", "jane@example[.]com"),
        ("write to jane [@] example.com", "jane [@] example.com"),
        ("write to jane @ example . com", "jane @ example . com"),
        ("write to jane @ example.com", "jane @ example.com"),
        ('write to "jane doe"@example.com', '"jane doe"@example.com'),
    ],
)
def test_obfuscated_and_quoted_email_addresses_are_masked(text: str, value: str) -> None:
    assert found(text) == [(value, "EMAIL")]


def test_an_obfuscated_address_round_trips(round_trip) -> None:
    prompt = "Forward it to jane dot doe at example dot com and ops[at]example.org."
    sent, answer = round_trip(prompt)
    assert "jane" not in sent and "ops" not in sent
    assert answer == f"echo: {prompt}"  # the echoing model's answer, restored exactly


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("C.F. (RSC DOY 87R26 C971U)", "RSC DOY 87R26 C971U", "IT_FISCAL_CODE"),
        ("CF: RSS MRA 85T10 A562S, thanks", "RSS MRA 85T10 A562S", "IT_FISCAL_CODE"),
        ("codice fiscale rss mra 85t10 a562s", "rss mra 85t10 a562s", "IT_FISCAL_CODE"),
        ("CURP hegg560427mvzrrl04", "hegg560427mvzrrl04", "MX_CURP"),
        ("curp: Hegg560427MVZRRL04.", "Hegg560427MVZRRL04", "MX_CURP"),
        ("CURP boxw310820hnerxn09 ok", "boxw310820hnerxn09", "MX_CURP"),
        ("PPS 1234567 T", "1234567 T", "IE_PPS"),
        ("PPSN: 1234567 FA", "1234567 FA", "IE_PPS"),
        ("my PPS number is 7654321 G.", "7654321 G", "IE_PPS"),
    ],
)
def test_ids_in_the_forms_people_also_write(text: str, value: str, entity: str) -> None:
    assert found(text) == [(value, entity)]


@pytest.mark.parametrize(
    "text",
    [
        # prose with "at", "dot", brackets and a lone "@"
        "Look at the dot in the middle of the screen.",
        "Compute the dot product at index i dot j.",
        "contact us at our website dot com",
        "I am at google.com today, posted at reddit.com",
        "see arr[at] and arr[dot]; x = a[.] + b(.)",
        "meet @ 5pm at the cafe",
        'He said "ok" and left; "a"@b',
        # Cyrillic and Greek text with numbers
        "Паспорт серии АВ 123456 выдан 12.03.2010 с отметкой.",  # noqa: RUF001
        "ООО «ТЕХНО» ИНН 7707083893 КПП 773601001",  # noqa: RUF001
        "Разрешение 1920х1080 пикселей",  # noqa: RUF001
        "ΑΘΗΝΑ 2024 ΟΔΟΣ ΕΡΜΟΥ 12",  # noqa: RUF001
        # invisible characters that belong to the text, and dashes in ranges
        "emoji 👨\u200d👩\u200d👧 family 2024",
        "Persian: می\u200cخواهم 1234",  # noqa: RUF001
        "rtl \u202eevil\u202c text 12345",
        "years 1998—2004 and 2005―2010",
        # id shapes that fail their checks, or need a label
        "RSS MRA 85T10 A562X",
        "abc def 12g34 h567i",
        "hegg560427mvzrrl05",
        "HEGG560427MVZRRL05",
        "at 1234567 a day",
        "order 1234567 T",
    ],
)
def test_no_new_false_alarms(text: str) -> None:
    assert found(text) == []
