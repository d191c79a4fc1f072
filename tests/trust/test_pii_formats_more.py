"""Ids written the everyday way rather than the printed one: IBANs, NINOs, DNIs and NIEs in
lower case, IBANs in dashed groups, and the Swedish personnummer of a holder aged 100 (its
``+``). Each is held to the rules of its printed form (checksum, country length, allocated
letters, label), and look-alikes of the same shape are left alone.
"""

from __future__ import annotations

import pytest

from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker

MASKER = Masker([BuiltinDetector()])

# 12345693 % 23 picks "Y", the Spanish word "and": "12345693 y …" reads as a DNI and a word.
Y_NUMBER = "12345693"


def masked(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        # IBANs in lower or mixed case, and in dashed groups
        ("IBAN: gb82 west 1234 5698 7654 32", "gb82 west 1234 5698 7654 32", "IBAN"),
        ("account de89370400440532013000 thanks", "de89370400440532013000", "IBAN"),
        ("Iban: De89 3704 0044 0532 0130 00.", "De89 3704 0044 0532 0130 00", "IBAN"),
        ("please pay GB82west12345698765432 today", "GB82west12345698765432", "IBAN"),
        ("IBAN GB82-WEST-1234-5698-7654-32", "GB82-WEST-1234-5698-7654-32", "IBAN"),
        ("IBAN DE89-3704-0044-0532-0130-00", "DE89-3704-0044-0532-0130-00", "IBAN"),
        ("konto nl91-abna-0417-1643-00", "nl91-abna-0417-1643-00", "IBAN"),
        ("iban it60x0542811101000000123456", "it60x0542811101000000123456", "IBAN"),  # a one-letter CIN
        ("iban ge29 nb00 0000 0101 9049 17", "ge29 nb00 0000 0101 9049 17", "IBAN"),  # a two-letter bank code
        ("iban: fr14 2004 1010 0505 0001 3m02 606", "fr14 2004 1010 0505 0001 3m02 606", "IBAN"),
        # UK NINO, Spanish DNI and NIE in lower case
        ("NINO ab 12 34 56 c", "ab 12 34 56 c", "UK_NINO"),
        ("ni number: ab123456c", "ab123456c", "UK_NINO"),
        ("| Ann | ab123456c |", "ab123456c", "UK_NINO"),  # no label needed, as for AB123456C
        ("NINO: ab 123456 c", "ab 123456 c", "UK_NINO"),  # letters apart: with the label
        ("DNI 12345678z", "12345678z", "ES_NIF"),
        ("socio 12345678-z", "12345678-z", "ES_NIF"),
        ("dni: 12.345.678-z", "12.345.678-z", "ES_NIF"),
        ("dni 12345678 z", "12345678 z", "ES_NIF"),  # letter apart: with the label
        ("NIE x1234567l", "x1234567l", "ES_NIE"),
        ("socio x-1234567-l", "x-1234567-l", "ES_NIE"),
        ("nie x 1234567 l", "x 1234567 l", "ES_NIE"),
        # Swedish personnummer with "+": the holder is 100 or older
        ("personnummer 121212+1212", "121212+1212", "SE_PERSONNUMMER"),
        ("born 121212+1212, Uppsala", "121212+1212", "SE_PERSONNUMMER"),
        ("personnummer=121212+1212", "121212+1212", "SE_PERSONNUMMER"),
    ],
)
def test_each_form_is_masked(text, value, entity):
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize(
    "text",
    [
        # IBAN-shaped but no IBAN: wrong check digits (and nothing else is read inside),
        # two separators, too few groups, running on, a UUID's groups, a part number
        "IBAN? gb00 west 1234 5698 7654 32",
        "IBAN? de00 3704 0044 0532 0130 00",
        "IBAN? DE00-3704-0044-0532-0130-00",
        "iban de89 3704-0044-0532-0130-00",
        "code de12-3456-7890",
        "item nl62 kx7a 047698 shipped",
        "de89-3704-0044-0532-0130-00-77",
        "request_id=5c203f66-98a1-4b2c-9d3e-de8937040044",
        "ref pn-4711-0815-22",
        "sha 1de89370400440532013000",
        # NINO/DNI/NIE-shaped: unallocated letters, wrong letters, letters that are words
        "NI number: qq 12 34 56 c",  # Q is never allocated (QQ 12 34 56 C is not masked either)
        "abcd123456c",
        "ab1234567c",
        "build 12345678a",  # 12345678's letter is Z
        "x1234567a",  # X1234567's letter is L
        "seen at 123456 a day",  # a two-letter word, six digits, "a": no NINO without its label
        f"entre {Y_NUMBER} y 87654321",  # the Spanish "y" after an 8-digit number
        "x 1234567 l ok",
        # "+" between six and four digits: a wrong check digit, no date, a sum
        "121212+1213",
        "121312+1212",
        "+121212+1212",
        "121212+1212-5",
        "121212+1212=242424",
        "v121212+1212",
        "121212+12123",
        # PAN-shaped codes without a PAN label, in either case
        "SKU XYZCB1234Q",
        "sku abcpe1234f",
    ],
)
def test_look_alikes_are_left_alone(text):
    assert masked(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "NINO AB 12 34 56 C",
        "NINO: AB123456C",
        "AB 12 34 56 C",
        "NINO: AB 123456 C",
        "DNI 12345678Z",
        "12345678-Z",
        "NIE X1234567L",
        "X-1234567-L",
        "NI number: QQ 12 34 56 C",
        "ABCD123456C",
        "12345678A",
        "X1234567A",
    ],
)
def test_lower_case_follows_the_upper_case_rules(text):
    """A NINO, DNI or NIE in lower case is masked where, and only where, its upper-case
    form is (letters glued or joined by "-"; the same checksums and allocated letters)."""
    assert masked(text.lower()) == [(value.lower(), entity) for value, entity in masked(text)]


