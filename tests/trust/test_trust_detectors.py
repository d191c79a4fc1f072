"""Built-in detectors: positive and negative cases, checksums and issuer ranges."""

from __future__ import annotations

import pytest

from byom_sdk.trust import BuiltinDetector
from byom_sdk.trust._detectors import card_brand, iban_valid, luhn_valid, resolve_overlaps, ssn_valid
from byom_sdk.trust._masking import Masker


@pytest.fixture(scope="module")
def masker():
    return Masker([BuiltinDetector()])


def found(masker, text):
    return [(s.entity, text[s.start : s.end]) for s in masker.find(text)]


def entities(masker, text):
    return [e for e, _ in found(masker, text)]


# -- checksums -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digits,ok",
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("2223000048400011", True),
        ("2223000048400012", False),
        ("378282246310005", True),
        ("0", True),
        ("18", True),
        ("19", False),
    ],
)
def test_luhn(digits, ok):
    assert luhn_valid(digits) is ok


@pytest.mark.parametrize(
    "digits,brand",
    [
        ("4111111111111111", "visa"),
        ("5555555555554444", "mastercard"),
        ("2221000000000009", "mastercard"),  # first 2-series BIN
        ("2720990000000007", "mastercard"),  # last 2-series BIN
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("30569309025904", "diners"),
        ("3530111333300000", "jcb"),
        ("6200000000000005", "unionpay"),
        ("2200000000000004", "mir"),
        ("2220990000000000", None),  # just below the 2-series range
        ("2721000000000000", None),  # just above it
        ("1234567890123452", None),
        ("411111111111111", None),  # visa at 15 digits
    ],
)
def test_card_brand(digits, brand):
    assert card_brand(digits) == brand


@pytest.mark.parametrize(
    "iban,ok",
    [
        ("GB82WEST12345698765432", True),
        ("DE89370400440532013000", True),
        ("FR1420041010050500013M02606", True),
        ("NO9386011117947", True),
        ("GB82WEST12345698765433", False),  # checksum
        ("DE8937040044053201300", False),  # length
        ("XX89370400440532013000", False),  # unknown country
    ],
)
def test_iban_mod97(iban, ok):
    assert iban_valid(iban) is ok


@pytest.mark.parametrize(
    "ssn,ok",
    [
        ("536-22-1784", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("900-12-3456", False),
        ("536-00-1784", False),
        ("536-22-0000", False),
        ("078-05-1120", False),
        ("899-99-9999", True),
    ],
)
def test_ssn_rules(ssn, ok):
    area, group, serial = ssn.split("-")
    assert ssn_valid(area, group, serial) is ok


# -- detection in text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111.", "4111-1111-1111-1111"),
        ("pay with 2223000048400011 now", "2223000048400011"),
        ("mc 2223 0000 4840 0011", "2223 0000 4840 0011"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("jcb 3530111333300000", "3530111333300000"),
        ("jcb 3500 0098 3916 4886", "3500 0098 3916 4886"),
    ],
)
def test_cards_found(masker, text, value):
    assert found(masker, text) == [("CREDIT_CARD", value)]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "mc 2223 0000 4840 0012",  # Luhn fails
        "order 1234567890123452 shipped",  # Luhn passes, no issuer
        "card 4111  1111 1111 1111",  # double separator
        "id 41111111111111111111111",  # too long
    ],
)
def test_cards_rejected(masker, text):
    assert "CREDIT_CARD" not in entities(masker, text)


def test_email(masker):
    text = "write to Jane.Doe+billing@mail.example.co.uk, or x@y.z"
    assert found(masker, text) == [("EMAIL", "Jane.Doe+billing@mail.example.co.uk")]
    assert entities(masker, "not an email: user@ or @host.com or a@b") == []


@pytest.mark.parametrize(
    "value",
    [
        "+1-780-563-6083x7783",
        "(591)341-7776",
        "206.269.0743",
        "+44 20 7946 0958",
        "+44(0)306 999 0040",
        "+33 (0)2 34 61 03 39",
        "+49 30 12345678",
        "0044 20 7946 0958",
        "+81-3-1234-5678",
        "001-787-386-8383x79736",
        "05 40 96 47 39",
        "03298 44712",
        "020 7946 0958",
        "0221/64792002",
        "911 305 024",
    ],
)
def test_phones_international(masker, value):
    assert found(masker, f"phone: {value}.") == [("PHONE", value)]


def test_phone_bare_digits_need_context(masker):
    assert entities(masker, "ticket 5272868387 closed") == []
    assert found(masker, "call me at 5272868387") == [("PHONE", "5272868387")]
    assert entities(masker, "ref 07539576802 closed") == []
    assert found(masker, "my number is 07539576802") == [("PHONE", "07539576802")]


