"""The built-in detector by phenomenon: numbering plans, context words in several
languages, national ids with checksums, secrets, and lookalikes that must stay."""

from __future__ import annotations

import pytest

from byom_sdk.trust import BuiltinDetector, Masker
from byom_sdk.trust._pii.checksums import (
    de_tax_id_valid,
    es_nie_valid,
    es_nif_valid,
    fr_nir_valid,
    it_fiscal_code_valid,
    uk_nino_valid,
)
from byom_sdk.trust._pii.context import fold
from byom_sdk.trust._pii.phones import international_score, national_score


@pytest.fixture(scope="module")
def masker():
    return Masker([BuiltinDetector()])


def found(masker, text):
    return [(s.entity, text[s.start : s.end]) for s in masker.find(text)]


# -- phones by numbering plan ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "+1 (212) 555-0134", "1-800-555-0199", "(415) 555-2671 ext. 204", "212-555-0134 x12",  # US/CA
        "+44 (0)20 7946 0958", "07700 900123", "0161 496 0123",  # GB
        "+49 (0)221 64792-210", "0221/64792002", "030 12345678", "0151 23456789", "(089) 123 45678",  # DE
        "+33 6 12 34 56 78", "01.23.45.67.89", "0033 1 23 45 67 89",  # FR
        "+34 612 34 56 78", "91 130 50 24", "612 345 678",  # ES
        "+39 06 1234 5678", "347 123 4567", "02 1234 5678",  # IT
        "+31 (0)20 123 4567", "06-12345678", "010 123 45 67",  # NL
        "+41 44 668 18 00", "079 123 45 67",  # CH
        "+43 664 1234567", "01 234 5678",  # AT
        "+32 470 12 34 56", "02 123 45 67",  # BE
        "+353 87 123 4567", "087 123 4567",  # IE
        "+48 512 345 678", "22 123 45 67",  # PL
        "+46 70 123 45 67", "08-123 456 78",  # SE
    ],
)  # fmt: skip
def test_grouped_phones_are_found_without_context(masker, value):
    assert found(masker, f"Kind regards, Ann\n{value}\n") == [("PHONE", value)]


@pytest.mark.parametrize(
    "label,value",
    [
        ("Tél. :", "0241746207"), ("TÉL.", "0612345678"), ("Telefon:", "022164792002"), ("Handy", "015123456789"),
        ("Teléfono:", "911305024"), ("móvil", "612345678"), ("portable :", "0612345678"),
        ("joignable au", "0145678901"),
        ("cellulare", "3471234567"), ("Mobiel:", "0612345678"), ("phone", "2125550134"), ("Tfno.", "912345678"),
    ],
)  # fmt: skip
def test_compact_phones_count_next_to_a_context_word_in_any_language(masker, label, value):
    assert found(masker, f"{label} {value}") == [("PHONE", value)]
    assert found(masker, f"ref {value}") == []


@pytest.mark.parametrize(
    "text",
    [
        "+49 0 1234",  # too short for Germany
        "+44 1234",  # too short for any plan
        "+83 123 456 789",  # 83 is not an assigned country code
        "(000) 555-0134",  # area codes start 2-9
        "555-011-0134",  # exchange N11
        "+33 0 12 34 56 78 90 12",  # too long for France
    ],
)
def test_numbers_outside_the_plans_are_not_phones(masker, text):
    assert [e for e, _ in found(masker, text)] == []


def test_plan_scores():
    assert international_score("4922164792002", plus=True) == 0.9
    assert international_score("4922164792002", plus=False) == 0.75  # 0049...
    assert international_score("44123", plus=True) == 0.0
    assert international_score("8131234567", plus=True) == 0.7  # Japan: assigned, no plan here
    assert national_score("0221647920", [4, 6], ["/"], False) == 0.6
    assert national_score("0221647920", [10], [], False) == 0.4  # bare: needs context
    assert national_score("2125550134", [3, 3, 4], [")", "-"], True) == 0.7
    assert national_score("1234567890", [3, 3, 4], ["-", "-"], False) == 0.0  # area 123 invalid


def test_extensions_and_durchwahl_are_part_of_the_number(masker):
    assert found(masker, "call +1 415-555-2671 ext. 42 today") == [("PHONE", "+1 415-555-2671 ext. 42")]
    assert found(masker, "Tel. 0221 64792-210") == [("PHONE", "0221 64792-210")]


