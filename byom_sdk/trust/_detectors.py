"""Built-in PII and secret detectors: anchored scans, checksums, numbering plans, context.

Scans are anchored so that text which cannot hold an entity costs a few regex scans:
e-mail on ``@``; tokens, and values assigned to secret-named keys (:mod:`._pii.secrets`),
on words of 16+ characters, looked up by their first characters; IPv6 on colons; IBANs
and codici fiscali on capitals; every other numeric entity (cards, SSNs, phones, IPv4,
national ids) on digit runs, which :mod:`._pii.numeric` cuts into groups and reads by
checksum and numbering plan (:mod:`._pii.phones`). Context words (:mod:`._pii.context`,
accent- and case-insensitive, in the supported languages) found shortly before a weak
candidate raise its score, so a bare 10-digit number counts only next to "Tel." or
"phone".

A value that fails its checksum hides nothing: no phone is reported inside a card-shaped
number that fails Luhn or an IBAN that fails mod-97.

Nothing here touches the network or loads a model; patterns compile on first use.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import NamedTuple, Protocol, runtime_checkable

from ._pii.checksums import (
    IBAN_LENGTHS,
    card_brand,
    iban_valid,
    it_fiscal_code_valid,
    luhn_valid,
    ssn_valid,
)
from ._pii.context import DEFAULT_CONTEXT, ContextWords
from ._pii.evasion import HOMOGLYPHS, TAGS, obfuscated_emails, strip_invisible
from ._pii.numeric import LONG_RUN, LONG_RUN_NARROW, Context, scan_run
from ._pii.scan import capital_anchors, long_words, run_start
from ._pii.secrets import PRIVATE_KEY, TOKEN_RULES, UNANCHORED, assigned_secret, header_secrets, punctuated_secrets
from ._pii.world import mx_curp_valid
from ._pii.written import corsican_nirs, lower_case_ids

__all__ = [
    "BUILTIN_ENTITIES",
    "DEFAULT_CONTEXT",
    "IBAN_LENGTHS",
    "BuiltinDetector",
    "Detector",
    "Span",
    "card_brand",
    "iban_valid",
    "luhn_valid",
    "resolve_overlaps",
    "ssn_valid",
]


class Span(NamedTuple):
    """A detected value: ``text[start:end]`` is an ``entity`` with confidence ``score``.

    (A named tuple: detectors create many and it is several times cheaper than a frozen
    dataclass.)
    """

    start: int
    end: int
    entity: str
    score: float
    detector: str = ""


@runtime_checkable
class Detector(Protocol):
    """A PII finder (``DetectorSpec(kinds=("pii",))``): returns spans in ``text``."""

    name: str

    def find(self, text: str) -> Iterable[Span]: ...


BUILTIN_ENTITIES: tuple[str, ...] = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "IP_ADDRESS",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "API_KEY",
    "JWT",
    "BEARER_TOKEN",
    "PRIVATE_KEY",
    "UK_NINO",
    "DE_TAX_ID",
    "FR_NIR",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "BR_CPF",
    "BR_CNPJ",
    "IN_AADHAAR",
    "IN_PAN",
    "CA_SIN",
    "AU_TFN",
    "AU_MEDICARE",
    "NL_BSN",
    "PL_PESEL",
    "SE_PERSONNUMMER",
    "CN_RESIDENT_ID",
    "KR_RRN",
    "JP_MY_NUMBER",
    "UK_NHS",
    "CH_AHV",
    "BE_NATIONAL_NUMBER",
    "NO_FNR",
    "DK_CPR",
    "ZA_ID",
    "FI_HETU",
    "SG_NRIC",
    "IE_PPS",
    "MX_CURP",
)

# Anchored on "@" (a literal the regex engine finds fast); the local part is then walked
# back by hand, which is much cheaper than letting the engine try every word start.
# Domain labels may hold the letters of internationalised names in European scripts
# (Latin, Greek, Cyrillic: "müller.de"); the top-level domain is ASCII or punycode. The
# address ends at anything else, so one written inside Chinese or Japanese text without
# spaces ("メールはann@example.comです") still ends at ".com".
_NAME_CHARS = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
_EMAIL_DOMAIN = (
    rf"@[{_NAME_CHARS}][{_NAME_CHARS}.-]{{0,252}}\.(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})"
    rf"(?![{_NAME_CHARS}-])"
)
_EMAIL_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
_IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}"
_AWS_SECRET = r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
# "\bbearer" written so that the pattern starts with a character set, which the regex
# engine scans for quickly ("b" has no other case-insensitive forms than "B").
_BEARER = r"[Bb](?<!\w[Bb])(?i:earer)[ \t]+(?P<token>[A-Za-z0-9._~+/-]{16,}=*)(?![\w.~+/-])"
_FISCAL_CODE = r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
_FILE_SUFFIXES = frozenset(
    ("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "mjs", "ts", "json", "yaml", "yml", "txt", "lock")
)
_BEFORE_VALUE = frozenset("\"'`=:> \t;")  # ";" ends "&quot;"
_HEX_COLON_CHARS = "0123456789abcdefABCDEF:."
_new_span = tuple.__new__
_LATIN1_LOWER = bytes(ord(chr(b).lower()) for b in range(256))  # str.lower, for Latin-1
_START = itemgetter(0)


# Full-width forms (U+FF01-FF5E) stand for the ASCII characters 0xFEE0 below them; decimal
# digits of other scripts are found by the regex engine and replaced one for one. Typeset
# spaces (no-break, thin, figure: "06\u202f12\u202f34") and dashes ("212\u2013555") group
# digits as a space and a hyphen do.
_FULL_WIDTH = {
    **{cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)},
    **dict.fromkeys([0xA0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000], ord(" ")),
    # hyphens, figure/en/em dashes, horizontal bar, minus signs ("4111—1111…" reads as a card)
    **dict.fromkeys([*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63], ord("-")),
    **HOMOGLYPHS,  # Cyrillic and Greek letters drawn like Latin ones: "D\u041589…" (a Cyrillic IE)
    **TAGS,  # invisible tag characters spelling ASCII
}
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _other_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def _fold_to_ascii(text: str) -> str:
    """``text`` with full-width forms and every script's decimal digits as ASCII, one
    character for one (so spans found on it are spans of ``text``)."""
    return _OTHER_DIGIT.sub(_other_digit, text.translate(_FULL_WIDTH))


_TokenRule = tuple[str, str, re.Pattern[str], float]  # entity, needle, pattern, score


class _Compiled(NamedTuple):
    tokens: dict[str, tuple[_TokenRule, ...]]  # by the first two characters of the needle
    unanchored: tuple[_TokenRule, ...]
    email: re.Pattern[str]
    iban: re.Pattern[str]
    capitals: re.Pattern[str]
    aws_secret: re.Pattern[str]
    aws_context: re.Pattern[str]
    bearer: re.Pattern[str]
    private_key: re.Pattern[str]
    fiscal_code: re.Pattern[str]
    curp: re.Pattern[str]


_COMPILED: _Compiled | None = None


def _token_tables() -> tuple[dict[str, tuple[_TokenRule, ...]], tuple[_TokenRule, ...]]:
    by_prefix: dict[str, list[_TokenRule]] = {}
    unanchored: list[_TokenRule] = []
    for entity, needle, pattern, score in TOKEN_RULES:
        rule = (entity, needle, re.compile(pattern), score)
        if needle in UNANCHORED:
            unanchored.append(rule)
        else:
            by_prefix.setdefault(needle[:2], []).append(rule)
    return {k: tuple(v) for k, v in by_prefix.items()}, tuple(unanchored)


def _compiled() -> _Compiled:
    global _COMPILED
    if _COMPILED is None:
        tables = _token_tables()
        _COMPILED = _Compiled(
            tokens=tables[0],
            unanchored=tables[1],
            email=re.compile(_EMAIL_DOMAIN),
            iban=re.compile(_IBAN),
            # Not after a letter or digit ([^\W_]: what str.isalnum accepts); the lookbehind
            # after the first capital keeps the fast first-character scan.
            capitals=re.compile(
                r"[A-Z](?<![^\W_][A-Z])[A-Z](?:(\d\d)|[A-Z]{4}[0-9LMNPQRSTUV]{2}|([A-Z][ABCFGHLJPT][A-Z]\d{4}[A-Z])"
                r"|([A-Z]{2}\d{6}[HMX]))"
            ),
            aws_secret=re.compile(_AWS_SECRET),
            aws_context=re.compile("aws|secret"),
            bearer=re.compile(_BEARER),
            private_key=re.compile(PRIVATE_KEY),
            fiscal_code=re.compile(_FISCAL_CODE),
            curp=re.compile(r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"),
        )
    return _COMPILED


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans in text order. A span inside another loses to it (an IPv4
    inside an IPv6, a JWT inside a bearer token); on a partial overlap the higher score
    wins, then the longer span."""
    # Sorted by start alone (a C-level key): the full order (start, longer first, higher
    # score first) is the same unless two spans share a start, and then it is sorted
    # again. Spans are read by index: a named tuple's attributes cost more.
    ordered = sorted(spans, key=_START)
    kept: list[Span] = []
    last_end = 0  # kept[-1]'s end
    previous = -1
    for span in ordered:
        start, end, _, score, _ = span
        if start == previous:
            return _resolve(sorted(ordered, key=lambda s: (s[0], s[0] - s[1], -s[3])))
        previous = start
        if kept and start < last_end:
            last = kept[-1]
            if end <= last_end:
                continue  # contained
            if (score, end - start) > (last[3], last_end - last[0]):
                kept[-1] = span
                last_end = end
            continue
        kept.append(span)
        last_end = end
    return kept


