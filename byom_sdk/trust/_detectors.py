"""Built-in PII and secret detectors: precompiled patterns, checksums, context words.

Each entity has one precompiled pattern that proposes candidates and a validator that
accepts or rejects them with a score (Luhn and issuer ranges for cards, mod-97 and the
country length for IBANs, area/group/serial rules for SSNs, :mod:`ipaddress` for IPs).
A candidate the validator rejects does not hide a valid one starting later inside it:
the scan resumes one character after the rejected start. Context words found shortly
before a candidate raise its score, which lets weak shapes (a bare 10-digit number, a
40-character string) count only next to words such as "phone" or "aws_secret".

Nothing here touches the network or loads a model; the patterns are compiled once at
first use.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "BUILTIN_ENTITIES",
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


# -- validators -------------------------------------------------------------------------


_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    total = sum(map(int, digits[-1::-2])) + sum(map(_DOUBLED.__getitem__, digits[-2::-2]))
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card network whose issuer range and length fit ``digits`` (or ``None``).

    Covers Visa, Mastercard (51-55 and the 2-series 2221-2720), Amex, Discover, Diners,
    JCB, UnionPay, Mir, RuPay, Verve and Maestro.
    """
    n = len(digits)
    if n < 12 or n > 19:
        return None
    p6 = int(digits[:6])
    p4, p3, p2 = p6 // 100, p6 // 1000, p6 // 10000
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if (300 <= p3 <= 305 or p3 == 309 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 35 and 16 <= n <= 19:  # JCB's assigned range is 3528-3589; the rest of 35 is JCB's too
        return "jcb"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if (506099 <= p6 <= 506198 or 650002 <= p6 <= 650027) and n in (16, 18, 19):
        return "verve"
    if (p2 in (60, 81, 82) or p3 == 508) and n == 16:
        return "rupay"
    if (p2 == 50 or 56 <= p2 <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


#: IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


_IBAN_LETTERS = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def iban_valid(compact: str) -> bool:
    """Country length and the ISO 7064 mod-97 check of an IBAN without spaces."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int(rearranged.translate(_IBAN_LETTERS)) % 97 == 1


_SSN_BLOCKLIST = frozenset({"078051120", "219099999", "123456789"})


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN structure: area 001-899 except 666, group 01-99, serial 0001-9999.

    Numbers the SSA voided after they were published (078-05-1120 from a wallet insert,
    219-09-9999 from an ad, and the sample 123-45-6789) are rejected too.
    """
    a = int(area)
    if a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_BLOCKLIST


# -- patterns ----------------------------------------------------------------------------

# Anchored on "@" (a literal the regex engine finds fast); the local part is then walked
# back by hand, which is much cheaper than letting the engine try every word start.
_EMAIL_DOMAIN = r"@[A-Za-z0-9][A-Za-z0-9.-]{0,252}\.[A-Za-z]{2,63}(?![\w-])"
_EMAIL_LOCAL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
_PHONE = r"""
(?<![\w+(])
(?:
    (?P<nanp>\b(?:00?1[\s.-]|1[\s.-])?\d{3}[.-]\d{3}[.-]\d{4})
  | (?P<intl>(?:\+|\b(?P<idd>00))\d{1,3}[\s.-]?(?:\(0\)[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{1,4}){1,5})
  | (?P<paren>\(\d{2,5}\)[\s.-]?\d{3,8}(?:[\s.-]?\d{2,4})?)
  | (?P<pairs>\b0\d(?:[\s.]\d\d){4})
  | (?P<trunk>\b0\d{2,4}[\s.-](?:\d{5,6}|\d{3,4}[\s.-]?\d{3,4}))
  | (?P<bare>\b(?:0\d{9,10}|\d{10,11}))
)
(?P<ext>\s?(?:x|ext\.?)\s?\d{1,6})?
(?![\w])
"""
_CARD = r"(?<![\d-])\d(?:[ -]?\d){11,18}(?!\d)"
_SSN = r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])"
_IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}"
_IPV4 = r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d|\.\d)"
# Digit-led runs (digits and the separators the numeric entities use). Card, SSN, phone
# and IPv4 patterns only run inside runs long enough to hold them, and keep their
# look-behinds there: rejecting a start inside a number in the regex engine is far
# cheaper than handing the match back to Python to reject.
_NUMERIC = r"\d(?:[\d \t().\-/x]*\d)?"  # starts and ends with a digit
_HEX_COLON = frozenset("0123456789abcdefABCDEF:.")
_DROP_SEPARATORS = str.maketrans("", "", " \t().-/x")
_SHORTEST_VALUE = 7  # "1.1.1.1", "5551234": no numeric value is shorter