# -- lookalikes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "running 9.15.26.242-SNAPSHOT now", "upgraded to v5.5.24.239", "version 10.2.3.4 deployed", "pip pkg==1.2.3.4",
        "OID 1.2.840.113549.1.1.11", "OID 2.5.4.3", "at 2024-05-03T10:22:31Z", "epoch 1714731751123", "on 03.05.2024",
        "order ORD-2024-004512", "ticket #4711081523", "INC0012345678", "ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2",
        "id 123e4567-e89b-12d3-a456-426614174000", "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "card 4111 1111 1111 1112", "IBAN DE89 3704 0044 0532 0130 01", "IBAN? NL55 BKCT 0354 8311 28",
        "total 1.234.567,89 €", "EUR 912 345 678", "coords 48.137154, 11.576124",
    ],
)  # fmt: skip
def test_lookalikes_stay_unmasked(masker, text):
    assert found(masker, text) == []


def test_no_phone_inside_numbers_failing_their_checksum(masker):
    for text in ("4111 1111 1111 1112", "5555 5555 5555 4445", "DE89 3704 0044 0532 0130 01"):
        assert found(masker, f"Tel. {text}") == [], text


def test_digit_runs_never_cross_a_line_break(masker):
    assert found(masker, "Ref:\n4711 0815\n2231 9974\nend") == []
    spans = found(masker, "Tel.: +49 221\n64792002")
    assert all("\n" not in value for _, value in spans)


def test_context_words_fold_accents_and_case():
    assert fold("Tél. TELÉFONO Straße Æ") == "tel. telefono strasse ae"
    strict = Masker([BuiltinDetector()])
    assert found(strict, "TÉLÉPHONE 0241746207") == [("PHONE", "0241746207")]
    # A context word that labels an earlier value does not reach over it.
    assert found(strict, "Tel. +33 6 12 34 56 78, ticket 0241746207") == [("PHONE", "+33 6 12 34 56 78")]


def test_ipv4_versus_versions(masker):
    assert found(masker, "ip=10.113.103.120 order=1") == [("IP_ADDRESS", "10.113.103.120")]
    assert found(masker, "version: 1.2.3.4\nhost: 10.0.0.12") == [("IP_ADDRESS", "10.0.0.12")]
    assert found(masker, "client 1.2.3.4.RELEASE") == []


# -- national ids ------------------------------------------------------------------------------


def test_checksums():
    assert uk_nino_valid("AB123456C") and not uk_nino_valid("GB123456C") and not uk_nino_valid("AB123456E")
    assert de_tax_id_valid("65929970489") and not de_tax_id_valid("65929970488")
    assert not de_tax_id_valid("12345678901")  # no repeated digit
    assert fr_nir_valid("184127645108946") and not fr_nir_valid("184127645108947")
    corsica_key = 97 - int("1840319123456") % 97  # 2A counts as 19 in the key
    assert fr_nir_valid(f"184032A123456{corsica_key:02d}") and not fr_nir_valid(f"184032A123456{corsica_key - 1:02d}")
    assert es_nif_valid("12345678Z") and not es_nif_valid("12345678A")
    assert es_nie_valid("X1234567L") and not es_nie_valid("X1234567A")
    assert it_fiscal_code_valid("RSSMRA85T10A562S") and not it_fiscal_code_valid("RSSMRA85T10A562T")


@pytest.mark.parametrize(
    "text,entity,value",
    [
        ("NINO: AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
        ("Steuer-ID: 65 929 970 489", "DE_TAX_ID", "65 929 970 489"),
        ("N° de sécu 1 84 12 76 451 089 46", "FR_NIR", "1 84 12 76 451 089 46"),
        ("DNI 12.345.678-Z", "ES_NIF", "12.345.678-Z"),
        ("NIE: X-1234567-L", "ES_NIE", "X-1234567-L"),
        ("codice fiscale RSSMRA85T10A562S", "IT_FISCAL_CODE", "RSSMRA85T10A562S"),
    ],
)
def test_national_ids(masker, text, entity, value):
    assert found(masker, text) == [(entity, value)]


def test_national_ids_failing_their_checks_are_not_found(masker):
    for text in ("NINO: GB 12 34 56 C", "Steuer-ID: 65929970488", "DNI 12345678A", "CF RSSMRA85T10A562T"):
        assert found(masker, text) == [], text


# -- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "npm_" + "a1B2c3D4e5" * 3 + "f6G7h8", "pypi-AgEIcHlwaS5vcmc" + "Ab1_" * 16, "glpat-" + "x1Y2z3" * 4,
        "xoxb-123456789012-1234567890123-" + "aB3" * 8, "hf_" + "Ab1" * 12, "sk-ant-api03-" + "Ab1-" * 24,
        "SG." + "a1B" * 7 + "c." + "d2E" * 14 + "f", "AIza" + "Sy" + "a1B2c" * 6 + "d2E", "dop_v1_" + "ab12" * 16,
        "shpat_" + "0a1b" * 8, "SK" + "0a1b2c3d" * 4, "sk_live_" + "a1B2" * 8, "gsk_" + "Ab12" * 13,
    ],
)  # fmt: skip
def test_provider_tokens(masker, token):
    assert found(masker, f"token {token} here") == [("API_KEY", token)]


