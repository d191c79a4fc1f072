"""Values written the way word processors, URLs and log formats write them.

Typeset spaces and dashes group digits as ASCII ones do; an IPv4 address at the start of
a text, as a URL host or after ``user@`` is an address; a label before ``#`` labels the
value after it; apostrophes belong to the names in e-mail addresses; and a decimal with
one dot (fractional seconds) is no phone number.
"""

from __future__ import annotations

import pytest

from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker

MASKER = Masker([BuiltinDetector()])
THIN_IBAN = "\u2009".join(["DE89", "3704", "0044", "0532", "0130", "00"])


def found(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Tel. 06\xa012\xa034\xa056\xa078", "06\xa012\xa034\xa056\xa078", "PHONE"),  # no-break spaces
        ("Tel. 06\u202f12\u202f34\u202f56\u202f78", "06\u202f12\u202f34\u202f56\u202f78", "PHONE"),  # narrow
        (
            "IBAN DE89\u20093704\u20090044\u20090532\u20090130\u200900",
            "DE89\u20093704\u20090044\u20090532\u20090130\u200900",
            "IBAN",
        ),
        ("card 4111\u20071111\u20071111\u20071111", "4111\u20071111\u20071111\u20071111", "CREDIT_CARD"),  # figure
        ("NINO AB\xa012\xa034\xa056\xa0C", "AB\xa012\xa034\xa056\xa0C", "UK_NINO"),
        ("Phone 212\u2013555\u20130134", "212\u2013555\u20130134", "PHONE"),  # en dash
        ("card 4111\u20111111\u20111111\u20111111", "4111\u20111111\u20111111\u20111111", "CREDIT_CARD"),
        ("SSN 536\u201090\u20104399", "536\u201090\u20104399", "US_SSN"),  # hyphen U+2010
        ("SSN 536\u221290\u22124399", "536\u221290\u22124399", "US_SSN"),  # minus sign
        ("8.8.8.8", "8.8.8.8", "IP_ADDRESS"),
        ("203.0.113.42 connected", "203.0.113.42", "IP_ADDRESS"),
        ("see http://192.168.1.1", "192.168.1.1", "IP_ADDRESS"),
        ("GET https://10.0.0.1:8443/api", "10.0.0.1", "IP_ADDRESS"),
        ("ssh admin@10.0.0.1", "10.0.0.1", "IP_ADDRESS"),
        ("SSN #536-90-4399", "536-90-4399", "US_SSN"),
        ("SSN#536-90-4399", "536-90-4399", "US_SSN"),
        ("Mail: jean-françois.d'arc@example.fr", "jean-françois.d'arc@example.fr", "EMAIL"),
        ("write to o'connor@example.ie", "o'connor@example.ie", "EMAIL"),
        ("write to o\u2019connor@example.ie", "o\u2019connor@example.ie", "EMAIL"),
        ("call +1.212.736.5000", "+1.212.736.5000", "PHONE"),  # dotted, after "+"
        ("call 1.800.736.5000", "1.800.736.5000", "PHONE"),  # North American trunk "1"
        ("call +44.20.7946.0958", "+44.20.7946.0958", "PHONE"),
    ],
)
def test_typeset_and_embedded_values_are_found_whole(text, value, entity):
    assert (value, entity) in found(text)


def test_both_addresses_are_found_when_one_starts_the_text():
    assert found("8.8.8.8 and 1.1.1.1") == [("8.8.8.8", "IP_ADDRESS"), ("1.1.1.1", "IP_ADDRESS")]


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-15 14:22:07.123456 INFO worker started",
        "elapsed 00:00:07.654321",
        "took 01.234567 s",
        "order #4711-2024-0031 shipped",
        "pkg==1.2.3.4",
        "v5.5.24.239",
    ],
)
def test_what_is_not_a_value_stays(text):
    assert found(text) == []


