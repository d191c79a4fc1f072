"""Words that say a number is something else than the value it looks like: a version or a
numbered section (``upgrade to 1.2.3.4``, ``Abschnitt 3.1.2.4``) rather than an IPv4
address or a dotted phone, an order, invoice or shipment number (``PO 095678-736``,
``FedEx 0841 0198 2111``) rather than a phone.

The word lists compile to tries: a plain alternation tries every word at every position
of the window, a trie one character, and these lookups run for most dotted or grouped
numbers of a prompt.
"""

from __future__ import annotations

import re

from .context import fold

__all__ = ["labelled_not_a_phone", "version_like"]


def trie(words: str) -> str:
    """An alternation of the space-separated ``words`` as a trie. A word ending in "$" must
    end a word there (``ups$``: not "upstairs"); the longest word that fits is taken."""
    return _trie(words.split())


def _trie(words: list[str]) -> str:
    ends = whole = False
    children: dict[str, list[str]] = {}
    for word in words:
        if word == "":
            ends = True
        elif word == "$":
            whole = True
        else:
            children.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(c) + _trie(group) for c, group in sorted(children.items())]
    if whole:
        branches.append("(?![a-z])")
    if ends:
        branches.append("")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


_VERSION_WORDS = (
    "version versions ver release rel build firmware fw rev revision patch versie versione oid "
    # numbered sections of documents and standards: "Abschnitt 3.1.2.4", "RFC 3261 section 20.10.1.2"
    "section sections sect sec abschnitt kapitel chapter chapitre capitulo capitolo clause paragraph "
    "ziffer article artikel articolo articulo apartado "
    # software and what runs it: "upgrade to 1.2.3.4", "Python 3.11.7.1", "driver 4.13.136.180";
    # not "node", "agent", "edge" or "client", which name hosts as often
    "v upgrade upgrades upgraded upgrading update updates updated updating downgrade downgraded "
    "downgrading install installs installed installing running driver drivers python java jdk jre "
    "kernel bios uefi sdk hotfix bump bumped package pkg plugin library chrome chromium firefox windows "
    "android ios macos openssl"
)
# The last version word of a window in one call: the greedy ".*" backtracks from the end
# (version words are whole words, so they never overlap and the last one is the same).
_LAST_VERSION_WORD = re.compile(r"(?s:.*)(?<![a-z])" + trie(_VERSION_WORDS) + r"(?![a-z])")
# Words right after a version: "1.2.3.4 fixed it", "10.4.2.1 is out".
_VERSION_AFTER = re.compile(
    r" (?:fixe[ds] (?:it|the (?:bug|issue|crash|problem|leak))|is out|was released|release notes|changelog)\b", re.I
)
_LABEL_GAP = re.compile(r"""[\s:="'()\[\]#-]*(?:(?:no|nr|number|to|auf|vers|naar|a)\.?[\s:="'#-]*)?""")
_COMPARISONS = ("==", ">=", "<=", "~=", "!=")


def version_like(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` (dotted groups) is a version string or a section number."""
    before = text[start - 1] if start else ""
    if (before and (before.isalnum() or before in "~^")) or text[max(0, start - 2) : start] in _COMPARISONS:
        return True  # v1.2.3.4, ^1.2.3.4, pkg==1.2.3.4 (after "@" it is a host: admin@10.0.0.1)
    after = text[end : end + 2]
    if len(after) == 2 and after[0] in "-+_~." and after[1].isalpha():
        return True  # 9.15.26.242-SNAPSHOT, 1.2.3.4+build, 1.2.3.4.Final
    if after[:1] == " " and _VERSION_AFTER.match(text, end):
        return True
    window = fold(text[max(0, start - 24) : start])
    last = _LAST_VERSION_WORD.match(window)
    # "version: 1.2.3\nhost: 10.0.0.1": the word labels only the value right after it.
    return last is not None and _LABEL_GAP.fullmatch(window, last.end()) is not None


# A number labelled as something else right before it: "Rechnungsnummer 0815 2024",
# "Part no. 0451-2233-44", "USt-IdNr.: DE 123 456 789", "Lottozahlen …: 04 15 23 31 38 44".
_NOT_A_PHONE_LABEL = re.compile(
    r"(?<![\w@.-])(?:"
    + trie(
        "rechnung invoice facture factura fattura artikel article articulo part bestell auftrag order "
        "commande pedido ordine ust vat tva iva btw ean gtin upc isbn issn serien serial sku ticket claim "
        "polizze contract vertrag "
        # shipments and purchase orders: "FedEx 0841 0198 2111", "PO 095678-736"
        "track fedex ups$ usps dhl awb waybill sendung shipment parcel consignment po$ p.o. s/n "
        "lotto lottery loterie loteria lotteria lotterie keno euromillions powerball winning"
    )
    + r"|(?:kunden|customer|client)[ -]?(?=nummer|nr|no\b|number|id\b))"
    r"[a-z-]*\.?[ \t]*(?:no|nr|nummer|numbers?|numeros?|num|id|idnr)?\.?[ \t]*[:#=]?[ \t]*(?:[a-z]{2} ?)?$"
)
_PHONE_WORD = re.compile(r"tel|phone|fon|fax|mobil|handy|cell|portable|movil|whatsapp|hotline|ruf")


def labelled_not_a_phone(text: str, start: int) -> bool:
    """The words right before ``start`` label the number there as something else."""
    window = fold(text[max(0, start - 40) : start])
    label = _NOT_A_PHONE_LABEL.search(window)
    return label is not None and _PHONE_WORD.search(label.group(0)) is None
