"""National ids of thirteen more countries, read by the built-in detector: China's resident
id, Korea's RRN, Japan's My Number, the NHS number, the Swiss AHV number, Belgium's
national number, Norway's fødselsnummer, Denmark's CPR, South Africa's id, Finland's
henkilötunnus, Singapore's NRIC/FIN, Ireland's PPS number and Mexico's CURP.

A shape with a strong check is masked on its own; shapes that other numbers share need
their label; a wrong check character is never the id. The valid values of the generated
part come from bench/pii/values_world.py, which computes every check character itself.
"""

from __future__ import annotations

import random

import pytest

from bench.pii.values_world import WORLD_ID_LOOKALIKES, WORLD_ID_MAKERS, WORLD_ID_TEMPLATES
from byom_sdk.trust import BUILTIN_ENTITIES
from byom_sdk.trust._detectors import BuiltinDetector
from byom_sdk.trust._masking import Masker
from byom_sdk.trust._pii.checksums import card_brand, luhn_valid
from byom_sdk.trust._pii.world import fi_hetu_valid, za_id_valid

MASKER = Masker([BuiltinDetector()])


def masked(text: str) -> list[tuple[str, str]]:
    return [(text[span.start : span.end], span.entity) for span in MASKER.find(text)]


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        # China: 18 characters, the check "X" in either case, run together or 6 8 4
        ("我的身份证号码是11010519491231002X，请核实。", "11010519491231002X", "CN_RESIDENT_ID"),  # noqa: RUF001
        ("id 11010519491231002x ok", "11010519491231002x", "CN_RESIDENT_ID"),
        ("身份证号11010519491231002X的用户", "11010519491231002X", "CN_RESIDENT_ID"),
        ("张三 11010519491231002X 35岁", "11010519491231002X", "CN_RESIDENT_ID"),
        ("ID 110105 19491231 002X done", "110105 19491231 002X", "CN_RESIDENT_ID"),
        ("resident 360426199101010071 here", "360426199101010071", "CN_RESIDENT_ID"),
        # Korea: dashed with its check digit on its own; run together beside its label
        ("주민등록번호 971013-1019901 입니다", "971013-1019901", "KR_RRN"),
        ("code 971013-1019901 x", "971013-1019901", "KR_RRN"),
        ("RRN: 9710131019901", "9710131019901", "KR_RRN"),
        ("RRN 971013 1019901", "971013 1019901", "KR_RRN"),
        # Japan: beside its label
        ("マイナンバー 6214 9832 0257", "6214 9832 0257", "JP_MY_NUMBER"),
        ('{"my_number": "6214 9832 0257"}', "6214 9832 0257", "JP_MY_NUMBER"),
        ("個人番号：621498320257", "621498320257", "JP_MY_NUMBER"),  # noqa: RUF001
        # NHS number: beside its label (its printed shape is a US phone's too)
        ("NHS number 943 476 5919", "943 476 5919", "UK_NHS"),
        ("NHS 9434765919", "9434765919", "UK_NHS"),
        ('{"nhs_number": "943 476 5919"}', "943 476 5919", "UK_NHS"),
        ("NHS #943 476 5919", "943 476 5919", "UK_NHS"),
        # Swiss AHV: dotted on its own, run together too (756 is no GS1 prefix)
        ("AHV-Nr. 756.9217.0769.85", "756.9217.0769.85", "CH_AHV"),
        ("plain 756.9217.0769.85 x", "756.9217.0769.85", "CH_AHV"),
        ("numéro 756 9217 0769 85", "756 9217 0769 85", "CH_AHV"),
        ("AHV 756-9217-0769-85", "756-9217-0769-85", "CH_AHV"),
        ("7569217076985", "7569217076985", "CH_AHV"),
        # Belgium: as printed on its own; run together beside its label
        ("rijksregisternummer 85.07.30-033.28", "85.07.30-033.28", "BE_NATIONAL_NUMBER"),
        ("plain 85.07.30-033.28", "85.07.30-033.28", "BE_NATIONAL_NUMBER"),
        ("numéro national 85073003328", "85073003328", "BE_NATIONAL_NUMBER"),
        ('{"national_number": "85073003328"}', "85073003328", "BE_NATIONAL_NUMBER"),
        ("rijksregisternummer 85.07.30-033-28", "85.07.30-033-28", "BE_NATIONAL_NUMBER"),
        ("rijksregisternummer 850730-033.28", "850730-033.28", "BE_NATIONAL_NUMBER"),
        ("national number 85 07 30 033 28", "85 07 30 033 28", "BE_NATIONAL_NUMBER"),  # whole, not a phone's piece
        # Norway: spaced on its own; run together beside its label
        ("fødselsnummer 13049958441", "13049958441", "NO_FNR"),
        ("plain 130499 58441", "130499 58441", "NO_FNR"),
        ("fnr 130499-58441", "130499-58441", "NO_FNR"),
        # Denmark: beside its label (DDMMYY-NNNN is the commonest date-coded reference too)
        ("CPR-nr. 211062-5629", "211062-5629", "DK_CPR"),
        ("CPR 211062-0629", "211062-0629", "DK_CPR"),
        ("CPR 211062 5629", "211062 5629", "DK_CPR"),
        ('{"cpr_nummer": "211062-5629"}', "211062-5629", "DK_CPR"),
        # South Africa: beside its label (13 digits run together are any number)
        ("ID number 8001015009087", "8001015009087", "ZA_ID"),
        ('{"id_number": "8001015009087"}', "8001015009087", "ZA_ID"),
        ("ID number 800101 5009 08 7", "800101 5009 08 7", "ZA_ID"),
        # Finland: a letter in it (the century sign or the check character) on its own
        ("henkilötunnus 131052-308T", "131052-308T", "FI_HETU"),
        ("plain 131052-308T.", "131052-308T", "FI_HETU"),
        ("born 131052A308T", "131052A308T", "FI_HETU"),
        # Singapore: either case
        ("NRIC S1234567D", "S1234567D", "SG_NRIC"),
        ("fin g5872776n", "g5872776n", "SG_NRIC"),
        ("身份证号S1234567D", "S1234567D", "SG_NRIC"),
        ("M1234567K.", "M1234567K", "SG_NRIC"),
        # Ireland: one or two letters, beside its label (an Irish VAT number shares both)
        ("PPS number 6433435F", "6433435F", "IE_PPS"),
        ("pps 1234567FA", "1234567FA", "IE_PPS"),
        ("ppsn 1234567fa", "1234567fa", "IE_PPS"),
        ("PPS No.1234567T", "1234567T", "IE_PPS"),
        ("PPS号码1234567T", "1234567T", "IE_PPS"),
        # Mexico
        ("CURP: HEGG560427MVZRRL04", "HEGG560427MVZRRL04", "MX_CURP"),
        ("plain BOXW310820HNERXN09 ok", "BOXW310820HNERXN09", "MX_CURP"),
    ],
)
def test_each_id_is_masked_as_written(text: str, value: str, entity: str) -> None:
    assert masked(text) == [(value, entity)]


