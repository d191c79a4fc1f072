"""Numeric entities, found inside digit runs.

A run is a stretch of 6+ characters of digits and the separators numbers use (space,
``-``, ``.``, ``/``, parentheses, ``x``), starting and ending with a digit; it never
crosses a line break or a tab. Each run is cut into digit groups, and every sequence of
whole groups that starts and ends at a space (or the run's ends, or a ``/24`` after an
IPv4) is a candidate, longest first:

1. a card (issuer range, length, Luhn); a card-shaped number that fails is consumed, so
   no phone or other value is reported inside it;
2. a US SSN (``AAA-GG-SSSS``), a German tax id, a French NIR;
3. an IPv4 address (four dotted groups; not after ``v``/``=``/a letter, not before
   ``-SNAPSHOT``-like suffixes, not after "version", "upgrade to", "Python"...: see
   :mod:`.lookalikes`); four dotted groups that are no address may be a phone;
4. a phone number by numbering plan (:mod:`.phones`), with an extension (which makes
   it a phone whatever id it also fits); one that starts after a group of the same run
   that is part of no value ("FedEx 9396 0551 8177") needs its label.

A run glued to a word (``ORD-2024-004512``, ``INC0012345``, ``a456-4266``) holds none of
these: it is an identifier, unless the letters make it a UK NINO or a Spanish DNI/NIE
(in either case), or an IBAN that the capitals scan leaves to the runs: in lower case
(``de89 3704 …``, ``gb82west1234…``) or in dashed groups (``GB82-WEST-1234-…``). Six digits,
``+`` and four more are a Swedish personnummer of a holder aged 100 (``121212+1212``).
Dates (``15.01.2024``, ``2024-01-15``) and amounts with decimals or a currency are
skipped. When several types fit (a 9-digit SSN that is also a Belgian number), the one
whose context word is nearest wins.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

from .checksums import (
    card_brand,
    de_tax_id_valid,
    fr_nir_valid,
    luhn_valid,
    ssn_published,
    ssn_shaped,
)
from .lettered import (
    HETU_SIGNS,
    WORD_LETTER_SCORE,
    chinese_id_with_x,
    finnish_id,
    irish_pps,
    lettered_id,
    unspaced_script,
)
from .lookalikes import labelled_not_a_phone, version_like
from .national import national_options
from .phones import international_score, national_score
from .written import personnummer_plus, written_curp, written_iban

__all__ = ["LONG_RUN", "LONG_RUN_NARROW", "scan_run"]

#: Digit runs of 6+ characters: digits and the separators numbers use, starting and ending
#: with a digit ("123456" of a NINO is the shortest value that lives in one).
LONG_RUN = re.compile(r"\d[\d ().\-/x]{4,}\d")
#: The same for text of Latin-1 characters only, where \d is [0-9] (no decimal digit lies
#: in U+0080-U+00FF): a class is tested faster than a Unicode category.
LONG_RUN_NARROW = re.compile(r"[0-9][0-9 ().\-/x]{4,}[0-9]")
_SPLIT = re.compile(r"(\D+)")
_ISO_STAMP = re.compile(r" \(?(?:19|20)\d\d-[01]\d-[0-3]\dT")
_X = ("X", "x")
_DOTTED_QUAD = re.compile(r"\d+\.\d+\.\d+\.\d+")
_PHONE_SEP = re.compile(r" ?[-./]? ?|\)[ .-]?|[ .-]?\(|\) ?\(")
_DATE_HEAD = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d(?![\d-])|[0-3]\d\.[01]\d\.(?:19|20)\d\d(?![\d.])")
_SEP_OK: dict[str, bool] = {}  # separators seen so far: phone-like or not
_DATE_SHAPES = frozenset({(4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4), (2, 2, 2)})
_EXT = re.compile(
    r"[ ,]{0,2}(?:x|ext\.?|extn\.?|extension|#|poste|durchwahl|dw\.?|int\.?|interno|anexo|toestel|tst\.?)"
    r"[ .:]{0,2}\d{1,6}(?!\d)",
    re.IGNORECASE,
)
#: currencies written beside an amount (ISO codes, and local ones: "kr", "Kč", "zł"); not
#: "try", "rub" or "ron", which are words and names as well.
CURRENCY_CODES = (
    "eur", "usd", "gbp", "chf", "pln", "zar", "nok", "sek", "dkk", "czk", "huf", "inr", "brl", "mxn", "jpy", "cny",
    "rmb", "aud", "cad", "nzd", "sgd", "hkd", "krw", "kr", "kč", "zł",
)  # fmt: skip
CURRENCY_SIGNS = "€$£¥₹₽₩₺₪"
# A currency after the number ("1 234 €"), not one that starts the next amount ("EUR 6 133").
_AMOUNT_AFTER = re.compile(
    rf"[,.]\d{{1,2}}(?!\d)| ?(?:[{CURRENCY_SIGNS}%]|(?:{'|'.join(CURRENCY_CODES)})\b)(?![ \t]?\d)", re.IGNORECASE
)
_AMOUNT_BEFORE = frozenset(CURRENCY_SIGNS)
#: a phone scored this high had a context word ("Tel", "call") or an international prefix.
_LABELLED_PHONE = 0.85
# A unit of measure after a run of digits ("299 792 458 m/s", "1 048 576 KB"): a quantity,
# never a phone or an id. A one-letter unit (m, g, s) counts only before a line end or
# ",;)": "… 5678 s'il vous plaît" and "912 345 678 m. Smith" are still numbers.
_UNIT_AFTER = re.compile(
    r"[ \u00a0]?(?:"
    r"(?:km/h|mph|(?:[kcmµn]?m)(?:/s|/h|²|³)|[kcmµn]m|[kmµ]g|[mµn]s|min|[kMG]?Hz|[kMG]Wh?|[mk]V|mA|[hk]?Pa"
    r"|bar|kJ|kcal|°[CF]|[mµ][lL]|[KMGT]i?B|[kmgt]b|bytes?|bits?|[kMG]bps|px|dpi|rpm|‰)(?![\w/²³])(?!\.\w)"
    r"|[mgs](?=[ \t]*(?:\n|[,;)]|$)))"
)
_AMOUNT_BEFORE_WORD = re.compile(rf"(?:[{CURRENCY_SIGNS}]|\b(?i:{'|'.join(CURRENCY_CODES)}))[ \t]?$")
# Most numbers are followed and preceded by none of these patterns; a regex call costs
# more than looking at one character, so each is tried only where its first (or last)
# character is there. The sets are every character the case-insensitive patterns accept
# there (U+0130 and U+0131, dotted capital and dotless small I, match "i"), checked
# against all of Unicode in tests/trust/test_pii_speed.py.
EXT_START = frozenset("xXeE#pPdDiIaAtT\u0130\u0131")


def _any_case(letters: str) -> frozenset[str]:
    """``letters`` as a case-insensitive regex accepts them (U+0130 and U+0131 match i,
    the Kelvin sign U+212A k, the long s U+017F s)."""
    folds = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}
    return frozenset(c for letter in letters for c in (letter, letter.upper(), letter.lower(), *folds.get(letter, "")))


AMOUNT_AFTER_START = frozenset(",. %" + CURRENCY_SIGNS) | _any_case("".join({code[0] for code in CURRENCY_CODES}))
AMOUNT_BEFORE_LAST = frozenset(CURRENCY_SIGNS) | _any_case("".join({code[-1] for code in CURRENCY_CODES}))


_GLUE = frozenset("_-./#@\\")
_LABEL_BEFORE_HASH = re.compile(
    r"(?i:\b(?:ssn|sin|tel|phone|fax|mobile|cell|card|iban|nino|aadhaar|aadhar|uid|cpf|cnpj|bsn|pesel|tfn|medicare"
    r"|pnr|personnummer|dni|nif|nie|steuer-?id|nir|nhs|cpr|ahv|avs|rrn|hetu|nric|fin|pps|ppsn|curp|fnr|insz|niss))"
    r" ?#$"
)
# "no." / "nr." / "nº" right before a number: an abbreviation of "number", not a word it is glued to.
_NUMBER_WORD_BEFORE = re.compile(r"(?i)(?<![^\W\d_])(?:no|nr|num|n)[.º°]$")
_CARD_SHAPES = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 1)}
)

# A span the caller records: (start, end, entity, score).
Found = tuple[int, int, str, float]
# Where the nearest context word of an entity before a position ends (-1: none).
Context = Callable[[str, int], int]
Option = tuple[str, float, int, int]  # entity, score, start, end


def _expiry(values: list[str], seps: list[str], k: int) -> bool:
    """Groups ``k`` and ``k + 1`` are the last two and a card's expiry: MM/YY or MM/YYYY."""
    return (
        k + 2 == len(values)
        and seps[k] == "/"
        and len(values[k]) == 2
        and "01" <= values[k] <= "12"
        and len(values[k + 1]) in (2, 4)
    )