def test_an_upper_case_letter_apart_needs_no_label_but_a_lower_case_one_does():
    assert masked("12345678 Z") == [("12345678 Z", "ES_NIF")]
    assert masked("12345678 z") == []
    assert masked("DNI 12345678 z") == [("12345678 z", "ES_NIF")]


def test_a_phone_after_a_lower_case_word_letter_is_still_a_phone():
    """A lower-case letter apart from a number is read as a word when no label makes it an
    id's letter, so the number is read as any other."""
    assert masked("seen at 123456 a day; call 020 7946 0958") == [("020 7946 0958", "PHONE")]


def test_written_forms_leave_the_process_masked_and_come_back_restored(round_trip):
    values = ("gb82 west 1234 5698 7654 32", "DE89-3704-0044-0532-0130-00", "ab 12 34 56 c", "x1234567l", "121212+1212")
    prompt = "Update iban {}, IBAN {}, NINO {}, NIE {} and personnummer {} please.".format(*values)
    sent, answer = round_trip(prompt)
    for value in values:
        assert value not in sent
        assert value in answer


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("PAN: abcpe1234f", "abcpe1234f", "IN_PAN"),
        ("my pan card Abcpe1234F please", "Abcpe1234F", "IN_PAN"),
        ("codice fiscale rssmra85t10a562s", "rssmra85t10a562s", "IT_FISCAL_CODE"),
        ("CF: Rssmra85T10a562s.", "Rssmra85T10a562s", "IT_FISCAL_CODE"),
        ("NIR 2 84 05 2a 004 012 69", "2 84 05 2a 004 012 69", "FR_NIR"),
    ],
)
def test_ids_typed_in_lower_or_mixed_case(text, value, entity):
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize("nir", ["2 84 05 2a 004 012 69", "2 84 05 2A 004 012 69"])
def test_a_corsican_nir_beside_text_beyond_latin_1_is_found_in_either_case(nir):
    # An emoji keeps the text out of the byte scans: the NIR is read on the text itself.
    assert masked(f"🎉 NIR {nir}") == [(nir, "FR_NIR")]


@pytest.mark.parametrize(
    "text",
    [
        "codice fiscale rssmra85t10a562x",  # the check letter is wrong
        "ref abcpe1234f shipped",  # a PAN's shape without a label: a SKU as much as a PAN
        "sku abcde1234f",  # no PAN holder kind in fourth place
        "xrssmra85t10a562s and rssmra85t10a562sx",  # glued to a word
        "NIR 2 84 05 2a 004 012 70",  # the key is wrong
        "hash 2a2b2a2b 12345 2b",
    ],
)
def test_lower_case_lookalikes_stay(text):
    assert masked(text) == []


_PIECES = (
    "0", "1", "2", "9", "12", "345", "2345", "121212", "1212", "12345678", "1234567", "+", "-", " ", " ", ".", "/",
    "(", ")", "x", "\n", "a", "b", "z", "y", "l", "ab", "de", "gb", "DE", "GB", "de89", "gb82", "GB82", "west",
    "WEST", "nb", "3704", "0044", "x-", "-l", "iban ", "DNI ", "NINO ", "pnr ", "=", "é", "ß", "²", "\uff11", "٣",
)  # fmt: skip


def test_the_written_forms_never_fail_on_odd_text():
    """Every piece the new paths look at, thrown together, and digits mixed with their
    separators and letters character by character (the detector runs on every prompt: a
    crash here fails the call)."""
    import random

    rng = random.Random(5)
    detector = BuiltinDetector()
    chars = "0123456789" * 4 + " +-./()xXabcdeglnswyzDEGBLZé"
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    texts += ["".join(rng.choice(chars) for _ in range(rng.randint(5, 30))) for _ in range(5000)]
    texts += ["1.2345+1212", "12 345+1212", "1-2345+1212", "12/345+1212", "(1234)+1212", "1234.5+1212", "121212+"]
    for text in texts:
        for span in detector.find(text):
            assert 0 <= span.start < span.end <= len(text)
