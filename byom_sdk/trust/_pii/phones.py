"""Phone numbers by numbering plan.

A candidate is a sequence of digit groups (found by :mod:`.numeric`) with the
separators between them. It is a phone number when its digits fit a numbering plan:

- international (``+CC`` or ``00CC``): the country code is an assigned ITU code and, for
  the countries below, the national significant number (NSN) has a valid leading digit
  and length for that country; a trunk ``(0)`` is dropped;
- national: the digits fit one of the plans, with the trunk prefix where the country has
  one (``0`` in GB, DE, FR, NL, CH, AT, BE, IE, SE; the leading ``0`` of Italian fixed
  lines is part of the number; ES and PL have none; NANP ``NXX-NXX-XXXX``, optionally
  after a ``1``).

Plans (NSN after the trunk prefix): US/CA ``[2-9]XX[2-9]XXXXXX`` without N11 codes;
GB 9-10 digits by leading range; DE mobile ``15x/16x/17x`` 10-11, services
``180/700/800/900``, geographic ``[2-9]`` 6-11; FR ``[1-9]`` + 8; ES ``[5-9]`` + 8; IT
``0`` + 5-10 (fixed), ``3`` + 8-9 (mobile), ``80x``; NL ``[1-9]`` + 8 and short
``800/90x``; CH ``[2-9]`` + 8; AT 4-13; BE ``[1-9]`` + 7 and mobile ``4[5-9]`` + 7; IE
7-9; PL ``[1-9]`` + 8; SE 7-10. Written nationally without a trunk prefix, only in their
usual groupings: India's mobiles, Brazil, Mexico (two- and three-digit area codes),
China's mobiles.

The score says how sure the shape is without context: ``+CC`` with a plan 0.9, ``00CC``
0.75, an unplanned but assigned ``+CC`` 0.7 (``00CC`` 0.55 with the code a group of its
own, else 0.45); a national number in phone groupings
(``(0221) 64792002``, ``030 1234567``, ``01 23 45 67 89``, ``(555) 555-0134``) 0.55-0.7;
the same digits without separators 0.3-0.4, so a bare run counts only next to a
context word.

Decision: hand-written plans, not ``phonenumbers``. Measured on the 2-core shared
x86_64 development machine (Python 3.11, phonenumbers 9.0.43, under load):

- cost: ``phonenumbers.parse`` + ``is_valid_number`` takes 44-74 µs per candidate and
  region, and a national number must be tried against 13 regions (0.6-1 ms, the whole
  masking budget of a 2 KB prompt); ``PhoneNumberMatcher`` (what Presidio runs) scans
  2 KB in ~4.6 ms per region. These tables take 2-3 µs per candidate, all plans at once,
  and import nothing.
- quality: on the 2,696 phone numbers of the evaluation corpus the two agree on 2,642;
  the other 54 are accepted by the tables and rejected by libphonenumber (unassigned
  NANP area codes, unallocated Belgian and Swiss blocks): the tables are a slightly
  looser superset, so no valid number is lost, and precision is held by the grouping
  rules and the hard negatives (``bench/pii_quality.py --phone-oracle`` recomputes this).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["PLANS", "country_code", "international_score", "national_score"]

# National significant numbers per country calling code (trunk prefix stripped).
PLANS: Mapping[str, tuple[str, re.Pattern[str]]] = {
    code: (region, re.compile(pattern))
    for code, region, pattern in (
        ("1", "US/CA", r"[2-9]\d\d[2-9]\d{6}"),
        ("44", "GB", r"1\d{8,9}|2\d{9}|3\d{9}|5[56]\d{8}|7\d{9}|80\d{7,8}|8[47]\d{8}|9\d{9}"),
        ("49", "DE", r"15\d{8,9}|16[023]\d{7,8}|17\d{8,9}|180\d{5,8}|[79]00\d{7,8}|800\d{7,8}|[2-9]\d{5,10}"),
        ("33", "FR", r"[1-9]\d{8}"),
        ("34", "ES", r"[5-9]\d{8}"),
        ("39", "IT", r"0\d{5,10}|3\d{8,9}|8\d{7,9}"),
        ("31", "NL", r"[1-9]\d{8}|(?:800|90[069])\d{4,7}"),
        ("41", "CH", r"[2-9]\d{8}|800\d{6}"),
        ("43", "AT", r"1\d{3,12}|[2-9]\d{5,12}"),
        ("32", "BE", r"4[5-9]\d{7}|[1-9]\d{7}"),
        ("353", "IE", r"1\d{7}|[2-9]\d{6,8}"),
        ("48", "PL", r"[1-9]\d{8}"),
        ("46", "SE", r"[1-9]\d{6,9}"),
        # Plans read only after +CC / 00CC (nationally, see _written_without_trunk).
        ("91", "IN", r"[6-9]\d{9}|[1-8]\d{9}"),
        ("55", "BR", r"[1-9][1-9](?:9\d{8}|[2-5]\d{7})"),
        ("52", "MX", r"1?[1-9]\d{9}"),  # "+52 1 55 …": the mobile prefix some still dial
        ("86", "CN", r"1[3-9]\d{9}|10\d{8}|[2-9]\d{8,10}"),  # 10: Beijing
        ("61", "AU", r"[2-478]\d{8}|1[38]00\d{6}"),
    )
}
_TRUNK_ZERO = ("44", "49", "33", "31", "41", "43", "32", "353", "46")
_NO_TRUNK = ("34", "48")
# One alternation per family: a single fullmatch instead of one per country.
_ANY_TRUNK = re.compile("|".join(f"(?:{PLANS[cc][1].pattern})" for cc in _TRUNK_ZERO))
_ANY_NO_TRUNK = re.compile("|".join(f"(?:{PLANS[cc][1].pattern})" for cc in _NO_TRUNK))

# ITU-T E.164 country codes: 1 and 7 are one digit; these two-digit codes are assigned;
# every other code is three digits and starts with a two-digit block listed in _CC3.
_CC2 = frozenset(
    [
        "20",
        "27",
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
        "81",
        "82",
        "84",
        "86",
        "90",
        "91",
        "92",
        "93",
        "94",
        "95",
        "98",
    ]
)
# The assigned three-digit country calling codes (ITU-T E.164 list): +999, +990 and +969
# are not, so they start no phone number.
_CC3 = frozenset(
    prefix + last
    for prefix, lasts in {
        "21": "12368",
        "22": "0123456789",
        "23": "0123456789",
        "24": "0123456789",
        "25": "012345678",
        "26": "0123456789",
        "29": "01789",
        "35": "0123456789",
        "37": "0123456789",
        "38": "01235679",
        "42": "013",
        "50": "0123456789",
        "59": "0123456789",
        "67": "023456789",
        "68": "012356789",
        "69": "012",
        "85": "02356",
        "87": "08",
        "88": "012368",
        "96": "012345678",
        "97": "012345679",
        "99": "234568",
    }.items()
    for last in lasts
)


def country_code(digits: str) -> str | None:
    """The assigned country calling code ``digits`` starts with, if any."""
    if not digits or digits[0] == "0":
        return None
    if digits[0] in "17":
        return digits[0]
    if digits[:2] in _CC2:
        return digits[:2]
    if digits[:3] in _CC3:
        return digits[:3]
    return None


def _nanp_valid(nsn: str) -> bool:
    return len(nsn) == 10 and nsn[1:3] != "11" and nsn[4:6] != "11" and PLANS["1"][1].fullmatch(nsn) is not None


def international_score(digits: str, *, plus: bool, code_group: int = 0, groups: int = 1) -> float:
    """Score of ``digits`` (country code first, trunk ``(0)`` already dropped) written
    as an international number (``plus``: after ``+``, else after ``00``); 0 if invalid.
    ``code_group``: digits of the first group after ``00``; ``groups``: how many groups."""
    if not 8 <= len(digits) <= 15:  # E.164: at most 15 digits, the country code's included
        return 0.0
    cc = country_code(digits)
    if cc is None:
        return 0.0
    nsn = digits[len(cc) :]
    plan = PLANS.get(cc)
    if plan is None:
        if not 6 <= len(nsn) <= 13:
            return 0.0
        if plus:
            return 0.7
        # "00" is also how zero-padded numbers start; "00971 50 123 0625", the country code
        # a group of its own before two or more groups of the number, is how a phone is written.
        return 0.55 if code_group == len(cc) and groups >= 3 else 0.45
    if cc in _TRUNK_ZERO and nsn.startswith("0") and not nsn.startswith("00"):
        nsn = nsn[1:]  # "+49 0221 ..." is a common slip for "+49 (0)221 ..."
    ok = _nanp_valid(nsn) if cc == "1" else plan[1].fullmatch(nsn) is not None
    if not ok:
        return 0.0
    return 0.9 if plus else 0.75


def _national_plans(digits: str) -> tuple[bool, bool, bool]:
    """(NANP, trunk-0 country, no-trunk country) that ``digits`` fits."""
    # Each plan is looked at only where its leading digit fits (a regex call costs more).
    n = len(digits)
    first = digits[0]
    nanp = (n == 10 and first in _NANP_FIRST and _nanp_valid(digits)) or (
        n == 11 and first == "1" and digits[1] in _NANP_FIRST and _nanp_valid(digits[1:])
    )
    trunk = False
    if first == "0" and n >= 7 and digits[1] != "0":
        nsn = digits[1:]
        trunk = _ANY_TRUNK.fullmatch(nsn) is not None or PLANS["39"][1].fullmatch(digits) is not None
    bare = (n == 9 and first in _NO_TRUNK_FIRST and _ANY_NO_TRUNK.fullmatch(digits) is not None) or (
        first == "3" and PLANS["39"][1].fullmatch(digits) is not None
    )
    return nanp, trunk, bare


_NANP_FIRST = frozenset("23456789")  # NANP area codes start 2-9
_NO_TRUNK_FIRST = frozenset("123456789")  # ES [5-9], PL [1-9]


_NANP_SHAPES = ((3, 3, 4), (1, 3, 3, 4))
_BARE_SHAPES = frozenset(
    {(3, 3, 3), (3, 2, 2, 2), (2, 3, 2, 2), (2, 2, 2, 3), (3, 6), (2, 7), (3, 7), (3, 3, 4), (3, 4, 3)}
)


_BR_LOCAL = re.compile(r"[1-9][1-9](?:9\d{8}|[2-5]\d{7})")
_MX_METRO = frozenset({"55", "56", "33", "81"})
_MX_SEPS = frozenset({" ", "-", "."})


def _written_without_trunk(digits: str, shape: tuple[int, ...], seps: Sequence[str], paren_area: bool) -> float:
    """Countries dialled without a trunk prefix, in the groupings they are written in
    (a run without groups is any number): India's mobiles ``98765 43210`` (with a label), Brazil's
    ``(11) 91234-5678`` / ``(21) 2345-6789``, Mexico City, Guadalajara and Monterrey's
    ``55 1234 5678``, China's mobiles ``138 0013 8000``."""
    n = len(digits)
    first = digits[0]
    if len(shape) == 1:  # run together: a phone only beside its label, as everywhere
        india_or_mexico = n == 10 and first != "0"
        china = n == 11 and first == "1" and digits[1] in "3456789"
        return 0.3 if india_or_mexico or china or _BR_LOCAL.fullmatch(digits) is not None else 0.0
    if shape in ((2, 4, 4), (3, 3, 4)) and paren_area and n == 10 and first != "0":
        return 0.65  # Mexico: "(33) 1234 5678", "(222) 123 4567"
    if n == 10 and first in "6789" and shape in ((5, 5), (4, 3, 3)) and len(set(seps)) == 1:
        return 0.45  # India, mobile: two five-digit groups are also two postcodes, so a label decides
    if (
        10 <= n <= 11
        and shape in ((2, 5, 4), (2, 4, 4))
        and (paren_area or seps[-1] == "-" or (seps[0] == "." and seps[1] == "."))
        and _BR_LOCAL.fullmatch(digits) is not None
    ):
        return 0.65 if paren_area else 0.55  # Brazil: (area) then the number, "-" in it; "11.91234.5678"
    if n == 10 and len(set(seps)) == 1 and seps[0] in _MX_SEPS:
        if shape == (2, 4, 4) and digits[:2] in _MX_METRO:
            return 0.55  # Mexico, the three metro areas with two-digit codes
        if shape == (3, 3, 4) and first in _NANP_FIRST and digits[3] != "0" and digits[4:6] != "11":
            # Mexico, the other areas, three-digit codes: "222 123 4567" (no number there starts
            # 0, and "555-011-0134" is a North American number outside its plan)
            return 0.55
    if n == 11 and first == "1" and digits[1] in "3456789" and shape == (3, 4, 4) and len(set(seps)) == 1:
        return 0.6  # China, mobile
    return 0.0


