"""Values written so that a pattern misses them while a model still reads them.

- Invisible characters inside a value (zero-width space, joiners, word joiner, byte order
  mark, soft hyphen, bidi controls, variation selectors): a model reads
  ``4111\u200b1111…`` as the card. The detector scans a copy without them and maps what it
  finds back onto the original, invisible characters included, so the placeholder hides
  them too and the application gets its exact text back.
- Letters of other scripts drawn like Latin ones (Cyrillic ``\u0410 \u0412 \u0415``, Greek ``\u0391 \u0392 \u0395``) in
  the letter parts of an id: folded to ASCII, one character for one, with the full-width
  forms (:data:`HOMOGLYPHS`).
- E-mail addresses written to dodge harvesters: ``jane[at]example.com``,
  ``jane(at)example(dot)com``, ``jane dot doe at example dot com``.

All of it runs only where the text holds such characters or words: an ASCII prompt pays
one ``str.isascii`` and a few substring searches.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable

__all__ = ["HOMOGLYPHS", "TAGS", "obfuscated_emails", "strip_invisible"]

# Default-ignorable characters that render as nothing (Unicode's DerivedCoreProperties,
# less the Hangul fillers, which render as a blank): soft hyphen, combining grapheme
# joiner, Arabic letter mark, Mongolian selectors, zero-width space/non-joiner/joiner,
# LRM/RLM, bidi embeddings and isolates, word joiner and invisible operators, variation
# selectors, byte order mark, and the tag characters' begin and cancel (the others are
# folded, see TAGS).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufe00-\ufe0f\ufeff\U000e0000-\U000e001f\U000e007f\U000e0100-\U000e01ef]"
)


def strip_invisible(text: str) -> tuple[str, Callable[[int], int]] | None:
    """``text`` without its invisible characters and a map from a position in that copy to
    the position of the same character in ``text``; None when there are none."""
    gone = [match.start() for match in _INVISIBLE.finditer(text)]
    if not gone:
        return None
    # The k-th removed character stood where the copy's character (its position - k) now
    # stands: a copy position maps to itself plus the removed characters at or before it.
    shifts = [at - k for k, at in enumerate(gone)]

    def place(pos: int) -> int:
        return pos + bisect_right(shifts, pos)

    return _INVISIBLE.sub("", text), place


#: Tag characters (U+E0020-E007E) spell ASCII invisibly ("ASCII smuggling"), and models
#: read them: folded to the ASCII they stand for.
TAGS = {code: code - 0xE0000 for code in range(0xE0020, 0xE007F)}

#: Cyrillic and Greek letters drawn like Latin ones, as ASCII: an IBAN's ``D\u041589…`` or a
#: NINO's ``\u0410\u0412123456C`` typed (or pasted) with them reads the same to a model. Genuine
#: Cyrillic or Greek words folded this way hold no value: every id is digits and letters
#: that pass a check or sit in a fixed shape.
HOMOGLYPHS = {
    ord(src): ord(dst)
    for src, dst in zip(
        # Cyrillic capitals, Cyrillic small letters, Greek capitals and small omicron
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0405\u0406\u0408\u051a\u051c"
        "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u051b\u051d\u04bb"
        "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03bf",
        "ABEKMHOPCTXYSIJQWaeopcyxsijqwhABEZHIKMNOPTYXo",
        strict=True,
    )
}

# An "at" or a "dot" in brackets, or spelled out between spaces; "@" and "." as such.
_AT_BRACKETED = r"[ \t]*[\[({<][ \t]*(?:at|@)[ \t]*[\])}>][ \t]*"
_DOT_BRACKETED = r"[ \t]*[\[({<][ \t]*(?:dot|\.)[ \t]*[\])}>][ \t]*"
_AT = rf"(?P<at>{_AT_BRACKETED}|[ \t]+@[ \t]+|[ \t]+at[ \t]+|@)"
_DOT = rf"(?:{_DOT_BRACKETED}|[ \t]+dot[ \t]+|[ \t]+\.[ \t]+|\.)"
_LOCAL_WORD = r"[a-z0-9][a-z0-9_%+'-]{0,63}"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w.%+'-])(?P<local>{_LOCAL_WORD}(?:(?:\.|[ \t]+dot[ \t]+|{_DOT_BRACKETED}){_LOCAL_WORD}){{0,5}})"
    rf"{_AT}(?P<domain>{_LABEL}(?:{_DOT}{_LABEL}){{0,5}}){_DOT}(?P<tld>[a-z]{{2,24}})(?![\w@-])(?![.(\[{{<]\w)",
    re.IGNORECASE,
)
_OBFUSCATED_DOT = re.compile(rf"{_DOT_BRACKETED}|[ \t]+dot[ \t]+|[ \t]+\.[ \t]+", re.IGNORECASE)
# "at" or "dot" bracketed or spelled ("[at]", "(AT)", "[.]", " dot "), or "@" set apart
# ("jane @ example.com", "[@]"): where none of these is in the text, no address is
# obfuscated. This runs on every prompt, so each search starts with a literal the regex
# engine finds in C (a closing bracket, then a look behind it), and "@" is looked at where
# it stands: together a fraction of a substring search per marker.
_CLOSED = (
    re.compile(r"\](?:(?<=at\])|(?<=dot\])|(?<=\[\.\]))"),
    re.compile(r"\)(?:(?<=at\))|(?<=dot\))|(?<=\(\.\)))"),
)
_BEFORE_AT = frozenset(" \t[({<")
_AFTER_AT = frozenset(" \t])}>")


def _marked(text: str, lowered: str) -> bool:
    if " dot " in lowered or _CLOSED[0].search(lowered) is not None or _CLOSED[1].search(lowered) is not None:
        return True
    at = text.find("@")
    while at >= 0:
        if (at and text[at - 1] in _BEFORE_AT) or text[at + 1 : at + 2] in _AFTER_AT:
            return True
        at = text.find("@", at + 1)
    return False


# "look at the dot in the middle": an "at" between spaces takes no article or pronoun as
# the domain, and its top-level domain must be a common one (or the address must hold
# more "dot"s than one), since prose has "at" and "dot" too.
_NOT_A_DOMAIN = frozenset((
    "the", "a", "an", "this", "that", "these", "those", "my", "your", "our", "their", "his", "her", "its", "some",
    "any", "each", "every", "all", "no", "one", "least", "most", "once", "first", "last", "home", "work", "night",
    "noon",
))  # fmt: skip
_COMMON_TLDS = frozenset((
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "ai", "app", "dev", "co", "me", "us", "uk",
    "de", "fr", "es", "it", "nl", "be", "ch", "at", "ie", "pl", "se", "no", "dk", "fi", "pt", "br", "mx", "ca", "au",
    "nz", "in", "jp", "cn", "kr", "ru", "eu", "tv", "xyz", "online", "site", "tech", "email", "cloud",
))  # fmt: skip


def obfuscated_emails(text: str, lowered: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of every e-mail address in ``text`` written with its ``@`` or a
    ``.`` spelled or bracketed; ``lowered`` is ``text.lower()`` (for the cheap check)."""
    if not _marked(text, lowered):
        return []
    found = []
    for match in _OBFUSCATED_EMAIL.finditer(text):
        written_at = match.group("at")
        bare = written_at.strip(" \t").lower()  # "@", "at", or bracketed: "[at]", "(@)"
        domain_dots = _OBFUSCATED_DOT.search(text, match.end("at"), match.end()) is not None
        tld = match.group("tld").lower()
        if bare == "@" and not domain_dots and (written_at == "@" or tld not in _COMMON_TLDS):
            continue  # a plain address (the detector's own scan finds it), or "a @ b.c"
        score = 0.9
        if bare == "at":
            # Spelled out between spaces: so are the dots, the domain is no article or
            # pronoun ("look at the dot in…") and it ends in a known way.
            first = match.group("domain").split()[0].split(".")[0].lower()
            local = match.group("local")
            spelled = len(_OBFUSCATED_DOT.findall(text, match.start(), match.end()))
            if not domain_dots or first in _NOT_A_DOMAIN or local.lower() in _NOT_A_DOMAIN:
                continue
            if tld not in _COMMON_TLDS and spelled < 2:
                continue
            score = 0.8
        found.append((match.start(), match.end(), score))
    return found
