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
_VALUE_CHAR = re.compile(r"[\d@]")  # a digit or "@": another value stands in between


def fold(text: str) -> str:
    """Lower-case ASCII folding of Latin letters (accents dropped, ß → ss)."""
    lowered = text.lower()
    # str.translate walks a dict per character: only text with accents needs it.
    return lowered if lowered.isascii() else lowered.translate(_FOLD)


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
        "centralino", "centralita", "switchboard", "dial", "voicemail",
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
}  # fmt: skip


_TOKEN = re.compile(r"[a-z0-9]+")


class ContextWords:
    """Per-entity context-word matchers.

    Words are looked up by the first two characters of each word of the window (a dict
    lookup per word instead of one alternation of a hundred words tried at every
    position).

    :param extra: more words per entity (any case, accents allowed).
    :param window: characters before a candidate that are searched.
    """

    def __init__(self, extra: Mapping[str, Sequence[str]] | None = None, *, window: int = 48) -> None:
        words: dict[str, list[str]] = {entity: list(ws) for entity, ws in DEFAULT_CONTEXT.items()}
        for entity, more in (extra or {}).items():
            words.setdefault(entity, []).extend(fold(w) for w in more)
        self.window = window
        self._tables: dict[str, dict[str, tuple[str, ...]]] = {}
        for entity, ws in words.items():
            table: dict[str, list[str]] = {}
            for word in sorted(set(ws), key=len, reverse=True):  # longest first
                if word and word[0].isalnum():
                    table.setdefault(word[:2], []).append(word)
            if table:
                self._tables[entity] = {k: tuple(v) for k, v in table.items()}

    def _last(self, table: dict[str, tuple[str, ...]], folded: str) -> int:
        """End of the last word of ``table`` in ``folded`` (-1: none)."""
        last = -1
        for token in _TOKEN.finditer(folded):
            pos = token.start()
            for word in table.get(folded[pos : pos + 2], ()):
                if folded.startswith(word, pos):
                    last = pos + len(word)
                    break
        return last

    def where(self, text: str, entity: str, start: int) -> int:
        """Where the nearest of ``entity``'s words before ``start`` ends (-1: none); a
        word followed by another value before ``start`` labels that value, not this one."""
        table = self._tables.get(entity)
        if table is None:
            return -1
        lo = max(0, start - self.window)
        window = fold(text[lo:start])
        end = self._last(table, window)
        if end >= 0 and _VALUE_CHAR.search(window, end) is None:
            return lo + end
        return self._column(text, table, start)

    def _column(self, text: str, table: dict[str, tuple[str, ...]], start: int) -> int:
        """In a delimited table (CSV, TSV, pipes), the header of the value's column is
        its context word: ``name,phone\nAnn,0241746207``. Returns 0 when it matches."""
        line_start = text.rfind("\n", 0, start) + 1
        if line_start == 0:
            return -1  # the first line is the header itself
        line_end = text.find("\n", start)
        line = text[line_start : line_end if line_end != -1 else len(text)]
        for delimiter in ("\t", ";", ",", "|"):
            if line.count(delimiter) >= 2:
                break
        else:
            return -1
        block = text.rfind("\n\n", 0, line_start)
        header_end = text.find("\n", block + 2 if block != -1 else 0)
        header = text[block + 2 if block != -1 else 0 : header_end].split(delimiter)
        column = text.count(delimiter, line_start, start)
        if len(header) < 3 or column >= len(header) or any(c.isdigit() for c in header[column]):
            return -1
        return 0 if self._last(table, fold(header[column])) >= 0 else -1

    def before(self, text: str, entity: str, start: int) -> bool:
        """True when one of ``entity``'s words occurs in the window before ``start``
        (on the same or the previous lines) and labels this value."""
        return self.where(text, entity, start) >= 0
