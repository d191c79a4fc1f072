"""Valid values for every entity type, and lookalikes that are not PII (hard negatives).

Everything is drawn from a ``random.Random`` passed in, so a seed fixes the corpus. The
values are valid for their type (checksums, numbering plans, issuer ranges), written in
the formats people use: national and international phones in each country's groupings,
cards with and without separators, IBANs grouped or compact, and so on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid

# -- helpers -----------------------------------------------------------------------------------


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _luhn_digit(body: str) -> str:
    for check in "0123456789":
        number = body + check
        total = 0
        for i, d in enumerate(reversed(number)):
            v = int(d) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return check
    raise AssertionError("unreachable")


def _group(value: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(value[pos : pos + size])
        pos += size
    if pos < len(value):
        out.append(value[pos:])
    return sep.join(p for p in out if p)


# -- phones by country -------------------------------------------------------------------------


def _nanp(rng: random.Random) -> tuple[str, str]:
    while True:
        area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
        exch = f"{rng.randint(2, 9)}{digits(rng, 2)}"
        if area[1:] != "11" and exch[1:] != "11":
            return area, exch


def phone(rng: random.Random, country: str) -> tuple[str, bool]:
    """A valid phone number of ``country`` in one of its usual layouts, and whether the
    layout is ambiguous without a context word (compact national digits)."""
    c = country
    if c == "US":
        area, exch, line = *_nanp(rng), digits(rng, 4)
        forms = [
            (f"({area}) {exch}-{line}", False), (f"{area}-{exch}-{line}", False), (f"{area}.{exch}.{line}", False),
            (f"+1 {area} {exch} {line}", False), (f"+1-{area}-{exch}-{line}", False),
            (f"1-{area}-{exch}-{line}", False),
            (f"+1 ({area}) {exch}-{line}", False), (f"{area}{exch}{line}", True), (f"({area}){exch}-{line}", False),
        ]  # fmt: skip
        value, ambiguous = rng.choice(forms)
        if rng.random() < 0.15:
            value += rng.choice([" ext. ", " x", " ext ", " x ", " Ext. "]) + digits(rng, rng.randint(2, 4))
        return value, ambiguous
    if c == "GB":
        kind = rng.random()
        if kind < 0.35:
            nsn, groups = "20" + rng.choice("378") + digits(rng, 7), [2, 4, 4]
        elif kind < 0.7:
            nsn, groups = "7" + rng.choice("1234579") + digits(rng, 8), [4, 6]
        else:
            nsn, groups = "1" + rng.choice(["61", "13", "21", "31", "41", "51", "17"]) + digits(rng, 7), [3, 3, 4]
        return _trunk_forms(rng, "44", nsn, groups)
    if c == "DE":
        kind = rng.random()
        if kind < 0.3:
            area = rng.choice(["30", "40", "69", "89"])
            nsn, groups = area + digits(rng, rng.choice([7, 8])), [2]
        elif kind < 0.6:
            area = rng.choice(["221", "211", "231", "341", "351", "511", "711", "911", "241", "621"])
            nsn, groups = area + digits(rng, rng.choice([5, 6, 7, 8])), [3]
        elif kind < 0.7:
            area = rng.choice(["3304", "4101", "6151", "7031", "8031"])
            nsn, groups = area + digits(rng, rng.choice([5, 6])), [4]
        else:
            area = rng.choice(["151", "152", "160", "162", "170", "171", "172", "175", "176", "178", "179"])
            nsn, groups = area + digits(rng, 8 if area.startswith("15") else rng.choice([7, 8])), [3]
        value, ambiguous = _trunk_forms(rng, "49", nsn, groups, slash=True)
        if kind < 0.6 and len(nsn) <= 9 and not value.startswith(("+", "00")) and not ambiguous and rng.random() < 0.2:
            value += "-" + digits(rng, 11 - len(nsn) if len(nsn) >= 9 else rng.randint(1, 2))  # Durchwahl
        return value, ambiguous
    if c == "FR":
        nsn = rng.choice("1234567") + digits(rng, 8) if rng.random() < 0.9 else "9" + digits(rng, 8)
        return _trunk_forms(rng, "33", nsn, [1, 2, 2, 2, 2], pairs=True)
    if c == "ES":
        nsn = rng.choice(["91", "93", "95", "96", "98", "6", "7"]) + digits(rng, 7)
        nsn = nsn + digits(rng, 9 - len(nsn))
        forms = [(_group(nsn, [3, 3, 3], " "), False), (_group(nsn, [2, 3, 2, 2], " "), False), (nsn, True),
                 (_group(nsn, [3, 2, 2, 2], " "), False)]  # fmt: skip
        return _intl_or(rng, "34", nsn, forms)
    if c == "IT":
        if rng.random() < 0.5:
            nsn = "3" + rng.choice(["20", "28", "33", "35", "38", "39", "40", "45", "47", "49"]) + digits(rng, 7)
            forms = [(_group(nsn, [3, 3, 4], " "), False), (_group(nsn, [3, 7], " "), False), (nsn, True)]
        else:
            area = rng.choice(["06", "02", "011", "055", "081", "051", "041"])
            nsn = area + digits(rng, 10 - len(area))
            forms = [(_group(nsn, [len(area), 4, 4], " "), False), (_group(nsn, [len(area)], " "), False), (nsn, True)]
        return _intl_or(rng, "39", nsn, forms)
    if c == "NL":
        if rng.random() < 0.5:
            nsn, groups = "6" + rng.choice("12345") + digits(rng, 7), [1]
        else:
            nsn, groups = rng.choice(["20", "10", "30", "70", "40", "50"]) + digits(rng, 7), [2, 3, 4]
        return _trunk_forms(rng, "31", nsn, groups)
    if c == "CH":
        nsn = rng.choice(["44", "43", "31", "61", "21", "22", "76", "77", "78", "79"]) + digits(rng, 7)
        return _trunk_forms(rng, "41", nsn, [2, 3, 2, 2])
    if c == "AT":
        if rng.random() < 0.4:
            nsn, groups = "1" + digits(rng, 7), [1, 3, 4]
        else:
            nsn, groups = rng.choice(["664", "650", "676", "699", "316", "512", "662"]) + digits(rng, 7), [3, 7]
        return _trunk_forms(rng, "43", nsn, groups)
    if c == "BE":
        if rng.random() < 0.5:
            nsn, groups = "4" + rng.choice("5789") + digits(rng, 7), [3, 2, 2, 2]
        else:
            nsn, groups = rng.choice(["2", "3", "9"]) + digits(rng, 7), [1, 3, 2, 2]
        return _trunk_forms(rng, "32", nsn, groups)
    if c == "IE":
        if rng.random() < 0.5:
            nsn, groups = "8" + rng.choice("35679") + digits(rng, 7), [2, 3, 4]
        else:
            nsn, groups = "1" + digits(rng, 7), [1, 3, 4]
        return _trunk_forms(rng, "353", nsn, groups)
    if c == "PL":
        nsn = rng.choice(["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88", "22", "12"])
        nsn += digits(rng, 7)
        groups = [2, 3, 2, 2] if nsn[:2] in ("22", "12") else [3, 3, 3]
        forms = [(_group(nsn, groups, " "), False), (_group(nsn, [3, 3, 3], "-"), False), (nsn, True)]
        return _intl_or(rng, "48", nsn, forms)
    if c == "SE":
        if rng.random() < 0.5:
            nsn = "7" + rng.choice("0236") + digits(rng, 7)
            national = "0" + nsn[:2] + "-" + _group(nsn[2:], [3, 2, 2], " ")
        else:
            nsn = "8" + digits(rng, 8)
            national = "08-" + _group(nsn[1:], [3, 3, 2], " ")
        forms = [(national, False), ("0" + nsn, True)]
        if rng.random() < 0.4:
            return f"+46 {_group(nsn, [2 if nsn[0] == '7' else 1, 3, 2, 2], ' ')}", False
        return rng.choice(forms)
    raise ValueError(country)


def _intl_or(rng: random.Random, cc: str, nsn: str, national: list[tuple[str, bool]]) -> tuple[str, bool]:
    if rng.random() < 0.35:
        body = rng.choice([f" {national[0][0]}", f" {nsn}", f"{nsn}", f" {_group(nsn, [3, 3, 3, 3], ' ')}"])
        return f"{rng.choice(['+', '+', '00'])}{cc}{body}", False
    return rng.choice(national)


def _trunk_forms(
    rng: random.Random, cc: str, nsn: str, groups: list[int], *, slash: bool = False, pairs: bool = False
) -> tuple[str, bool]:
    """National (trunk 0) and international layouts of ``nsn``; ``groups``: the leading
    group sizes (area code / mobile prefix) of the usual layout."""
    area = groups[0]
    rest = nsn[area:]
    layouts: list[tuple[str, bool]] = []
    if pairs:  # France: 0X XX XX XX XX, dotted, dashed
        national = "0" + nsn
        layouts += [(_group(national, [2, 2, 2, 2, 2], " "), False), (_group(national, [2, 2, 2, 2, 2], "."), False),
                    (national, True), (_group(national, [2, 2, 2, 2, 2], "-"), False)]  # fmt: skip
        intl = [f"+{cc} {_group(nsn, [1, 2, 2, 2, 2], ' ')}", f"+{cc} (0){_group(nsn, [1, 2, 2, 2, 2], ' ')}",
                f"+{cc}{nsn}", f"00{cc} {_group(nsn, [1, 2, 2, 2, 2], ' ')}"]  # fmt: skip
    else:
        tail = _group(rest, groups[1:], " ") if len(groups) > 1 else rest
        # "06151 14432": two groups of five are two postcodes as often as a phone number
        # (the detector asks for a label), so that layout is an ambiguous one.
        five_five = area == 4 and len(tail) == 5 and tail.isdigit()
        layouts += [(f"0{nsn[:area]} {tail}", five_five), (f"(0{nsn[:area]}) {tail}", False),
                    (f"0{nsn[:area]}-{rest}", False), (f"0{nsn}", True)]  # fmt: skip
        if slash:
            layouts.append((f"0{nsn[:area]}/{rest}", False))
        if len(rest) == 7 and not slash:
            layouts.append((f"0{nsn[:area]} {_group(rest, [3, 2, 2], ' ')}", False))
        if len(rest) == 8 and not slash:
            layouts.append((f"0{nsn[:area]} {_group(rest, [2, 2, 2, 2], ' ')}", False))
        if len(rest) == 8:
            layouts.append((f"0{nsn[:area]} {_group(rest, [3, 5], ' ')}", False))  # ends in a 5-digit group
        intl = [f"+{cc} {nsn[:area]} {tail}", f"+{cc} (0){nsn[:area]} {tail}", f"+{cc}{nsn}",
                f"00{cc} {nsn[:area]} {tail}", f"+{cc}-{nsn[:area]}-{rest}", f"+{cc} {nsn[:area]} {rest}"]  # fmt: skip
    if rng.random() < 0.4:
        return rng.choice(intl), False
    return rng.choice(layouts)


PHONE_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CH", "AT", "BE", "IE", "PL", "SE")
LANG_COUNTRIES = {
    "en": ("US", "GB", "IE", "US"),
    "de": ("DE", "AT", "CH", "DE"),
    "fr": ("FR", "BE", "CH", "FR"),
    "es": ("ES", "ES"),
    "it": ("IT", "CH", "IT"),
    "nl": ("NL", "BE", "NL"),
    "pl": ("PL",),
    "sv": ("SE",),
}

# -- other entities ----------------------------------------------------------------------------

_CARD_PREFIXES = (("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("2315", 16),
                  ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("4", 13))  # fmt: skip


def card(rng: random.Random, *, valid: bool = True) -> str:
    prefix, length = rng.choice(_CARD_PREFIXES)
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    style = rng.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.75 else "-"
    if length == 15:
        return _group(number, [4, 6, 5], sep)
    if length == 14:
        return _group(number, [4, 6, 4], sep)
    return _group(number, [4, 4, 4, 4], sep)


def ssn(rng: random.Random) -> tuple[str, bool]:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if rng.random() < 0.2:
        return value.replace("-", ""), True
    return value, False


_IBAN_BBAN = {"DE": "n18", "FR": "n10c11n2", "ES": "n20", "IT": "a1n10c12", "NL": "a4n10", "GB": "a4n14", "BE": "n12",
              "CH": "n5c12", "AT": "n16", "IE": "a4n14", "PL": "n24", "SE": "n20"}  # fmt: skip


def iban(rng: random.Random, *, valid: bool = True) -> str:
    country = rng.choice(list(_IBAN_BBAN))
    spec, bban = _IBAN_BBAN[country], ""
    i = 0
    while i < len(spec):
        kind, j = spec[i], i + 1
        while j < len(spec) and spec[j].isdigit():
            j += 1
        n = int(spec[i + 1 : j])
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[kind]
        bban += "".join(rng.choice(alphabet) for _ in range(n))
        i = j
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randint(1, 90)) % 97 + 2
    value = f"{country}{check:02d}{bban}"
    form = rng.random()
    if form < 0.47:
        value = _group(value, [4] * 8, " ")
    elif form < 0.55:
        value = _group(value, [4] * 8, "-")  # dashed groups, as some forms print it
    # typed in lower case ("de89 3704 …"), or with a capital country code only
    case = rng.random()
    if case < 0.1:
        value = value.lower()
    elif case < 0.13:
        value = value[:2] + value[2:].lower()
    return value


def ipv4(rng: random.Random) -> str:
    while True:
        first = rng.choice([rng.randint(11, 223), 10, 192, 172, 203, 198, 8, 4, 1])
        value = f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if not value.startswith("127."):
            return value


def ipv6(rng: random.Random) -> str:
    parts = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    parts[0] = rng.choice(["2001", "2a02", "fe80", "2600", "2a01", "fd12"])
    style = rng.random()
    if style < 0.3:
        return ":".join(parts)
    if style < 0.5:
        return ":".join(p.zfill(4) for p in parts)
    if style < 0.8:
        cut = rng.randint(2, 5)
        return ":".join(parts[:cut]) + "::" + ":".join(parts[cut + rng.randint(1, 2) :])
    return f"::ffff:{ipv4(rng)}" if rng.random() < 0.5 else f"{parts[0]}:db8::{parts[5]}"


def _b64(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"


def aws_access_key(rng: random.Random) -> str:
    return rng.choice(["AKIA", "AKIA", "ASIA"]) + _b64(rng, 16, string.ascii_uppercase + "234567")


def aws_secret(rng: random.Random) -> str:
    while True:
        value = _b64(rng, 40, _ALNUM + "/+")
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def api_token(rng: random.Random) -> tuple[str, str]:
    """(provider, token) for a provider-prefixed API token."""
    makers = {
        "openai": lambda: "sk-proj-" + _b64(rng, 48, _ALNUM + "_-"),
        "openai-legacy": lambda: "sk-" + _b64(rng, 48),
        "anthropic": lambda: "sk-ant-api03-" + _b64(rng, 93, _ALNUM + "_-") + "AA",
        "stripe": lambda: rng.choice(["sk_live_", "sk_test_", "rk_live_"]) + _b64(rng, rng.choice([24, 99])),
        "github": lambda: rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _b64(rng, 36),
        "github-fine": lambda: (
            "github_pat_11" + _b64(rng, 20, string.ascii_uppercase + string.digits) + "_" + _b64(rng, 59)
        ),
        "gitlab": lambda: "glpat-" + _b64(rng, 20, _ALNUM + "_-"),
        "slack": lambda: rng.choice(["xoxb-", "xoxp-"]) + digits(rng, 12) + "-" + digits(rng, 13) + "-" + _b64(rng, 24),
        "npm": lambda: "npm_" + _b64(rng, 36),
        "pypi": lambda: "pypi-AgEIcHlwaS5vcmc" + _b64(rng, 70, _ALNUM + "_-"),
        "google": lambda: "AIza" + _b64(rng, 35, _ALNUM + "_-"),
        "huggingface": lambda: "hf_" + _b64(rng, 34),
        "twilio": lambda: "SK" + _b64(rng, 32, _HEX),
        "sendgrid": lambda: "SG." + _b64(rng, 22, _ALNUM + "_-") + "." + _b64(rng, 43, _ALNUM + "_-"),
        "shopify": lambda: "shpat_" + _b64(rng, 32, _HEX),
        "digitalocean": lambda: "dop_v1_" + _b64(rng, 64, _HEX),
        "databricks": lambda: "dapi" + _b64(rng, 32, _HEX),
        "mailgun": lambda: "key-" + _b64(rng, 32, _HEX),
        "groq": lambda: "gsk_" + _b64(rng, 52),
        "vault": lambda: "hvs." + _b64(rng, 90, _ALNUM + "_-"),
    }
    provider = rng.choice(list(makers))
    return provider, makers[provider]()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random) -> str:
    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": digits(rng, 8), "iat": 1700000000 + rng.randint(0, 10**7), "scope": "read"}
    signature = bytes(rng.randrange(256) for _ in range(rng.choice([32, 64])))
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), _b64url(signature)])


def opaque_secret(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.3:
        return _b64(rng, rng.choice([32, 40, 64]), _HEX)
    if style < 0.6:
        return _b64(rng, rng.randint(20, 48), _ALNUM)
    if style < 0.8:
        return base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.choice([24, 32, 48])))).decode()
    return str(uuid.UUID(int=rng.getrandbits(128)))


def bearer_token(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:
        return _b64(rng, rng.randint(24, 64), _ALNUM + "-._~")
    if style < 0.7:
        return base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.choice([24, 32, 48])))).decode()
    return jwt(rng)


def private_key(rng: random.Random, *, escaped: bool = False) -> str:
    kind = rng.choice(["RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED "])
    lines = [_b64(rng, 64, _ALNUM + "+/") for _ in range(rng.randint(3, 8))]
    lines.append(_b64(rng, rng.randint(8, 60), _ALNUM + "+/") + "==")
    sep = "\\n" if escaped else "\n"
    return sep.join([f"-----BEGIN {kind}PRIVATE KEY-----", *lines, f"-----END {kind}PRIVATE KEY-----"])


# -- national ids ------------------------------------------------------------------------------


def uk_nino(rng: random.Random) -> str:
    first, second = rng.choice("ABCEGHJKLMNOPRSTWXYZ"), rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        first = "A"
    body = digits(rng, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        value = f"{first}{second} {body[:2]} {body[2:4]} {body[4:]} {suffix}"
    else:
        value = f"{first}{second}{body}{suffix}"
    return value.lower() if rng.random() < 0.3 else value


def de_tax_id(rng: random.Random) -> str:
    while True:
        pool = rng.sample("0123456789", 9)
        if pool[0] == "0":
            continue
        first10 = [*pool, rng.choice(pool[1:])]
        first10 = [first10[0], *rng.sample(first10[1:], 9)]
        body = "".join(first10)
        product = 10
        for d in body:
            total = (int(d) + product) % 10 or 10
            product = (total * 2) % 11
        check = 11 - product
        value = body + str(0 if check == 10 else check)
        return f"{value[:2]} {value[2:5]} {value[5:8]} {value[8:]}" if rng.random() < 0.5 else value


def fr_nir(rng: random.Random) -> str:
    body = f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}"
    body += f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    key = 97 - int(body) % 97
    value = body + f"{key:02d}"
    if rng.random() < 0.6:
        return " ".join([value[0], value[1:3], value[3:5], value[5:7], value[7:10], value[10:13], value[13:]])
    return value


_DNI = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_nif(rng: random.Random) -> str:
    number = rng.randint(10**6, 10**8 - 1)
    value = f"{number:08d}"
    letter = _DNI[number % 23]
    if rng.random() < 0.25:
        letter = letter.lower()  # "12345678z"
    return rng.choice([f"{value}{letter}", f"{value}-{letter}", f"{value[:2]}.{value[2:5]}.{value[5:]}-{letter}"])


def es_nie(rng: random.Random) -> str:
    lead = rng.choice("XYZ")
    number = digits(rng, 7)
    letter = _DNI[int(str("XYZ".index(lead)) + number) % 23]
    value = rng.choice([f"{lead}{number}{letter}", f"{lead}-{number}-{letter}"])
    return value.lower() if rng.random() < 0.25 else value


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15,
                                                              17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
                                                              22, 25, 24, 23), strict=True))  # fmt: skip


def it_fiscal_code(rng: random.Random) -> str:
    letters = "".join(rng.choice("BCDFGLMNPRSTVZ") for _ in range(3)) + "".join(
        rng.choice("ABCDEFGHILMNOPRSTUVZ") for _ in range(3)
    )
    day = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
    month, town = rng.choice("ABCDEHLMPRST"), f"{rng.choice('ABCDEFGHLMZ')}{rng.randint(1, 999):03d}"
    code = f"{letters}{rng.randint(40, 99)}{month}{day:02d}{town}"
    # Even positions: digits keep their value, letters count A=0..Z=25.
    total = sum(_CF_ODD[c] for c in code[0::2]) + sum((ord(c) - 65) if c.isalpha() else int(c) for c in code[1::2])
    return code + chr(65 + total % 26)


# -- hard negatives ----------------------------------------------------------------------------


# -- national ids beyond Europe (check digits computed here, not by the detector) -------


def _complete(rng: random.Random, body: str, valid: object) -> str:
    """``body`` and the check digit that makes ``valid`` true."""
    for check in rng.sample(string.digits, 10):
        if valid(body + check):  # type: ignore[operator]
            return body + check
    raise ValueError(body)


def _verhoeff_ok(value: str) -> bool:
    d = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
         [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
         [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
         [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]  # fmt: skip
    p = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
         [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
         [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]  # fmt: skip
    c = 0
    for i, ch in enumerate(reversed(value)):
        c = d[c][p[i % 8][int(ch)]]
    return c == 0


def _luhn_ok(value: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(value)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def in_aadhaar(rng: random.Random) -> str:
    value = _complete(rng, str(rng.randint(2, 9)) + digits(rng, 10), _verhoeff_ok)
    return rng.choice([f"{value[:4]} {value[4:8]} {value[8:]}", f"{value[:4]}-{value[4:8]}-{value[8:]}", value])


def in_pan(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    kind = rng.choice("PPPPCFH")
    return (
        "".join(rng.choice(letters) for _ in range(3))
        + kind
        + rng.choice(letters)
        + digits(rng, 4)
        + rng.choice(letters)
    )


def _cpf_digit(body: str) -> str:
    total = sum(int(ch) * (len(body) + 1 - i) for i, ch in enumerate(body))
    return str(total * 10 % 11 % 10)


def br_cpf(rng: random.Random) -> str:
    body = digits(rng, 9)
    body += _cpf_digit(body)
    value = body + _cpf_digit(body)
    return rng.choice([f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}", value])


def br_cnpj(rng: random.Random) -> str:
    value = digits(rng, 8) + "0001"
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        remainder = sum(int(ch) * w for ch, w in zip(value, weights, strict=False)) % 11
        value += str(0 if remainder < 2 else 11 - remainder)
    return rng.choice([f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}", value])


def ca_sin(rng: random.Random) -> str:
    value = _complete(rng, str(rng.choice("1234567")) + digits(rng, 7), _luhn_ok)
    return rng.choice([f"{value[:3]} {value[3:6]} {value[6:]}", f"{value[:3]}-{value[3:6]}-{value[6:]}", value])


def au_tfn(rng: random.Random) -> str:
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    while True:
        value = digits(rng, 9)
        if sum(int(ch) * w for ch, w in zip(value, weights, strict=False)) % 11 == 0:
            return rng.choice([f"{value[:3]} {value[3:6]} {value[6:]}", value])


def au_medicare(rng: random.Random) -> str:
    body = str(rng.randint(2, 6)) + digits(rng, 7)
    check = sum(int(ch) * w for ch, w in zip(body, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10
    value = f"{body}{check}{rng.randint(1, 9)}"
    return rng.choice([f"{value[:4]} {value[4:9]} {value[9]}", value])


def nl_bsn(rng: random.Random) -> str:
    while True:
        body = str(rng.randint(1, 9)) + digits(rng, 7)
        check = sum(int(ch) * w for ch, w in zip(body, (9, 8, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        if check < 10:
            value = body + str(check)
            return rng.choice([f"{value[:4]}.{value[4:6]}.{value[6:]}", value])


def pl_pesel(rng: random.Random) -> str:
    year = rng.randint(1940, 2015)
    month = rng.randint(1, 12) + (20 if year >= 2000 else 0)
    body = f"{year % 100:02d}{month:02d}{rng.randint(1, 28):02d}{digits(rng, 4)}"
    check = (10 - sum(int(ch) * w for ch, w in zip(body, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3), strict=True)) % 10) % 10
    return body + str(check)


def se_personnummer(rng: random.Random) -> str:
    centenarian = rng.random() < 0.25  # "+" for a holder aged 100 or more
    year = rng.randint(1905, 1925) if centenarian else rng.randint(1940, 2015)
    body = f"{year % 100:02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{digits(rng, 3)}"
    value = _complete(rng, body, _luhn_ok)
    if centenarian:
        return f"{value[:6]}+{value[6:]}"
    return rng.choice([f"{value[:6]}-{value[6:]}", f"{year // 100}{value[:6]}-{value[6:]}", value])


def version_string(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 12)), str(rng.randint(0, 30)), str(rng.randint(0, 99)), str(rng.randint(0, 255))]
    value = ".".join(parts[: rng.choice([3, 4, 4])])
    suffix = rng.choice(["-SNAPSHOT", "-rc1", "-beta.2", "+build.7", ".RELEASE", "-alpha", "-M3", "_b12", ""])
    if not suffix or rng.random() < 0.3:
        value = "v" + value
    return value + suffix


def oid(rng: random.Random) -> str:
    return rng.choice(["1.2.840.113549.1.1." + str(rng.randint(1, 14)), "1.3.6.1.4.1." + digits(rng, 5) + ".1.2",
                       "2.16.840.1.101.3.4.2." + str(rng.randint(1, 3)),
                       "1.3.6.1.5.5.7.3." + str(rng.randint(1, 9))])  # fmt: skip


def timestamp(rng: random.Random) -> str:
    y, mo, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice([
        f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z", f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
        str(1_600_000_000 + rng.randint(0, 200_000_000)), str(1_600_000_000_000 + rng.randint(0, 2 * 10**11)),
        f"{d:02d}.{mo:02d}.{y}", f"{d:02d}/{mo:02d}/{y}", f"{y}-{mo:02d}-{d:02d}",
    ])  # fmt: skip


def order_number(rng: random.Random) -> str:
    return rng.choice([
        f"ORD-{rng.randint(2019, 2026)}-{digits(rng, 6)}", f"#{rng.randint(10**6, 10**9)}", f"INC{digits(rng, 7)}",
        f"CLM-{digits(rng, 4)}-{digits(rng, 5)}", f"{rng.randint(2019, 2026)}/{digits(rng, 5)}",
        f"PO{digits(rng, 10)}", f"RMA-{digits(rng, 8)}", f"TKT-{digits(rng, 6)}",
        f"{rng.randint(1, 9)}{digits(rng, 9)}",
        f"SR{digits(rng, 9)}", f"A{digits(rng, 2)}-{digits(rng, 3)}-{digits(rng, 4)}",
    ])  # fmt: skip


def isbn(rng: random.Random) -> str:
    body = "978" + str(rng.randint(0, 3)) + digits(rng, 8)
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    value = body + str(check)
    return f"{value[:3]}-{value[3]}-{value[4:6]}-{value[6:12]}-{value[12]}" if rng.random() < 0.7 else value


def hash_value(rng: random.Random) -> str:
    data = digits(rng, 12).encode()
    return rng.choice([hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest(),
                       hashlib.sha1(data).hexdigest()[:7]])  # fmt: skip


def a_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def broken_digits(rng: random.Random) -> str:
    """Digit groups wrapped across a line break (neither line is a number of its own)."""
    left = " ".join(digits(rng, 4) for _ in range(rng.randint(1, 2)))
    right = " ".join(digits(rng, 4) for _ in range(rng.randint(1, 2)))
    return f"{left}\n{right}"


def amount(rng: random.Random) -> str:
    value = rng.randint(1000, 9_999_999)
    return rng.choice([f"{value:,}".replace(",", ".") + f",{rng.randint(0, 99):02d} €",
                       f"EUR {value:,}".replace(",", " "), f"${value:,}.{rng.randint(0, 99):02d}"])  # fmt: skip


_PAN_KINDS = "PCHFATBLJG"


def pan_shaped(rng: random.Random) -> str:
    """A product, part or booking code in the shape of India's PAN (three letters, a
    holder-kind letter, a letter, four digits, a letter), written without a PAN label."""
    code = (
        "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
        + rng.choice(_PAN_KINDS)
        + rng.choice(string.ascii_uppercase)
        + digits(rng, 4)
        + rng.choice(string.ascii_uppercase)
    )
    return code.lower() if rng.random() < 0.3 else code


def _wrong_letter(rng: random.Random, right: str) -> str:
    return rng.choice([c for c in _DNI if c != right])


def lower_code(rng: random.Random) -> str:
    """Lower-case codes and hyphenated part numbers shaped like the ids written in lower
    case or dashed groups: an IBAN's country code and check digits on too few groups, a
    NINO's letters around the wrong number of digits, a DNI or NIE with a wrong letter."""
    cc = rng.choice(["de", "gb", "nl", "fr", "es", "it", "at", "be"])
    number = rng.randint(10**7, 10**8 - 1)
    nie = digits(rng, 7)
    return rng.choice([
        f"{cc}{digits(rng, 2)}-{digits(rng, 4)}-{digits(rng, 4)}",  # too short for an IBAN
        f"{cc}{digits(rng, 2)} {rng.choice(['abcd', 'kx7a', 'ref'])} {digits(rng, 6)}",
        f"{cc.upper()}{digits(rng, 2)}-{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 2)}",
        f"pn-{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 2)}",  # a part number
        f"{rng.choice(['ab', 'ce', 'jk'])}{digits(rng, 7)}{rng.choice('abcd')}",  # a NINO has six digits
        f"{rng.choice(['ab', 'ce', 'jk'])}{digits(rng, 6)}",  # and a suffix letter
        f"{number}{_wrong_letter(rng, _DNI[number % 23]).lower()}",  # a DNI's number, a wrong letter
        f"x{nie}{_wrong_letter(rng, _DNI[int(nie) % 23]).lower()}",
        f"sku-{rng.choice(string.ascii_lowercase)}{digits(rng, 7)}-{rng.choice(string.ascii_lowercase)}",
    ])  # fmt: skip


def letter_word(rng: random.Random) -> str:
    """A number followed by a one-letter word that would be its check letter if it were
    an id: Spanish "y" (and) after a DNI-sized number whose letter is Y, English "a"
    after six digits and a word of two letters (a NINO's shape, spaced off)."""
    while True:
        number = rng.randint(10**7, 10**8 - 1)
        if _DNI[number % 23] == "Y":
            break
    return rng.choice([f"{number} y {rng.randint(10**7, 10**8 - 1)}", f"at {digits(rng, 6)} a"])


def plus_sum(rng: random.Random) -> str:
    """A date-like six digits, "+", four digits whose Luhn check fails: a sum or a time
    zone offset, not a personnummer of a holder aged 100."""
    body = f"{rng.randint(10, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{digits(rng, 3)}"
    good = _complete(rng, body, _luhn_ok)
    wrong = str((int(good[-1]) + rng.randint(1, 9)) % 10)
    return f"{body[:6]}+{body[6:]}{wrong}"