_AWS_KEY_ID = (
    r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|PKA|ROA|SCA)[A-Z2-7]{16}"
    r"(?![A-Za-z0-9])"
)
_AWS_SECRET = r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
# One pattern per token family, each led by a literal the regex engine can skip to.
_API_KEYS = (
    r"sk-(?:proj-|live-|test-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}(?![\w-])",
    r"sk_(?:live|test)_[A-Za-z0-9]{16,}(?![\w-])",
    r"rk_(?:live|test)_[A-Za-z0-9]{16,}(?![\w-])",
    r"gh[pousr]_[A-Za-z0-9]{36,255}(?![\w-])",
    r"github_pat_[A-Za-z0-9_]{22,255}(?![\w-])",
    r"xox[abposr]-[A-Za-z0-9-]{10,}(?![\w-])",
    r"AIza[0-9A-Za-z_-]{35}(?![\w-])",
    r"glpat-[A-Za-z0-9_-]{20,}(?![\w-])",
)
_JWT = r"(?<![\w-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}(?![\w-])"
_BEARER = r"(?i:\bbearer)\s+(?P<token>[A-Za-z0-9._~+/-]{16,}=*)"
_PRIVATE_KEY = r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]{16,8192}?-----END (?:[A-Z]+ )?PRIVATE KEY-----"

#: Default context words per entity (matched case-insensitively before the candidate).
DEFAULT_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "PHONE": ("phone", "call", "tel", "mobile", "cell", "fax", "contact", "number", "reach", "whatsapp"),
    "CREDIT_CARD": ("card", "credit", "debit", "visa", "mastercard", "amex", "payment", "cc"),
    "US_SSN": ("ssn", "social security", "social sec", "ss#", "ss #"),
    "IBAN": ("iban", "bank", "account", "transfer"),
    "IP_ADDRESS": ("ip", "address", "host", "server"),
    "AWS_SECRET_KEY": ("aws", "secret", "secret_access_key", "secretaccesskey", "aws_secret"),
    "API_KEY": ("key", "token", "secret", "api"),
}

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
)

_DIGITS_DASH = "0123456789-"
_DIGITS_DOT = "0123456789."

# A validator gets the match and returns (score, start, end) or None to reject.
_Validator = Callable[["re.Match[str]"], "tuple[float, int, int] | None"]


def _whole(score: float) -> _Validator:
    def check(match: re.Match[str]) -> tuple[float, int, int] | None:
        return score, match.start(), match.end()

    return check


def _unglued(score: float, extra: str) -> _Validator:
    """Accept a match not glued to a preceding word character (or one of ``extra``);
    checked here instead of a leading look-behind, which would stop the regex engine
    from skipping ahead to the pattern's first literal."""

    def check(match: re.Match[str]) -> tuple[float, int, int] | None:
        start = match.start()
        if start > 0:
            before = match.string[start - 1]
            if before.isalnum() or before == "_" or before in extra:
                return None
        return score, start, match.end()

    return check


def _preceded_by(match: re.Match[str], chars: str) -> bool:
    start = match.start()
    return start > 0 and match.string[start - 1] in chars


def _check_email(match: re.Match[str]) -> tuple[float, int, int] | None:
    text = match.string
    at = match.start()
    window = text[max(0, at - 65) : at]
    start = at - (len(window) - len(window.rstrip(_EMAIL_LOCAL)))
    if at - start > 64:
        return None
    while start < at and not text[start].isalnum():  # a local part starts alphanumeric
        start += 1
    if start == at:
        return None
    for label in match.group(0)[1:].split("."):
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return None
    return 1.0, start, match.end()


