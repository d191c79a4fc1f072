"""National identity and tax numbers beyond Europe's big five: India (Aadhaar, PAN), Brazil
(CPF, CNPJ), Canada (SIN), Australia (TFN, Medicare), the Netherlands (BSN), Poland
(PESEL), Sweden (personnummer).

A number written the way it is printed is masked on its own; the same digits run together
are any number, masked only beside a label; a wrong check digit is never one.
"""

from __future__ import annotations

import pytest

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
        (in_aadhaar_valid, "234123412346", "234123412347"),  # python-stdnum's examples
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


def test_the_verhoeff_permutation_table_is_the_first_row_applied_again_and_again():
    """Row i of the table is row 1 applied i times (a typo in one row once let a third of
    real Aadhaar numbers through unmasked)."""
    from byom_sdk.trust._pii.national import _VERHOEFF_P

    row = list(range(10))
    for expected in _VERHOEFF_P:
        assert list(expected) == row
        row = [_VERHOEFF_P[1][x] for x in row]


def test_one_digit_repeated_and_impossible_dates_are_no_numbers():
    assert not br_cpf_valid("11111111111") and not br_cnpj_valid("00000000000000")
    assert not pl_pesel_valid("44133101350")  # month 13
    assert not se_personnummer_valid("8113329876")  # 32nd of a month


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Aadhaar 4991 1866 5246 on file", "4991 1866 5246", "IN_AADHAAR"),
        ("| Ravi Kumar | 4991 1866 5246 | Pune |", "4991 1866 5246", "IN_AADHAAR"),  # printed: no label needed
        ("Aadhaar no.499118665246 linked", "499118665246", "IN_AADHAAR"),  # "no." is no glue
        ("मेरा आधार नंबर 499118665246 है", "499118665246", "IN_AADHAAR"),
        ("PAN,Name\nSLKPG4832M,Anita Sharma", "SLKPG4832M", "IN_PAN"),  # a CSV column's label
        ("CPF nº12345678909", "12345678909", "BR_CPF"),
        ("CPF 123 456 789 09", "123 456 789 09", "BR_CPF"),
        ("Medicare: 2123 45670 1/1", "2123 45670 1/1", "AU_MEDICARE"),
        ("BSN 111 222 333", "111 222 333", "NL_BSN"),
        ("UID: 4991-1866-5246", "4991-1866-5246", "IN_AADHAAR"),
        ("my aadhaar is 499118665246", "499118665246", "IN_AADHAAR"),
        ("PAN ABCPE1234F.", "ABCPE1234F", "IN_PAN"),
        ("pan no. AAAPL1234C", "AAAPL1234C", "IN_PAN"),
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
        "order 499118665246 shipped",  # a valid Aadhaar, run together, no label
        "card: 4457.5499.8198.1514",  # dotted, Luhn fails
        "invoice 12345678909",  # a valid CPF, run together, no label
        "ticket 111222333 closed",  # a valid BSN, no label
        "Aadhaar 4991 1866 5247",  # wrong check digit
        "CPF 123.456.789-00",  # wrong check digits
        "SKU XYZCB1234Q",  # a PAN's shape, no label
        "Part no. XYZPQ9876K",
        "FedEx tracking: 5071 3260 1655",  # 4-4-4 and a valid Verhoeff digit after a shipping word
        "Order 4991 1866 5246 shipped",
        "Einwohner: 123.456.789",  # a count with thousands dots
        "CEP 01310-100",  # a Brazilian postcode
        "Códigos postales 28001 08001 41001",
        "amount: 987 654 321 PLN",
        "ZAR 123 456 789",
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


def test_national_numbers_leave_the_process_masked_and_come_back_restored(round_trip):
    prompt = "Update CPF 123.456.789-09, Aadhaar 4991 1866 5246 and BSN 1112.22.333 please."
    sent, answer = round_trip(prompt)
    for value in ("123.456.789-09", "4991 1866 5246", "1112.22.333"):
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
        ("手机号13912345678\uff0c请回电", "13912345678"),  # Chinese runs words together (a full-width comma)
        ("Mobile: 9820012345", "9820012345"),  # run together, beside its label
        ("Contato 11987654321", "11987654321"),
        ("Teléfono (33) 1234 5678", "(33) 1234 5678"),
        ("0091 98765 43210", "0091 98765 43210"),
        ("Tel: +86-10-6552-9988", "+86-10-6552-9988"),
    ],
)
def test_phones_dialled_without_a_trunk_prefix_in_their_usual_groupings(text, value):
    assert masked(text) == [(value, "PHONE")]


@pytest.mark.parametrize("text", ["postcodes 90210 94105 and more", "ids 12 3456 7890", "ref 11 2345 6789 done"])
def test_their_lookalikes_without_a_label_are_left_alone(text):
    assert masked(text) == []


def test_a_card_written_with_dots_is_masked_and_a_dotted_ip_stays_an_address():
    assert masked("card: 4457.5499.8198.1513") == [("4457.5499.8198.1513", "CREDIT_CARD")]
    assert masked("from 10.0.0.1 today") == [("10.0.0.1", "IP_ADDRESS")]
