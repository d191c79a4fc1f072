"""National identity numbers of thirteen more countries: China, South Korea, Japan, the UK's
NHS, Switzerland, Belgium, Norway, Denmark, South Africa, Finland, Singapore, Ireland and
Mexico. Each function checks a number's structure, the birth date it holds (if any) and its
check digit or letter.

Each takes the value already stripped of separators (letters upper-cased) and answers
whether it is well-formed; none looks at the surrounding text. They run on every candidate
of every prompt, so each tests length and character class first and raises nothing: only
ASCII digits reach ``int()`` (``"²".isdigit()`` is true, and ``int("²")`` raises).
"""

from __future__ import annotations

from .checksums import luhn_valid

__all__ = [
    "be_national_number_valid",
    "ch_ahv_valid",
    "cn_resident_id_valid",
    "dk_cpr_date_valid",
    "dk_cpr_mod11_valid",
    "fi_hetu_valid",
    "ie_pps_valid",
    "jp_my_number_valid",
    "kr_rrn_check_valid",
    "kr_rrn_date_valid",
    "mx_curp_valid",
    "no_fnr_valid",
    "sg_nric_valid",
    "uk_nhs_valid",
    "za_id_valid",
]

_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date(year: int, month: int, day: int) -> bool:
    """A real calendar date (Gregorian leap years)."""
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month]):
        return False
    return month != 2 or day < 29 or (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def _repeated(digits: str) -> bool:
    return digits == digits[0] * len(digits)


# -- China ---------------------------------------------------------------------------------

# Province-level codes of GB/T 2260, plus 83: the residence permits of Hong Kong, Macao and
# Taiwan residents (2018) carry a citizen identity number with address code 810000, 820000
# or 830000.
_CN_PROVINCES = frozenset((
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
))  # fmt: skip
_CN_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
_CN_CHECK = "10X98765432"  # (12 - sum % 11) % 11, with 10 written X


def cn_resident_id_valid(value: str) -> bool:
    """China's Resident Identity Card number (居民身份证号码, GB 11643-1999): a 6-digit
    address code (its first two digits a province-level code), the birth date YYYYMMDD
    (1900-2099), a 3-digit sequence and the ISO 7064 MOD 11-2 check character (10 as ``X``).
    """
    if len(value) != 18 or value[:2] not in _CN_PROVINCES:
        return False
    body = value[:17]
    if not (body.isascii() and body.isdigit()):
        return False
    year = int(body[6:10])
    if not (1900 <= year <= 2099 and _date(year, int(body[10:12]), int(body[12:14]))):
        return False
    return _CN_CHECK[_weighted(body, _CN_WEIGHTS) % 11] == value[17]


# -- South Korea -----------------------------------------------------------------------------

# The 7th digit: sex and century (5-8 for registered foreigners).
_KR_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}
_KR_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def kr_rrn_date_valid(digits: str) -> bool:
    """South Korea's Resident Registration Number (주민등록번호), YYMMDD-GNNNNNN: the 7th
    digit G gives sex and century (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s; 9, 0: 1800s) and
    YYMMDD must be a real date in that century."""
    if not _digits(digits, 13):
        return False
    century = _KR_CENTURY.get(digits[6], 1800)
    return _date(century + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))


def kr_rrn_check_valid(digits: str) -> bool:
    """The Resident Registration Number's last digit: weights 2-9, 2-5 over the first 12,
    check = (11 - sum % 11) % 10. Numbers issued since October 2020 end in a random digit
    instead (the region code and check digit were dropped), so only about one in ten of
    them passes: use it to raise confidence, not to reject."""
    if not _digits(digits, 13):
        return False
    return (11 - _weighted(digits, _KR_WEIGHTS) % 11) % 10 == int(digits[12])


# -- Japan ---------------------------------------------------------------------------------