def test_a_quote_opening_an_address_is_not_masked_with_it():
    assert found("name='john@example.com'") == [("john@example.com", "EMAIL")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"password": "Xk9mP2vL8!nQ4rT7wZ3"}', "Xk9mP2vL8!nQ4rT7wZ3"),
        ("DB_PASSWORD=p7#Rq!v2@Lm9$Wx4&Zt8", "p7#Rq!v2@Lm9$Wx4&Zt8"),
        ("db:\n  password: Xk9mP2vL8#nQ4rT7wZ3\n", "Xk9mP2vL8#nQ4rT7wZ3"),
        ('api_key="AbC!defGhi123#xyz"', "AbC!defGhi123#xyz"),
        ("[db]\nsecret = Zq8%Lm3^Rt7~Wp2*", "Zq8%Lm3^Rt7~Wp2*"),
    ],
)
def test_secrets_with_symbols_assigned_to_secret_named_keys_are_found(text, value):
    assert (value, "API_KEY") in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "password = ${DB_PASSWORD}",  # a reference
        "passwd: hunter2!",  # short, low entropy: not detected (docs/pii.md)
        "password_policy: min12!Aa@bbbbbbbbb",  # a key that names no secret value
        "token_url: https://auth.example.com/oauth2/token?x=1!",
    ],
)
def test_references_and_policies_after_secret_words_stay(text):
    assert [entity for _, entity in found(text) if entity == "API_KEY"] == []


def test_ssh_logins_are_not_addresses_but_an_address_before_a_colon_is():
    assert found("git clone git@github.com:acme/app.git") == []
    assert found("root@server.example.com:~# ls") == []
    assert found("write to ann@example.com: she knows") == [("ann@example.com", "EMAIL")]


@pytest.mark.parametrize("text", ["a::b", "use abc::def;", "Bad::Add()", "+999 123 456 789", "+990 123 456 789"])
def test_code_paths_and_unassigned_country_codes_are_no_values(text):
    assert found(text) == []


def test_assigned_three_digit_country_codes_and_short_ipv6_still_count():
    assert ("+353 86 123 4567", "PHONE") in found("call +353 86 123 4567")
    assert found("host fe80::1 and ::1") == [("fe80::1", "IP_ADDRESS"), ("::1", "IP_ADDRESS")]


def test_square_access_tokens_with_dashes_and_underscores():
    token = "EAAAEOuLQObrVwJv-voio0F4hMm7yC_WU5Ghp8ijD6xmt9rpEuKzhY6IuHwP5gS1"
    assert found(f'la clave es "{token}"') == [(token, "API_KEY")]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("Tél. : 01 23 45 67 89 / 06 12 34 56 78", ["01 23 45 67 89", "06 12 34 56 78"]),  # two numbers
        ("Tel. 044 668 18 00 / 079 123 45 67", ["044 668 18 00", "079 123 45 67"]),
        ("Tel. 0221 / 64792002", ["0221 / 64792002"]),  # area code / number: one
        ("Tel. 079.123.45.67", ["079.123.45.67"]),  # dotted Swiss and Belgian numbers
        ("Tel. 0470.12.34.56", ["0470.12.34.56"]),
        ("Karte: 4111 1111 1111 1111/12/27", ["4111 1111 1111 1111"]),  # a card and its expiry
        ("Karte: 4111111111111111/12/27", ["4111111111111111"]),
    ],
)
def test_joined_numbers_dotted_national_numbers_and_cards_with_their_expiry(text, values):
    assert [value for value, _ in found(text)] == values


@pytest.mark.parametrize(
    "text",
    [
        "siehe Abschnitt 3.1.2.4",  # numbered sections are no addresses
        "RFC 3261 section 20.10.1.2",
        "Rechnungsnummer 0815 2024",  # labelled as something else right before
        "Part no. 0451-2233-44",
        "Kundennummer: 030 123 456",
        "USt-IdNr.: DE 123 456 789",
    ],
)
def test_sections_and_numbers_labelled_as_something_else_stay(text):
    assert found(text) == []


def test_a_phone_label_wins_over_a_customer_word():
    assert found("Kunden-Tel.: 030 123 4567") == [("030 123 4567", "PHONE")]
    assert found("Customer: 0221 6479200") == [("0221 6479200", "PHONE")]