@pytest.mark.parametrize(
    "text",
    [
        "number 6214 9832 0257",  # a My Number's check passes one number in eleven
        "nn 85073003328",
        "plain 211062-0629",  # a date and four digits, without the old modulus 11
        "total 8001015009087",  # 13 digits run together: any number
        "HEGG560427MVZRRL05 bad",  # a CURP's check digit wrong
        "id 11010519491231002Y",
        "id 110105194912310021",  # a Chinese id's check wrong
        "AHV 756.9217.0769.86",
        "hetu 131052-308U",
        "NRIC S1234567E",
        "PPS 6433435G",
        "code 1234567fa",  # lower-case: as likely hexadecimal, so only beside its label
        "plain 6433435FT",  # a PPS number's shape and check are an Irish VAT number's too
        "IE 6388047V",
        "VAT Reg. No. 6388047V",
        "Item 5513340E in stock",
        "plain 211062-5629",  # DDMMYY-NNNN: a Danish CPR, or a date-coded reference
        "Order No. 080124-6915 shipped",
        "registration number 110111-0012345",  # a Korean corporate number (7th digit 0)
        "Ticket 191202-0437795 opened",  # a zero-padded serial after a date
        "id 251220d724a",  # a HETU's shape in lower case: as likely hexadecimal
        "key s6699048f ok",  # an NRIC's shape in lower case
        'trace_id": "7217908b-7069-030d-e20d-79a382ec79d5"',  # a UUID's first group
        "total 151126+5599 ok",  # "+" (born in the 1800s) is left out: a sum
        "x 131052-3081 y",  # digits and a dash only: a date-coded reference's shape too
    ],
)
def test_lookalikes_and_weak_shapes_without_a_label_are_left_alone(text: str) -> None:
    assert masked(text) == []


