"""National ids of thirteen more countries, valid and with a wrong check character.

Each entity has a maker ``name(rng)`` that returns a valid value in one of the layouts
people write it in, and ``name_invalid(rng)`` that returns the same layout with a wrong
check digit or letter (a lookalike no detector should report). Every check character is
computed here from the published algorithm, independently of the detectors under test.

- China resident identity number (GB 11643-1999): ISO 7064 MOD 11-2, 10 written "X".
- South Korea resident registration number: weights 2..9,2..5, (11 - sum % 11) % 10.
- Japan Individual Number (My Number): weights Q_n = n + 1 (n <= 6) else n - 5, mod 11.
- UK NHS number: weights 10..2, 11 - sum % 11 (11 -> 0, 10 never issued).
- Swiss AHV number (AHVN13): "756" and nine digits, EAN-13 check digit.
- Belgian national number: 97 - number % 97, with "2" prefixed for births from 2000.
- Norwegian fødselsnummer: two mod-11 check digits (weights 3,7,6,1,8,9,4,5,2 and
  5,4,3,2,7,6,5,4,3,2).
- Danish CPR number: mod 11 over weights 4,3,2,7,6,5,4,3,2,1 (only older numbers).
- South African ID number: Luhn.
- Finnish henkilötunnus: DDMMYYZZZ % 31 into "0123456789ABCDEFHJKLMNPRSTUVWXY".
- Singapore NRIC/FIN: weights 2,7,6,5,4,3,2 (+4 for T and G) % 11 into a letter table.
- Irish PPS number: weights 8..2 (+9 per second letter A) % 23 into "WABC...V".
- Mexican CURP: 18 - position weights over a 37-character alphabet, (10 - sum % 10) % 10.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Callable

from .values import _group, _luhn_digit, digits

# -- helpers -----------------------------------------------------------------------------------


def _birth_date(rng: random.Random, first: int, last: int) -> datetime.date:
    """A real calendar date from 1 January ``first`` to 31 December ``last``."""
    lo, hi = datetime.date(first, 1, 1).toordinal(), datetime.date(last, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(lo, hi))


def _other(rng: random.Random, alphabet: str, right: str) -> str:
    """A character of ``alphabet`` other than ``right``."""
    return rng.choice([c for c in alphabet if c != right])


def _weighted(body: str, weights: tuple[int, ...]) -> int:
    return sum(int(ch) * w for ch, w in zip(body, weights, strict=True))


def _checked(
    rng: random.Random,
    body_of: Callable[[random.Random], str],
    check_of: Callable[[str], str],
    layout: Callable[[random.Random, str], str],
    *,
    valid: bool,
) -> str:
    """A body and its check digit (or, not ``valid``, another digit), laid out."""
    body = body_of(rng)
    check = check_of(body)
    return layout(rng, body + (check if valid else _other(rng, string.digits, check)))


def _as_written(rng: random.Random, value: str) -> str:
    return value


def _jp_body(rng: random.Random) -> str:
    return digits(rng, 11)


def _ahv_body(rng: random.Random) -> str:
    return "756" + digits(rng, 9)


# -- China: resident identity card number ------------------------------------------------------

_CN_PROVINCES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                 "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
                 "61", "62", "63", "64", "65")  # fmt: skip


def _cn_check(body: str) -> str:
    # ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, check = (12 - sum % 11) % 11, 10 -> X.
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(body))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _cn_value(rng: random.Random) -> str:
    want_x = rng.random() < 0.2  # one in five ends in X (left alone, one in eleven would)
    while True:
        area = f"{rng.choice(_CN_PROVINCES)}{rng.randint(1, 15):02d}{rng.randint(1, 30):02d}"
        body = f"{area}{_birth_date(rng, 1930, 2015):%Y%m%d}{rng.randint(1, 999):03d}"
        check = _cn_check(body)
        if (check == "X") == want_x:
            return body + check


def _cn_layout(rng: random.Random, value: str) -> str:
    return _group(value, [6, 8, 4], " ") if rng.random() < 0.2 else value


def cn_resident_id(rng: random.Random) -> str:
    return _cn_layout(rng, _cn_value(rng))


def cn_resident_id_invalid(rng: random.Random) -> str:
    value = _cn_value(rng)
    return _cn_layout(rng, value[:-1] + _other(rng, "0123456789X", value[-1]))


# -- South Korea: resident registration number -------------------------------------------------


def _kr_check(body: str) -> str:
    return str((11 - _weighted(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)) % 11) % 10)


def _kr_body(rng: random.Random) -> str:
    born = _birth_date(rng, 1950, 2019)
    sex = rng.choice("12" if born.year < 2000 else "34")
    return f"{born:%y%m%d}{sex}{digits(rng, 5)}"


def _kr_layout(rng: random.Random, value: str) -> str:
    return f"{value[:6]}-{value[6:]}" if rng.random() < 0.9 else value


def kr_rrn(rng: random.Random) -> str:
    return _checked(rng, _kr_body, _kr_check, _kr_layout, valid=True)


def kr_rrn_invalid(rng: random.Random) -> str:
    return _checked(rng, _kr_body, _kr_check, _kr_layout, valid=False)


# -- Japan: Individual Number (My Number) ------------------------------------------------------


def _jp_check(body: str) -> str:
    # P_n: the n-th digit from the right of the eleven; Q_n = n + 1 for n <= 6, else n - 5.
    total = sum(int(p) * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    remainder = total % 11
    return "0" if remainder <= 1 else str(11 - remainder)


def _jp_layout(rng: random.Random, value: str) -> str:
    style = rng.random()
    if style < 0.5:
        return _group(value, [4, 4, 4], " ")
    if style < 0.8:
        return _group(value, [4, 4, 4], "-")
    return value


def jp_my_number(rng: random.Random) -> str:
    return _checked(rng, _jp_body, _jp_check, _jp_layout, valid=True)


def jp_my_number_invalid(rng: random.Random) -> str:
    return _checked(rng, _jp_body, _jp_check, _jp_layout, valid=False)


# -- United Kingdom: NHS number ----------------------------------------------------------------


def _nhs_value(rng: random.Random) -> str:
    while True:
        body = rng.choice("4467") + digits(rng, 8)  # England and Wales: 400-499, 600-799
        check = 11 - _weighted(body, (10, 9, 8, 7, 6, 5, 4, 3, 2)) % 11
        if check != 10:  # a body whose check would be 10 is never issued
            return body + str(0 if check == 11 else check)


def _nhs_layout(rng: random.Random, value: str) -> str:
    return _group(value, [3, 3, 4], " ") if rng.random() < 0.8 else value


def uk_nhs(rng: random.Random) -> str:
    return _nhs_layout(rng, _nhs_value(rng))


def uk_nhs_invalid(rng: random.Random) -> str:
    value = _nhs_value(rng)
    return _nhs_layout(rng, value[:-1] + _other(rng, string.digits, value[-1]))


# -- Switzerland: AHV number (AHVN13) ----------------------------------------------------------


def _ean13_check(body: str) -> str:
    total = sum(int(ch) * (3 if i % 2 else 1) for i, ch in enumerate(body))
    return str((10 - total % 10) % 10)


def _ahv_layout(rng: random.Random, value: str) -> str:
    return _group(value, [3, 4, 4, 2], ".") if rng.random() < 0.85 else value


def ch_ahv(rng: random.Random) -> str:
    return _checked(rng, _ahv_body, _ean13_check, _ahv_layout, valid=True)


def ch_ahv_invalid(rng: random.Random) -> str:
    return _checked(rng, _ahv_body, _ean13_check, _ahv_layout, valid=False)


# -- Belgium: national register number ---------------------------------------------------------


def _be_parts(rng: random.Random) -> tuple[str, int, int]:
    """The nine digits, the check for the century of birth, and the other century's."""
    born = _birth_date(rng, 1940, 2015)
    body = f"{born:%y%m%d}{rng.randint(1, 997):03d}"
    before_2000, from_2000 = 97 - int(body) % 97, 97 - int("2" + body) % 97
    if born.year >= 2000:
        return body, from_2000, before_2000
    return body, before_2000, from_2000