def _check_card(match: re.Match[str]) -> tuple[float, int, int] | None:
    if _preceded_by(match, _DIGITS_DASH):
        return None
    raw = match.group(0)
    if "  " in raw or "--" in raw or " -" in raw or "- " in raw:
        return None
    digits = raw.replace(" ", "").replace("-", "")
    brand = card_brand(digits)  # cheaper than Luhn, and rejects most phone numbers
    if brand is None or not luhn_valid(digits):
        return None
    # Long-established networks at their standard lengths are near certain once Luhn
    # passes; Maestro-only ranges are broad, so they need a context word.
    score = 0.4 if brand == "maestro" else 0.9
    return score, match.start(), match.end()


def _check_ssn(match: re.Match[str]) -> tuple[float, int, int] | None:
    if _preceded_by(match, _DIGITS_DASH) or not ssn_valid(match.group(1), match.group(3), match.group(4)):
        return None
    return (0.6 if match.group(2) else 0.3), match.start(), match.end()


def _check_iban(match: re.Match[str]) -> tuple[float, int, int] | None:
    start = match.start()
    if start > 0 and match.string[start - 1].isalnum():
        return None
    raw = match.group(0)
    length = IBAN_LENGTHS.get(raw[:2])
    if length is None:
        return None
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
    end = match.start() + cut
    text = match.string
    if end < len(text) and text[end].isalnum():
        return None
    if not iban_valid(raw[:cut].replace(" ", "")):
        return None
    return 1.0, match.start(), end


def _check_ipv4(match: re.Match[str]) -> tuple[float, int, int] | None:
    if _preceded_by(match, _DIGITS_DOT):
        return None
    try:
        ipaddress.IPv4Address(match.group(0))
    except ValueError:
        return None
    return 0.6, match.start(), match.end()


def _ipv6_candidates(text: str) -> Iterator[tuple[float, int, int]]:
    """IPv6 addresses, anchored on colons: each run of hex digits, colons and dots
    around a colon is one candidate, validated by :mod:`ipaddress`."""
    size = len(text)
    pos = text.find(":")
    while pos != -1:
        after = text[pos + 1 : pos + 2]
        if not after or after not in _HEX_COLON or (pos > 0 and text[pos - 1] not in _HEX_COLON and after != ":"):
            pos = text.find(":", pos + 1)  # "Note: ..." and friends: not an address
            continue
        left = pos
        while left > 0 and text[left - 1] in _HEX_COLON:
            left -= 1
        right = pos + 1
        while right < size and text[right] in _HEX_COLON:
            right += 1
        candidate = text[left:right].rstrip(".")
        end = left + len(candidate)
        if (
            candidate.count(":") >= 2
            and (left == 0 or not (text[left - 1].isalnum() or text[left - 1] == "_"))
            and (end == size or not (text[end].isalnum() or text[end] == "_"))
        ):
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                pass
            else:
                yield 0.8, left, end
        pos = text.find(":", right)


def _check_phone(match: re.Match[str]) -> tuple[float, int, int] | None:
    body = match.group(0)
    if match.group("ext"):
        body = body[: match.start("ext") - match.start()]
    digits = sum(map(str.isdigit, body))
    if digits < 7 or digits > 15:
        return None
    if match.group("intl"):
        # "+CC" is unambiguous; the "00CC" dialling prefix also starts many digit runs.
        score = 0.45 if match.group("idd") else 0.7
    elif match.group("paren") or match.group("nanp"):
        score = 0.6
    elif match.group("pairs"):  # 01 23 45 67 89: the French/Belgian national layout
        score = 0.55
    elif match.group("trunk"):  # 0xxx xxxxxx: national trunk prefix with grouping
        score = 0.5
    elif match.group("bare").startswith("0"):
        score = 0.4
    else:
        score = 0.3
    return score, match.start(), match.end()


def _check_aws_secret(match: re.Match[str]) -> tuple[float, int, int] | None:
    raw = match.group(0)
    # Hex digests (sha1) and plain words are 40 chars too; real secrets mix cases and digits.
    if not (any(c.isupper() for c in raw) and any(c.islower() for c in raw) and any(c.isdigit() for c in raw)):
        return None
    return 0.3, match.start(), match.end()


