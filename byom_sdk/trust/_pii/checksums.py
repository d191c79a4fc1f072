"""Checksums and structure rules of payment and national identifiers.

Each function takes the value already stripped of separators and answers whether it is
well-formed; none of them looks at the surrounding text.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "IBAN_LENGTHS",
    "card_brand",
    "de_tax_id_valid",
    "es_nie_valid",
    "es_nif_valid",
    "fr_nir_valid",
    "iban_valid",
    "it_fiscal_code_valid",
    "luhn_valid",
    "ssn_valid",
    "uk_nino_valid",
]

_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    if not digits.isascii():  # decimal digits of other scripts (full-width...): their values
        digits = "".join([str(int(c)) for c in digits])
    total = sum(map(int, digits[-1::-2])) + sum(map(_DOUBLED.__getitem__, digits[-2::-2]))
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card network whose issuer range and length fit ``digits`` (or ``None``).

    Covers Visa, Mastercard (51-55 and the 2-series 2221-2720), Amex, Discover, Diners,
    JCB, UnionPay, Mir, RuPay, Verve and Maestro.
    """
    n = len(digits)
    if n < 12 or n > 19:
        return None
    p6 = int(digits[:6])
    p4, p3, p2 = p6 // 100, p6 // 1000, p6 // 10000
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if (300 <= p3 <= 305 or p3 == 309 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 35 and 16 <= n <= 19:  # JCB's assigned range is 3528-3589; the rest of 35 is JCB's too
        return "jcb"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if (506099 <= p6 <= 506198 or 650002 <= p6 <= 650027) and n in (16, 18, 19):
        return "verve"
    if (p2 in (60, 81, 82) or p3 == 508) and n == 16:
        return "rupay"
    if (p2 == 50 or 56 <= p2 <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


#: IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_IBAN_LETTERS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def iban_valid(compact: str) -> bool:
    """Country length and the ISO 7064 mod-97 check of an IBAN without spaces."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    if not rearranged.isalnum():
        return False
    return int(rearranged.translate(_IBAN_LETTERS)) % 97 == 1


_SSN_BLOCKLIST = frozenset({"078051120", "219099999", "123456789"})


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN structure: area 001-899 except 666, group 01-99, serial 0001-9999.

    Numbers the SSA voided after they were published (078-05-1120 from a wallet insert,
    219-09-9999 from an ad, and the sample 123-45-6789) are rejected too; see
    :func:`ssn_published` for how the detector still masks them beside an SSN label.
    """
    return ssn_shaped(area, group, serial) and not ssn_published(area + group + serial)


def ssn_shaped(area: str, group: str, serial: str) -> bool:
    """The SSN structure alone (no list of voided numbers)."""
    a = int(area)
    return not (a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000")


def ssn_published(digits: str) -> bool:
    """One of the voided, widely published numbers. Never issued to anyone, but a text that
    labels one an SSN uses it as one (sample data, a form filled in for a test), so the
    detector still masks it when an SSN context word is near, and only then."""
    return digits in _SSN_BLOCKLIST


def de_tax_id_valid(digits: str) -> bool:
    """German Steuerliche Identifikationsnummer: 11 digits, no leading zero, exactly one
    digit repeated (twice or three times) in the first ten, ISO 7064 MOD 11,10 check."""
    if len(digits) != 11 or digits[0] == "0" or not digits.isdigit():
        return False
    counts = sorted((digits[:10].count(d) for d in set(digits[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] != 1):
        return False
    product = 10
    for d in digits[:10]:
        total = (int(d) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(digits[10])


def fr_nir_valid(compact: str) -> bool:
    """French NIR (numéro de sécurité sociale): sex, year, month, département (``2A``/
    ``2B`` for Corsica), commune, order and the 2-digit key ``97 - n mod 97``."""
    if len(compact) != 15 or compact[0] not in "123478":
        return False
    month = compact[3:5]
    if not month.isdigit() or not (1 <= int(month) <= 12 or 20 <= int(month) <= 42 or 50 <= int(month) <= 99):
        return False
    body = compact[:13]
    if body[5:7] == "2A":
        body = body[:5] + "19" + body[7:]
    elif body[5:7] == "2B":
        body = body[:5] + "18" + body[7:]
    if not body.isdigit() or not compact[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(compact[13:])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_nif_valid(compact: str) -> bool:
    """Spanish DNI/NIF: 8 digits and the control letter ``TRWAGMYFPDXBNJZSQVHLCKE[n % 23]``."""
    return len(compact) == 9 and compact[:8].isdigit() and _DNI_LETTERS[int(compact[:8]) % 23] == compact[8]


def es_nie_valid(compact: str) -> bool:
    """Spanish NIE: X, Y or Z (read as 0, 1, 2), 7 digits and the DNI control letter."""
    if len(compact) != 9 or compact[0] not in "XYZ" or not compact[1:8].isdigit():
        return False
    return _DNI_LETTERS[int(str("XYZ".index(compact[0])) + compact[1:8]) % 23] == compact[8]


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
), strict=True))  # fmt: skip
_CF_EVEN = {**{str(d): d for d in range(10)}, **{c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}
_CF_MONTHS = frozenset("ABCDEHLMPRST")
_CF_DIGIT = "0123456789LMNPQRSTUV"  # omocodia: a clashing code swaps digits for these letters


def it_fiscal_code_valid(code: str) -> bool:
    """Italian codice fiscale: 6 letters, year, month letter, day (+40 for women),
    municipality code, and the control character (digits may be omocodia letters)."""
    if len(code) != 16 or not code[:6].isalpha() or code[8] not in _CF_MONTHS or not code[11].isalpha():
        return False
    for i in (6, 7, 9, 10, 12, 13, 14):
        if code[i] not in _CF_DIGIT:
            return False
    day = "".join(str(_CF_DIGIT.index(c) % 10) for c in code[9:11])
    if not (1 <= int(day) <= 31 or 41 <= int(day) <= 71):
        return False
    total = sum(_CF_ODD[c] for c in code[0:15:2]) + sum(_CF_EVEN[c] for c in code[1:15:2])
    return chr(ord("A") + total % 26) == code[15]


_NINO_FIRST = frozenset("ABCEGHJKLMNOPRSTWXYZ")
_NINO_SECOND = frozenset("ABCEGHJKLMNPRSTWXYZ")
_NINO_BANNED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino_valid(compact: str) -> bool:
    """UK National Insurance number: two prefix letters from the allocated ranges, six
    digits, suffix A-D (it carries no check digit)."""
    return (
        len(compact) == 9
        and compact[0] in _NINO_FIRST
        and compact[1] in _NINO_SECOND
        and compact[:2] not in _NINO_BANNED
        and compact[2:8].isdigit()
        and compact[8] in "ABCD"
    )
