"""Context words: what the text says just before a candidate, in any supported language.

Words are matched at the start of a word, case- and accent-insensitively ("Tél.",
"TELÉFONO" and "telefonnummer" all start with "tel"), against the lower-cased text
folded to ASCII. A word is a prefix: "telefo" covers Telefon, teléfono, telefoon and
Telefonnummer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_CONTEXT", "ContextWords", "fold"]


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        if base and base != char:
            table[code] = base.lower()
    table.update({ord("ß"): "ss", ord("æ"): "ae", ord("œ"): "oe", ord("ø"): "o", ord("ł"): "l", ord("đ"): "d"})
    table[ord("\u00b0")] = "o"  # "N°" reads as "No"
    return table


_FOLD = _fold_table()
_FOLD_CHARS = {chr(code): base for code, base in _FOLD.items()}
# str.translate with a dict costs a lookup per character, ASCII included; text is mostly
# ASCII with a few accents, so only the characters that fold are visited.
_FOLDABLE = re.compile("[" + "".join(sorted(re.escape(c) for c in _FOLD_CHARS)) + "]")
_VALUE_CHAR = re.compile(r"[\d@]")  # a digit or "@": another value stands in between


def _fold_char(match: re.Match[str]) -> str:
    return _FOLD_CHARS[match.group()]


def fold(text: str) -> str:
    """Lower-case ASCII folding of Latin letters (accents dropped, ß → ss)."""
    lowered = text.lower()
    return lowered if lowered.isascii() else _FOLDABLE.sub(_fold_char, lowered)


#: Default context words per entity, in English, German, French, Spanish, Italian, Dutch
#: and a few more (already folded: no accents, lower case).
DEFAULT_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "PHONE": (
        "phone", "tel", "tfno", "tlf", "tlfn", "fon", "mobil", "mobiel", "movil", "mob", "cell", "cel", "handy",
        "portable", "gsm", "fax", "call", "ring", "reach", "whatsapp", "signal", "sms", "text me", "hotline",
        "helpline", "contact", "kontakt", "contacto", "contatto", "joign", "joindre", "appel", "anruf", "ruf",
        "durchwahl", "llam", "chiam", "raggiung", "bel ", "bellen", "bereik", "erreich", "my number", "our number",
        "mi numero", "mon numero", "meine nummer", "il mio numero", "mijn nummer",
        "numero de tel", "zentrale", "t:", "m:", "p:", "f:", "ph:", "mob:", "apparat",
        "centralino", "centralita", "switchboard", "dial", "voicemail", "contato", "ligue", "fone",
        "电话", "手机", "联系", "電話", "手機", "携帯", "連絡", "전화", "휴대폰", "핸드폰", "연락처", "फ़ोन", "फोन",
        "मोबाइल",
    ),
    "CREDIT_CARD": (
        "card", "credit", "debit", "visa", "mastercard", "amex", "payment", "cc", "karte", "kreditkarte", "carte",
        "tarjeta", "carta", "kaart", "pago", "paiement", "zahlung", "pagamento", "betaling", "cb ",
    ),
    "US_SSN": ("ssn", "social security", "social sec", "ss#", "ss #", "ss no", "ss number"),
    "IBAN": (
        "iban", "bank", "account", "acct", "konto", "compte", "cuenta", "conto", "rekening", "bic", "swift",
        "virement", "uberweisung", "transferencia", "bonifico", "overboeking", "rib", "sepa",
    ),
    "IP_ADDRESS": (
        "ip", "host", "server", "addr", "client", "remote", "src", "dst", "source", "destination", "gateway",
        "dns", "adresse", "direccion", "indirizzo", "peer", "proxy", "subnet", "route", "login from", "from",
    ),
    "AWS_SECRET_KEY": ("aws", "secret"),
    "DE_TAX_ID": ("steuer", "idnr", "identifikationsnummer", "tax", "tin", "st.-id", "st-id"),
    "FR_NIR": ("securite sociale", "secu", "nir", "insee", "n ss", "no ss", "social security"),
    "UK_NINO": ("national insurance", "nino", "ni number", "ni no", "ni:", "insurance"),
    "ES_NIF": ("dni", "nif", "documento", "identidad"),
    "ES_NIE": ("nie", "extranjero", "dni", "nif"),
    "US_ITIN": (),
    "BR_CPF": ("cpf", "cadastro de pessoa", "contribuinte"),
    "BR_CNPJ": ("cnpj", "empresa"),
    # A word ending in a space is a whole word: "sin" alone would take "since" and "single".
    # It labels a value after any character but a letter or digit: "SIN 2…", "SIN: 2…",
    # "SIN=2…", "SIN\t2…", '"sin": "2…"', "SIN#2…" (see _WHOLE).
    "IN_AADHAAR": ("aadhaar", "aadhar", "adhaar", "uidai", "uid ", "आधार"),
    "IN_PAN": ("pan ", "permanent account", "income tax", "पैन"),
    "CA_SIN": ("sin ", "social insurance", "nas ", "assurance sociale"),
    "AU_TFN": ("tfn", "tax file"),
    "AU_MEDICARE": ("medicare",),
    "NL_BSN": ("bsn", "burgerservicenummer", "sofinummer", "citizen service"),
    "PL_PESEL": ("pesel",),
    "SE_PERSONNUMMER": ("personnummer", "personnr", "pnr", "samordningsnummer", "person number"),
    "CN_RESIDENT_ID": (
        "身份证", "身份證", "公民身份", "身份号码", "证件号", "證件號", "resident id", "identity card", "id card",
        "id number", "id no", "national id", "citizen id", "shenfenzheng",
    ),
    "KR_RRN": ("주민등록", "주민번호", "rrn", "resident registration"),
    "JP_MY_NUMBER": ("マイナンバー", "個人番号", "mynumber", "my number", "individual number", "kojin bango"),
    "UK_NHS": ("nhs", "health service", "chi number", "chi no", "patient number"),
    "CH_AHV": (
        "ahv", "avs", "sozialversicherung", "versichertennummer", "assicurazione vecchiaia", "oasi", "social security",
    ),
    "BE_NATIONAL_NUMBER": (
        "rijksregister", "registre national", "national number", "national no", "nationaal nummer", "numero national",
        "niss", "inss", "insz", "identificatienummer",
    ),
    "NO_FNR": (
        "fodselsnummer", "fodselsnr", "fnr", "d-nummer", "personnummer", "national identity number", "personal number",
    ),
    "DK_CPR": ("cpr", "personnummer", "sundhedskort", "civil registration", "personal number"),
    "ZA_ID": ("id number", "id no", "identity number", "rsa id", "sa id", "south african id", "identiteitsnommer"),
    "FI_HETU": ("henkilotunnus", "hetu", "personal identity code", "personbeteckning", "sotu"),
    "SG_NRIC": ("nric", "fin ", "ic no", "ic number", "identity card"),
    "IE_PPS": ("pps", "ppsn", "psp", "personal public service"),
    "MX_CURP": ("curp", "clave unica", "registro de poblacion"),
}  # fmt: skip


_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_MATCHERS: dict[frozenset[str], re.Pattern[str] | None] = {}
# The end of a whole word (a word written with a trailing space): one label rule for every
# separator people put after it, a space, ":", "=", a tab, the '": "' of a JSON key, "#".
_WHOLE = "\x00"


def _trie(words: list[str], depth: int) -> str:
    """A regex alternation of ``words`` (all sharing their first ``depth`` characters)
    that takes the longest word that matches: branches part on their next character, so
    at most one can go on, and "the word ends here" is tried last."""
    ends = any(len(w) == depth for w in words)
    children: dict[str, list[str]] = {}
    for word in words:
        if len(word) > depth:
            children.setdefault(word[depth], []).append(word)
    # A space in a label also matches "_" and "-": JSON keys and CSV headers ("id_number").
    branches = [
        ("[ _\\-]" if c == " " else re.escape(c)) + _trie(group, depth + 1)
        for c, group in sorted(children.items())
        if c != _WHOLE
    ]
    if _WHOLE in children:
        # After the longer words, as "the word ends here" is: the longest word is taken.
        branches.append("(?![a-z0-9])")
    if ends:
        # A one-character word only matches as the window's last character: the word
        # table this replaces was keyed by two characters.
        branches.append(r"\Z" if depth == 1 else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _matcher(words: frozenset[str]) -> re.Pattern[str] | None:
    """One regex per word list: the greedy ``.*`` backtracks from the end of the window,
    so the match is the last word start (a letter or digit not preceded by one) where a
    word fits, and its longest word."""
    if words not in _MATCHERS:
        # Words of other scripts start anywhere (Chinese and Japanese run words together).
        usable = sorted(
            w[:-1] + _WHOLE if w.endswith(" ") else w for w in words if w[:1] in _WORD_START or not w[:1].isascii()
        )
        _MATCHERS[words] = re.compile(r"(?s:.*)(?<![a-z0-9])" + _trie(usable, 0)) if usable else None
    return _MATCHERS[words]


class ContextWords:
    """Per-entity context-word matchers.

    Each entity's words compile into one regex over the folded window (a trie, so the
    engine tries a character once instead of once per word), run backwards from the
    candidate: a single C call per lookup.

    :param extra: more words per entity (any case, accents allowed).
    :param window: characters before a candidate that are searched.
    """

    def __init__(self, extra: Mapping[str, Sequence[str]] | None = None, *, window: int = 48) -> None:
        words: dict[str, list[str]] = {entity: list(ws) for entity, ws in DEFAULT_CONTEXT.items()}
        for entity, more in (extra or {}).items():
            words.setdefault(entity, []).extend(fold(w) for w in more)
        self.window = window
        self._matchers: dict[str, re.Pattern[str]] = {}
        for entity, ws in words.items():
            matcher = _matcher(frozenset(w for w in ws if w))
            if matcher is not None:
                self._matchers[entity] = matcher

    def where(self, text: str, entity: str, start: int, lowered: str | None = None) -> int:
        """Where the nearest of ``entity``'s words before ``start`` ends (-1: none); a
        word followed by another value before ``start`` labels that value, not this one.

        ``lowered``: ``text.lower()``, given when it is ``text`` lowered character for
        character (Latin-1 text), so that a lookup slices it instead of lowering again."""
        matcher = self._matchers.get(entity)
        if matcher is None:
            return -1
        lo = start - self.window if start > self.window else 0
        if lowered is None:
            window = fold(text[lo:start])
        else:
            window = lowered[lo:start]
            if not window.isascii():
                window = _FOLDABLE.sub(_fold_char, window)
        found = matcher.match(window)
        if found is not None:
            end = found.end()
            if _VALUE_CHAR.search(window, end) is None:
                return lo + end
        return self._column(text, matcher, start)

    def _column(self, text: str, matcher: re.Pattern[str], start: int) -> int:
        """In a delimited table (CSV, TSV, pipes), the header of the value's column is
        its context word: ``name,phone\nAnn,0241746207``. Returns 0 when it matches."""
        line_start = text.rfind("\n", 0, start) + 1
        if line_start == 0:
            return -1  # the first line is the header itself
        line_end = text.find("\n", start)
        if line_end == -1:
            line_end = len(text)
        for delimiter in ("\t", ";", ",", "|"):
            if text.count(delimiter, line_start, line_end) >= 2:
                break
        else:
            return -1
        block = text.rfind("\n\n", 0, line_start)
        header_start = block + 2 if block != -1 else 0
        header = text[header_start : text.find("\n", header_start)].split(delimiter)
        column = text.count(delimiter, line_start, start)
        if len(header) < 3 or column >= len(header) or any(c.isdigit() for c in header[column]):
            return -1
        return 0 if matcher.match(fold(header[column])) is not None else -1

    def before(self, text: str, entity: str, start: int) -> bool:
        """True when one of ``entity``'s words occurs in the window before ``start``
        (on the same or the previous lines) and labels this value."""
        return self.where(text, entity, start) >= 0
