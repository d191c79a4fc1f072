"""Classes of leaks and false alarms found by an independent review of the built-in detector
(its own corpus of phones in every country's groupings, labels written as keys, time
stamps, version strings and reference numbers), each fixed as a class:

- phones written with dots (``030.12345678``, ``612.34.56.78``, ``11.91234.5678``);
- short labels before ``=``, a tab or a JSON key's quote (``SIN=…``, ``"pan": "…"``);
- ``00`` numbers of countries without a numbering plan here (``00971 50 123 0625``);
- Mexican numbers with three-digit area codes (``222 123 4567``);
- an extension after a number that is also an id (``074104 11533 ext. 12``);
- personnummer in the future or shaped as time stamps, four-part versions read as IPv4,
  ``DDMMYY-HHMM``, phones inside longer numbers, slashed triples, purchase orders and
  13-digit checksummed numbers read as cards.
"""

from __future__ import annotations

import pytest

from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker
from byom_sdk.trust._pii.national import se_personnummer_valid

MASKER = Masker([BuiltinDetector()])


def masked(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


# -- phones written with dots ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Tel: 030.12345678", "030.12345678"),  # DE, one dot after the area code
        ("Tel: 0151.23456789 please", "0151.23456789"),
        ("Tel: 06.12345678", "06.12345678"),  # NL mobile
        ("Tel: 07700.900123", "07700.900123"),  # GB
        ("contact me on 0664.1234567", "0664.1234567"),  # AT
        ("Tel: 081234.51018", "081234.51018"),  # IN with its trunk 0
        ("Tel: 98765.43210", "98765.43210"),  # IN mobile without trunk: its label decides
        ("Tel: 612.34.56.78", "612.34.56.78"),  # ES, four dotted groups, 612 > 255
        ("Tel: 02.123.45.67", "02.123.45.67"),  # BE
        ("Tel: 012.34.30.73", "012.34.30.73"),  # BE, leading zero: no IPv4
        ("Tel. 12.345.70.51,", "12.345.70.51"),  # PL
        ("phone: 08.12.34.56", "08.12.34.56"),  # SE
        ("Tel: 11.91234.5678", "11.91234.5678"),  # BR mobile
        ("WhatsApp 11.2345.9575", "11.2345.9575"),  # BR fixed line
        ("Call me at 222.123.4567", "222.123.4567"),  # MX
        # unlabelled: a trunk 0 before the dot, or a dotted grouping no address has
        ("030.12345678", "030.12345678"),
        ("Kind regards,\nAnn\n01512.3455758\n", "01512.3455758"),
        ("(612.34.79.70)", "612.34.79.70"),
        ("reach me: 11.96123.6660", "11.96123.6660"),
    ],
)
def test_dotted_phones_are_found(text: str, value: str) -> None:
    assert (value, "PHONE") in masked(text)


@pytest.mark.parametrize(
    "text",
    [
        "14:22:07.123456",  # a time's seconds
        "ratio 12.3456789",  # a decimal without a trunk 0 needs a phone label
        "pi is 3.14159265",
        "0.123456789",
        "07.123456 s",  # a quantity
        "addr 01.02.03.004 end",  # an address mistyped
        "firmware 10.4.2.1000",
        "version 06.12345678",
        "The value 4.5.6.7890 x",
    ],
)
def test_dotted_decimals_and_versions_are_not_phones(text: str) -> None:
    assert masked(text) == []


def test_a_valid_address_labelled_as_a_phone_is_still_masked() -> None:
    assert masked("Tel: 91.130.50.24") == [("91.130.50.24", "IP_ADDRESS")]


# -- labels before "=", a tab, a JSON key's quote ----------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("SIN=291345668", "291345668", "CA_SIN"),
        ("SIN\t291345668", "291345668", "CA_SIN"),
        ('"sin": "291345668"', "291345668", "CA_SIN"),
        ("{'sin': '291345668'}", "291345668", "CA_SIN"),
        ("<sin>291345668</sin>", "291345668", "CA_SIN"),
        ("NAS=291345668", "291345668", "CA_SIN"),
        ("SIN#291345668", "291345668", "CA_SIN"),
        ("SIN no. 291345668", "291345668", "CA_SIN"),
        ("uid=499118665246", "499118665246", "IN_AADHAAR"),
        ("UID\t499118665246", "499118665246", "IN_AADHAAR"),
        ("PAN=ABCPE1234F", "ABCPE1234F", "IN_PAN"),
        ('"pan": "ABCPE1234F"', "ABCPE1234F", "IN_PAN"),
        ("PAN\tABCPE1234F", "ABCPE1234F", "IN_PAN"),
        ('"fin": "s1234567d"', "s1234567d", "SG_NRIC"),
    ],
)
def test_short_labels_before_any_separator(text: str, value: str, entity: str) -> None:
    assert (value, entity) in masked(text)


@pytest.mark.parametrize(
    "text",
    [
        "since 291345668",  # a whole word, not a prefix
        "single 291345668",
        "sinx=291345668",
        "pancake ABCPE1234F",
        "Span=ABCPE1234F",
        "uidx=499118665246",
        "fine s1234567d",
    ],
)
def test_short_labels_are_whole_words(text: str) -> None:
    assert masked(text) == []


# -- "00" and a country without a plan here ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "00971 50 123 0625",  # AE
        "0081 90-1234-5678",  # JP
        "0047 21 23 88 79",  # NO
        "00420 601 127 145",  # CZ
        "0054 9 11 2345-2019",  # AR
        "(0065 8123 5581)",  # SG
        "007 912 345-77-19",  # RU
        "0090 501 234 08 59",  # TR
    ],
)
def test_00_numbers_without_a_plan_are_phones(text: str) -> None:
    value = text.strip("()")
    assert masked(text) == [(value, "PHONE")]