def _be_layout(rng: random.Random, value: str) -> str:
    if rng.random() < 0.7:
        return f"{value[:2]}.{value[2:4]}.{value[4:6]}-{value[6:9]}.{value[9:]}"
    return value


def be_national_number(rng: random.Random) -> str:
    body, check, _ = _be_parts(rng)
    return _be_layout(rng, f"{body}{check:02d}")


def be_national_number_invalid(rng: random.Random) -> str:
    body, check, other = _be_parts(rng)  # wrong under either century's rule
    wrong = rng.choice([c for c in range(1, 98) if c not in (check, other)])
    return _be_layout(rng, f"{body}{wrong:02d}")


# -- Norway: fødselsnummer ---------------------------------------------------------------------


def _mod11_check(body: str, weights: tuple[int, ...]) -> int:
    """11 - sum % 11 with 11 -> 0; 10 means the body is never issued."""
    check = 11 - _weighted(body, weights) % 11
    return 0 if check == 11 else check


def _no_value(rng: random.Random) -> str:
    born = _birth_date(rng, 1940, 2015)
    while True:
        individual = rng.randint(0, 499) if born.year < 2000 else rng.randint(500, 999)
        body = f"{born:%d%m%y}{individual:03d}"
        k1 = _mod11_check(body, (3, 7, 6, 1, 8, 9, 4, 5, 2))
        if k1 == 10:
            continue
        k2 = _mod11_check(f"{body}{k1}", (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))
        if k2 != 10:
            return f"{body}{k1}{k2}"