# MIC ordinance No. 85 (2014), art. 5: P_n is the n-th digit from the right of the first 11,
# Q_n = n + 1 for 1 <= n <= 6 and n - 5 for 7 <= n <= 11; read left to right:
_JP_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def jp_my_number_valid(digits: str) -> bool:
    """Japan's Individual Number (個人番号, "My Number"): 12 digits, the last a check digit
    r = sum(P_n * Q_n) mod 11, 0 if r <= 1 else 11 - r. One digit repeated is no number."""
    if not _digits(digits, 12) or _repeated(digits):
        return False
    r = _weighted(digits, _JP_WEIGHTS) % 11
    return (0 if r <= 1 else 11 - r) == int(digits[11])


# -- United Kingdom --------------------------------------------------------------------------

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def uk_nhs_valid(digits: str) -> bool:
    """The NHS number (England, Wales, Isle of Man; Scotland's CHI and Northern Ireland's
    H&C numbers share the scheme): 10 digits, modulus 11 with weights 10..2 over the first
    nine, 11 - remainder (11 becomes 0; 10 is never issued). One digit repeated is no number.
    """
    if not _digits(digits, 10) or _repeated(digits):
        return False
    check = 11 - _weighted(digits, _NHS_WEIGHTS) % 11
    return check != 10 and check % 11 == int(digits[9])


# -- Switzerland -----------------------------------------------------------------------------


def ch_ahv_valid(digits: str) -> bool:
    """The Swiss social security number (AHV/AVS number, AHVN13): ``756`` (Switzerland's
    EAN country prefix), nine digits and an EAN-13 check digit."""
    if not (_digits(digits, 13) and digits.startswith("756")):
        return False
    return (10 - _weighted(digits, (1, 3) * 6) % 10) % 10 == int(digits[12])


# -- Belgium ---------------------------------------------------------------------------------


def be_national_number_valid(digits: str) -> bool:
    """Belgium's national register number (rijksregisternummer / numéro de registre
    national) or BIS number: YYMMDD, a 3-digit serial (not 000) and two check digits,
    97 - (the first nine digits) mod 97, with a ``2`` put in front of the nine for people
    born in 2000 or later (either century is accepted).

    Month and day are 00 where they were unknown; a BIS number adds 20 (sex unknown) or 40
    to the month (royal decree of 8 February 1991). So the month is 0-12 once that is taken
    off, the day 0-31, and the date a real one (in the check digits' century) when both are
    set.
    """
    if not _digits(digits, 11) or digits[6:9] == "000":
        return False
    body, check = int(digits[:9]), int(digits[9:])
    if 97 - body % 97 == check:
        year = 1900
    elif 97 - (2_000_000_000 + body) % 97 == check:
        year = 2000
    else:
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if month >= 40:
        month -= 40
    elif month >= 20:
        month -= 20
    if month > 12 or day > 31:
        return False
    return month == 0 or day == 0 or _date(year + int(digits[:2]), month, day)


# -- Norway ----------------------------------------------------------------------------------

_NO_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_NO_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def no_fnr_valid(digits: str) -> bool:
    """Norway's fødselsnummer or D-number: DDMMYY, 3 individual digits and two mod-11 check
    digits k1 (weights 3,7,6,1,8,9,4,5,2) and k2 (weights 5,4,3,2,7,6,5,4,3,2), each
    11 - sum % 11 (11 becomes 0, 10 is never issued).

    A D-number adds 40 to the day, an H-number (help number) 40 to the month; the date must
    exist in some century (not read from the individual-number ranges: Skatteetaten reads
    the date digits of numbers issued from 2032 differently). FH-numbers (first digit 8 or
    9) hold no date and are rejected, as are numbers issued from 2032 whose control sum
    leaves 1, 2 or 3 (the new rule accepts 0-3; none is issued yet).
    """
    if not _digits(digits, 11):
        return False
    day, month = int(digits[:2]), int(digits[2:4])
    if day > 40:
        day -= 40
    if month > 40:
        month -= 40
    if not _date(2000 + int(digits[4:6]), month, day):  # 2000 + YY: a leap year if any is
        return False
    k1 = 11 - _weighted(digits, _NO_K1) % 11
    k2 = 11 - _weighted(digits, _NO_K2) % 11
    return k1 != 10 and k2 != 10 and k1 % 11 == int(digits[9]) and k2 % 11 == int(digits[10])


