"""Anchor scans over the text as bytes, one byte per character.

The detector looks for words of 16+ token characters and for two capitals that may
start an IBAN or a codice fiscale in every text. As regexes over ``str`` these scans
cost a sixth of the detector: the engine tries the long-word pattern at every character
of every shorter word, and the capitals pattern at every capital. Here the text is
encoded to Latin-1 once (a copy, for the Latin-1 strings most texts are; a character
beyond Latin-1 becomes ``?``, so positions are kept), mapped by ``bytes.translate`` to a
few classes, and searched with ``bytes.find`` or a small regex over those classes.

Each function finds exactly what its regex finds (tests/trust/test_pii_speed.py holds
them to it). Digit runs stay a regex: a Python loop over the many short digit groups of
a text (times, dates, counts) costs more than the engine's scan.
"""

from __future__ import annotations

import re

__all__ = ["capital_anchors", "long_words", "run_start"]

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.+/")
_TOKEN_BYTES = bytes(0x61 if chr(b) in _TOKEN_CHARS else 0x20 for b in range(256))  # "a" or " "
_SIXTEEN = b"a" * 16


def long_words(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of 16+ token characters (``[A-Za-z0-9_\\-.+/]``,
    what ``re.finditer(r"[A-Za-z0-9_\\-.+/]{16,}")`` finds) in ``data``."""
    marks = data.translate(_TOKEN_BYTES)
    words = []
    start = marks.find(_SIXTEEN)  # the first of 16 is where a run starts: it is the leftmost
    while start >= 0:
        end = marks.find(b" ", start + 16)
        if end < 0:
            end = len(marks)
        words.append((start, end))
        start = marks.find(_SIXTEEN, end)
    return words


# Capitals "A", digits "0", else " ".
_CAPS_BYTES = bytes(0x41 if 0x41 <= b <= 0x5A else (0x30 if 0x30 <= b <= 0x39 else 0x20) for b in range(256))
# Where the capitals pattern can match: two capitals not after an ASCII letter or digit,
# then two digits, four capitals, three capitals, four digits and a capital, or two
# capitals, six digits and a capital (written to start with a literal, which the engine
# searches for quickly).
_CAPS_CANDIDATE = re.compile(rb"AA(?<![A0]AA)(?:00|AAAA|AAA0000A|AA000000A)")


def capital_anchors(text: str, data: bytes, capitals: re.Pattern[str]) -> list[re.Match[str]]:
    """The matches of ``capitals`` (two capitals then two digits, four capitals, an
    Indian PAN's rest or a Mexican CURP's, not after a letter or digit) in ``text``,
    Latin-1, as ``finditer`` gives them.

    Its matches never overlap (each starts after a non-alphanumeric character and holds
    only alphanumerics), so they are the positions where it matches; each of those is
    also a candidate here, and the pattern itself decides."""
    found = []
    for candidate in _CAPS_CANDIDATE.finditer(data.translate(_CAPS_BYTES)):
        match = capitals.match(text, candidate.start())
        if match is not None:
            found.append(match)
    return found


def run_start(text: str, end: int, chars: str) -> int:
    """Where the run of ``chars`` that ends at ``end`` starts (``while text[i - 1] in
    chars: i -= 1``): the walk done by ``str.rstrip`` in C, 64 characters at a time."""
    while end > 0:
        floor = max(0, end - 64)
        start = floor + len(text[floor:end].rstrip(chars))
        if start > floor or floor == 0:
            return start
        end = floor
    return end