def _can_start(sep: str) -> bool:
    """A value may start after this separator: whitespace, or " (" of "(030) ..."."""
    return sep[-1:].isspace() or (len(sep) >= 2 and sep[-1] == "(" and sep[-2].isspace())


def _can_end(sep: str) -> bool:
    """A value may end before this separator: whitespace, or punctuation and whitespace."""
    return sep[:1].isspace() or (len(sep) >= 2 and sep[0] in ".,;:" and sep[1].isspace())


def _ext_at(text: str, pos: int) -> re.Match[str] | None:
    """An extension (``ext. 12``, ``x123``, ``Durchwahl 4``) right at ``pos``."""
    k = pos
    if text[k : k + 1] in _COMMA_SPACE:
        k += 1
        if text[k : k + 1] in _COMMA_SPACE:
            k += 1
    if text[k : k + 1] not in EXT_START:
        return None  # the keyword cannot start after up to two spaces or commas
    return _EXT.match(text, pos)


_COMMA_SPACE = frozenset(" ,")


def _is_date(lengths: tuple[int, ...], seps: Sequence[str], values: Sequence[str]) -> bool:
    if len(lengths) != 3 or seps[0] != seps[1] or seps[0] not in ("-", ".", "/"):
        return False
    if lengths[0] == 4:
        return 1 <= int(values[1]) <= 12 and 1 <= int(values[2]) <= 31
    if lengths[2] in (2, 4):
        first, second = int(values[0]), int(values[1])
        return (1 <= first <= 31 and 1 <= second <= 12) or (1 <= first <= 12 and 1 <= second <= 31)
    return False