def _check_bearer(match: re.Match[str]) -> tuple[float, int, int] | None:
    return 0.8, match.start("token"), match.end("token")


@dataclass(frozen=True)
class _Rule:
    """One entity pattern and when to run it.

    ``needles``: run only when one of these substrings occurs (in the lower-cased text
    when ``lower``). ``numeric``: run only inside digit-led runs holding at least
    ``min_run`` digits and ``min_dots`` dots. Both skip the regex engine on text that cannot match, which is
    most text.
    """

    entity: str
    pattern: re.Pattern[str]
    validate: _Validator
    needles: tuple[str, ...] = ()
    lower: bool = False
    numeric: bool = False
    min_run: int = 0
    min_dots: int = 0


def _compile() -> tuple[_Rule, ...]:
    return (
        _Rule("EMAIL", re.compile(_EMAIL_DOMAIN), _check_email, needles=("@",)),
        _Rule("PRIVATE_KEY", re.compile(_PRIVATE_KEY), _whole(1.0), needles=("PRIVATE KEY-----",)),
        _Rule("JWT", re.compile(_JWT), _whole(0.9), needles=("eyJ",)),
        _Rule("BEARER_TOKEN", re.compile(_BEARER), _check_bearer, needles=("bearer",), lower=True),
        *(_Rule("API_KEY", re.compile(p), _unglued(0.9, "-")) for p in _API_KEYS),
        _Rule("AWS_ACCESS_KEY", re.compile(_AWS_KEY_ID), _unglued(0.95, "")),
        # A bare 40-character string is only a secret next to its context words.
        _Rule("AWS_SECRET_KEY", re.compile(_AWS_SECRET), _check_aws_secret, needles=("aws", "secret"), lower=True),
        # Anchored on the digit run after the country code (see find()).
        _Rule("IBAN", re.compile(_IBAN), _check_iban, numeric=True, min_run=2),
        _Rule("CREDIT_CARD", re.compile(_CARD), _check_card, numeric=True, min_run=12),
        _Rule("US_SSN", re.compile(_SSN), _check_ssn, numeric=True, min_run=9),
        _Rule("IP_ADDRESS", re.compile(_IPV4), _check_ipv4, numeric=True, min_run=4, min_dots=3),
        _Rule("PHONE", re.compile(_PHONE, re.VERBOSE), _check_phone, numeric=True, min_run=7),
    )


