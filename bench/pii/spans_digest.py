"""What the built-in detector finds, written out so that a speed change can prove it
changed nothing.

For every document of the corpus (default seed and size, plus a second seed) and of a
seeded fuzz corpus (digit runs, separators, letters, context words, accents and token
prefixes thrown together, which reaches corners the generator's documents do not), it
records ``BuiltinDetector().find`` (every candidate with its score, before thresholds
and overlaps), ``Masker.find`` (what is masked) and the text masked under a fixed vault
key (placeholders included). One line per document, JSON.

Run from the repository root, before and after the change (the dump is a path of your
choice; ``--check`` writes the fresh one beside it as ``*.now.jsonl``)::

    .venv/bin/python -m bench.pii.spans_digest --out spans-before.jsonl
    .venv/bin/python -m bench.pii.spans_digest --check spans-before.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from .generator import DEFAULT_DOCS, DEFAULT_SEED, generate

SECOND_SEED = 7
FUZZ_DOCS = 6000
NUMBER_DOCS = 20000

_PIECES = (
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "00", "12", "123", "0221", "4111", "555", "0134", "2024",
    "06", "+", "+49 ", "+44 (0)", "(", ")", " ", " ", " ", "-", ".", "/", "x", " ext. 12", "\n", "\t", ",", ":",
    "Tel. ", "Tél. ", "phone ", "SSN ", "card ", "IBAN ", "ip ", "version ", "v", "€", "EUR ", "$", "AB ", " C",
    "X", "Z", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "RSSMRA85T10A562S", "2A", "2B", "A",
    "a", "b", "f", "::", "fe80::1", "2001:db8::", "10.0.0.1", "/24", "-SNAPSHOT", "@", "ann@example.com", "=",
    "token: ", "secret=", '"api_key": "', "Bearer ", "aws ", "AKIA", "sk-", "ghp_", "eyJ", "Authorization: ",
    "Basic ", "PRIVATE KEY", "-----BEGIN RSA PRIVATE KEY-----", "Zeile", "é", "ß", "N°", "#", "_", "|", ";",
    "٣٤٥٦٧٨٩", "\uff11\uff12\uff13\uff14", "\u0130", "\u0131", "\u212a", "\u017f", "ΣΑΣ", "ǅ", "²",
    "--------------------", "bearer ", "\r\n",
)  # fmt: skip
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fuzz_texts(n: int, seed: int) -> Iterator[str]:
    """Seeded random texts built from PII-ish pieces and opaque 16-48 character words."""
    rng = random.Random(seed)
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(5, 120)):
            if rng.random() < 0.04:
                parts.append("".join(rng.choice(_ALNUM) for _ in range(rng.randint(16, 48))))
            else:
                parts.append(rng.choice(_PIECES))
        yield "".join(parts)


_LABELS = (
    "",
    "",
    "",
    "Tél. ",
    "TELÉFONO ",
    "Straße ",
    "€",
    "Tel. ",
    "Tél.: ",
    "Handy ",
    "phone: ",
    "call ",
    "SSN ",
    "card ",
    "Karte ",
    "IdNr ",
    "NIR ",
    "DNI ",
    "NINO ",
    "ip ",
    "host=",
    "version ",
    "build ",
    "order #",
    "ID-",
    "ORD-",
    "v",
    "€ ",
    "EUR ",
    "$",
    "x",
    "\n",
    "name,phone,mail\nAnn,",
    "a;b;tel\nx;y;",
    "ni: AB ",
    "X-",
    "Y",
    "aws secret ",
    "2024-01-15 ",
)
_SEPS = (" ", " ", " ", "-", ".", "/", " / ", ") ", " (0)", " - ", "", "  ", "\n", "\t", ":", "x", "(", ")")
_SUFFIXES = (
    "",
    "",
    "",
    " ext. 12",
    " x123",
    "-210",
    " €",
    ",50",
    ".00",
    "-SNAPSHOT",
    "Z",
    " C",
    "-K",
    "\n123",
    "/24",
    " Durchwahl 4",
    "abc",
    "_x",
    ".",
    ", ",
    " poste 5",
    "#9",
    "T10:00",
)
_PREFIXES = ("", "", "", "", "+", "+", "00", "(", "+44 (0)", "+49 ", "0", "1-", "1 ")


def number_texts(n: int, seed: int) -> Iterator[str]:
    """Seeded texts of digit groups in phone, card, id, date and version shapes."""
    rng = random.Random(seed)
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            groups = [
                "".join(rng.choice("0123456789") for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 10))))
                for _ in range(rng.randint(1, 6))
            ]
            body = groups[0]
            for group in groups[1:]:
                body += rng.choice(_SEPS) + group
            parts.append(rng.choice(_LABELS) + rng.choice(_PREFIXES) + body + rng.choice(_SUFFIXES))
        yield rng.choice(("", "Hallo ", "Kind regards, Ann\n")) + rng.choice((" ", "\n", "; ", " und ")).join(parts)


def corpora() -> Iterator[tuple[str, str]]:
    for seed in (DEFAULT_SEED, SECOND_SEED):
        for doc in generate(DEFAULT_DOCS, seed):
            yield f"{seed}:{doc['id']}", str(doc["text"])
    for i, text in enumerate(fuzz_texts(FUZZ_DOCS, 1)):
        yield f"fuzz:{i}", text
    for i, text in enumerate(number_texts(NUMBER_DOCS, 2)):
        yield f"numbers:{i}", text


def lines(documents: Iterable[tuple[str, str]]) -> Iterator[str]:
    """One JSON line per document: the detector's candidates, what is masked, and the
    masked text under a fixed vault key."""
    from byom_sdk.trust import BuiltinDetector, Masker, Vault

    detector = BuiltinDetector()
    masker = Masker([detector])
    for name, text in documents:
        raw = [[s.start, s.end, s.entity, repr(s.score), s.detector] for s in detector.find(text)]
        kept = [[s.start, s.end, s.entity, repr(s.score)] for s in masker.find(text)]
        masked = masker.mask_text(text, Vault(key=b"spans-digest"), Counter())
        yield json.dumps({"doc": name, "raw": raw, "kept": kept, "masked": masked}, ensure_ascii=False)


def dump(out: Path) -> str:
    hasher = hashlib.sha256()
    with out.open("w", encoding="utf-8") as f:
        for line in lines(corpora()):
            hasher.update(line.encode())
            f.write(line + "\n")
    return hasher.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the dump here")
    group.add_argument("--check", type=Path, help="compare against this earlier dump")
    args = parser.parse_args(argv)
    if args.out:
        print(dump(args.out))
        return 0
    fresh = args.check.with_suffix(".now.jsonl")
    print(dump(fresh))
    before = args.check.read_text(encoding="utf-8").splitlines()
    after = fresh.read_text(encoding="utf-8").splitlines()
    bad = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    raw_only = 0
    for a, b in bad:
        da, db = json.loads(a), json.loads(b)
        if sorted(da["raw"]) == sorted(db["raw"]) and da["kept"] == db["kept"] and da["masked"] == db["masked"]:
            raw_only += 1  # the same candidates in another order
    print(f"{len(before)} documents, {len(bad)} differ ({raw_only} only in candidate order)")
    for a, b in bad[:5]:
        if raw_only:
            break
        print("BEFORE", a[:2000])
        print("AFTER ", b[:2000])
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