@pytest.mark.parametrize(
    "text",
    [
        "00971 501230625",  # the country code and one group: zero-padded as often
        "0012 3456 7890",  # "0012" is no country code's own group
        "order 0081 2345 6789",  # labelled as something else
        "0099 123 456 789",  # 99x is no assigned code
    ],
)
def test_zero_padded_numbers_are_not_00_phones(text: str) -> None:
    assert masked(text) == []


def test_00_numbers_still_take_their_label() -> None:
    assert masked("Tel: 00971 501230625") == [("00971 501230625", "PHONE")]


# -- Mexico's three-digit area codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Tel: 222 123 4567", "222 123 4567"),
        ("222 123 4567", "222 123 4567"),
        ("(222) 123 4567", "(222) 123 4567"),
        ("Tel: 442-123-4567", "442-123-4567"),
        ("998.123.4567", "998.123.4567"),
        ("WhatsApp 222 123 7753 ext. 12", "222 123 7753 ext. 12"),
    ],
)
def test_mexican_three_digit_area_codes(text: str, value: str) -> None:
    assert masked(text) == [(value, "PHONE")]


@pytest.mark.parametrize("text", ["222 012 3456", "555-011-0134", "123 456 7890"])
def test_mexican_plan_keeps_its_leading_digits(text: str) -> None:
    assert masked(text) == []


# -- an extension makes a phone ---------------------------------------------------------------------


def test_an_extension_after_an_id_shaped_number_is_a_phone() -> None:
    assert masked("074104 11533 ext. 12") == [("074104 11533 ext. 12", "PHONE")]
    assert masked("Kind regards,\nAnn\n074104 14095 ext. 12\n") == [("074104 14095 ext. 12", "PHONE")]


# -- personnummer: not born in the future, not a time stamp ---------------------------------------


def test_personnummer_born_in_the_future_is_invalid() -> None:
    assert not se_personnummer_valid("209912310008")
    assert not se_personnummer_valid("203008170841")
    assert se_personnummer_valid("198112189876")
    assert se_personnummer_valid("8112189876")  # its century is the one in the past


@pytest.mark.parametrize(
    "text",
    [
        "20300817-0841",  # in the future
        "personnummer 20991231-0008",
        "build 20181214-0554",  # YYYYMMDD-HHMM since 2000
        "080305-1713",  # DDMMYY-HHMM
        "010136-1901",  # DDMMYY-HHMM, not a phone either
        "040262-0759",
    ],
)
def test_time_stamps_are_not_personnummer_or_phones(text: str) -> None:
    assert masked(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("19811218-9876", "19811218-9876"),  # born before 2000: no label needed
        ("811218-9876", "811218-9876"),
        ("personnummer: 20181214-0554", "20181214-0554"),  # a time stamp's shape with its label
        ("personnummer 20021211-2122", "20021211-2122"),
    ],
)
def test_personnummer_still_found(text: str, value: str) -> None:
    assert masked(text) == [(value, "SE_PERSONNUMMER")]


# -- four-part versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "upgrade to 1.2.3.4",
        "Python 3.11.7.1",
        "update to 10.4.2.1 fixed it",
        "driver 4.13.136.180",
        "upgraded to 6.22.195.240",
        "running 11.6.197.236 in prod",
        "installed 9.1.23.92 yesterday",
        "11.27.43.202 fixed it",
        "bumped java to 1.8.0.292",
        "v 2.1.0.7",
    ],
)
def test_four_part_versions_are_not_addresses(text: str) -> None:
    assert masked(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("host 10.0.0.1 is down", "10.0.0.1"),
        ("ssh admin@10.0.0.1", "10.0.0.1"),
        ("https://10.0.0.1:8443/api", "10.0.0.1"),
        ("login from 192.168.1.10", "192.168.1.10"),
        ("running on 10.0.0.5", "10.0.0.5"),
        ("server 10.4.2.1", "10.4.2.1"),
        ("client 10.4.2.1 fixed", "10.4.2.1"),
        ("node 10.0.0.5 is down", "10.0.0.5"),
    ],
)
def test_addresses_stay_addresses(text: str, value: str) -> None:
    assert masked(text) == [(value, "IP_ADDRESS")]


# -- numbers inside other numbers, slashes, purchase orders, 13-digit Luhn ----------------------------


@pytest.mark.parametrize(
    "text",
    [
        "FedEx 9396 0551 8177",  # no phone inside a longer run of groups
        "FedEx 0841 0198 2111",
        "tracking 0841 0198 2111",
        "S/N 7781 0612 3456 78",
        "Serial 1234 0221 6479 2002",
        "426/962/4149",  # three numbers joined by slashes
        "x = 733/480/7034",
        "PO 095678-736",
        "checksum 4079138682463",  # a 13-digit Luhn number starting 4
        "id 4222222222222",
    ],
)
def test_numbers_that_are_not_phones_or_cards(text: str) -> None:
    assert masked(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4079138682463", [("4079138682463", "CREDIT_CARD")]),
        ("Visa 4222222222222", [("4222222222222", "CREDIT_CARD")]),
        ("card: 4222 2222 2222 2", [("4222 2222 2222 2", "CREDIT_CARD")]),
        ("0221/64792002", [("0221/64792002", "PHONE")]),
        (
            "Tel 0221 64792002 0221 64792003",
            [("0221 64792002", "PHONE"), ("0221 64792003", "PHONE")],
        ),
        ("2024-05-03 0221 64792002", [("0221 64792002", "PHONE")]),
    ],
)
def test_cards_and_phones_still_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert masked(text) == expected
