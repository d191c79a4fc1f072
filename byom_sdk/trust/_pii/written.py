"""Ids as people also write them, beside the forms the capitals and digit-run scans read:
an IBAN in lower or mixed case or in dashed groups (``de89 3704 …``, ``gb82west1234…``,
``GB82-WEST-1234-…``), and a Swedish personnummer with the ``+`` of a holder aged 100 or more
(``121212+1212``), called from :mod:`.numeric` for a digit run that such a form contains;
a codice fiscale or an Indian PAN typed in lower or mixed case (``rssmra85t10a562s``,
``abcpe1234f``), and a Corsican NIR in either case (``2 84 05 2a …``), called by the detector
once per text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .checksums import IBAN_LENGTHS, fr_nir_valid, iban_valid, it_fiscal_code_valid
from .national import se_personnummer_valid
from .world import mx_curp_valid

__all__ = ["corsican_nirs", "lower_case_ids", "personnummer_plus", "written_curp", "written_iban"]

Option = tuple[str, float, int, int]  # entity, score, start, end


# An IBAN the capitals scan leaves: in lower or mixed case, or in groups joined by "-".
_ASCII_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_IBAN_WRITTEN = re.compile(r"[A-Za-z]{2}[0-9]{2}(?:[ -]?[A-Za-z0-9]){11,32}")


def _iban_from(text: str, start: int) -> tuple[int, bool] | None:
    """An IBAN written at ``start`` in lower or mixed case or in dashed groups (those in
    capitals, grouped by spaces or not at all, are the capitals scan's): (end, whether
    mod-97 holds), or None if it is not IBAN-shaped: the country's length, run together
    or in groups of four joined by one separator throughout, ending where a group ends."""
    length = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None
    if start and (text[start - 1].isalnum() or (text[start - 1] == "-" and start >= 2 and text[start - 2].isalnum())):
        return None
    match = _IBAN_WRITTEN.match(text, start)
    if match is None:
        return None
    raw = match.group(0)
    seen = 0
    sep = ""
    cut = -1
    for k, char in enumerate(raw):
        if char == " " or char == "-":
            if sep and char != sep:
                return None  # "de89 3704-0044…": not one way of writing
            sep = char
        else:
            seen += 1
            if seen == length:
                cut = k + 1
                break
    if cut < 0 or (cut < len(raw) and raw[cut] not in " -"):
        return None  # too short, or the country's length ends inside a group
    value = raw[:cut]
    if sep:
        # In groups of four (the last one shorter): "PT540566B The customer is not…"
        # is a NINO and words, not an IBAN.
        groups = value.split(sep)
        if any(len(group) != 4 for group in groups[:-1]) or len(groups[-1]) > 4:
            return None
    end = start + cut
    after = text[end : end + 1]
    if after.isalnum() or (after == "-" and text[end + 1 : end + 2].isalnum()):
        return None  # runs on: "…-7654-32-99", a UUID's groups
    if sep != "-" and not any("a" <= char <= "z" for char in value):
        return None  # in capitals: found (or refused) by the capitals scan already
    return end, iban_valid((value.replace(sep, "") if sep else value).upper())


def written_iban(text: str, run_start: int) -> tuple[int, int, bool] | None:
    """An IBAN in lower case or dashed groups whose digits include the run that starts at
    ``run_start``: (start, end, valid). Its country code is glued to the run's first
    digits (``de89 3704…``, ``DE89-3704-…``), or its check digits come right before a
    bank code of one to four letters right before the run (``gb82 west 1234…``,
    ``it60x0542…``). Looked at character by character: most runs fail at once."""
    k = run_start
    second = text[k - 1]
    if second.isalpha() and text[k - 2].isalpha() and (k == 2 or not text[k - 3].isalnum()):
        found = _iban_from(text, k - 2)
        if found is not None:
            return (k - 2, *found)
    j = k - 1 if second == " " or second == "-" else k
    word = text[j - 5 if j >= 5 else 0 : j]
    letters = len(word) - len(word.rstrip(_ASCII_LETTERS))
    if not 1 <= letters <= 4:
        return None
    m = j - letters
    if m and text[m - 1] in " -":
        m -= 1
    start = m - 4
    if start < 0 or not (text[m - 1].isdigit() and text[m - 2].isdigit() and text[start : m - 2].isalpha()):
        return None  # "Tel 0221…": no country code and check digits before the word
    found = _iban_from(text, start)
    return None if found is None else (start, *found)


# A sign right before or after "121212+1212" makes it a term of a sum ("=" before it
# assigns a value: "personnummer=121212+1212").
_ARITHMETIC = frozenset("+-*/=^\u00d7\u00f7")  # and the multiplication and division signs


def personnummer_plus(text: str, run_start: int, run_end: int) -> Option | None:
    """A Swedish personnummer written ``YYMMDD+NNNN``: the "+" of a holder aged 100 or
    more (born in the 1900s, or before). Not a term of a sum (``+121212+1212``,
    ``121212+1212-7``)."""
    head = text[run_start:run_end]
    tail = text[run_end + 1 : run_end + 5]
    after = text[run_end + 5 : run_end + 6]
    if (
        not head.isdigit()  # "12 345+1212", "1.2345+1212"
        or len(tail) < 4
        or not tail.isdecimal()
        or after.isalnum()
        or (after and after in _ARITHMETIC)
        or (run_start and text[run_start - 1] in _ARITHMETIC and text[run_start - 1] != "=")
    ):
        return None
    if not se_personnummer_valid("19" + head + tail):
        return None
    return "SE_PERSONNUMMER", 0.8, run_start, run_end + 5


# Letters of either case "a", digits "0", everything else " ": the shapes below are found
# with bytes.find on this, as the capitals scan finds its own.
_LETTERS_DIGITS = bytes(
    0x61 if (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A) else (0x30 if 0x30 <= b <= 0x39 else 0x20) for b in range(256)
)
_FISCAL_SHAPE = b"aaaaaa00a00a000a"  # RSSMRA 85 T 10 A 562 S (the omocodia letters aside)
_PAN_SHAPE = b"aaaaa0000a"  # ABCPE 1234 F
_FISCAL_SPACED = b"aaa aaa 00a00 a000a"  # "RSS MRA 85T10 A562S": surname, name, birth, place
_PAN_HOLDERS = frozenset("ABCFGHLJPT")  # the fourth letter: the holder's kind
_NIR_CORSICA = re.compile(r"[12378] ?\d\d ?\d\d ?2[ABab] ?\d{3} ?\d{3} ?\d\d")

Found = tuple[int, int, str, float]  # start, end, entity, score


def _shapes(marks: bytes, shape: bytes) -> list[int]:
    """Where ``shape`` stands alone in ``marks`` (no letter or digit right before or after)."""
    hits = []
    size = len(shape)
    at = marks.find(shape)
    while at >= 0:
        end = at + size
        if (at == 0 or marks[at - 1] == 0x20) and (end == len(marks) or marks[end] == 0x20):
            hits.append(at)
        at = marks.find(shape, at + 1)
    return hits


def _fiscal_codes(marks: bytes) -> tuple[list[int], list[int]]:
    """Where a codice fiscale's shape stands alone in ``marks``: run together, and in spaced
    groups. Both end in a letter, three digits and a letter (``A562S``), found once for both
    (this runs on every prompt: one short needle, found fast, and each hit compared)."""
    compact: list[int] = []
    spaced: list[int] = []
    size = len(marks)
    at = marks.find(b"a000a")
    while at >= 0:
        end = at + 5
        if end == size or marks[end] == 0x20:
            for shape, found in ((_FISCAL_SHAPE, compact), (_FISCAL_SPACED, spaced)):
                start = end - len(shape)
                if start >= 0 and marks.startswith(shape, start) and (start == 0 or marks[start - 1] == 0x20):
                    found.append(start)
        at = marks.find(b"a000a", at + 1)
    return compact, spaced


# A CURP: four letters, the birth date, six letters, the homoclave (a digit or a letter)
# and the check digit.
_CURP_WRITTEN = re.compile(r"[A-Za-z]{4}[0-9]{6}[A-Za-z]{6}[A-Za-z0-9][0-9](?![^\W_])")


def written_curp(text: str, run_start: int) -> Option | None:
    """A CURP in lower or mixed case (``hegg560427mvzrrl04``; one in capitals is the
    capitals scan's) whose birth date is the six-digit run at ``run_start``: called from
    :mod:`.numeric` for a run glued to letters on both sides, so it costs nothing else."""
    start = run_start - 4
    if start < 0 or (start and text[start - 1].isalnum()):
        return None
    match = _CURP_WRITTEN.match(text, start)
    if match is None:
        return None
    value = match.group(0)
    upper = value.upper()
    if value == upper or not mx_curp_valid(upper):
        return None
    return "MX_CURP", 0.95, start, match.end()


def corsican_nirs(text: str, lowered: str | None, out: list[Found]) -> None:
    """French NIRs of people born in Corsica (``2A``/``2B`` for the department, in either
    case) that pass their key, appended to ``out``. ``lowered``: ``text`` in lower case
    position for position, or None where lowering moves positions (then both cases are
    searched for)."""
    if lowered is not None:
        hits = [lowered.find("2a"), lowered.find("2b")]
        ends = [lowered.rfind("2a"), lowered.rfind("2b")]
    else:
        pairs = ("2A", "2B", "2a", "2b")
        hits, ends = [text.find(p) for p in pairs], [text.rfind(p) for p in pairs]
    found = [h for h in hits if h >= 0]
    if not found:
        return
    # A NIR is at most 21 characters with "2A"/"2B" 5-8 characters in: scanning only from
    # 8 before the first to 16 after the last of them finds the same matches.
    for match in _NIR_CORSICA.finditer(text, max(0, min(found) - 8), max(ends) + 16):
        if fr_nir_valid(match.group(0).replace(" ", "").upper()):
            out.append((match.start(), match.end(), "FR_NIR", 0.85))


def lower_case_ids(text: str, data: bytes, context: Callable[[str, int], int], boost: float, out: list[Found]) -> None:
    """Codici fiscali and PANs with a lower-case letter in them (those in capitals are the
    capitals scan's), and codici fiscali in spaced groups in either case (``RSS MRA 85T10
    A562S``), appended to ``out``; ``data`` is ``text`` in Latin-1. A codice fiscale must
    pass its check character; a PAN (no public check) needs a label nearby, as in
    capitals."""
    marks = data.translate(_LETTERS_DIGITS)
    compact, spaced = _fiscal_codes(marks)
    for at in compact:
        value = text[at : at + 16]
        upper = value.upper()
        if value != upper and it_fiscal_code_valid(upper):
            out.append((at, at + 16, "IT_FISCAL_CODE", 0.95))
    for at in spaced:
        # Grouped as it is read out, in either case; spaces only (other marks also map to " ").
        value = text[at : at + 19]
        if value[3] == value[7] == value[13] == " " and it_fiscal_code_valid(value.replace(" ", "").upper()):
            out.append((at, at + 19, "IT_FISCAL_CODE", 0.95))
    for at in _shapes(marks, _PAN_SHAPE):
        value = text[at : at + 10]
        upper = value.upper()
        if value != upper and upper[3] in _PAN_HOLDERS and value.isascii():
            score = 0.45  # the shape of many SKUs and booking codes: a label decides
            if context("IN_PAN", at) >= 0:
                score = min(1.0, score + boost)
            out.append((at, at + 10, "IN_PAN", score))