@pytest.mark.parametrize(
    "line",
    [
        '{"client_secret": "%s"}', "access_token: %s", "export API_TOKEN=%s", "secret = %s", "apiKey = '%s';",
        '"api_key" => "%s"', 'authToken := "%s"', "<password>%s</password>", "curl --token %s https://x",
        "X-Auth-Token: %s", "Authorization: Token %s",
    ],
)  # fmt: skip
def test_opaque_values_under_secret_named_keys(masker, line):
    value = "q8Zk2VbN7xLm4TgR1sWd9YhC"
    spans = found(masker, line % value)
    assert [v for _, v in spans] == [value]


@pytest.mark.parametrize(
    "line",
    [
        "token_type: bearer", "password_min_length: 12", "secret_name: prod/db/credentials", "password: ${DB_PASSWORD}",
        "token_url: https://auth.example.com/oauth/token", "api_key_header: X-Api-Key", "TOKEN_TTL=3600",
        "secret_key_file: /run/secrets/app_key", "author: Platform Team", "token: changeme-please-now",
        "password_hash: 5f4dcc3b5aa765d61d8327deb882cf99", "api_key_id: 1234567890123456",
    ],
)  # fmt: skip
def test_non_secrets_under_secret_named_keys(masker, line):
    assert found(masker, line) == []


def test_truncated_private_key_is_masked_to_the_end_of_its_body(masker):
    text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Vb1abcdEFGH\nq8Zk2VbN7xLm4TgR1sWd\n\nthanks"
    [(entity, value)] = found(masker, text)
    assert entity == "PRIVATE_KEY" and value.endswith("q8Zk2VbN7xLm4TgR1sWd") and "thanks" not in value


def test_the_nearest_context_word_decides_between_types(masker):
    # 046165345 is a valid SSN and a valid Belgian number: "SSN" is nearer than "call".
    assert found(masker, "Call me later. SSN: 046165345") == [("US_SSN", "046165345")]
    assert found(masker, "SSN on file. Call 046165345") == [("PHONE", "046165345")]


def test_currency_words_belong_to_the_amount_they_lead(masker):
    assert found(masker, "Telefono: 0515126537 EUR 6 133") == [("PHONE", "0515126537")]
    assert found(masker, "Telefono: 0515 126537 EUR") == []


def test_base64_secret_without_digits(masker):
    value = "vaFzTV/V+BrOnZCYYiGdJAiqFhYOId/b"
    assert found(masker, f'"access_token": "{value}"') == [("API_KEY", value)]


def test_a_table_header_is_the_context_of_its_column(masker):
    table = "name;phone;city\nAnn;0241746207;Paris\nBob;0612345678;Lyon"
    assert [v for _, v in found(masker, table)] == ["0241746207", "0612345678"]
    assert found(masker, "order,total,ref\n1,2,0241746207") == []


def test_signature_abbreviations_and_cidr(masker):
    assert [v for _, v in found(masker, "T: +49 221 1234567\nM: 01712345678")] == ["+49 221 1234567", "01712345678"]
    assert found(masker, "allow 10.0.0.0/24") == [("IP_ADDRESS", "10.0.0.0")]


def test_file_names_with_at_are_not_emails(masker):
    assert found(masker, "icon@2x.png, lib@1.2.min.js and ann@example.com") == [("EMAIL", "ann@example.com")]


# -- e-mail addresses in any script's text ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("メールはann@example.comです", "ann@example.com"),  # Japanese runs into the address
        ("请联系ann.lee@example.cn谢谢", "ann.lee@example.cn"),
        ("Mail an müller@example.de bitte", "müller@example.de"),  # no "mü" left behind
        ("jörg.schröder@müller.de", "jörg.schröder@müller.de"),  # internationalised domain
        ("Email: άννα@παράδειγμα.gr", "άννα@παράδειγμα.gr"),
        ("x@xn--mller-kva.de", "x@xn--mller-kva.de"),  # punycode
        ("backup ann@example.com_old", "ann@example.com"),
    ],
)
def test_addresses_are_masked_whole_in_any_script(masker, text, value):
    assert found(masker, text) == [("EMAIL", value)]


# -- voided sample SSNs -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["123-45-6789", "219-09-9999", "078-05-1120", "123 45 6789", "123456789"])
def test_published_sample_ssns_are_ssns_beside_an_ssn_label(masker, value):
    assert found(masker, f"SSN: {value}") == [("US_SSN", value)]


@pytest.mark.parametrize("text", ["order 123-45-6789", "id 123456789", "ref 219 09 9999"])
def test_published_sample_ssns_without_a_label_are_not_ssns(masker, text):
    assert [entity for entity, _ in found(masker, text)] != ["US_SSN"]