def _octets(octets: Sequence[str]) -> bool:
    # What ipaddress.IPv4Address accepts (octets 0-255, no leading zeros), without its cost.
    return all(len(o) <= 3 and (len(o) == 1 or o[0] != "0") and int(o) <= 255 for o in octets)


def _dotted_quad(text: str, start: int, end: int, octets: Sequence[str]) -> Option | None:
    """Four dotted groups: an IPv4 address; a version string (consumed: it hides nothing);
    or None, to be read as a phone or an id ("612.34.56.78", "02.123.45.67", "1.800.555.0199")."""
    if version_like(text, start, end):
        return ("", 0.0, start, end)
    if _octets(octets):
        return ("IP_ADDRESS", 0.6, start, end)
    return None


def _date_time(head: str, tail: str) -> bool:
    """``head`` a date (DDMMYY or YYMMDD) and ``tail`` a time of day (HHMM)."""
    if int(tail[:2]) > 23 or int(tail[2:]) > 59:
        return False
    a, b, c = int(head[:2]), int(head[2:4]), int(head[4:])
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= b <= 12 and 1 <= c <= 31)


def _phone(
    text: str,
    offsets: list[int],
    seps: list[str],
    values: list[str],
    i: int,
    j: int,
    lengths: Sequence[int],
    digits: str,
) -> tuple[float, int, int] | None:
    """Score, start and end of groups ``i..j`` (``lengths``, ``digits``) read as a phone
    number (or None)."""
    start, end = offsets[2 * i], offsets[2 * j + 1]
    plus = paren = False
    if start:
        lead = text[start - 1]
        plus = lead == "+"
        paren = lead == "("
    trunk = False
    if i != j:
        inner = seps[i:j]
        for sep in inner:
            ok = _SEP_OK.get(sep)
            if ok is None:
                ok = _SEP_OK[sep] = sep != "  " and _PHONE_SEP.fullmatch(sep) is not None
            if not ok:
                return None
            if sep[-1:] == "(":
                trunk = True
    else:
        inner = []
    # Two groups around one dot are a decimal as often as a number (07.123456 s); never
    # the seconds of a time ("14:22:07.123456").
    decimal = len(inner) == 1 and inner[0] == "." and not plus
    if decimal and text[start - 1 : start] == ":":
        return None
    if trunk:
        # The trunk "(0)" of "+44 (0)20 ...": not dialled from abroad.
        parts: list[str] = []
        kept: list[int] = []
        for k in range(i, j + 1):
            value = values[k]
            if i < k < j and value == "0" and seps[k - 1].endswith("(") and seps[k].startswith(")"):
                continue
            parts.append(value)
            kept.append(len(value))
        digits, lengths = "".join(parts), kept
    if plus:
        score = international_score(digits, plus=True)
        start -= 1
    elif digits.startswith("00"):
        # "00971 50 123 0625": the country code as a group of its own, then the number's groups
        score = international_score(digits[2:], plus=False, code_group=lengths[0] - 2, groups=len(lengths))
        if score and start and labelled_not_a_phone(text, start):
            return None  # "order 0081 2345 6789": zero-padded, as ids often are
    else:
        if len(lengths) == 3 and _is_date(tuple(lengths), inner, values[i : j + 1]):
            return None
        if inner.count("/") >= 2:
            return None  # "426/962/4149": a fraction, a date or a path; "0221/64792002" has one
        paren_area = paren and bool(inner) and inner[0].startswith(")")
        score = national_score(digits, lengths, inner, paren_area)
        if score and len(lengths) == 2 and lengths[0] == 6 and lengths[1] == 4 and _date_time(values[i], values[j]):
            score = min(score, 0.3)  # "010136-1901": DDMMYY-HHMM, a time stamp; with its label
        if score and score < 0.85 and start and labelled_not_a_phone(text, start):
            return None
        if paren_area:
            start -= 1
        if score:
            after = text[end : end + 1]
            if after == " ":  # the usual case: only " EUR", " €", " %"... could follow
                after = text[end + 1 : end + 2]
            if after in AMOUNT_AFTER_START and _AMOUNT_AFTER.match(text, end):
                return None
            if start > 0:
                if text[start - 1 : start].strip() in _AMOUNT_BEFORE:
                    return None
                # "EUR 912 345 678", "$ 1 234 567"
                k = start
                if text[k - 1] == "\n":
                    k -= 1
                if k > 0 and text[k - 1] in " \t":
                    k -= 1
                if (
                    k > 0
                    and text[k - 1] in AMOUNT_BEFORE_LAST
                    and _AMOUNT_BEFORE_WORD.search(text, max(0, start - 5), start)
                ):
                    return None
    if not score:
        return None
    if decimal:
        # A trunk "0" and an area code before the dot ("030.12345678", "07700.900123") is
        # how a number is written; other decimals are phones only beside their label.
        head = values[i]
        score = min(score, 0.55 if head[0] == "0" and 2 <= len(head) <= 6 and len(values[j]) >= 4 else 0.3)
    if inner and not plus and inner.count(".") == len(inner) and version_like(text, start, end):
        return None  # "firmware 06.12.34.56", "version 030.1234567"
    if text[end : end + 1] in _EXT_FIRST:
        ext = _ext_at(text, end)
        if ext is not None:
            end = ext.end()
    # A number wrapped onto the next line cannot be read whole: its pieces are not numbers
    # of their own, so they count only with a context word.
    if (
        not plus
        and not digits.startswith("00")
        and (
            (start >= 2 and text[start - 1] == "\n" and text[start - 2].isdigit())
            or (text[end : end + 1] == "\n" and text[end + 1 : end + 2].isdigit())
        )
    ):
        score -= 0.25
    return score, start, end


