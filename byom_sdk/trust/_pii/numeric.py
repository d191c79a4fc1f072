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
   ``-SNAPSHOT``-like suffixes, not after "version", "release", "build"...);
4. a phone number by numbering plan (:mod:`.phones`), with an extension.

A run glued to a word (``ORD-2024-004512``, ``INC0012345``, ``a456-4266``) holds none of
these: it is an identifier, unless the letters make it a UK NINO or a Spanish DNI/NIE.
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
    es_nie_valid,
    es_nif_valid,
    fr_nir_valid,
    luhn_valid,
    ssn_valid,
    uk_nino_valid,
)
from .context import fold
from .phones import international_score, national_score

__all__ = ["LONG_RUN", "scan_run"]

#: Digit runs of 6+ characters: digits and the separators numbers use, starting and ending
#: with a digit ("123456" of a NINO is the shortest value that lives in one).
LONG_RUN = re.compile(r"\d[\d ().\-/x]{4,}\d")
_SPLIT = re.compile(r"(\D+)")
_PHONE_SEP = re.compile(r" ?[-./]? ?|\)[ .-]?|[ .-]?\(|\) ?\(")
_DATE_HEAD = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d(?![\d-])|[0-3]\d\.[01]\d\.(?:19|20)\d\d(?![\d.])")
_SEP_OK: dict[str, bool] = {}  # separators seen so far: phone-like or not
_DATE_SHAPES = frozenset({(4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4), (2, 2, 2)})
_EXT = re.compile(
    r"[ ,]{0,2}(?:x|ext\.?|extn\.?|extension|#|poste|durchwahl|dw\.?|int\.?|interno|anexo|toestel|tst\.?)"
    r"[ .:]{0,2}\d{1,6}(?!\d)",
    re.IGNORECASE,
)
# A currency after the number ("1 234 €"), not one that starts the next amount ("EUR 6 133").
_AMOUNT_AFTER = re.compile(r"[,.]\d{1,2}(?!\d)| ?(?:€|eur\b|usd\b|gbp\b|chf\b|%)(?![ \t]?\d)", re.IGNORECASE)
_AMOUNT_BEFORE = frozenset("€$£¥")
_AMOUNT_BEFORE_WORD = re.compile(r"(?:[€$£¥]|\b(?i:eur|usd|gbp|chf))[ \t]?$")
_VERSION_WORDS = re.compile(
    r"(?<![a-z])(?:version|versions|ver|release|rel|build|firmware|fw|rev|revision|patch|versie|versione|oid)"
    r"(?![a-z])"
)
_LABEL_GAP = re.compile(r"""[\s:="'()\[\]#-]*(?:(?:no|nr|number|to|auf|vers|naar|a)\.?[\s:="'#-]*)?""")
_GLUE = frozenset("_-./#@\\")
_CARD_SHAPES = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 1)}
)

# A span the caller records: (start, end, entity, score).
Found = tuple[int, int, str, float]
# Where the nearest context word of an entity before a position ends (-1: none).
Context = Callable[[str, int], int]


def _can_start(sep: str) -> bool:
    """A value may start after this separator: whitespace, or " (" of "(030) ..."."""
    return sep[-1:].isspace() or (len(sep) >= 2 and sep[-1] == "(" and sep[-2].isspace())


def _can_end(sep: str) -> bool:
    """A value may end before this separator: whitespace, or punctuation and whitespace."""
    return sep[:1].isspace() or (len(sep) >= 2 and sep[0] in ".,;:" and sep[1].isspace())


def _letters_before(text: str, pos: int) -> bool:
    """One or two letters of their own right before ``pos`` (``AB 12…``, ``X-123…``): the
    head of a NINO or NIE."""
    k = pos - 1
    if k >= 0 and text[k] in " -":
        k -= 1
    j = k
    while j >= 0 and k - j < 3 and text[j].isalpha():
        j -= 1
    return 1 <= k - j <= 2 and (j < 0 or not text[j].isalnum())


def _letter_after(text: str, pos: int) -> bool:
    """One letter of its own right after ``pos`` (``…78Z``, ``…78-Z``, ``… 56 C``)."""
    k = pos + 1 if text[pos : pos + 1] in (" ", "-") else pos
    return text[k : k + 1].isalpha() and not text[k + 1 : k + 2].isalnum()


def _glued_before(text: str, pos: int) -> bool:
    """The character before ``pos`` ties the run to a word (or a dotted/dashed token)."""
    if pos == 0:
        return False
    before = text[pos - 1]
    if before.isalnum():
        return True
    if before == "-":
        # "- 0221 ..." in a list is fine; "ID-0221" is not.
        return pos >= 2 and not text[pos - 2].isspace()
    return before in _GLUE