@pytest.mark.parametrize("text", ["version 2024-01-15", "12:30:45 pm", "in 1999 and 2004", "pi is 3.14159265"])
def test_phone_negatives(masker, text):
    assert entities(masker, text) == []


def test_ssn(masker):
    assert found(masker, "SSN 536-22-1784") == [("US_SSN", "536-22-1784")]
    assert found(masker, "ssn: 536221784") == [("US_SSN", "536221784")]
    assert entities(masker, "ref 536221784") == []  # bare 9 digits need context
    for bad in ("000-12-3456", "666-12-3456", "912-12-3456", "536-00-1784", "536-22-0000"):
        assert "US_SSN" not in entities(masker, f"SSN {bad}"), bad


def test_iban(masker):
    text = "IBAN DE89 3704 0044 0532 0130 00 OK and GB82WEST12345698765432."
    assert found(masker, text) == [
        ("IBAN", "DE89 3704 0044 0532 0130 00"),
        ("IBAN", "GB82WEST12345698765432"),
    ]
    assert entities(masker, "IBAN GB82WEST12345698765433") == []  # mod-97 fails
    assert entities(masker, "IBAN DE89 3704 0044 0532 0130 0") == []  # too short


def test_ip_addresses(masker):
    text = "from 192.168.10.1 and 2001:db8::8a2e:370:7334 and ::ffff:10.0.0.1"
    assert found(masker, text) == [
        ("IP_ADDRESS", "192.168.10.1"),
        ("IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        ("IP_ADDRESS", "::ffff:10.0.0.1"),
    ]
    for bad in ("999.1.1.1", "1.2.3", "01.02.03.004", "12:30:45", "1:2:3:4:5:6:7:8:9"):
        assert entities(masker, f"addr {bad} end") == [], bad


def test_aws_keys(masker):
    text = "AKIAIOSFODNN7EXAMPLE and aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert found(masker, text) == [
        ("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
        ("AWS_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ]
    # The same 40 characters without context, and a sha1 hex digest with it, are not secrets.
    assert entities(masker, "blob wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == []
    assert entities(masker, "aws secret da39a3ee5e6b4b0d3255bfef95601890afd80709") == []
    assert entities(masker, "AKIAIOSFODNN7EXAMPL") == []  # one short


@pytest.mark.parametrize(
    "value,entity",
    [
        ("sk-proj-abcdefghijklmnopqrstuvwx0123", "API_KEY"),
        ("sk_live_abcdefghijklmnop1234", "API_KEY"),
        ("ghp_" + "a" * 36, "API_KEY"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "API_KEY"),
        ("xoxb-123456789012-abcdefghijkl", "API_KEY"),
        ("AIza" + "B" * 35, "API_KEY"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JWT"),
    ],
)
def test_tokens(masker, value, entity):
    assert found(masker, f"token {value} here") == [(entity, value)]


def test_bearer_masks_only_the_token(masker):
    text = "Authorization: Bearer abcdef1234567890abcdef"
    assert found(masker, text) == [("BEARER_TOKEN", "abcdef1234567890abcdef")]
    assert entities(masker, "sk-short and ghp_short and bearer of news") == []


def test_private_key_block(masker):
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Vb1\n-----END RSA PRIVATE KEY-----"
    assert found(masker, f"key:\n{block}\n") == [("PRIVATE_KEY", block)]


def test_context_words_and_thresholds():
    # Per-entity thresholds and extra context words change what counts.
    strict = Masker([BuiltinDetector()], thresholds={"PHONE": 0.9})
    assert strict.find("see 206.269.0743") == []
    assert [s.entity for s in strict.find("phone 206.269.0743")] == ["PHONE"]
    custom = Masker([BuiltinDetector(context_words={"PHONE": ["hotline"]})])
    assert custom.find("ticket 5272868387") == []
    assert [s.entity for s in custom.find("hotline 5272868387")] == ["PHONE"]
    only = Masker([BuiltinDetector()], entities=["EMAIL"])
    assert [s.entity for s in only.find("a@example.com 4111 1111 1111 1111")] == ["EMAIL"]


def test_overlaps_containment_then_score():
    from byom_sdk.trust import Span

    # A span inside another loses to it; a partial overlap goes to the higher score.
    spans = [Span(0, 10, "A", 0.4), Span(2, 8, "B", 0.9), Span(12, 16, "C", 0.5), Span(14, 20, "D", 0.7)]
    assert [s.entity for s in resolve_overlaps(spans)] == ["A", "D"]


def test_failed_candidate_does_not_hide_a_later_one(masker):
    # The IBAN pattern first grabs a longer run whose checksum fails; the scan resumes
    # inside it and still finds the e-mail and the valid IBAN after it.
    text = "XX00 AAAA BBBB CCCC GB82WEST12345698765432 x@example.org"
    assert entities(masker, text) == ["IBAN", "EMAIL"]