# An extension starts with one of these, or with its keyword.
_EXT_FIRST = EXT_START | _COMMA_SPACE


def scan_run(text: str, run_start: int, run_end: int, context: Context, boost: float, out: list[Found]) -> None:
    """Append every numeric entity in ``text[run_start:run_end]`` to ``out``."""
    found = len(out)
    _scan_run(text, run_start, run_end, context, boost, out)
    if len(out) > found and _quantity_after(text, run_end):
        # "299 792 458 m/s": a measurement. Only unlabelled phone guesses go; a labelled
        # phone and the checksummed values (cards, IBANs, national ids) stay.
        out[found:] = [f for f in out[found:] if f[2] != "PHONE" or f[3] >= _LABELLED_PHONE]


def _quantity_after(text: str, end: int) -> bool:
    unit = text[end : end + 1]
    if unit == " " or unit == "\xa0":
        unit = text[end + 1 : end + 2]
    return (unit.isalpha() or unit == "°" or unit == "‰") and _UNIT_AFTER.match(text, end) is not None


def _scan_run(text: str, run_start: int, run_end: int, context: Context, boost: float, out: list[Found]) -> None:
    if text[run_start + 6 : run_start + 7] in HETU_SIGNS:
        hetu = finnish_id(text, run_start)  # "131052-308T", "010101A123N": a date, a century sign
        if hetu is not None:
            _pick([(hetu[2], hetu[3], hetu[0], hetu[1])], context, boost, out)
            return
    if text[run_start + 17 : run_start + 18] in _X or text[run_start + 19 : run_start + 20] in _X:
        chinese = chinese_id_with_x(text, run_start)  # "11010519491231002X", "…002x 2024"
        if chinese is not None:
            out.append(chinese)
            # A lower-case "x" is a run's character: what follows the id is a run of its own.
            rest = chinese[1]
            while rest < run_end and not text[rest].isdigit():
                rest += 1
            if run_end - rest >= 6:
                scan_run(text, rest, run_end, context, boost, out)
            return
    if run_start >= 2:
        char = text[run_start - 1]
        if char.isalpha() or (char in " -" and text[run_start - 2].isalpha()):
            # A letter before the run may end an IBAN's country code or bank code: one in
            # lower case or dashed groups is read here. Like one in capitals, it holds the
            # run whole; one that fails mod-97 hides nothing.
            iban = written_iban(text, run_start)
            if iban is not None:
                if iban[2]:
                    out.append((iban[0], iban[1], "IBAN", 1.0))
                return
            if run_end - run_start == 6 and text[run_end : run_end + 1].isalpha():
                curp = written_curp(text, run_start)  # "hegg560427mvzrrl04": its birth date
                if curp is not None:
                    _pick([curp], context, boost, out)
                    return
    # The separators of both date shapes are looked at before the regex is (a run has at
    # least six characters, so these are inside it).
    if (text[run_start + 2] == "." and text[run_start + 5] == ".") or (
        text[run_start + 4] == "-" and run_end - run_start > 9 and text[run_start + 7] == "-"
    ):
        head = _DATE_HEAD.match(text, run_start, run_end)
        if head is not None:
            # A run led by a date (the head of most log lines) is scanned from after it.
            run_start = head.end()
            while run_start < run_end and not text[run_start].isdigit():
                run_start += 1
            if run_end - run_start < 6:
                return
    # Glue first: a third of all runs are ids glued to a word, and those longer than a
    # lettered id (ten characters: "12.345.678") hold nothing, lettered or not. Glued
    # before: the character before the run (or before its "+" or "(") is a letter or
    # digit, one of "_./#@\", or a "-" that is no list bullet ("ID-0221", not "- 0221").
    lead = text[run_start - 1] if run_start else ""
    pos = run_start - 1 if lead == "+" or lead == "(" else run_start
    if pos:
        char = text[pos - 1]
        if (char == "." or char in "º°") and _NUMBER_WORD_BEFORE.search(text, max(0, pos - 5), pos):
            glued = False  # "no.741640508663", "nº12345678909": a label, not a word
        elif char.isalnum():
            glued = not unspaced_script(char)  # "手机号13912345678": Chinese has no spaces to glue across
        elif char == "-":
            glued = pos >= 2 and not text[pos - 2].isspace()
        elif char == "#":
            # "order #4711" is an id; "SSN #536-90-4399" or "Tel #…" is the labelled value.
            glued = _LABEL_BEFORE_HASH.search(text, max(0, pos - 12), pos) is None
        elif char == "@" or (char == "/" and text[pos - 2 : pos] == "//"):
            # A host: "admin@10.0.0.1", "https://10.0.0.1:8443" (a dotted quad, not an id).
            glued = _DOTTED_QUAD.fullmatch(text, run_start, run_end) is None
        else:
            glued = char in _GLUE
    else:
        glued = False
    first = text[run_end : run_end + 1]
    glued_after = (
        (first.isalpha() and not unspaced_script(first))
        or first == "_"
        or (first in "-." and text[run_end + 1 : run_end + 2].isalnum())
    ) and _ext_at(text, run_end) is None
    if glued_after and not glued and run_end - run_start > 10:
        # "Steuer-ID: 85 379 341 064 (2022-09-15T17:46Z)": an ISO timestamp glued to its "T"
        # ends the run; what stands before it is a run of its own. (Other glued tails keep
        # the whole run a word's: "0800 1200 1300 1700hrs".)
        cut = text.rfind(" ", run_start, run_end)
        if cut > run_start and _ISO_STAMP.match(text, cut):
            while cut > run_start and not text[cut - 1].isdigit():
                cut -= 1
            if cut - run_start >= 6:
                scan_run(text, run_start, cut, context, boost, out)
        return
    if (glued or glued_after) and run_end - run_start > 10:
        return  # part of a word: ORD-2024-004512, 1234-SNAPSHOT, 12345abc, 2024-01-15T
    if run_end - run_start == 6 and text[run_end : run_end + 1] == "+" and not glued:
        plus = personnummer_plus(text, run_start, run_end)  # "121212+1212"
        if plus is not None:
            _pick([plus], context, boost, out)
            return
    run = text[run_start:run_end]
    single = run.isdigit()
    if len(run) < 7 if single else "." not in run and len(run) - run.count(" ") - run.count("-") - run.count("/") < 7:
        before = text[run_start - 2 : run_start] if run_start >= 2 else text[:run_start]
        if not before.strip().isalpha():
            return  # fewer than 7 digits and no dots: only a NINO ("AB 12 34 56 C") fits
    # The letters of a NINO or NIE around the run: one or two letters of their own right
    # before it ("AB 12…", "X-123…"), or one right after it ("…78Z", "…78-Z", "… 56 C").
    k = run_start - 1
    if k >= 0 and text[k] in " -":
        k -= 1
    if k >= 0 and text[k].isalpha():
        if k >= 1 and text[k - 1].isalpha():  # two letters, not a third or a digit before
            lettered = k < 2 or not text[k - 2].isalnum()
        else:
            lettered = k < 1 or not text[k - 1].isalnum()
    else:
        lettered = False
    if not lettered:
        k = run_end + 1 if text[run_end : run_end + 1] in (" ", "-") else run_end
        # (Or two: an Irish PPS number's "1234567 TA".)
        lettered = text[k : k + 1].isalpha() and (
            not text[k + 1 : k + 2].isalnum()
            or (run_end - run_start == 7 and text[k + 1 : k + 2].isalpha() and not text[k + 2 : k + 3].isalnum())
        )
    if not lettered:
        if glued or glued_after:
            if single and len(run) == 7 and not glued:
                pps = irish_pps(text, run_start, run_end)  # "1234567TA": two letters after
                if pps is not None:
                    _pick([(pps[2], pps[3], pps[0], pps[1])], context, boost, out)
            return
        if single:
            # One group of digits (the commonest run): no groups to combine.
            _pick(_candidates(text, [run_start, run_end], [""], [run], (len(run),), 0, 0, run), context, boost, out)
            return
    if not (glued or glued_after) and lead != "+" and run.count(".") == 3 and _DOTTED_QUAD.fullmatch(run):
        # Four dotted groups (no date: the third dot cannot end one) are an IPv4 address
        # or a version string, found here without the loop below; the others go to it as
        # phones ("612.34.56.78", "02.123.45.67", "1.800.555.0199"), cards with dots, AHV
        # numbers. (An address never follows "+": "+1.212.555.0134" goes to the loop.)
        octets = run.split(".")
        quad = _dotted_quad(text, run_start, run_end, octets)
        if quad is not None:
            _pick([quad], context, boost, out)
            return
        if max(map(len, octets)) <= 3 and context("IP_ADDRESS", run_start) > context("PHONE", run_start):
            return  # "addr 01.02.03.004": an address mistyped, not a phone
    # Digits and separators alternate: "0221 / 6479-20" -> ["0221", " / ", "6479", "-", "20"].
    pieces = _SPLIT.split(run)
    seps = pieces[1::2]
    seps.append("")
    values = pieces[0::2]
    lengths = tuple(map(len, values))
    n = len(lengths)
    # Where each piece starts: group k is text[offsets[2k]:offsets[2k + 1]].
    offsets = list(itertools.accumulate(map(len, pieces), initial=run_start))
    if lettered and n <= 3:
        found = lettered_id(text, run_start, run_end, lengths, seps)
        if found is not None:
            start, end, entity, score = found
            labelled = score < 0.85 and context(entity, start) >= 0
            if labelled:
                score = min(1.0, score + boost)
            if labelled or score != WORD_LETTER_SCORE:
                out.append((start, end, entity, score))
                return
            # "… 12345678 y …" without a label: a word after a number, read as any other
    if glued or glued_after:
        return
    ends = list(itertools.accumulate(lengths))  # digits up to and including each group
    # "01 23 45 67 89 / 06 12 34 56 78": a spaced "/" or "-" before a group with a trunk
    # "0" joins two numbers; no value spans it ("0221 / 64792002" has no "0" after it).
    joins = [
        k
        for k in range(n - 1)
        if seps[k].strip() in ("/", "-") and seps[k] != seps[k].strip() and values[k + 1][:1] == "0"
        and lengths[k + 1] >= 2
    ]  # fmt: skip
    # After "+" the run is one international number: no national number starts inside it.
    last_start = 0 if lead == "+" else n - 1
    i = 0
    # Group i - 1 belongs to no value: a phone starting at i, after a space, is the tail of
    # a longer number ("FedEx 9396 0551 8177", "S/N 7781 0612 3456 78"), one with its label.
    loose = False
    while i <= last_start:
        if i > 0 and not _can_start(seps[i - 1]):
            i += 1
            loose = True
            continue
        if (
            i + 2 < n
            and seps[i] == seps[i + 1]
            and seps[i] in ("-", ".", "/")
            and lengths[i : i + 3] in _DATE_SHAPES
            and (i + 3 == n or _can_end(seps[i + 2]))
            and _is_date(lengths[i : i + 3], seps[i : i + 2], values[i : i + 3])
        ):
            i += 3  # a date (2024-05-03, 03.05.2024): the usual head of a log line
            loose = False
            continue
        consumed = -1
        below = ends[i - 1] if i else 0
        for j in range(min(n - 1, i + 7), i - 1, -1):
            total = ends[j] - below
            if total > 19 or (total < 7 and not (j - i == 3 and seps[i] == ".")):
                continue  # no value is longer than 19 digits, or shorter than 7 (but an IPv4)
            if joins and any(i <= k < j for k in joins):
                continue
            if (
                j < n - 1
                and not _can_end(seps[j])
                and ("x" not in seps[j] or not _ext_at(text, offsets[2 * j + 1]))
                and not (seps[j] == "/" and j - i == 3 and seps[i] == "." and lengths[j + 1] <= 2)  # 10.0.0.0/24
                # a card's "…1111/12/27" (not a phone's "… (13/12/2020)": a date's day is no last group)
                and not (seps[j] == "/" and lengths[j] >= 3 and _expiry(values, seps, j + 1))
            ):
                continue
            digits = values[i] if i == j else "".join(values[i : j + 1])
            options = _candidates(text, offsets, seps, values, lengths[i : j + 1], i, j, digits)
            if not options:
                continue
            consumed = j
            if loose and seps[i - 1] == " ":
                options = [
                    (e, max(0.05, score - 0.3) if e == "PHONE" and score < _LABELLED_PHONE else score, a, b)
                    for e, score, a, b in options
                ]
            _pick(options, context, boost, out)
            break
        loose = consumed < 0
        i = consumed + 1 if consumed >= 0 else i + 1


