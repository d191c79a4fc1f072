"""National identity and tax numbers beyond Europe's big five: India (Aadhaar, PAN), Brazil
(CPF, CNPJ), Canada (SIN), Australia (TFN, Medicare), the Netherlands (BSN), Poland
(PESEL), Sweden (personnummer).

A number written the way it is printed is masked on its own; the same digits run together
are any number, masked only beside a label; a wrong check digit is never one.
"""

from __future__ import annotations

import pytest

import byom_sdk
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker
from byom_sdk.trust._pii.national import (
    au_medicare_valid,
    au_tfn_valid,
    br_cnpj_valid,
    br_cpf_valid,
    ca_sin_valid,
    in_aadhaar_valid,
    nl_bsn_valid,
    pl_pesel_valid,
    se_personnummer_valid,
)

MASKER = Masker([BuiltinDetector()])


def masked(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    ("valid", "good", "bad"),
    [
        (in_aadhaar_valid, "491417776314", "491417776315"),
        (br_cpf_valid, "12345678909", "12345678900"),
        (br_cnpj_valid, "11222333000181", "11222333000182"),
        (ca_sin_valid, "046454286", "046454287"),
        (au_tfn_valid, "123456782", "123456783"),
        (au_medicare_valid, "2123456701", "2123456791"),
        (nl_bsn_valid, "111222333", "111222334"),
        (pl_pesel_valid, "44051401359", "44051401358"),
        (se_personnummer_valid, "8112189876", "8112189875"),
    ],
)
def test_check_digits(valid, good, bad):
    assert valid(good) and not valid(bad)


def test_one_digit_repeated_and_impossible_dates_are_no_numbers():
    assert not br_cpf_valid("11111111111") and not br_cnpj_valid("00000000000000")
    assert not pl_pesel_valid("44133101350")  # month 13
    assert not se_personnummer_valid("8113329876")  # 32nd of a month


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Aadhaar 4914 1777 6314 on file", "4914 1777 6314", "IN_AADHAAR"),
        ("ref 4914-1777-6314", "4914-1777-6314", "IN_AADHAAR"),
        ("my aadhaar is 491417776314", "491417776314", "IN_AADHAAR"),
        ("PAN ABCPE1234F.", "ABCPE1234F", "IN_PAN"),
        ("holder AAAPL1234C", "AAAPL1234C", "IN_PAN"),  # a person's PAN (P) needs no label
        ("CPF 123.456.789-09", "123.456.789-09", "BR_CPF"),
        ("cpf: 12345678909", "12345678909", "BR_CPF"),
        ("CNPJ 11.222.333/0001-81", "11.222.333/0001-81", "BR_CNPJ"),
        ("SIN: 046 454 286", "046 454 286", "CA_SIN"),
        ("TFN 123 456 782", "123 456 782", "AU_TFN"),
        ("Medicare card 2123 45670 1", "2123 45670 1", "AU_MEDICARE"),
        ("BSN 1112.22.333", "1112.22.333", "NL_BSN"),
        ("burgerservicenummer 111222333", "111222333", "NL_BSN"),
        ("PESEL 44051401359", "44051401359", "PL_PESEL"),
        ("personnummer 811218-9876", "811218-9876", "SE_PERSONNUMMER"),
        ("born 19811218-9876", "19811218-9876", "SE_PERSONNUMMER"),
    ],
)
def test_each_number_is_masked_as_written(text, value, entity):
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize(
    "text",
    [
        "order 491417776314 shipped",  # a valid Aadhaar, run together, no label
        "invoice 12345678909",  # a valid CPF, run together, no label
        "ticket 111222333 closed",  # a valid BSN, no label
        "Aadhaar 4914 1777 6315",  # wrong check digit
        "CPF 123.456.789-00",  # wrong check digits
        "SKU XYZCB1234Q",  # a firm's PAN shape (C), no label
        "ABCPE1234F5",  # glued to more characters
    ],
)
def test_unlabelled_runs_and_wrong_check_digits_are_left_alone(text):
    assert masked(text) == []


def test_a_cnpj_that_is_also_a_valid_card_number_goes_by_its_label():
    number = "39388227000191"  # a valid CNPJ and a valid Diners number
    assert br_cnpj_valid(number)
    assert masked(f"CNPJ: {number}") == [(number, "BR_CNPJ")]
    assert masked(f"card {number}") == [(number, "CREDIT_CARD")]


def test_national_numbers_leave_the_process_masked_and_come_back_restored():
    backend = ScriptedModel()  # echoes the prompt it received
    prompt = "Update CPF 123.456.789-09, Aadhaar 4914 1777 6314 and BSN 1112.22.333 please."
    with byom_sdk.Client(models={"m": backend}, trust="on", policy={"audit": {"sink": "memory"}}) as client:
        answer = client.model("m").generate(prompt).text
    request = backend.requests[-1]
    assert isinstance(request, byom_sdk.GenerateRequest)
    sent = request.as_messages()[-1].content
    for value in ("123.456.789-09", "4914 1777 6314", "1112.22.333"):
        assert value not in sent
        assert value in answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Mobile: 98765 43210", "98765 43210"),  # India, with a label
        ("my number is 98765-43210", "98765-43210"),
        ("Celular: (11) 91234-5678", "(11) 91234-5678"),  # Brazil, mobile
        ("ligue (21) 2345-6789", "(21) 2345-6789"),  # Brazil, landline: parentheses suffice
        ("fone 11 91234-5678", "11 91234-5678"),
        ("Tel: 55 1234 5678", "55 1234 5678"),  # Mexico City
        ("call 138 0013 8000", "138 0013 8000"),  # China, mobile
        ("手机 138-0013-8000", "138-0013-8000"),
    ],
)
def test_phones_dialled_without_a_trunk_prefix_in_their_usual_groupings(text, value):
    assert masked(text) == [(value, "PHONE")]


@pytest.mark.parametrize("text", ["postcodes 90210 94105 and more", "ids 12 3456 7890", "ref 11 2345 6789 done"])
def test_their_lookalikes_without_a_label_are_left_alone(text):
    assert masked(text) == []