def national_score(digits: str, lengths: Sequence[int], seps: Sequence[str], paren_area: bool) -> float:
    """Score of a national number: ``lengths`` of its digit groups, ``seps`` between them,
    ``paren_area``: the first group is in parentheses. 0 if it fits no plan."""
    if not 7 <= len(digits) <= 13:
        return 0.0
    shape = tuple(lengths)
    nanp, trunk, bare = _national_plans(digits)
    world = _written_without_trunk(digits, shape, seps, paren_area)
    if not (nanp or trunk or bare):
        return world
    if len(shape) == 1:
        return 0.4 if trunk else 0.3
    best = 0.0
    if nanp:
        tail = shape[-3:] if len(shape) >= 3 else shape
        if paren_area and shape[-2:] in ((3, 4), (7,)):
            best = 0.7
        elif shape in _NANP_SHAPES and len(set(seps)) == 1 and seps[0] in ("-", "."):
            best = 0.65
        elif tail == (3, 3, 4) or shape in ((3, 7), (1, 3, 7)):
            best = 0.55
    if trunk:
        if shape == (2, 2, 2, 2, 2):  # 01 23 45 67 89: France, Belgium and others
            best = max(best, 0.65)
        elif shape == (5, 3) and seps[0] == "-":
            best = max(best, 0.3)  # "01310-100": how Brazil writes a postcode (CEP); a phone with its label
        elif shape == (5, 5) and seps[0] == " ":
            best = max(best, 0.45)  # "08001 41001": two postcodes as often as a number; with its label
        elif 2 <= shape[0] <= 6 and min(shape[1:-1] or (2,)) >= 2 and (shape[-1] >= 2 or seps[-1] == "-"):
            # groups of two or more; a last group of one only as a Durchwahl ("-0")
            best = max(best, 0.6)
        else:
            best = max(best, 0.45)
    if bare and shape in _BARE_SHAPES:
        # "123.456.789": a count with thousands dots more often than a phone.
        best = max(best, 0.45 if shape == (3, 3, 3) and seps[0] == "." else 0.55)
    return max(best, world)