def _pick(options: list[Option], context: Context, boost: float, out: list[Found]) -> None:
    """Append the option that scores best once context words are counted. When several
    options have context words ("SSN" and, further back, "call"), the nearest word wins."""
    if not options:
        return
    if len(options) == 1:
        entity, score, start, end = options[0]
        if not entity:
            return  # a number that failed its checksum
        if score < 0.85 and context(entity, start) >= 0:  # strong candidates pass without
            score = min(1.0, score + boost)
        out.append((start, end, entity, score))
        return
    if not options[0][0]:
        return
    where = [context(entity, start) if score < 0.85 else -1 for entity, score, start, _ in options]
    nearest = max(where)
    best: Found | None = None
    for (entity, score, start, end), pos in zip(options, where, strict=True):
        if pos >= 0 and pos == nearest:
            score = min(1.0, score + boost)
        if best is None or score > best[3]:
            best = (start, end, entity, score)
    if best is not None:
        out.append(best)


def _candidates(
    text: str,
    offsets: list[int],
    seps: list[str],
    values: list[str],
    lengths: tuple[int, ...],
    i: int,
    j: int,
    digits: str,
) -> list[Option]:
    """What groups ``i..j`` (of ``lengths`` digits, ``digits`` without separators) may be:
    (entity, score, start, end) options, best picked by the caller after context; a lone
    entity "" is a number that failed its checksum and hides nothing; empty: nothing here."""
    start, end = offsets[2 * i], offsets[2 * j + 1]
    total = len(digits)
    sep = seps[i] if i != j else ""
    # "uniform" (one separator throughout) is asked only where a shape needs it:
    # j - i < 2 or seps[i:j].count(sep) == j - i.
    if (
        12 <= total <= 19
        and (i == j or ((sep == " " or sep == "-" or (sep == "." and lengths[0] == 4)) and lengths in _CARD_SHAPES))
        and text[start - 1 : start] != "+"
        and (j - i < 2 or seps[i:j].count(sep) == j - i)
    ):
        brand = card_brand(digits)
        if brand is not None and luhn_valid(digits):
            # A 13-digit Visa (issued no more) run together is any checksummed number
            # ("checksum 4079138682463"): its label decides.
            score = 0.4 if brand == "maestro" else 0.45 if brand == "visa" and total == 13 and i == j else 0.9
            card: Option = ("CREDIT_CARD", score, start, end)
            if i == j:
                # A national id run together that also passes Luhn in a card's range (a CNPJ
                # in Diners', 1 in 10; a South African id always; a Chinese one from province
                # 50-69 in Maestro's): its label decides; without one, the higher score.
                ids = national_options(lengths, [], digits, start, end, text=text)
                if ids:
                    return [*ids, ("CREDIT_CARD", min(card[1], 0.8), start, end)]
            return [card]
        if i != j or total == 16:
            return [("", 0.0, start, end)]
    if j == i + 3 and sep == "." and seps[i + 1] == "." and seps[i + 2] == "." and text[start - 1 : start] != "+":
        # No address ("1.800.555.0199", "612.34.56.78": 555 > 255, 612 > 255): a dotted
        # phone number or id, if one fits ("+1.212.555.0134" is never an address).
        quad = _dotted_quad(text, start, end, values[i : j + 1])
        if quad is not None:
            return [quad]
    options: list[Option] = []
    if (
        total == 9
        and (i == j or (lengths == (3, 2, 4) and sep == seps[i + 1] and sep in "- "))
        and ssn_shaped(digits[:3], digits[3:5], digits[5:])
    ):
        score = 0.3 if i == j else (0.6 if sep == "-" else 0.5)
        if ssn_published(digits):  # a voided sample number: an SSN only beside an SSN label
            score = 0.15 if i == j else 0.3
        options.append(("US_SSN", score, start, end))
    if total == 11 and (i == j or (lengths == (2, 3, 3, 3) and seps[i:j].count(sep) == 3)) and de_tax_id_valid(digits):
        options.append(("DE_TAX_ID", 0.6 if i != j else 0.45, start, end))
    if (
        total == 15
        and (i == j or lengths == (13, 2) or (lengths == (1, 2, 2, 2, 3, 3, 2) and seps[i:j].count(sep) == 6))
        and fr_nir_valid(digits)
    ):
        options.append(("FR_NIR", 0.85, start, end))
    if total >= 7:
        phone = _phone(text, offsets, seps, values, i, j, lengths, digits)
        if phone is not None and phone[0] > 0:
            if phone[2] > end:
                return [("PHONE", *phone)]  # an extension ("074104 11533 ext. 12"): no id has one
            options.append(("PHONE", *phone))
    if 9 <= total <= 14 or total == 18:
        # after phones: they win a tie
        options += national_options(lengths, seps[i:j], digits, start, end, text=text)
    return options