# -- Denmark ---------------------------------------------------------------------------------


def dk_cpr_date_valid(digits: str) -> bool:
    """Denmark's CPR number (personnummer), DDMMYY-SSSS: the birth date must exist, its
    century read from the 7th digit as the CPR office assigns them (0-3: 1900s; 4 and 9:
    2000s for YY 00-36, else 1900s; 5-8: 2000s for YY 00-57, else 1800s)."""
    if not _digits(digits, 10):
        return False
    year, serial = int(digits[4:6]), digits[6]
    if serial in "0123":
        year += 1900
    elif serial in "49":
        year += 2000 if year <= 36 else 1900
    else:
        year += 2000 if year <= 57 else 1800
    return _date(year, int(digits[2:4]), int(digits[:2]))


def dk_cpr_mod11_valid(digits: str) -> bool:
    """The CPR number's old modulus-11 check: weights 4,3,2,7,6,5,4,3,2,1, the sum a
    multiple of 11. Since 2007 numbers are issued without it (the series for some birth
    dates ran out), so a CPR number need not pass: use it to raise confidence only."""
    return _digits(digits, 10) and _weighted(digits, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)) % 11 == 0


# -- South Africa ----------------------------------------------------------------------------


def za_id_valid(digits: str) -> bool:
    """South Africa's identity number: YYMMDD (a real date in the 1900s or 2000s), a 4-digit
    sequence (0000-4999 female, 5000-9999 male), citizenship (0 citizen, 1 permanent
    resident, 2 refugee), a digit (usually 8) and a Luhn check digit."""
    if not _digits(digits, 13) or digits[10] not in "012":
        return False
    return _date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6])) and luhn_valid(digits)


# -- Finland ---------------------------------------------------------------------------------

# Century signs: "+" 1800s, "-" 1900s, "A" 2000s; since 2023 also Y X W V U (1900s) and
# B C D E F (2000s) (Digital and Population Data Services Agency).
_FI_CENTURY = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}
_FI_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"  # 31 characters: no G, I, O, Q, Z


def fi_hetu_valid(value: str) -> bool:
    """Finland's personal identity code (henkilötunnus), DDMMYYCZZZQ: the birth date, the
    century sign C, the individual number ZZZ (002-899; 900-999 are temporary codes) and
    the check character Q, ``0123456789ABCDEFHJKLMNPRSTUVWXY[int(DDMMYYZZZ) % 31]``."""
    if len(value) != 11:
        return False
    century = _FI_CENTURY.get(value[6])
    number = value[:6] + value[7:10]
    if century is None or not (number.isascii() and number.isdigit()) or not 2 <= int(value[7:10]) <= 899:
        return False
    if not _date(century + int(value[4:6]), int(value[2:4]), int(value[:2])):
        return False
    return _FI_CHECK[int(number) % 31] == value[10]


# -- Singapore -------------------------------------------------------------------------------

# Prefix: (constant added to the weighted sum, check letter for each remainder mod 11). The
# tables are SAP KBA 2572734's ("check digit" 11 - (remainder + 1) into ABCDEFGHIZJ,
# KLMNPQRTUWX and, for M, KLJNPQRTUWX) read backwards; GovTech's FormSG validator
# (opengovsg/FormSG shared/utils/nric-validation.ts) computes the same M series.
_SG_ST = "JZIHGFEDCBA"
_SG_FG = "XWUTRQPNMLK"
_SG_SERIES = {"S": (0, _SG_ST), "T": (4, _SG_ST), "F": (0, _SG_FG), "G": (4, _SG_FG), "M": (3, "XWUTRQPNJLK")}
_SG_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)


