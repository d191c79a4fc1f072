"""National identity and tax numbers outside Europe's big five, read from a digit run: each
by its written shapes and its check digits (and, where it holds one, a valid birth date).

A shape written the way the number is printed (``123.456.789-09``, ``2345 6789 0124``)
scores well on its own; the same digits without separators are any number, so they count
only beside a label (the context words add the rest).
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from .checksums import luhn_valid
from .world import (
    be_national_number_valid,
    ch_ahv_valid,
    cn_resident_id_valid,
    dk_cpr_date_valid,
    dk_cpr_mod11_valid,
    fi_hetu_valid,
    jp_my_number_valid,
    kr_rrn_check_valid,
    kr_rrn_date_valid,
    no_fnr_valid,
    uk_nhs_valid,
    za_id_valid,
)

__all__ = [
    "au_medicare_valid",
    "au_tfn_valid",
    "br_cnpj_valid",
    "br_cpf_valid",
    "ca_sin_valid",
    "in_aadhaar_valid",
    "national_options",
    "nl_bsn_valid",
    "pl_pesel_valid",
    "se_personnummer_valid",
]

# entity, score, start, end
Option = tuple[str, float, int, int]

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def _repeated(digits: str) -> bool:
    return digits == digits[0] * len(digits)


def in_aadhaar_valid(digits: str) -> bool:
    """India's Aadhaar: 12 digits, not starting 0 or 1, Verhoeff check digit."""
    if len(digits) != 12 or digits[0] in "01":
        return False
    check = 0
    for i, d in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(d)]]
    return check == 0


def br_cpf_valid(digits: str) -> bool:
    """Brazil's CPF: 11 digits, two mod-11 check digits; not one digit repeated."""
    if len(digits) != 11 or _repeated(digits):
        return False
    for n in (9, 10):
        total = sum(int(digits[i]) * (n + 1 - i) for i in range(n))
        if total * 10 % 11 % 10 != int(digits[n]):
            return False
    return True


_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def br_cnpj_valid(digits: str) -> bool:
    """Brazil's CNPJ (a company, often a sole trader's): 14 digits, two mod-11 checks."""
    if len(digits) != 14 or _repeated(digits):
        return False
    for n in (12, 13):
        remainder = _weighted(digits[:n], _CNPJ_WEIGHTS[13 - n :]) % 11
        if (0 if remainder < 2 else 11 - remainder) != int(digits[n]):
            return False
    return True


def ca_sin_valid(digits: str) -> bool:
    """Canada's Social Insurance Number: 9 digits, Luhn; never starting 8 (a business
    number). 0 is not issued, but is the documented sample (046 454 286)."""
    return len(digits) == 9 and digits[0] != "8" and luhn_valid(digits)


def au_tfn_valid(digits: str) -> bool:
    """Australia's Tax File Number: 9 digits, weighted mod 11."""
    return len(digits) == 9 and not _repeated(digits) and _weighted(digits, (1, 4, 3, 7, 5, 8, 6, 9, 10)) % 11 == 0


def au_medicare_valid(digits: str) -> bool:
    """Australia's Medicare card number: 10 digits, starting 2-6, the 9th a weighted check,
    the 10th the card's issue number (1-9)."""
    return (
        len(digits) == 10
        and digits[0] in "23456"
        and digits[9] != "0"
        and _weighted(digits[:8], (1, 3, 7, 9, 1, 3, 7, 9)) % 10 == int(digits[8])
    )


def nl_bsn_valid(digits: str) -> bool:
    """The Netherlands' burgerservicenummer: 9 digits, the "elfproef" (11-test)."""
    if len(digits) != 9 or _repeated(digits):
        return False
    return (_weighted(digits[:8], (9, 8, 7, 6, 5, 4, 3, 2)) - int(digits[8])) % 11 == 0


def _date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


_PESEL_CENTURY = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}


def pl_pesel_valid(digits: str) -> bool:
    """Poland's PESEL: a birth date (the century in the month), a serial and a weighted
    check digit."""
    if len(digits) != 11 or _repeated(digits):
        return False
    month = int(digits[2:4])
    offset = next((o for o in (80, 60, 40, 20, 0) if month > o), 0)
    if not _date(_PESEL_CENTURY[offset] + int(digits[:2]), month - offset, int(digits[4:6])):
        return False
    return (10 - _weighted(digits[:10], (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)) % 10) % 10 == int(digits[10])


