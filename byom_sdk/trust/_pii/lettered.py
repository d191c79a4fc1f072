"""Ids that mix letters and digits around a digit run: the UK NINO, Spain's DNI and NIE,
Singapore's NRIC/FIN, Ireland's PPS number, Finland's henkilötunnus and a Chinese resident
id ending in ``X``. Each is read from the run the numeric scan found, by its letters' places
and its check character; the letters in either case.
"""

from __future__ import annotations

import re

from .checksums import es_nie_valid, es_nif_valid, uk_nino_valid
from .world import cn_resident_id_valid, fi_hetu_valid, ie_pps_valid, sg_nric_valid

__all__ = [
    "HETU_SIGNS",
    "WORD_LETTER_SCORE",
    "chinese_id_with_x",
    "finnish_id",
    "irish_pps",
    "lettered_id",
    "unspaced_script",
]

# A span the caller records: (start, end, entity, score).
Found = tuple[int, int, str, float]

_NINO_PREFIX = re.compile(r"[A-Za-z]{2} ?$")
_LETTER_AFTER = re.compile(r"[- ]?([A-Za-z])(?![A-Za-z0-9])")
_NINO_SUFFIX = re.compile(r" ?([A-Da-d])(?![A-Za-z0-9])")


def _spaced_lower(letter: str, sep: str) -> bool:
    """A lower-case letter set apart from the digits by a space: as likely a word
    ("12345678 y 87654321", "at 123456 a day") as an id's letter."""
    return sep == " " and letter.islower()


#: The score of an id whose lower-case letter stands apart: masked beside its label only.
WORD_LETTER_SCORE = 0.3


def lettered_id(text: str, run_start: int, run_end: int, lengths: tuple[int, ...], seps: list[str]) -> Found | None:
    """Ids that mix letters and digits around one run: UK NINO, Spanish DNI and NIE, their
    letters in either case (``ab 12 34 56 c``, ``12345678z``, ``x-1234567-l``). A
    lower-case letter set apart by a space (``12345678 y``, ``ab 123456 c``: the NINO's
    printed ``ab 12 34 56 c`` aside) counts only beside the id's label. Also Singapore's
    NRIC/FIN (``S1234567D``) and Ireland's PPS number (``1234567T``)."""
    if lengths in ((6,), (2, 2, 2)) and (len(lengths) == 1 or seps[:2] == [" ", " "]):
        head = _NINO_PREFIX.search(text, max(0, run_start - 3), run_start)
        tail = _NINO_SUFFIX.match(text, run_end)
        if head is not None and tail is not None and _starts_word(text, head.start()):
            prefix, suffix = head.group(0), tail.group(0)
            if uk_nino_valid((prefix[:2] + text[run_start:run_end].replace(" ", "") + tail.group(1)).upper()):
                apart = len(lengths) == 1 and (
                    _spaced_lower(prefix[1], prefix[2:]) or _spaced_lower(suffix[-1], suffix[0])
                )
                return head.start(), tail.end(), "UK_NINO", WORD_LETTER_SCORE if apart else 0.6
    if lengths == (7,):
        if run_start == 0:
            return irish_pps(text, run_start, run_end)
        lead = run_start - 1 if text[run_start - 1] in "XYZxyz" else run_start - 2
        tail = _LETTER_AFTER.match(text, run_end)
        if (
            lead >= 0
            and text[lead] in "XYZxyz"
            and text[lead + 1 : run_start] in ("", "-", " ")
            and _starts_word(text, lead)
            and tail is not None
            and es_nie_valid((text[lead] + text[run_start:run_end] + tail.group(1)).upper())
        ):
            apart = _spaced_lower(text[lead], text[lead + 1 : run_start]) or _spaced_lower(
                tail.group(1), tail.group(0)[0]
            )
            return lead, tail.end(), "ES_NIE", WORD_LETTER_SCORE if apart else 0.9
        lead = run_start - 1
        if (
            text[lead] in "STFGMstfgm"
            and _starts_word(text, lead)
            and tail is not None
            and tail.group(0) == tail.group(1)  # written as one token: "S1234567D"
            and not _more_word(text, tail.end())
            and sg_nric_valid((text[lead] + text[run_start:run_end] + tail.group(1)).upper())
        ):
            upper = text[lead].isupper() and tail.group(1).isupper()
            return lead, tail.end(), "SG_NRIC", 0.85 if upper else WORD_LETTER_SCORE
        return irish_pps(text, run_start, run_end)
    if lengths == (8,) or (lengths == (2, 3, 3) and seps[:2] == [".", "."]):
        tail = _LETTER_AFTER.match(text, run_end)
        if (
            tail is not None
            and _starts_word(text, run_start)
            and es_nif_valid(text[run_start:run_end].replace(".", "") + tail.group(1).upper())
        ):
            apart = _spaced_lower(tail.group(1), tail.group(0)[0])
            return run_start, tail.end(), "ES_NIF", WORD_LETTER_SCORE if apart else 0.85
    return None


def unspaced_script(char: str) -> bool:
    """A letter of a script written without spaces between words (Thai, Japanese, Chinese,
    Korean's Hanja and Hangul blocks): a number beside it is not part of a word."""
    code = ord(char)
    return code >= 0x2E80 or 0x0E00 <= code <= 0x0E7F


def _letter_of_a_word(char: str) -> bool:
    """A letter or digit that joins a word: not one of a script written without spaces
    ("身份证号S1234567D" has nothing of a word before the id)."""
    return char.isalnum() and not unspaced_script(char)