def _no_layout(rng: random.Random, value: str) -> str:
    return value if rng.random() < 0.7 else f"{value[:6]} {value[6:]}"


def no_fnr(rng: random.Random) -> str:
    return _no_layout(rng, _no_value(rng))


def no_fnr_invalid(rng: random.Random) -> str:
    value = _no_value(rng)
    if rng.random() < 0.5:  # a wrong second check digit
        value = value[:-1] + _other(rng, string.digits, value[-1])
    else:  # a wrong first one (then the second fails too, or already did)
        value = value[:-2] + _other(rng, string.digits, value[-2]) + value[-1]
    return _no_layout(rng, value)


# -- Denmark: CPR number -----------------------------------------------------------------------

_CPR_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def _cpr_body(rng: random.Random) -> str:
    """Date of birth and the first three serial digits; the first serial digit tells the
    century (0-3 and, for years 37-99, 4 and 9: 1900s; 4-9 for years 00-36: 2000s)."""
    born = _birth_date(rng, 1940, 2015)
    century_digit = rng.choice("012349" if born.year < 2000 else "456789")
    return f"{born:%d%m%y}{century_digit}{digits(rng, 2)}"


def _cpr_layout(rng: random.Random, value: str) -> str:
    return f"{value[:6]}-{value[6:]}" if rng.random() < 0.9 else value


def dk_cpr(rng: random.Random) -> str:
    """Seven in ten satisfy the modulus-11 check (numbers issued before 2007); the rest
    carry any last digit, as numbers issued since may."""
    if rng.random() < 0.7:
        while True:
            body = _cpr_body(rng)
            last = -_weighted(body, _CPR_WEIGHTS[:9]) % 11
            if last < 10:
                return _cpr_layout(rng, f"{body}{last}")
    return _cpr_layout(rng, _cpr_body(rng) + digits(rng, 1))


def dk_cpr_invalid(rng: random.Random) -> str:
    """Fails the modulus-11 check (still a real number for CPRs issued since 2007)."""
    body = _cpr_body(rng)
    right = -_weighted(body, _CPR_WEIGHTS[:9]) % 11
    return _cpr_layout(rng, body + _other(rng, string.digits, str(right)))


# -- South Africa: identity number -------------------------------------------------------------


def _za_body(rng: random.Random) -> str:
    citizenship = "0" if rng.random() < 0.85 else "1"
    return f"{_birth_date(rng, 1940, 2015):%y%m%d}{digits(rng, 4)}{citizenship}8"


def _za_layout(rng: random.Random, value: str) -> str:
    return value if rng.random() < 0.85 else _group(value, [6, 4, 3], " ")


def za_id(rng: random.Random) -> str:
    return _checked(rng, _za_body, _luhn_digit, _za_layout, valid=True)


def za_id_invalid(rng: random.Random) -> str:
    return _checked(rng, _za_body, _luhn_digit, _za_layout, valid=False)


# -- Finland: henkilötunnus --------------------------------------------------------------------