_NUMERIC_RE: re.Pattern[str] | None = None
_RULES: tuple[_Rule, ...] | None = None


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans in text order. A span inside another loses to it (an IPv4
    inside an IPv6, a JWT inside a bearer token); on a partial overlap the higher score
    wins, then the longer span."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.start - s.end, -s.score)):
        if kept and span.start < kept[-1].end:
            last = kept[-1]
            if span.end <= last.end:
                continue  # contained
            if (span.score, span.end - span.start) > (last.score, last.end - last.start):
                kept[-1] = span
            continue
        kept.append(span)
    return kept


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
        global _RULES, _NUMERIC_RE
        if _RULES is None:
            _RULES = _compile()
            _NUMERIC_RE = re.compile(_NUMERIC)
        wanted = set(entities) if entities is not None else None
        rules = tuple(r for r in _RULES if wanted is None or r.entity in wanted)
        self._text_rules = tuple(r for r in rules if not r.numeric)
        self._numeric_rules = [r for r in rules if r.numeric and r.entity != "IBAN"]
        self._iban = next((r for r in rules if r.entity == "IBAN"), None)
        self._ipv6 = wanted is None or "IP_ADDRESS" in wanted
        words: dict[str, tuple[str, ...]] = dict(DEFAULT_CONTEXT)
        for entity, extra in (context_words or {}).items():
            words[entity] = (*words.get(entity, ()), *(w.lower() for w in extra))
        self._context = words
        self._window = context_window
        self._boost = context_boost

    def _has_context(self, lowered: str, entity: str, start: int) -> bool:
        words = self._context.get(entity)
        if not words:
            return False
        window = lowered[max(0, start - self._window) : start]
        return any(word in window for word in words)

    def _scan(
        self,
        rule: _Rule,
        text: str,
        spans: list[Span],
        lowered: str,
        pos: int = 0,
        endpos: int | None = None,
        last_start: int | None = None,
    ) -> None:
        search = rule.pattern.search
        end_at = len(text) if endpos is None else endpos
        while pos < end_at:
            match = search(text, pos, end_at)
            if match is None or (last_start is not None and match.start() >= last_start):
                return
            verdict = rule.validate(match)
            if verdict is None:
                pos = match.start() + 1
                continue
            score, start, end = verdict
            if score < 1.0 and self._has_context(lowered, rule.entity, start):
                score = min(1.0, score + self._boost)
            spans.append(Span(start, end, rule.entity, score, self.name))
            pos = max(end, match.start() + 1)

    def _whole_run(
        self, numeric: list[_Rule], text: str, spans: list[Span], lowered: str, start: int, end: int
    ) -> bool:
        """Fast path: most long digit runs are exactly one value (a phone, a card...).
        Try each numeric pattern on the whole run; only when none fits does the run get
        the full scan."""
        if start > 0 and text[start - 1] in "+(":
            start -= 1
        for rule in numeric:
            if end - start < rule.min_run:
                continue
            match = rule.pattern.fullmatch(text, start, end)
            if match is None:
                continue
            verdict = rule.validate(match)
            if verdict is None or verdict[1] != start or verdict[2] != end:
                continue
            score = verdict[0]
            if score < 1.0 and self._has_context(lowered, rule.entity, start):
                score = min(1.0, score + self._boost)
            spans.append(Span(start, end, rule.entity, score, self.name))
            return True
        return False

    def find(self, text: str) -> list[Span]:
        """Every validated candidate in ``text`` (overlaps are resolved by the masker,
        after its thresholds, across all detectors)."""
        spans: list[Span] = []
        lowered = text.lower()
        for rule in self._text_rules:
            if rule.needles:
                haystack = lowered if rule.lower else text
                if not any(needle in haystack for needle in rule.needles):
                    continue
            first = rule.pattern.search(text)  # most rules find nothing: skip the loop
            if first is not None:
                self._scan(rule, text, spans, lowered, first.start())
        if self._ipv6 and ":" in text:
            for score, start, end in _ipv6_candidates(text):
                if self._has_context(lowered, "IP_ADDRESS", start):
                    score = min(1.0, score + self._boost)
                spans.append(Span(start, end, "IP_ADDRESS", score, self.name))
        numeric = self._numeric_rules
        iban = self._iban
        if not numeric and iban is None:
            return spans
        assert _NUMERIC_RE is not None
        size = len(text)
        fewest = min((rule.min_run for rule in numeric), default=size + 1)
        for run in _NUMERIC_RE.finditer(text):
            start, run_end = run.span()
            end = run_end
            if iban is not None and start >= 2 and text[start - 2 : start] in IBAN_LENGTHS:
                # An IBAN is a country code glued to a digit run: only there is it tried.
                match = iban.pattern.match(text, start - 2)
                verdict = iban.validate(match) if match is not None else None
                if verdict is not None:
                    spans.append(Span(verdict[1], verdict[2], "IBAN", verdict[0], self.name))
                    continue
            if run_end - start < _SHORTEST_VALUE:
                continue
            chunk = text[start:end]
            digits = len(chunk.translate(_DROP_SEPARATORS))
            if digits < fewest:
                continue
            dots = chunk.count(".")
            rules = [rule for rule in numeric if digits >= rule.min_run and dots >= rule.min_dots]
            if not rules or self._whole_run(rules, text, spans, lowered, start, end):
                continue
            # "+" / "(" before the run and an extension after it belong to phones;
            # matches must start inside the run (the next run gets its own scan).
            lo, hi = max(0, start - 2), min(size, run_end + 16)
            for rule in rules:
                self._scan(rule, text, spans, lowered, lo, hi, run_end)
        return spans
