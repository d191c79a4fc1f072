"""Ids as people also write them, beside the forms the capitals and digit-run scans read:
an IBAN in lower or mixed case or in dashed groups (``de89 3704 …``, ``gb82west1234…``,
``GB82-WEST-1234-…``), and a Swedish personnummer with the ``+`` of a holder aged 100 or more
(``121212+1212``). Called from :mod:`.numeric` for a digit run that such a form contains.
"""

from __future__ import annotations

import re

from .checksums import IBAN_LENGTHS, iban_valid
from .national import se_personnummer_valid

__all__ = ["personnummer_plus", "written_iban"]

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