_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _hetu_parts(rng: random.Random) -> tuple[str, str, str]:
    """The date and individual number, the century sign, and the check character."""
    born = _birth_date(rng, 1940, 2015)
    if born.year < 2000:
        sign = "-" if rng.random() < 0.9 else rng.choice("YXWVU")  # the 2023 signs at 10%
    else:
        sign = "A" if rng.random() < 0.9 else rng.choice("BCDEF")
    number = f"{born:%d%m%y}{rng.randint(2, 899):03d}"
    return number, sign, _HETU_CHECK[int(number) % 31]


def fi_hetu(rng: random.Random) -> str:
    number, sign, check = _hetu_parts(rng)
    return f"{number[:6]}{sign}{number[6:]}{check}"


def fi_hetu_invalid(rng: random.Random) -> str:
    number, sign, check = _hetu_parts(rng)
    return f"{number[:6]}{sign}{number[6:]}{_other(rng, _HETU_CHECK, check)}"


# -- Singapore: NRIC / FIN ---------------------------------------------------------------------

# Indexed by (weighted sum + 4 for T and G) % 11; S1234567D: sum 106, 106 % 11 = 7 -> "D".
_NRIC_LETTERS = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK"}


def _nric_parts(rng: random.Random) -> tuple[str, str]:
    prefix = rng.choices("STFG", weights=(50, 25, 15, 10))[0]
    body = digits(rng, 7)
    total = _weighted(body, (2, 7, 6, 5, 4, 3, 2)) + (4 if prefix in "TG" else 0)
    return prefix + body, _NRIC_LETTERS[prefix][total % 11]


def sg_nric(rng: random.Random) -> str:
    head, check = _nric_parts(rng)
    return head + check


def sg_nric_invalid(rng: random.Random) -> str:
    head, check = _nric_parts(rng)
    return head + _other(rng, _NRIC_LETTERS[head[0]], check)


# -- Ireland: PPS number -----------------------------------------------------------------------

_PPS_CHECK = "WABCDEFGHIJKLMNOPQRSTUV"


def _pps_parts(rng: random.Random) -> tuple[str, str, str]:
    """The seven digits, the check letter, and the second letter ("A" or none)."""
    body, second = digits(rng, 7), "A" if rng.random() < 0.4 else ""
    total = _weighted(body, (8, 7, 6, 5, 4, 3, 2)) + (9 if second else 0)  # "A" counts 1, weight 9
    return body, _PPS_CHECK[total % 23], second


def ie_pps(rng: random.Random) -> str:
    body, check, second = _pps_parts(rng)
    return f"{body}{check}{second}"


def ie_pps_invalid(rng: random.Random) -> str:
    body, check, second = _pps_parts(rng)
    return f"{body}{_other(rng, _PPS_CHECK, check)}{second}"


# -- Mexico: CURP -------------------------------------------------------------------------------

_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CURP_STATES = ("AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC",
                "MN", "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ", "YN",
                "ZS")  # fmt: skip
# Words RENAPO never issues as the first four letters (its list of inconvenient words).
_CURP_BLOCKED_WORDS = """
    BACA BAKA BUEI BUEY CACA CACO CAGA CAGO CAKA CAKO COGE COGI COJA COJE COJI COJO COLA CULO FALO FETO GETA
    GUEI GUEY JETA JOTO KACA KACO KAGA KAGO KAKA KAKO KOGE KOGI KOJA KOJE KOJI KOJO KOLA KULO LILO LOCA LOCO
    LOKA LOKO MAME MAMO MEAR MEAS MEON MIAR MION MOCO MOKO MULA MULO NACA NACO PEDA PEDO PENE PIPI PITO POPO
    PUTA PUTO QULO RATA ROBA ROBE ROBO RUIN SENO TETA VACA VAGA VAGO VAKA VUEI VUEY WUEI WUEY
"""
_CURP_BLOCKED = frozenset(_CURP_BLOCKED_WORDS.split())


def _curp_check(first17: str) -> str:
    total = sum(_CURP_ALPHABET.index(c) * (18 - i) for i, c in enumerate(first17))
    return str((10 - total % 10) % 10)


