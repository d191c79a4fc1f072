"""The detector's fast paths find exactly what the plain regexes and loops they replace
find, and the detector never fails on odd text (it runs on every prompt: a crash here
fails the call)."""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest

from bench.pii.spans_digest import fuzz_texts, number_texts
from byom_sdk.trust import BuiltinDetector, Masker, Vault
from byom_sdk.trust._detectors import _compiled
from byom_sdk.trust._masking import demask_text
from byom_sdk.trust._pii import numeric
from byom_sdk.trust._pii.scan import capital_anchors, long_words, run_start


def wide(text: str) -> str:
    """``text`` in full-width forms (U+FF01-FF5E), as East Asian input methods type it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def arabic_indic(text: str) -> str:
    return "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in text)


FUZZ = list(fuzz_texts(400, 11)) + list(number_texts(400, 12))
ODD = [
    "",
    "-" * 16,
    "x" * 40,
    "see below\n" + "-" * 20,  # a separator line ending the text
    "++++////....----" * 3,
    "AB12 " * 5,
    "éAB12 CDEF 1234",  # capitals after a Latin-1 letter
    "ÄBCDEF85T10A562S",
    "token " + "a" * 15 + " " + "b" * 16,
    "日本語のテキスト " + wide("AB12 4111 1111 1111 1111"),
]
TEXTS = FUZZ + ODD


def _latin1(text: str) -> bytes:
    return text.encode("latin-1", "replace")


@pytest.mark.parametrize("text", TEXTS[:200] + ODD)
def test_long_words_are_the_regex_runs(text: str) -> None:
    regex = re.compile(r"[A-Za-z0-9_\-.+/]{16,}")
    assert long_words(_latin1(text)) == [m.span() for m in regex.finditer(text)]


def test_capital_anchors_are_the_regex_matches() -> None:
    capitals = _compiled().capitals
    for text in TEXTS:
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            continue  # the detector scans those with the regex itself
        expected = [(m.span(), m.groups()) for m in capitals.finditer(text)]
        assert [(m.span(), m.groups()) for m in capital_anchors(text, data, capitals)] == expected, text


@pytest.mark.parametrize("chars", ["0123456789abcdefABCDEF:.", "abcdefghijklmnopqrstuvwxyz_-"])
def test_run_start_is_the_backward_walk(chars: str) -> None:
    for text in [*TEXTS[:300], "a" * 200, "ab:" * 90]:
        for end in range(0, len(text) + 1, 7):
            i = end
            while i > 0 and text[i - 1] in chars:
                i -= 1
            assert run_start(text, end, chars) == i


def _first_characters(pattern: str) -> frozenset[str]:
    """Every code point the case-insensitive character class ``pattern`` accepts."""
    compiled = re.compile(pattern, re.IGNORECASE)
    return frozenset(c for c in map(chr, range(sys.maxunicode + 1)) if compiled.fullmatch(c))


def test_first_character_sets_cover_every_code_point_the_patterns_accept() -> None:
    # The first letters of the extension keywords (x, ext, #, poste, durchwahl, dw, int,
    # interno, anexo, toestel, tst) and of what may follow an amount (",50", " %", "€",
    # "eur", "usd", "gbp", "chf"); the last letters of a currency before one.
    assert _first_characters("[xe#pdiat]") == numeric.EXT_START
    firsts = "".join(sorted({code[0] for code in numeric.CURRENCY_CODES}))
    lasts = "".join(sorted({code[-1] for code in numeric.CURRENCY_CODES}))
    assert _first_characters(f"[,. %{numeric.CURRENCY_SIGNS}{firsts}]") == numeric.AMOUNT_AFTER_START
    assert _first_characters(f"[{re.escape(numeric.CURRENCY_SIGNS)}{lasts}]") == numeric.AMOUNT_BEFORE_LAST


def test_detector_and_masker_never_fail_and_restore_every_text() -> None:
    detector = BuiltinDetector()
    masker = Masker([detector])
    for text in TEXTS:
        for span in detector.find(text):
            assert 0 <= span.start < span.end <= len(text), (text, span)
        vault = Vault()
        masked = masker.mask_text(text, vault, Counter())
        assert demask_text(masked, vault)[0] == text


@pytest.mark.parametrize(
    ("label", "value", "entity"),
    [
        ("card ", wide("4111 1111 1111 1111"), "CREDIT_CARD"),
        ("Karte ", arabic_indic("4111 1111 1111 1111"), "CREDIT_CARD"),
        ("電話 Tel. ", wide("0221/64792002"), "PHONE"),
        ("mail ", wide("ann@example.com"), "EMAIL"),
        ("IBAN ", wide("DE89 3704 0044 0532 0130 00"), "IBAN"),
    ],
)
def test_full_width_and_other_script_digits_are_found_and_restored(label: str, value: str, entity: str) -> None:
    text = f"{label}{value} ok"
    masker = Masker([BuiltinDetector()])
    vault = Vault()
    masked = masker.mask_text(text, vault, Counter())
    assert value not in masked
    assert [text[s.start : s.end] for s in masker.find(text) if s.entity == entity] == [value]
    assert demask_text(masked, vault)[0] == text