def _is_date(lengths: tuple[int, ...], seps: list[str], values: list[str]) -> bool:
    if len(lengths) != 3 or seps[0] != seps[1] or seps[0] not in ("-", ".", "/"):
        return False
    if lengths[0] == 4:
        return 1 <= int(values[1]) <= 12 and 1 <= int(values[2]) <= 31
    if lengths[2] in (2, 4):
        first, second = int(values[0]), int(values[1])
        return (1 <= first <= 31 and 1 <= second <= 12) or (1 <= first <= 12 and 1 <= second <= 31)
    return False


def _version_like(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else ""
    if before.isalnum() or before in "@~^" or text[max(0, start - 2) : start] in ("==", ">=", "<=", "~=", "!="):
        return True  # v1.2.3.4, pkg@1.2.3.4, pkg==1.2.3.4
    after = text[end : end + 2]
    if len(after) == 2 and after[0] in "-+_~." and after[1].isalpha():
        return True  # 9.15.26.242-SNAPSHOT, 1.2.3.4+build, 1.2.3.4.Final
    window = fold(text[max(0, start - 24) : start])
    ends = [m.end() for m in _VERSION_WORDS.finditer(window)]
    # "version: 1.2.3\nhost: 10.0.0.1": the word labels only the value right after it.
    return bool(ends) and _LABEL_GAP.fullmatch(window, ends[-1]) is not None


def _ipv4(text: str, start: int, end: int, groups: list[tuple[int, int]]) -> float:
    # What ipaddress.IPv4Address accepts (octets 0-255, no leading zeros), without its cost.
    for s, e in groups:
        if e - s > 3 or (e - s > 1 and text[s] == "0") or int(text[s:e]) > 255:
            return 0.0
    return 0.0 if _version_like(text, start, end) else 0.6


def _phone(
    text: str, groups: list[tuple[int, int]], seps: list[str], i: int, j: int, lengths: Sequence[int], digits: str
) -> tuple[float, int, int] | None:
    """Score, start and end of groups ``i..j`` (``lengths``, ``digits``) read as a phone
    number (or None)."""
    start, end = groups[i][0], groups[j][1]
    plus = start > 0 and text[start - 1] == "+"
    paren = start > 0 and text[start - 1] == "("
    inner = seps[i:j]
    trunk = False
    for sep in inner:
        ok = _SEP_OK.get(sep)
        if ok is None:
            ok = _SEP_OK[sep] = sep != "  " and _PHONE_SEP.fullmatch(sep) is not None
        if not ok:
            return None
        trunk = trunk or sep.endswith("(")
    if trunk:
        # The trunk "(0)" of "+44 (0)20 ...": not dialled from abroad.
        parts: list[str] = []
        kept: list[int] = []
        for k in range(i, j + 1):
            s, e = groups[k]
            if i < k < j and e - s == 1 and text[s] == "0" and seps[k - 1].endswith("(") and seps[k].startswith(")"):
                continue
            parts.append(text[s:e])
            kept.append(e - s)
        digits, lengths = "".join(parts), kept
    if plus:
        score = international_score(digits, plus=True)
        start -= 1
    elif digits.startswith("00"):
        score = international_score(digits[2:], plus=False)
    else:
        if len(lengths) == 3 and _is_date(tuple(lengths), inner, [text[s:e] for s, e in groups[i : j + 1]]):
            return None
        paren_area = paren and bool(inner) and inner[0].startswith(")")
        score = national_score(digits, lengths, inner, paren_area)
        if paren_area:
            start -= 1
        if score and (
            _AMOUNT_AFTER.match(text, end) or (start > 0 and text[start - 1 : start].strip() in _AMOUNT_BEFORE)
        ):
            return None
        if score and _AMOUNT_BEFORE_WORD.search(text, max(0, start - 5), start):
            return None  # "EUR 912 345 678", "$ 1 234 567"
    if not score:
        return None
    ext = _EXT.match(text, end)
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


_NINO_PREFIX = re.compile(r"[A-Z]{2} ?$")
_LETTER_AFTER = re.compile(r"[- ]?([A-Z])(?![A-Za-z0-9])")
_NINO_SUFFIX = re.compile(r" ?([A-D])(?![A-Za-z0-9])")


def _lettered(text: str, run_start: int, run_end: int, lengths: tuple[int, ...], seps: list[str]) -> Found | None:
    """Ids that mix letters and digits around one run: UK NINO, Spanish DNI and NIE."""
    if lengths in ((6,), (2, 2, 2)) and (len(lengths) == 1 or seps[:2] == [" ", " "]):
        head = _NINO_PREFIX.search(text, max(0, run_start - 3), run_start)
        tail = _NINO_SUFFIX.match(text, run_end)
        if head is not None and tail is not None and (head.start() == 0 or not text[head.start() - 1].isalnum()):
            compact = head.group(0).replace(" ", "") + text[run_start:run_end].replace(" ", "") + tail.group(1)
            if uk_nino_valid(compact):
                return head.start(), tail.end(), "UK_NINO", 0.6
    if lengths == (7,) and run_start >= 1:
        lead = run_start - 1 if text[run_start - 1] in "XYZ" else run_start - 2
        tail = _LETTER_AFTER.match(text, run_end)
        if (
            lead >= 0
            and text[lead] in "XYZ"
            and text[lead + 1 : run_start] in ("", "-", " ")
            and (lead == 0 or not text[lead - 1].isalnum())
            and tail is not None
            and es_nie_valid(text[lead] + text[run_start:run_end] + tail.group(1))
        ):
            return lead, tail.end(), "ES_NIE", 0.9
    if lengths == (8,) or (lengths == (2, 3, 3) and seps[:2] == [".", "."]):
        tail = _LETTER_AFTER.match(text, run_end)
        if (
            tail is not None
            and (run_start == 0 or not text[run_start - 1].isalnum())
            and es_nif_valid(text[run_start:run_end].replace(".", "") + tail.group(1))
        ):
            return run_start, tail.end(), "ES_NIF", 0.85
    return None


def scan_run(text: str, run_start: int, run_end: int, context: Context, boost: float, out: list[Found]) -> None:
    """Append every numeric entity in ``text[run_start:run_end]`` to ``out``."""
    if (run_end - run_start > 9 and text[run_start + 4] == "-") or text[run_start + 2 : run_start + 3] == ".":
        head = _DATE_HEAD.match(text, run_start, run_end)
        if head is not None:
            # A run led by a date (the head of most log lines) is scanned from after it.
            run_start = head.end()
            while run_start < run_end and not text[run_start].isdigit():
                run_start += 1
            if run_end - run_start < 6:
                return
    run = text[run_start:run_end]
    before = text[max(0, run_start - 2) : run_start]
    if (
        "." not in run
        and len(run) - run.count(" ") - run.count("-") - run.count("/") < 7
        and not before.strip().isalpha()
    ):
        return  # fewer than 7 digits and no dots: only a NINO ("AB 12 34 56 C") fits
    after = text[run_end : run_end + 2]
    lettered = _letters_before(text, run_start) or _letter_after(text, run_end)
    glued = _glued_before(text, run_start - 1 if before[-1:] in ("+", "(") and before else run_start)
    glued_after = (
        after[:1].isalpha() or after[:1] == "_" or (after[:1] in "-." and after[1:2].isalnum())
    ) and not _EXT.match(text, run_end)
    if not lettered and (glued or glued_after):
        return  # part of a word: ORD-2024-004512, 1234-SNAPSHOT, 12345abc, 2024-01-15T
    if not lettered and run.isdigit():
        # One group of digits (the commonest run): no groups to combine.
        _pick(_candidates(text, [(run_start, run_end)], [""], (run_end - run_start,), 0, 0), context, boost, out)
        return
    # Digits and separators alternate: "0221 / 6479-20" -> ["0221", " / ", "6479", "-", "20"].
    pieces = _SPLIT.split(run)
    seps = pieces[1::2]
    seps.append("")
    lengths = tuple([len(p) for p in pieces[0::2]])
    n = len(lengths)
    groups: list[tuple[int, int]] = []
    pos = run_start
    for length, sep in zip(lengths, seps, strict=True):
        groups.append((pos, pos + length))
        pos += length + len(sep)
    if lettered and n <= 3:
        found = _lettered(text, run_start, run_end, lengths, seps)
        if found is not None:
            start, end, entity, score = found
            if score < 0.85 and context(entity, start) >= 0:
                score = min(1.0, score + boost)
            out.append((start, end, entity, score))
            return
    if glued or glued_after:
        return
    ends = list(itertools.accumulate(lengths))  # digits up to and including each group
    # After "+" the run is one international number: no national number starts inside it.
    last_start = 0 if before[-1:] == "+" else n - 1
    i = 0
    while i <= last_start:
        if i > 0 and not _can_start(seps[i - 1]):
            i += 1
            continue
        if (
            i + 2 < n
            and seps[i] == seps[i + 1]
            and seps[i] in ("-", ".", "/")
            and lengths[i : i + 3] in _DATE_SHAPES
            and (i + 3 == n or _can_end(seps[i + 2]))
            and _is_date(lengths[i : i + 3], seps[i : i + 2], [text[s:e] for s, e in groups[i : i + 3]])
        ):
            i += 3  # a date (2024-05-03, 03.05.2024): the usual head of a log line
            continue
        consumed = -1
        for j in range(min(n - 1, i + 7), i - 1, -1):
            total = ends[j] - (ends[i - 1] if i else 0)
            if total > 19 or (total < 7 and not (j - i == 3 and seps[i] == ".")):
                continue  # no value is longer than 19 digits, or shorter than 7 (but an IPv4)
            if (
                j < n - 1
                and not _can_end(seps[j])
                and ("x" not in seps[j] or not _EXT.match(text, groups[j][1]))
                and not (seps[j] == "/" and j - i == 3 and seps[i] == "." and lengths[j + 1] <= 2)  # 10.0.0.0/24
            ):
                continue
            options = _candidates(text, groups, seps, lengths[i : j + 1], i, j)
            if not options:
                continue
            consumed = j
            _pick(options, context, boost, out)
            break
        i = consumed + 1 if consumed >= 0 else i + 1


def _pick(options: list[tuple[str, float, int, int]], context: Context, boost: float, out: list[Found]) -> None:
    """Append the option that scores best once context words are counted. When several
    options have context words ("SSN" and, further back, "call"), the nearest word wins."""
    if not options or not options[0][0]:
        return  # nothing, or a number that failed its checksum
    if len(options) == 1:
        entity, score, start, end = options[0]
        if score < 0.85 and context(entity, start) >= 0:  # strong candidates pass without
            score = min(1.0, score + boost)
        out.append((start, end, entity, score))
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
    text: str, groups: list[tuple[int, int]], seps: list[str], lengths: tuple[int, ...], i: int, j: int
) -> list[tuple[str, float, int, int]]:
    """What groups ``i..j`` (of ``lengths`` digits) may be: (entity, score, start, end)
    options, best picked by the caller after context; a lone entity "" is a number that
    failed its checksum and hides nothing; empty: nothing here."""
    start, end = groups[i][0], groups[j][1]
    inner = seps[i:j]
    total = sum(lengths)
    uniform = i == j or inner.count(inner[0]) == len(inner)
    digits = text[start:end] if i == j else "".join([text[s:e] for s, e in groups[i : j + 1]])
    if (
        12 <= total <= 19
        and uniform
        and (not inner or inner[0] in (" ", "-"))
        and text[start - 1 : start] != "+"
        and (len(lengths) == 1 or lengths in _CARD_SHAPES)
    ):
        brand = card_brand(digits)
        if brand is not None and luhn_valid(digits):
            return [("CREDIT_CARD", (0.4 if brand == "maestro" else 0.9), start, end)]
        if len(lengths) > 1 or total == 16:
            return [("", 0.0, start, end)]
    if len(lengths) == 4 and uniform and inner[0] == ".":
        score = _ipv4(text, start, end, groups[i : j + 1])
        return [("IP_ADDRESS", score, start, end) if score else ("", 0.0, start, end)]
    options: list[tuple[str, float, int, int]] = []
    if (
        total == 9
        and (len(lengths) == 1 or (lengths == (3, 2, 4) and inner[0] == inner[1] and inner[0] in "- "))
        and ssn_valid(digits[:3], digits[3:5], digits[5:])
    ):
        options.append(("US_SSN", 0.3 if not inner else (0.6 if inner[0] == "-" else 0.5), start, end))
    if total == 11 and (len(lengths) == 1 or lengths == (2, 3, 3, 3)) and uniform and de_tax_id_valid(digits):
        options.append(("DE_TAX_ID", 0.6 if inner else 0.45, start, end))
    if (
        total == 15
        and (len(lengths) == 1 or lengths in ((1, 2, 2, 2, 3, 3, 2), (13, 2)))
        and uniform
        and fr_nir_valid(digits)
    ):
        options.append(("FR_NIR", 0.85, start, end))
    if total >= 7:
        phone = _phone(text, groups, seps, i, j, lengths, digits)
        if phone is not None and phone[0] > 0:
            options.append(("PHONE", *phone))
    return options