def _resolve(ordered: list[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in ordered:
        if kept and span[0] < kept[-1][1]:
            last = kept[-1]
            if span[1] <= last[1]:
                continue  # contained
            if (span[3], span[1] - span[0]) > (last[3], last[1] - last[0]):
                kept[-1] = span
            continue
        kept.append(span)
    return kept


def _email_start(text: str, at: int, end: int) -> int | None:
    floor = max(0, at - 65)
    if text[at - 1 : at] == '"':
        start = _quoted_start(text, floor, at)
        if start is None:
            return None
    else:
        # The local part, walked back from "@": rstrip does the walk in C. Letters of European
        # scripts are part of it too ("jörg.müller@", RFC 6531); other scripts' characters end
        # it, since Chinese or Japanese text runs into an address without a space.
        start = floor + len(text[floor:at].rstrip(_EMAIL_LOCAL_CHARS))
        while start > floor and (
            ("\u00c0" <= text[start - 1] <= "\u04ff" and text[start - 1].isalpha())
            # An apostrophe between letters is part of the name: o'connor@, jean.d'arc@ (a
            # quote opening the address, 'a@b.c', has no letter before it).
            or (text[start - 1] in "'\u2019" and start - 2 >= floor and text[start - 2].isalpha() and start < at)
        ):
            start = floor + len(text[floor : start - 1].rstrip(_EMAIL_LOCAL_CHARS))
        if at - start > 64:
            return None
        while start < at and not text[start].isalnum():  # a local part starts alphanumeric
            start += 1
        if start == at:
            return None
    # Labels are not empty, at most 63 long, and neither start nor end with "-". The
    # pattern makes the domain start alphanumeric and end in letters, so only an inner
    # ".." or ".-" or "-." can break the first three.
    domain = text[at + 1 : end]
    if ".." in domain or ".-" in domain or "-." in domain:
        return None
    if len(domain) > 63 and max(map(len, domain.split("."))) > 63:
        return None
    if domain[domain.rfind(".") + 1 :].lower() in _FILE_SUFFIXES:
        return None  # icon@2x.png, bundle@1.2.min.js: a file name, not an address
    after = text[end : end + 2]
    if len(after) == 2 and after[0] == ":" and (after[1].isalnum() or after[1] in "~/_.-"):
        return None  # git@github.com:acme/app.git, root@host:~#: an SSH login, not an address
    return start


def _quoted_start(text: str, floor: int, at: int) -> int | None:
    """The opening quote of a quoted local part (``"jane doe"@example.com``, RFC 5321): on
    one line, not empty, at a word's start, and no JSON-escaped quote (``\\"…\\"@``)."""
    opening = text.rfind('"', floor, at - 1)
    if opening < 0 or at - opening < 3 or text[at - 2] == "\\" or "\n" in text[opening:at]:
        return None
    if opening and (text[opening - 1].isalnum() or text[opening - 1] == "\\"):
        return None
    return opening


def _iban_at(text: str, pattern: re.Pattern[str], start: int) -> tuple[bool, int] | None:
    """An IBAN-shaped value at ``start``: (checksum ok, end), or None if not IBAN-shaped."""
    if start > 0 and text[start - 1].isalnum():
        return None
    match = pattern.match(text, start)
    if match is None:
        return None
    raw = match.group(0)
    length = IBAN_LENGTHS[raw[:2]]
    # The pattern may run on into following upper-case words; cut at the country's length,
    # which must fall at the end of a space-separated group.
    seen = cut = 0
    for group in raw.split(" "):
        seen += len(group)
        cut += len(group)
        if seen >= length:
            break
        cut += 1
    if seen != length:
        return None
    end = start + cut
    if end < len(text) and text[end].isalnum():
        return None
    return iban_valid(raw[:cut].replace(" ", "")), end


# A colon an IPv6 address can hold: hex, a colon or a dot after it, and hex (or a colon or
# dot) before it, or "::", or the text's start. "Note: ..." and "key": ... are not; the
# literal ":" first lets the engine skip to colons.
_IPV6_COLON = re.compile(r":(?=[0-9a-fA-F:.])(?:(?<=[0-9a-fA-F:.]:)|(?<![\s\S]:)|(?=:))")
_HEX_COLON_RUN = re.compile(r"[0-9a-fA-F:.]*")


def _ipv6_candidates(text: str) -> Iterator[tuple[int, int]]:
    """IPv6 addresses, anchored on colons: each run of hex digits, colons and dots
    around a colon is one candidate, validated by :mod:`ipaddress`."""
    size = len(text)
    right = 0
    for colon in _IPV6_COLON.finditer(text):
        pos = colon.start()
        if pos < right:
            continue  # inside the run just read
        left = run_start(text, pos, _HEX_COLON_CHARS)
        run = _HEX_COLON_RUN.match(text, pos + 1)
        right = run.end() if run is not None else pos + 1  # (a "*" pattern always matches)
        candidate = text[left:right].rstrip(".")
        end = left + len(candidate)
        colons = candidate.count(":")
        if (
            # without "::" an address has 7 colons (6 before a dotted IPv4): "10:22:31" is a time
            (colons >= 6 or (colons >= 2 and "::" in candidate))
            # "abc::def", "Bad::Add()": a C++ or Rust path of hex letters, not an address
            and (colons >= 4 or candidate == "::" or any(c.isdigit() for c in candidate))
            and (left == 0 or not (text[left - 1].isalnum() or text[left - 1] == "_"))
            and (end == size or not (text[end].isalnum() or text[end] == "_"))
        ):
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                pass
            else:
                yield left, end


class BuiltinDetector:
    """The SDK's built-in detector (registry name ``builtin``).

    :param entities: restrict to these entity types (default: all of
        :data:`BUILTIN_ENTITIES`).
    :param context_words: extra context words per entity, added to the defaults.
    :param context_window: characters before a candidate searched for context words.
    :param context_boost: score added when a context word is found.
    """

    name = "builtin"
    entities = BUILTIN_ENTITIES

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        context_words: Mapping[str, Sequence[str]] | None = None,
        context_window: int = 48,
        context_boost: float = 0.35,
    ) -> None:
        self._rules = _compiled()
        self._wanted = frozenset(entities) if entities is not None else None
        self._context = ContextWords(context_words, window=context_window)
        self._boost = context_boost

    @property
    def reported_entities(self) -> tuple[str, ...]:
        """The entity names its spans carry (a trust policy naming another is refused)."""
        return BUILTIN_ENTITIES if self._wanted is None else tuple(e for e in BUILTIN_ENTITIES if e in self._wanted)

    def find(self, text: str) -> list[Span]:
        """Every validated candidate in ``text`` (overlaps are resolved by the masker,
        after its thresholds, across all detectors)."""
        if not text.isascii():
            # Invisible characters inside a value ("4111\u200b1111…", "jane\u00ad@…") hide
            # it from the patterns, not from a model: the text is read without them, and
            # each span is mapped back to cover them (the vault keeps them, restored as sent).
            stripped = strip_invisible(text)
            if stripped is not None:
                visible, place = stripped
                return [
                    _new_span(Span, (place(start), place(end - 1) + 1, entity, score, name))
                    for start, end, entity, score, name in self._find(visible)
                ]
        return self._find(text)

    def _find(self, text: str) -> list[Span]:
        found: list[tuple[int, int, str, float]] = []
        add = found.append
        rules = self._rules
        # One byte per character: Latin-1, or "?" for anything beyond (few texts have any).
        if "\xa0" in text:  # a no-break space groups digits like a space (Latin-1 has it)
            text = text.replace("\xa0", " ")
        try:
            data = text.encode("latin-1")
            narrow = True
        except UnicodeEncodeError:
            # Values typed in full-width forms or in another script's digits (Arabic-Indic,
            # Devanagari...) are read by a model as the same value: they are found on a copy
            # with those characters folded to ASCII, one for one, so spans stay valid.
            text = _fold_to_ascii(text)
            try:
                data = text.encode("latin-1")
                narrow = True
            except UnicodeEncodeError:
                data = text.encode("latin-1", "replace")
                narrow = False
        if narrow:
            # str.lower looks every non-ASCII character up in the Unicode tables; Latin-1
            # lowers within Latin-1, one character for one, so a byte table does the same
            # (and the context words slice it).
            lowered = text.lower() if text.isascii() else data.translate(_LATIN1_LOWER).decode("latin-1")
            context = partial(self._context.where, text, lowered=lowered)
        else:
            lowered = text.lower()  # may not keep positions (final sigma, "İ")
            context = partial(self._context.where, text)

        if "@" in text:
            for match in rules.email.finditer(text):
                start = _email_start(text, match.start(), match.end())
                if start is not None:
                    add((start, match.end(), "EMAIL", 1.0))
        # "jane[at]example.com", "jane dot doe at example dot com": only where the text holds
        # a bracketed "at" or a spelled "dot" (a few substring searches otherwise).
        for start, end, score in obfuscated_emails(text, lowered):
            add((start, end, "EMAIL", score))
        if "PRIVATE KEY" in text:
            for match in rules.private_key.finditer(text):
                add((match.start(), match.end(), "PRIVATE_KEY", 1.0))
        # Tokens start a word of 16+ characters: each such word is looked up by its first
        # two characters (one scan instead of a search per token family). The same words
        # are the values that secret-named keys are assigned.
        tokens = rules.tokens
        words = long_words(data)
        for word_start, word_end in words:
            start = word_start
            while start < word_end and text[start] in "-./+":
                start += 1
            group = tokens.get(text[start : start + 2])
            if group is not None and (start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_")):
                for entity, needle, pattern, score in group:
                    if text.startswith(needle, start):
                        hit = pattern.match(text, start)
                        if hit is not None:
                            add((start, hit.end(), entity, score))
                            break
            # Only a word right after an assignment or a quote can be an assigned value.
            if word_start and text[word_start - 1] in _BEFORE_VALUE:
                secret = assigned_secret(text, lowered, word_start, word_end)
                if secret is not None:
                    entity, score, start, end = secret
                    add((start, end, entity, score))
        if words:  # each of these tokens holds a word of 16+ characters
            for entity, needle, pattern, score in rules.unanchored:
                if needle in text:
                    self._tokens(text, entity, pattern, score, found)
        if any(symbol in text for symbol in "!#$%&*@^~?"):
            for entity, score, start, end in punctuated_secrets(text, lowered):
                add((start, end, entity, score))
        if "bearer" in lowered:
            for match in rules.bearer.finditer(text):
                token = match.group("token")
                # "bearer authentication_required": a word, not a credential
                if len(token) >= 24 or any(c.isdigit() for c in token):
                    add((match.start("token"), match.end("token"), "BEARER_TOKEN", 0.8))
        if "authorization" in lowered:
            for entity, score, start, end in header_secrets(text, lowered):
                add((start, end, entity, score))
        if "aws" in lowered or "secret" in lowered:
            # A bare 40-character string is an AWS secret only after its context words:
            # search the stretch after each one rather than the whole text.
            window = self._context.window + 40
            end = 0
            for word in rules.aws_context.finditer(lowered):
                lo = max(word.end(), end)
                end = min(len(text), word.end() + window)
                for match in rules.aws_secret.finditer(text, lo, end):
                    raw = match.group(0)
                    # Hex digests (sha1) and plain words are 40 chars too; secrets mix cases and digits.
                    if (
                        any(c.isupper() for c in raw)
                        and any(c.islower() for c in raw)
                        and any(c.isdigit() for c in raw)
                    ):
                        score = 0.3
                        if context("AWS_SECRET_KEY", match.start()) >= 0:
                            score += self._boost
                        add((match.start(), match.end(), "AWS_SECRET_KEY", min(1.0, score)))
        if ":" in text:
            for start, end in _ipv6_candidates(text):
                score = 0.8
                if context("IP_ADDRESS", start) >= 0:
                    score += self._boost
                add((start, end, "IP_ADDRESS", min(1.0, score)))
        self._numeric(text, data if narrow else None, found, context)
        corsican_nirs(text, lowered if narrow else None, found)
        if narrow:
            lower_case_ids(text, data, context, self._boost, found)  # "rssmra85t10a562s", "abcpe1234f"
        wanted = self._wanted
        name = self.name
        # tuple.__new__ skips the named tuple's Python-level __new__ (twice the cost).
        if wanted is None:
            return [_new_span(Span, (start, end, entity, score, name)) for start, end, entity, score in found]
        return [
            _new_span(Span, (start, end, entity, score, name))
            for start, end, entity, score in found
            if entity in wanted
        ]

    @staticmethod
    def _tokens(
        text: str, entity: str, pattern: re.Pattern[str], score: float, found: list[tuple[int, int, str, float]]
    ) -> None:
        for match in pattern.finditer(text):
            start = match.start()
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
                continue
            found.append((start, match.end(), entity, score))

    def _numeric(
        self, text: str, data: bytes | None, found: list[tuple[int, int, str, float]], context: Context
    ) -> None:
        """IBANs, codici fiscali and every value in a digit run; ``data``: ``text`` in
        Latin-1 when it fits (then the anchors are found on bytes), else None."""
        rules = self._rules

        # IBANs first: a country code glued to two check digits. One that fails mod-97
        # hides nothing: no phone or card is looked for inside it.
        # One scan finds both: two capitals then two digits (IBAN) or four more capitals
        # (codice fiscale), not glued to a word before.
        taken: list[tuple[int, int]] = []
        capitals = rules.capitals
        anchors = capitals.finditer(text) if data is None else capital_anchors(text, data, capitals)
        for anchor in anchors:
            start = anchor.start()
            if anchor.group(2) is not None:
                # India's PAN: AAA, the holder's kind (P a person, C a company...), the
                # name's initial, four digits, a check letter (its algorithm unpublished).
                end = anchor.end()
                if end == len(text) or not text[end].isalnum():
                    score = 0.45  # the same shape as many SKUs, booking and part codes: a label decides
                    if context("IN_PAN", start) >= 0:
                        score = min(1.0, score + self._boost)
                    found.append((start, end, "IN_PAN", score))
                continue
            if anchor.group(3) is not None:
                # Mexico's CURP: name letters, birth date, sex, state, consonants, check digit.
                match = rules.curp.match(text, start)
                if match is not None:
                    end = match.end()
                    if (end == len(text) or not text[end].isalnum()) and mx_curp_valid(match.group(0)):
                        found.append((start, end, "MX_CURP", 0.95))
                continue
            if anchor.group(1) is None:
                match = rules.fiscal_code.match(text, start)
                if match is not None:
                    end = match.end()
                    if (end == len(text) or not text[end].isalnum()) and it_fiscal_code_valid(match.group(0)):
                        found.append((start, end, "IT_FISCAL_CODE", 0.95))
                continue
            if text[start : start + 2] not in IBAN_LENGTHS or (taken and start < taken[-1][1]):
                continue
            verdict = _iban_at(text, rules.iban, start)
            if verdict is not None:
                if verdict[0]:
                    found.append((start, verdict[1], "IBAN", 1.0))
                taken.append((start, verdict[1]))
        # Every other numeric value lives in a digit run of 6+ characters.
        boost = self._boost
        runs = (LONG_RUN if data is None else LONG_RUN_NARROW).finditer(text)
        if not taken:
            for run in runs:
                scan_run(text, run.start(), run.end(), context, boost, found)
            return
        # Runs and IBANs both come in text order (IBANs never overlap): one pointer.
        k = 0
        for run in runs:
            start = run.start()
            while k < len(taken) and taken[k][1] <= start:
                k += 1
            if k < len(taken) and taken[k][0] <= start:
                continue
            scan_run(text, start, run.end(), context, boost, found)