def _curp_body(rng: random.Random) -> str:
    while True:
        # Initial and first inner vowel of the first surname, initial of the second
        # surname (X when there is none), initial of the given name.
        name = (
            rng.choice("BCDFGHJLMNPRSTVZ")
            + rng.choice("AEIOU")
            + rng.choice("ABCDEFGHIJLMNOPRSTVZX" if rng.random() < 0.95 else "X")
            + rng.choice("ABCDEFGHIJLMNOPRSTVY")
        )
        if name not in _CURP_BLOCKED:
            break
    born = _birth_date(rng, 1940, 2015)
    state = rng.choice(_CURP_STATES) if rng.random() < 0.97 else "NE"  # NE: born abroad
    consonants = "".join(rng.choice("BCDFGHJLMNPRSTVZX") for _ in range(3))
    homonym = rng.choice(string.digits if born.year < 2000 else string.ascii_uppercase)
    return f"{name}{born:%y%m%d}{rng.choice('HM')}{state}{consonants}{homonym}"


def mx_curp(rng: random.Random) -> str:
    return _checked(rng, _curp_body, _curp_check, _as_written, valid=True)


def mx_curp_invalid(rng: random.Random) -> str:
    return _checked(rng, _curp_body, _curp_check, _as_written, valid=False)


# -- registries --------------------------------------------------------------------------------

WORLD_ID_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "CN_RESIDENT_ID": cn_resident_id,
    "KR_RRN": kr_rrn,
    "JP_MY_NUMBER": jp_my_number,
    "UK_NHS": uk_nhs,
    "CH_AHV": ch_ahv,
    "BE_NATIONAL_NUMBER": be_national_number,
    "NO_FNR": no_fnr,
    "DK_CPR": dk_cpr,
    "ZA_ID": za_id,
    "FI_HETU": fi_hetu,
    "SG_NRIC": sg_nric,
    "IE_PPS": ie_pps,
    "MX_CURP": mx_curp,
}

# Korean numbers issued since October 2020 and Danish ones since 2007 carry no valid
# check digit, so a failed check does not make those two lookalikes.
WORLD_ID_LOOKALIKES: dict[str, Callable[[random.Random], str]] = {
    "CN_RESIDENT_ID": cn_resident_id_invalid,
    "JP_MY_NUMBER": jp_my_number_invalid,
    "UK_NHS": uk_nhs_invalid,
    "CH_AHV": ch_ahv_invalid,
    "BE_NATIONAL_NUMBER": be_national_number_invalid,
    "NO_FNR": no_fnr_invalid,
    "ZA_ID": za_id_invalid,
    "FI_HETU": fi_hetu_invalid,
    "SG_NRIC": sg_nric_invalid,
    "IE_PPS": ie_pps_invalid,
    "MX_CURP": mx_curp_invalid,
}

WORLD_ID_TEMPLATES: dict[str, tuple[str, ...]] = {
    "CN_RESIDENT_ID": ("Resident ID: {v}", "身份证号码：{v}", "公民身份号码 {v}"),  # noqa: RUF001
    "KR_RRN": ("주민등록번호 {v}", "RRN: {v}", "Resident registration number {v}"),
    "JP_MY_NUMBER": ("マイナンバー: {v}", "Individual Number: {v}", "個人番号：{v}"),  # noqa: RUF001
    "UK_NHS": ("NHS number {v}", "NHS No: {v}", "Patient's NHS number is {v}."),
    "CH_AHV": ("AHV-Nr. {v}", "No AVS {v}", "Swiss social security number (AHV) {v}"),
    "BE_NATIONAL_NUMBER": ("rijksregisternummer {v}", "numéro de registre national {v}", "Belgian national no. {v}"),
    "NO_FNR": ("fødselsnummer {v}", "Fødselsnr.: {v}", "Norwegian national identity number {v}"),
    "DK_CPR": ("CPR-nr. {v}", "CPR number {v}", "CPR-nummer: {v}"),
    "ZA_ID": ("ID number {v}", "South African ID {v}", "SA ID no.: {v}"),
    "FI_HETU": ("henkilötunnus {v}", "hetu {v}", "Finnish personal identity code {v}"),
    "SG_NRIC": ("NRIC {v}", "FIN {v}", "NRIC/FIN no.: {v}"),
    "IE_PPS": ("PPS number {v}", "PPSN {v}", "Uimhir PSP: {v}"),
    "MX_CURP": ("CURP: {v}", "Clave Única de Registro de Población {v}", "Mi CURP es {v}."),
}