# A label or "number" abbreviation joined to the id by punctuation: "DNI-12345678Z",
# "N.I.F.12345678Z", "NI No.AB123456C", "Nº.12345678Z", "PPS No.1234567T".
_LABEL_WORDS = frozenset(
    {"dni", "nif", "nie", "nino", "ni", "no", "nº", "n", "nr", "num", "nro", "pps", "ppsn", "nric", "fin", "ic", "id",
     "hetu", "curp", "rrn", "cpr", "ahv", "avs", "nhs", "pnr", "tin", "ssn", "cf"}
)  # fmt: skip


def _starts_word(text: str, start: int) -> bool:
    """Nothing of a word before ``start``: no letter or digit, nor one joined by ``-``,
    ``_``, ``.`` or ``/`` ("sku-y9824359-s" is a part number, not a NIE) unless that word
    is a label ("DNI-12345678Z")."""
    if start == 0:
        return True
    char = text[start - 1]
    if _letter_of_a_word(char):
        return False
    if not (char in "-_./" and start >= 2 and _letter_of_a_word(text[start - 2])):
        return True
    k = start - 1
    while k > 0 and k > start - 14 and (text[k - 1].isalpha() or text[k - 1] == "."):
        k -= 1
    if k > 0 and _letter_of_a_word(text[k - 1]):
        return False  # a digit or more of the word before: "sku1-…"
    return text[k : start - 1].replace(".", "").lower() in _LABEL_WORDS


def _more_word(text: str, end: int) -> bool:
    """A "-" or "." and more letters or digits at ``end``: the id goes on as a word's part."""
    return text[end : end + 1] in ("-", ".") and text[end + 1 : end + 2].isalnum()


# The PPS number's check letter, then a second letter on numbers issued since 2013 ("A"),
# or "W", "T", "X" on older ones; not glued to more of a word ("7217908b-7069-…" of a UUID).
# A space may set the letters apart ("1234567 T", as people type it off a letter).
_PPS_LETTERS = re.compile(r"( ?)([A-Wa-w])([A-Za-z]?)(?![A-Za-z0-9]|[-.][A-Za-z0-9])")


def irish_pps(text: str, run_start: int, run_end: int) -> Found | None:
    """Ireland's PPS number: seven digits (``run_start:run_end``, not glued to a word
    before) and its check letter, with or without a second letter (``1234567T``,
    ``1234567TA``), beside its label (Irish VAT numbers share shape and check)."""
    if not _starts_word(text, run_start):
        return None
    tail = _PPS_LETTERS.match(text, run_end)
    if tail is None:
        return None
    letters = tail.group(2) + tail.group(3)
    if not ie_pps_valid((text[run_start:run_end] + letters).upper()):
        return None
    # Irish VAT numbers ("IE 6388047V") and many SKUs share the shape and the check: its label
    # decides; in lower case or set apart by a space, a letter may be a word ("… 1234567 a day").
    upper = letters.isupper() and (not tail.group(1) or letters[0] != "A" or len(letters) == 2)
    return run_start, tail.end(), "IE_PPS", 0.45 if upper else WORD_LETTER_SCORE


#: What may follow the six digits of a henkilötunnus: its century sign ("+", the 1800s, is
#: left out: nobody alive carries it, and "151126+5599" is more often a sum).
HETU_SIGNS = frozenset("-ABCDEFUVWXYabcdefuvwxy")
_HETU = re.compile(r"\d{6}[-A-FU-Ya-fu-y]\d{3}[0-9A-Ya-y](?![^\W_]|[-.][^\W_])")


def finnish_id(text: str, run_start: int) -> Found | None:
    """Finland's henkilötunnus starting at ``run_start`` (``131052-308T``, ``010101A123N``):
    date, century sign, individual number and a check character modulo 31, one of them a
    letter (one of digits and a dash, ``131052-3081``, is a date-coded reference's shape
    too: the digit-run scan offers it beside the others, for its label to decide)."""
    if not _starts_word(text, run_start):
        return None
    match = _HETU.match(text, run_start)
    if match is None:
        return None
    value = match.group(0)
    if (value[6] == "-" and value[10].isdigit()) or not fi_hetu_valid(value.upper()):
        return None
    # In lower case ("251220d724a") it is as likely a piece of hexadecimal: its label decides.
    return run_start, match.end(), "FI_HETU", 0.9 if value == value.upper() else WORD_LETTER_SCORE


def chinese_id_with_x(text: str, run_start: int) -> Found | None:
    """A Chinese resident id whose check character is ``X`` (one in eleven) starting at
    ``run_start``: seventeen digits run together or as ``6 8 3``, then ``X`` or ``x``, with
    no letter or digit of a word right after it (Chinese text may follow:
    ``身份证号11010519491231002X的用户``)."""
    if not _starts_word(text, run_start):
        return None
    for size in (17, 19):
        end = run_start + size
        if text[end : end + 1] not in ("X", "x") or _letter_of_a_word(text[end + 1 : end + 2] or " "):
            continue
        digits = text[run_start:end]
        if size == 19:
            if digits[6] != " " or digits[15] != " ":
                continue
            digits = digits.replace(" ", "")
        if digits.isdigit() and cn_resident_id_valid(digits + "X"):
            return run_start, end + 1, "CN_RESIDENT_ID", 0.85
    return None