def se_personnummer_valid(digits: str) -> bool:
    """Sweden's personnummer (or samordningsnummer, day + 60): a birth date, not in the
    future when its century is written, a serial and a Luhn check over the 10-digit form."""
    century = len(digits) == 12
    if century:
        year, digits = int(digits[:4]), digits[2:]
    elif len(digits) == 10:
        year = 2000 + int(digits[:2])  # any leap-year-consistent century will do
    else:
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if day > 60:
        day -= 60
    if not (_date(year, month, day) and luhn_valid(digits)):
        return False
    # "20300817-0841": nobody is born in the future (a 10-digit number's century is the one
    # that puts its date in the past, so only the 12-digit form is checked).
    return not century or (year, month, day) <= date.today().timetuple()[:3]


def _time_of_day(digits: str) -> bool:
    """``digits`` (four) read as HHMM."""
    return int(digits[:2]) < 24 and int(digits[2:]) < 60


# Before a 4-4-4 number: a shipment's or an order's, not an Aadhaar (FedEx prints its
# tracking numbers 4-4-4).
_NOT_AN_AADHAAR = re.compile(
    r"(?i)(?:track|fedex|ups\b|dhl|awb|waybill|shipment|parcel|package|consignment|sendung|colis|envio|spedizion"
    r"|order|invoice|ticket|booking|ref\b|reference|serial|imei)"
)


