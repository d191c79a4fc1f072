"""Credentials: provider-prefixed tokens, JWTs, bearer tokens, private keys, AWS keys, and
opaque high-entropy values assigned to secret-named keys.

Provider tokens are recognised by their documented prefix and alphabet. Every pattern
starts with a literal, so the regex engine skips to it; a pattern runs only when its
needle occurs in the text at all. Glue to a preceding word is checked afterwards.

Secret-named assignments cover JSON (``"client_secret": "…"``), YAML (``token: …``),
.env and shell (``export API_TOKEN=…``), INI (``secret = …``), code (``apiKey = '…'``,
``"api_key" => "…"``, ``Token := "…"``), XML elements, CLI flags (``--token …``) and
HTTP headers (``X-Auth-Token: …``). The value must look opaque: 16+ characters, letters
and digits, Shannon entropy ≥ 2.5-3 bits per character (by length), and not a placeholder, variable
reference, path, URL, date or version.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from .scan import run_start

__all__ = [
    "PRIVATE_KEY",
    "TOKEN_RULES",
    "UNANCHORED",
    "assigned_secret",
    "header_secrets",
    "looks_opaque",
    "punctuated_secrets",
]

#: Needles of tokens that do not start with their needle.
UNANCHORED = frozenset({"hooks.slack.com", "-us", ":AA", ".atlasv1."})

# (entity, needle, pattern, score). A needle is the literal the token starts with, so the
# detector looks a token up by the first characters of each long word; the few tokens
# that start with no literal (UNANCHORED) are found by searching for their needle.
TOKEN_RULES: tuple[tuple[str, str, str, float], ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-api03-...)
    ("API_KEY", "sk-", r"sk-(?:proj-|svcacct-|admin-|ant-[a-z]+\d*-)?[A-Za-z0-9_-]{20,}(?![\w-])", 0.9),
    # Stripe secret / restricted keys and webhook secrets
    ("API_KEY", "sk_", r"sk_(?:live|test)_[A-Za-z0-9]{16,}(?![\w-])", 0.9),
    ("API_KEY", "rk_", r"rk_(?:live|test)_[A-Za-z0-9]{16,}(?![\w-])", 0.9),
    ("API_KEY", "whsec_", r"whsec_[A-Za-z0-9+/=]{24,}(?![\w-])", 0.9),
    # GitHub
    ("API_KEY", "gh", r"gh[pousr]_[A-Za-z0-9]{36,255}(?![\w-])", 0.9),
    ("API_KEY", "github_pat_", r"github_pat_[A-Za-z0-9_]{22,255}(?![\w-])", 0.9),
    # GitLab (personal, deploy, runner, trigger, OAuth, CI job, feed tokens) and runner registration
    ("API_KEY", "gl", r"gl(?:pat|dt|rt|ptt|oas|cbt|imt|ft|soat|ffct|agent)-[A-Za-z0-9_-]{20,}(?![\w-])", 0.9),
    ("API_KEY", "GR1348941", r"GR1348941[A-Za-z0-9_-]{20,}(?![\w-])", 0.9),
    # Slack bot/user/app tokens and incoming webhooks
    ("API_KEY", "xox", r"xox[abposre]-[A-Za-z0-9-]{10,}(?![\w-])", 0.9),
    ("API_KEY", "xapp-", r"xapp-\d-[A-Z0-9]+-\d+-[A-Za-z0-9]+(?![\w-])", 0.9),
    ("API_KEY", "hooks.slack.com", r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}", 0.9),
    # npm, PyPI
    ("API_KEY", "npm_", r"npm_[A-Za-z0-9]{36}(?![\w-])", 0.9),
    ("API_KEY", "pypi-", r"pypi-AgE[A-Za-z0-9_-]{50,}(?![\w-])", 0.9),
    # Google API keys, OAuth access tokens, OAuth client secrets
    ("API_KEY", "AIza", r"AIza[0-9A-Za-z_-]{35}(?![\w-])", 0.9),
    ("API_KEY", "ya29.", r"ya29\.[0-9A-Za-z_-]{20,}(?![\w-])", 0.9),
    ("API_KEY", "GOCSPX-", r"GOCSPX-[A-Za-z0-9_-]{28}(?![\w-])", 0.9),
    # Hugging Face user and organisation tokens
    ("API_KEY", "hf_", r"hf_[A-Za-z0-9]{30,}(?![\w-])", 0.9),
    ("API_KEY", "api_org_", r"api_org_[A-Za-z0-9]{30,}(?![\w-])", 0.9),
    # Twilio API key and account SIDs, SendGrid, Mailgun, Mailchimp
    ("API_KEY", "SK", r"SK[0-9a-f]{32}(?![\w-])", 0.85),
    ("API_KEY", "AC", r"AC[0-9a-f]{32}(?![\w-])", 0.85),
    ("API_KEY", "SG.", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![\w-])", 0.9),
    ("API_KEY", "key-", r"key-[0-9a-f]{32}(?![\w-])", 0.85),
    ("API_KEY", "-us", r"[0-9a-f]{32}-us\d{1,2}(?![\w-])", 0.85),
    # Shopify, DigitalOcean, Databricks, Atlassian, Linear, Notion, Postman, Sentry, Grafana
    ("API_KEY", "shp", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![\w-])", 0.9),
    ("API_KEY", "do", r"do[opr]_v1_[a-f0-9]{64}(?![\w-])", 0.9),
    ("API_KEY", "dapi", r"dapi[a-f0-9]{32}(?:-\d)?(?![\w-])", 0.9),
    ("API_KEY", "ATATT", r"ATATT3[A-Za-z0-9_=-]{100,}(?![\w-])", 0.9),
    ("API_KEY", "lin_api_", r"lin_api_[A-Za-z0-9]{40}(?![\w-])", 0.9),
    ("API_KEY", "ntn_", r"ntn_[A-Za-z0-9]{40,}(?![\w-])", 0.9),
    ("API_KEY", "secret_", r"secret_[A-Za-z0-9]{43}(?![\w-])", 0.85),
    ("API_KEY", "PMAK-", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![\w-])", 0.9),
    ("API_KEY", "sntry", r"sntry[su]_[A-Za-z0-9_=+/-]{30,}(?![\w-])", 0.9),
    ("API_KEY", "gl", r"gl(?:c|sa)_[A-Za-z0-9_+/=]{32,}(?![\w-])", 0.9),
    # New Relic, Telegram bots, Square, Doppler, Pulumi, HashiCorp Vault and Terraform Cloud
    ("API_KEY", "NRAK-", r"NRAK-[A-Z0-9]{27}(?![\w-])", 0.9),
    ("API_KEY", ":AA", r"\d{8,10}:AA[A-Za-z0-9_-]{33}(?![\w-])", 0.9),
    ("API_KEY", "sq0", r"sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43}(?![\w-])", 0.9),
    ("API_KEY", "EAAA", r"EAAA[0-9A-Za-z_-]{60}(?![\w-])", 0.85),  # Square access tokens
    ("API_KEY", "dp.", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}(?![\w-])", 0.9),
    ("API_KEY", "pul-", r"pul-[a-f0-9]{40}(?![\w-])", 0.9),
    ("API_KEY", "hv", r"hv[sb]\.[A-Za-z0-9_-]{24,}(?![\w-])", 0.9),
    ("API_KEY", ".atlasv1.", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}(?![\w-])", 0.9),
    # Groq, Replicate, Perplexity, xAI, NVIDIA, LangSmith, Supabase, Airtable, Heroku
    ("API_KEY", "gsk_", r"gsk_[A-Za-z0-9]{48,}(?![\w-])", 0.9),
    ("API_KEY", "r8_", r"r8_[A-Za-z0-9]{37}(?![\w-])", 0.9),
    ("API_KEY", "pplx-", r"pplx-[A-Za-z0-9]{48}(?![\w-])", 0.9),
    ("API_KEY", "xai-", r"xai-[A-Za-z0-9]{70,}(?![\w-])", 0.9),
    ("API_KEY", "nvapi-", r"nvapi-[A-Za-z0-9_-]{60,}(?![\w-])", 0.9),
    ("API_KEY", "lsv2_", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}(?![\w-])", 0.9),
    ("API_KEY", "sbp_", r"sbp_[a-f0-9]{40}(?![\w-])", 0.9),
    ("API_KEY", "pat", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}(?![\w-])", 0.9),
    ("API_KEY", "HRKU-", r"HRKU-[A-Za-z0-9_-]{60}(?![\w-])", 0.9),
    ("API_KEY", "AGE-SECRET-KEY-1", r"AGE-SECRET-KEY-1[0-9A-Z]{58}(?![\w-])", 1.0),
    ("API_KEY", "LTAI", r"LTAI[A-Za-z0-9]{12,20}(?![\w-])", 0.85),
    ("API_KEY", "EAA", r"EAA[A-Za-z0-9]{60,}(?![\w-])", 0.85),
    # AWS access key ids (long-term, temporary, and the other IAM unique-id prefixes)
    ("AWS_ACCESS_KEY", "AKIA", r"AKIA[A-Z0-9]{16}(?![A-Za-z0-9])", 0.95),
    ("AWS_ACCESS_KEY", "ASIA", r"ASIA[A-Z0-9]{16}(?![A-Za-z0-9])", 0.95),
    ("AWS_ACCESS_KEY", "ABIA", r"ABIA[A-Z0-9]{16}(?![A-Za-z0-9])", 0.95),
    ("AWS_ACCESS_KEY", "ACCA", r"ACCA[A-Z0-9]{16}(?![A-Za-z0-9])", 0.95),
    ("JWT", "eyJ", r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}(?![\w-])", 0.9),
)

#: PEM / OpenSSH / PGP private key blocks; a block cut short (no END line) is taken up to
#: the end of its base64 body.
PRIVATE_KEY = (
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]{16,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:(?:\\n|\s)*[A-Za-z0-9+/=:,\-]{16,})+)"
)

_SECRET_KEY_WORD = re.compile(
    r"secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|passw|passphrase|pwd|credential"
    r"|auth|signing[_.-]?key|client[_.-]?key|master[_.-]?key|encryption[_.-]?key|session[_.-]?key|x-api-key"
    r"|accountkey|sharedaccesskey|conn(?:ection)?[_.-]?str"
)
_NOT_SECRET_KEY = re.compile(
    r"(?:^|[_.\-])(?:id|ids|url|uri|type|name|path|file|ttl|expir\w*|len|length|header|endpoint|hash|digest|checksum"
    r"|fingerprint|count|version|format|policy|mode|enabled|required|field|param|prefix|method|scheme|provider|"
    r"algorithm|alg|strategy|issuer|audience|scope|scopes|timeout|lifetime|rotation|min|max|hint|label|size)$"
    r"|^(?:author|authors|authority|oauth[_.-]?provider)$"
)
_PLACEHOLDER_VALUE = re.compile(
    r"^(?:x+|\*+|\.+|<.*|\$.*|%.*|\{.*|your[_-].*|changeme|replace[_-]?me|example|redacted|null|none|true|false)$"
    r"|^v?\d+(?:\.\d+)+(?:[-+][\w.]+)?$|^\d{4}-\d\d-\d\d(?:[T ][\d:.]+Z?)?$|^[\d.\-]+$",
    re.IGNORECASE,
)
# "\bauthorization" spelled to start with a character set, which the regex engine scans
# for quickly ("a" has no case-insensitive forms but "A").
_HEADER_SCHEMES = re.compile(
    r"[Aa](?<!\w[Aa])(?i:uthorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?i:token|basic|digest|apikey|api-key|key|ssws|sharedaccesssignature)[ \t]+"
    r"(?P<token>[A-Za-z0-9._~+/=-]{12,})"
)


def looks_opaque(value: str) -> bool:
    """A credential-like value: 16+ chars of letters and digits, ≥ 2.5-3 bits of entropy
    per character (by length), not a placeholder, reference, version, date or number."""
    if len(value) < 16 or _PLACEHOLDER_VALUE.match(value) or "=" in value.rstrip("="):
        return False  # "=" inside the value: another assignment, not a credential
    has_digit = any(map(str.isdigit, value))
    has_upper = value.lower() != value
    has_lower = value.upper() != value
    # Letters and digits, or (base64 without a digit) both cases over 20+ characters.
    if not ((has_digit and (has_upper or has_lower)) or (has_upper and has_lower and len(value) >= 20)):
        return False
    if "://" in value or (
        value.startswith(("/", "./", "~/")) and value.count("/") >= 2 and not (has_digit and has_upper and has_lower)
    ):
        return False  # a URL or a path (base64 may start with "/" too, but mixes cases and digits)
    size = len(value)
    counts = Counter(value).values()
    if size > 128:
        return -sum(c / size * math.log2(c / size) for c in counts) >= 3.0
    terms = _ENTROPY_TERMS.get(size)
    if terms is None:
        terms = _ENTROPY_TERMS[size] = [0.0] + [c / size * math.log2(c / size) for c in range(1, size + 1)]
    # The same terms, added in the same order: looked up in C, not computed in a generator.
    return -sum(map(terms.__getitem__, counts)) >= _entropy_floor(size)


def _entropy_floor(size: int) -> float:
    """The bits per character a credential of ``size`` characters has at least. A short
    random value repeats characters by chance: 14 % of random 16-digit hex tokens measure
    under 3 bits, none of 100,000 under 2.5; at 32 characters 0.01 % under 3, none under 2.75."""
    return 2.5 if size <= 24 else 2.75 if size <= 40 else 3.0


_ENTROPY_TERMS: dict[int, list[float]] = {}  # by value length (up to 128): c/n·log2(c/n) per count c


_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_.-"
_CLOSE = frozenset("\"'`< \t\r\n,;)&")


def assigned_secret(text: str, lowered: str, start: int, end: int) -> tuple[str, float, int, int] | None:
    """The secret assigned at ``text[start:end]`` (a word of 16+ token characters), read
    backwards: an opening quote, an assignment (``=``, ``:``, ``=>``, ``:=``, an XML
    ``>``, or a space after a ``--flag``), closing quotes, and a secret-named key. Returns
    (entity, score, start, end) or None."""
    while end < len(text) and text[end] in "=~":
        end += 1  # base64 padding
    if end < len(text) and text[end] not in _CLOSE:
        return None
    if end - start > 512:
        return None
    i = start
    if text.endswith("&quot;", 0, i):
        i -= 6
    elif i > 0 and text[i - 1] in "\"'`":
        i -= 1
    value_at = i
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    spaced = value_at != i
    if i >= 2 and text[i - 2 : i] in ("=>", ":="):
        op = text[i - 2 : i]
        i -= 2
    elif i >= 1 and text[i - 1] in "=:>":
        op = text[i - 1]
        i -= 1
    else:
        op = ""
    if not op and not spaced:
        return None
    while op and i > 0 and text[i - 1] in " \t":
        i -= 1
    for _ in range(2):
        if i > 0 and text[i - 1] in "\"']":
            i -= 1
    key_end = i
    i = run_start(lowered, i, _KEY_CHARS)
    raw_key = lowered[i:key_end]
    if not op and not raw_key.startswith("-"):
        return None  # bare whitespace assigns only for CLI flags ("--token abc...")
    if op == ">" and text[i - 1 : i] != "<":
        return None  # a bare ">" only closes an XML element
    key = raw_key.strip("-.")
    if not key or _SECRET_KEY_WORD.search(key) is None or _NOT_SECRET_KEY.search(key):
        return None
    if not looks_opaque(text[start:end]):
        return None
    entity = "AWS_SECRET_KEY" if "aws" in key and "secret" in key else "API_KEY"
    return entity, 0.75, start, end


def header_secrets(text: str, lowered: str) -> Iterator[tuple[str, float, int, int]]:
    """Credentials after an ``Authorization:`` scheme other than Bearer (Token, Basic…)."""
    if "authorization" in lowered:
        for match in _HEADER_SCHEMES.finditer(text):
            yield "BEARER_TOKEN", 0.8, match.start("token"), match.end("token")


# Passwords mix in symbols that end a token word ("p7#Rq!v2@Lm9$Wx4"): a secret-named key,
# an assignment, then one run of visible characters with a symbol among them.
_SYMBOLS = "!#$%&*@^~?"
_HOST_AFTER_AT = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:[:/]|$)")
# Every alternative of _SECRET_KEY_WORD contains one of these.
_SECRET_STEMS = ("secret", "token", "key", "passw", "passphrase", "pwd", "credential", "auth", "conn")
# From the end of a secret word: the rest of the key, closing quotes, the assignment, an
# opening quote and the value.
_AFTER_SECRET_WORD = re.compile(
    r"[a-z0-9_.-]*[\"'\]]{0,2}[ \t]*(?:=>|:=|=|:)[ \t]*[\"'`]?(?P<value>[^\s\"'`<>]{12,128})"
)


def punctuated_secrets(text: str, lowered: str) -> Iterator[tuple[str, float, int, int]]:
    """Secrets with symbols assigned to secret-named keys (``DB_PASSWORD=p7#Rq!v2@Lm9$Wx4``,
    ``"password": "Xk9mP2vL8!nQ4rT7"``) in JSON, YAML, .env, INI, shell and code. Values
    of letters, digits and ``-_.+/`` alone are :func:`assigned_secret`'s."""
    if not any(stem in lowered for stem in _SECRET_STEMS):
        return  # the usual case, told by a few substring searches instead of the regex
    after = 0
    for word in _SECRET_KEY_WORD.finditer(lowered):
        if word.start() < after:
            continue
        match = _AFTER_SECRET_WORD.match(lowered, word.end())
        if match is None:
            continue
        after = match.end()
        start = match.start("value")
        value = text[start : match.end("value")].rstrip(",;)]}")
        key_start = run_start(lowered, word.start(), _KEY_CHARS)
        if key_start and text[key_start - 1] in "?&":  # a URL query parameter ends at the next one
            value = value.split("&", 1)[0].split("#", 1)[0]
        at = value.find("@")
        if at > 0 and _HOST_AFTER_AT.match(value, at + 1):
            value = value[:at]  # user info: "token:VALUE@github.com/…" ends at the "@"
        if len(value) < 12 or not any(symbol in value for symbol in _SYMBOLS):
            continue
        rest = match.group(0)
        key_end = word.end() + len(rest) - len(rest.lstrip(_KEY_CHARS))
        key = lowered[key_start:key_end].strip("-.")
        if _NOT_SECRET_KEY.search(key):
            continue
        if "://" in value or value.startswith(("$", "%", "{", "<")) or _PLACEHOLDER_VALUE.match(value):
            continue  # a URL, a reference (${VAR}, %(x)s, {{ x }}) or a placeholder
        classes = (
            any(c.islower() for c in value)
            + any(c.isupper() for c in value)
            + any(c.isdigit() for c in value)
            + any(c in _SYMBOLS for c in value)
        )
        if classes >= 3 and len(set(value)) >= 8:
            yield "API_KEY", 0.75, start, start + len(value)