def sg_nric_valid(value: str) -> bool:
    """Singapore's NRIC / FIN: a prefix (S and T citizens and permanent residents born
    before and from 2000; F and G foreigners issued before and from 2000; M foreigners from
    2022), seven digits and a check letter, chosen by the weighted sum (weights 2,7,6,5,4,
    3,2; plus 4 for T and G, 3 for M) mod 11 from the prefix's table."""
    if len(value) != 9:
        return False
    series = _SG_SERIES.get(value[0])
    digits = value[1:8]
    if series is None or not (digits.isascii() and digits.isdigit()):
        return False
    constant, letters = series
    return letters[(constant + _weighted(digits, _SG_WEIGHTS)) % 11] == value[8]


# -- Ireland ---------------------------------------------------------------------------------

_IE_LETTERS = "WABCDEFGHIJKLMNOPQRSTUV"  # remainder 0 is W, then A = 1 ... V = 22
# The optional 9th character. Since 2013 "A" (people), "H" (non-individuals) and, since
# 2024, "B" count 9 times their place in the alphabet. Pre-2013 numbers ended in "W" (a
# married woman's number) or, for a second employment, "T" or "X"; those count 0 (DSP:
# "where a W or a blank already exists the assigned numeric value will be zero"; python-
# stdnum ie.pps ignores T and X the same way).
_IE_SUFFIX = {"A": 1, "B": 2, "H": 8, "W": 0, "T": 0, "X": 0}
_IE_WEIGHTS = (8, 7, 6, 5, 4, 3, 2)


def ie_pps_valid(value: str) -> bool:
    """Ireland's Personal Public Service number: seven digits, a check letter and an
    optional letter (A, B, H, or the old W, T, X); the check letter is
    ``WABCDEFGHIJKLMNOPQRSTUV[(sum(digit * (8 - i)) + 9 * suffix value) % 23]``."""
    length = len(value)
    if length != 8 and length != 9:
        return False
    digits = value[:7]
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = _weighted(digits, _IE_WEIGHTS)
    if length == 9:
        suffix = _IE_SUFFIX.get(value[8])
        if suffix is None:
            return False
        total += 9 * suffix
    return _IE_LETTERS[total % 23] == value[7]


# -- Mexico ----------------------------------------------------------------------------------

# RENAPO's check digit alphabet (Ñ between N and O: O is 25, not 24).
_MX_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ")}
# The 32 states (DF still for Mexico City) and NE, born abroad (nacido en el extranjero).
_MX_STATES = frozenset((
    "AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC", "MN", "MS",
    "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ", "YN", "ZS", "NE",
))  # fmt: skip
_MX_CONSONANTS = frozenset("BCDFGHJKLMNPQRSTVWXYZ")


def _upper_letters(value: str) -> bool:
    return value.isascii() and value.isalpha() and value.isupper()


def mx_curp_valid(value: str) -> bool:
    """Mexico's Clave Única de Registro de Población (CURP), 18 characters: four letters of
    the names, the birth date YYMMDD, sex (H, M, or X), the state of birth (NE born abroad),
    the first inner consonants of the surnames and given name, a homoclave (a digit for
    births before 2000, a letter from 2000) and a check digit: each of the first 17
    characters' value in ``0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ`` times (18 - position),
    check = (10 - sum % 10) % 10."""
    if len(value) != 18 or value[10] not in "HMX" or value[11:13] not in _MX_STATES:
        return False
    date, homoclave, check = value[4:10], value[16], value[17]
    if not (_upper_letters(value[:4]) and date.isascii() and date.isdigit() and "0" <= check <= "9"):
        return False
    if not (value[13] in _MX_CONSONANTS and value[14] in _MX_CONSONANTS and value[15] in _MX_CONSONANTS):
        return False
    if "0" <= homoclave <= "9":
        year = 1900
    elif "A" <= homoclave <= "Z":
        year = 2000
    else:
        return False
    if not _date(year + int(date[:2]), int(date[2:4]), int(date[4:])):
        return False
    total = sum(_MX_VALUES[c] * (18 - i) for i, c in enumerate(value[:17]))
    return (10 - total % 10) % 10 == int(check)