def national_options(
    lengths: tuple[int, ...], seps: list[str], digits: str, start: int, end: int, *, text: str = ""
) -> list[Option]:
    """The national numbers groups of ``lengths`` digits, with the separators ``seps``
    between them, may be (``text``: what they stand in, for the words before them).

    A printed shape with a strong check (a Swiss ``756.9217.0769.85``, a Korean
    ``800101-1234568``, a Chinese id's 18 digits) scores on its own; shapes shared with
    other numbers (``943 476 5919``: an NHS number or a US phone) or checks that catch
    only one error in eleven need their label."""
    total = len(digits)
    compact = len(lengths) == 1
    uniform = "" if compact else seps[0] if seps.count(seps[0]) == len(seps) else None
    options: list[Option] = []
    if total == 11 and lengths == (4, 5, 1, 1) and seps[-1] == "/" and au_medicare_valid(digits[:10]):
        return [("AU_MEDICARE", 0.6, start, end)]  # "3016 37886 2/1": the card's number, then the holder's
    if total == 11:
        printed = lengths == (3, 3, 3, 2) and seps == [".", ".", "-"]
        # Also "332 721 589 87" and "332721589-87": as printed, less the usual punctuation.
        loose = (lengths == (3, 3, 3, 2) and uniform == " ") or (lengths == (9, 2) and seps[0] == "-")
        if (compact or printed or loose) and br_cpf_valid(digits):
            options.append(("BR_CPF", 0.45 if compact else 0.9 if printed else 0.6, start, end))
        if compact and pl_pesel_valid(digits):
            options.append(("PL_PESEL", 0.45, start, end))
        if (compact or (lengths == (6, 5) and uniform in (" ", "-"))) and no_fnr_valid(digits):
            options.append(("NO_FNR", 0.45 if compact else 0.7, start, end))
        if be_national_number_valid(digits):
            if compact:
                options.append(("BE_NATIONAL_NUMBER", 0.45, start, end))
            elif lengths == (2, 2, 2, 3, 2) and seps == [".", ".", "-", "."]:
                options.append(("BE_NATIONAL_NUMBER", 0.9, start, end))  # "85.07.30-033.28", as printed
            elif (lengths == (2, 2, 2, 3, 2) or lengths == (6, 3, 2)) and all(sep in (".", "-", " ") for sep in seps):
                # "85.07.30-033-28", "850730-033.28", "85 07 30 033 28": as typed from the card
                options.append(("BE_NATIONAL_NUMBER", 0.6, start, end))
    elif total == 14:
        if (compact or (lengths == (2, 3, 3, 4, 2) and seps == [".", ".", "/", "-"])) and br_cnpj_valid(digits):
            options.append(("BR_CNPJ", 0.45 if compact else 0.9, start, end))
    elif total == 12:
        grouped = lengths == (4, 4, 4) and uniform in (" ", "-")
        if (compact or grouped) and in_aadhaar_valid(digits):
            shipped = _NOT_AN_AADHAAR.search(text, max(0, start - 32), start) is not None
            options.append(("IN_AADHAAR", 0.4 if compact else 0.3 if shipped else 0.6, start, end))
        if (compact or (lengths == (8, 4) and seps[0] == "-")) and se_personnummer_valid(digits):
            # YYYYMMDD-HHMM since 2000 is a build's or a log's time stamp ("build 20181214-0554")
            # as often: its label decides (most holders are born before 2000).
            stamp = not compact and digits[:2] == "20" and _time_of_day(digits[8:])
            options.append(("SE_PERSONNUMMER", 0.35 if compact else 0.45 if stamp else 0.8, start, end))
        if (compact or grouped) and jp_my_number_valid(digits):
            options.append(("JP_MY_NUMBER", 0.3 if compact else 0.45, start, end))
    elif total == 9:
        spaced = lengths == (3, 3, 3) and uniform in (" ", "-")
        if (compact or spaced) and ca_sin_valid(digits):
            options.append(("CA_SIN", 0.3 if compact else 0.45, start, end))
        if (compact or (spaced and uniform == " ")) and au_tfn_valid(digits):
            options.append(("AU_TFN", 0.3 if compact else 0.45, start, end))
        if (compact or (lengths == (4, 2, 3) and uniform == ".")) and nl_bsn_valid(digits):
            options.append(("NL_BSN", 0.35 if compact else 0.6, start, end))
        elif lengths == (3, 3, 3) and uniform in (" ", ".") and nl_bsn_valid(digits):
            options.append(("NL_BSN", 0.35, start, end))  # "639 662 249": with its label
    elif total == 10:
        dashed = lengths == (6, 4) and seps[0] == "-"
        # A Danish or Finnish number first: one with its label then wins the tie with an
        # unlabelled personnummer's 0.8 (the same shape, its own check passing by chance);
        # beside "personnummer", which labels both, the Swedish reading scores higher.
        if (compact or (lengths == (6, 4) and seps[0] in ("-", " "))) and dk_cpr_date_valid(digits):
            # DDMMYY-NNNN is also the commonest date-coded reference: its label decides.
            options.append(("DK_CPR", (0.3 if dk_cpr_mod11_valid(digits) else 0.25) if compact else 0.45, start, end))
        if dashed and fi_hetu_valid(f"{digits[:6]}-{digits[6:]}"):
            options.append(("FI_HETU", 0.45, start, end))  # "131052-3081": its check character a digit
        if (compact or dashed) and se_personnummer_valid(digits):
            # DDMMYY-HHMM ("080305-1713") is a time stamp as well: its label decides.
            day, month = int(digits[:2]), int(digits[2:4])
            stamp = dashed and 1 <= day <= 31 and 1 <= month <= 12 and _time_of_day(digits[6:])
            options.append(("SE_PERSONNUMMER", 0.35 if compact else 0.45 if stamp else 0.8, start, end))
        if (compact or (lengths == (4, 5, 1) and uniform in (" ", "-"))) and au_medicare_valid(digits):
            options.append(("AU_MEDICARE", 0.3 if compact else 0.6, start, end))
        if (compact or (lengths == (3, 3, 4) and uniform in (" ", "-"))) and uk_nhs_valid(digits):
            options.append(("UK_NHS", 0.3 if compact else 0.45, start, end))
    elif total == 13:
        split = lengths == (6, 7) and seps[0] in ("-", " ")
        # Numbers issued since October 2020 carry no check digit: without it, a label decides.
        # A 7th digit 0 or 9 (born in the 1800s) is nobody's now, but a zero-padded serial's.
        if (
            (compact or split)
            and digits[6] not in "09"
            and kr_rrn_date_valid(digits)
            and (split or kr_rrn_check_valid(digits))
        ):
            checked = split and kr_rrn_check_valid(digits)
            options.append(("KR_RRN", (0.85 if seps[0] == "-" else 0.6) if checked else 0.4, start, end))
        if digits.startswith("756") and ch_ahv_valid(digits):
            if compact:
                options.append(("CH_AHV", 0.6, start, end))
            elif lengths == (3, 4, 4, 2) and uniform in (".", " ", "-"):
                options.append(("CH_AHV", 0.95 if uniform == "." else 0.8, start, end))  # "756.9217.0769.85"
        grouped = (lengths in ((6, 4, 3), (6, 4, 2, 1), (6, 7)) and uniform == " ") or (
            lengths == (6, 4, 3) and uniform == "-"
        )
        if (compact or grouped) and za_id_valid(digits):
            options.append(("ZA_ID", 0.45 if compact else 0.6, start, end))
    elif total == 18 and (compact or (lengths == (6, 8, 4) and uniform == " ")) and cn_resident_id_valid(digits):
        options.append(("CN_RESIDENT_ID", 0.85, start, end))
    return options