def test_a_finnish_id_of_digits_and_a_dash_is_masked_beside_its_label() -> None:
    value = next(
        f"131052-{n:03d}{c}" for n in range(2, 900) for c in "0123456789" if fi_hetu_valid(f"131052-{n:03d}{c}")
    )
    assert masked(f"hetu {value}") == [(value, "FI_HETU")]
    assert masked(f"ref {value}") == []


def test_an_id_that_also_passes_luhn_in_a_card_range_goes_by_its_label() -> None:
    rng = random.Random(3)
    # A South African id always passes Luhn; one born in the 1940s is in Visa's range.
    za = next(v for v in iter(lambda: WORLD_ID_MAKERS["ZA_ID"](rng), None) if v.isdigit() and v[0] == "4")
    assert za_id_valid(za)
    assert masked(f"ID number {za}") == [(za, "ZA_ID")]
    assert masked(f"card {za}") == [(za, "CREDIT_CARD")]
    # A Chinese id from province 50-69 is in Maestro's range: 1 in 10 pass Luhn.
    found = 0
    while found < 5:
        value = WORLD_ID_MAKERS["CN_RESIDENT_ID"](rng)
        if not value.isdigit() or card_brand(value) is None or not luhn_valid(value):
            continue
        found += 1
        assert masked(f"plain {value} x") == [(value, "CN_RESIDENT_ID")]
        # Beside a card's label a UnionPay number is a card; a Maestro one (0.4) stays the id.
        expected = "CN_RESIDENT_ID" if card_brand(value) == "maestro" else "CREDIT_CARD"
        assert masked(f"debit card {value}") == [(value, expected)]


def test_the_swiss_ahv_is_not_taken_for_a_dotted_address_or_dropped() -> None:
    assert masked("host 10.0.0.1 and AHV 756.1234.5678.97") == [
        ("10.0.0.1", "IP_ADDRESS"),
        ("756.1234.5678.97", "CH_AHV"),
    ]


@pytest.mark.parametrize("entity", sorted(WORLD_ID_MAKERS))
def test_generated_values_in_labelled_sentences_are_masked_whole(entity: str) -> None:
    rng = random.Random(f"world-{entity}")
    for _ in range(150):
        value = WORLD_ID_MAKERS[entity](rng)
        text = rng.choice(WORLD_ID_TEMPLATES[entity]).format(v=value)
        assert masked(text) == [(value, entity)], text


@pytest.mark.parametrize("entity", sorted(WORLD_ID_LOOKALIKES))
def test_generated_lookalikes_are_never_the_id(entity: str) -> None:
    # A wrong check character: never this id (a phone's or a card's shape may still be masked as one).
    rng = random.Random(f"lookalike-{entity}")
    for _ in range(150):
        value = WORLD_ID_LOOKALIKES[entity](rng)
        text = rng.choice(WORLD_ID_TEMPLATES[entity]).format(v=value)
        assert entity not in {found for _, found in masked(text)}, text


def test_every_new_id_is_a_builtin_entity_with_context_words() -> None:
    from byom_sdk.trust._pii.context import DEFAULT_CONTEXT

    for entity in WORLD_ID_MAKERS:
        assert entity in BUILTIN_ENTITIES
        assert DEFAULT_CONTEXT[entity]


def test_ids_leave_the_process_masked_and_come_back_restored(round_trip) -> None:
    values = ("11010519491231002X", "756.9217.0769.85", "131052-308T", "S1234567D", "HEGG560427MVZRRL04")
    prompt = "Update ID {}, AHV {}, hetu {}, NRIC {} and CURP {} please.".format(*values)
    sent, answer = round_trip(prompt)
    for value in values:
        assert value not in sent
        assert value in answer


_PIECES = (
    "0", "1", "7", "12", "756", "756.", "9217", ".0769", ".85", "110105", "19491231", "002", "X", "x", "971013",
    "-", "+", " ", "A", "Y", "u", "308", "T", "S", "G", "m", "1234567", "FA", "TA", "D", "HEGG", "560427", "M",
    "VZ", "RRL", "04", "(", ")", "/", "\n", "身份证", "マイナンバー", "\uff11", "٣", "²", "hetu ", "NRIC ", "CPR ",
)  # fmt: skip


def test_the_new_paths_never_fail_on_odd_text() -> None:
    """The pieces the new ids are read from, thrown together (the detector runs on every
    prompt: a crash here fails the call)."""
    rng = random.Random(9)
    detector = BuiltinDetector()
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 30))) for _ in range(4000)]
    for text in texts:
        for span in detector.find(text):
            assert 0 <= span.start < span.end <= len(text)
