"""Document builders per genre: ticket, email, chat, log, json, csv, config, code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import values as v
from .generator import _LANG_IDS, _PROSE_ENTITIES, CITIES, ORGS, Doc, Maker

_LOG_MESSAGES = (
    "request completed successfully", "retrying upstream call after transient failure",
    "cache miss, loading profile from the primary store", "session refreshed for the current user",
    "payment provider responded slowly", "queue consumer picked up the next batch of events",
    "validation failed for the submitted form", "connection pool is running low on idle connections",
    "scheduled job finished without errors", "feature flag evaluated for the tenant",
)  # fmt: skip
_COMMENTS = (
    "keep this in sync with the deployment manifest", "loaded once at start-up and cached afterwards",
    "the staging environment overrides these values", "do not log the raw request body here",
    "rotate this credential every quarter", "used by the nightly export job",
)  # fmt: skip


def _body(m: Maker, doc: Doc, sentences: int, sep: str = " ") -> None:
    """Prose: filler, entity sentences (with context words) and lookalikes."""
    rng = m.rng
    ids = _LANG_IDS[m.lang]
    for k in range(sentences):
        if k:
            doc.t(sep)
        roll = rng.random()
        if roll < 0.3:
            entity = rng.choice(_PROSE_ENTITIES + ids + ids) if ids else rng.choice(_PROSE_ENTITIES)
            m.entity_sentence(doc, entity)
        elif roll < 0.44:
            m.negative_sentence(doc)
        else:
            doc.t(m.pick("filler"))


def _signature(m: Maker, doc: Doc) -> None:
    doc.t(f"\n\n{m.pick('bye')},\n")
    m.person(doc)
    doc.t("\n")
    doc.e(m.rng.choice(ORGS), "ORG")
    doc.t(" · ")
    doc.e(m.rng.choice(CITIES), "LOCATION")
    if m.rng.random() < 0.6:
        value, _ = m.phone(ambiguous_ok=False)  # a bare signature line: only unambiguous layouts
        doc.t("\n").e(value, "PHONE")


def ticket(m: Maker, doc: Doc) -> None:
    doc.t("Ticket ").n(v.order_number(m.rng), "order").t(f" · {m.pick('subject')}\n\n")
    doc.t(f"{m.pick('greet')},\n\n")
    _body(m, doc, m.rng.randint(6, 12))
    _signature(m, doc)


def email(m: Maker, doc: Doc) -> None:
    doc.t("From: ")
    m.person(doc)
    doc.t(" <").e(m.email(), "EMAIL").t(">\nTo: ").e(m.email(), "EMAIL")
    doc.t(f"\nSubject: {m.pick('subject')}\nDate: ").n(v.timestamp(m.rng), "timestamp").t("\n\n")
    doc.t(f"{m.pick('greet')} ")
    m.person(doc)
    doc.t(",\n\n")
    _body(m, doc, m.rng.randint(5, 10), sep="\n")
    _signature(m, doc)


def chat(m: Maker, doc: Doc) -> None:
    rng = m.rng
    for k in range(rng.randint(3, 7)):
        if k:
            doc.t("\n")
        doc.t(f"[{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}] ")
        m.person(doc)
        doc.t(": ")
        _body(m, doc, rng.randint(1, 3))


def log(m: Maker, doc: Doc) -> None:
    rng = m.rng
    for k in range(rng.randint(4, 9)):
        if k:
            doc.t("\n")
        doc.n(v.timestamp(rng), "timestamp").t(f" {rng.choice(['INFO', 'WARN', 'ERROR', 'DEBUG'])} [api] ")
        doc.t(rng.choice(_LOG_MESSAGES) + "; ")
        roll = rng.random()
        if roll < 0.25:
            doc.t("login user=").e(m.email(), "EMAIL").t(" src=").e(v.ipv4(rng), "IP_ADDRESS")
        elif roll < 0.4:
            doc.t("peer ").e(v.ipv6(rng), "IP_ADDRESS").t(" closed connection")
        elif roll < 0.55:
            doc.t("request_id=").n(v.a_uuid(rng), "uuid").t(f" duration_ms={rng.randint(1, 999)}")
        elif roll < 0.65:
            doc.t("agent=client/").n(v.version_string(rng), "version").t(" build ").n(v.hash_value(rng), "hash")
        elif roll < 0.75:
            token = v.bearer_token(rng)
            doc.t("Authorization: Bearer ").e(token, "JWT" if token.startswith("eyJ") else "BEARER_TOKEN")
        elif roll < 0.85:
            doc.t("ip=").e(v.ipv4(rng), "IP_ADDRESS").t(" order=").n(v.order_number(rng), "order")
        else:
            doc.t("sms sent to ")
            value, _ = m.phone(ambiguous_ok=False)
            doc.e(value, "PHONE").t(" epoch=").n(str(1_600_000_000 + rng.randint(0, 10**8)), "timestamp")


def _json_value(doc: Doc, value: str, entity: str | None, kind: str | None = None) -> None:
    doc.t('"')
    if entity:
        doc.e(value, entity)
    elif kind:
        doc.n(value, kind)
    else:
        doc.t(value.replace('"', "'"))
    doc.t('"')


def json_doc(m: Maker, doc: Doc) -> None:
    rng = m.rng
    fields: list[tuple[str, Callable[[], tuple[str, str | None, str | None]]]] = [
        ("id", lambda: (v.order_number(rng), None, "order")),
        ("email", lambda: (m.email(), "EMAIL", None)),
        ("phone", lambda: (m.phone()[0], "PHONE", None)),
        ("iban", lambda: (v.iban(rng), "IBAN", None)),
        ("card", lambda: (v.card(rng), "CREDIT_CARD", None)),
        ("last_ip", lambda: (v.ipv4(rng), "IP_ADDRESS", None)),
        ("created_at", lambda: (v.timestamp(rng), None, "timestamp")),
        ("client_version", lambda: (v.version_string(rng), None, "version")),
        ("trace_id", lambda: (v.a_uuid(rng), None, "uuid")),
        ("api_key", lambda: (v.api_token(rng)[1], "API_KEY", None)),
        ("access_token", lambda: (v.opaque_secret(rng), "API_KEY", None)),
        ("token_type", lambda: ("bearer", None, "secret-named")),
        ("checksum", lambda: (v.hash_value(rng), None, "hash")),
        ("session", lambda: (v.jwt(rng), "JWT", None)),
        ("note", lambda: (m.pick("filler"), None, None)),
        ("summary", lambda: (m.pick("filler"), None, None)),
    ]
    chosen = rng.sample(fields, rng.randint(4, 8))
    indent = rng.random() < 0.5
    doc.t("{" + ("\n  " if indent else ""))
    doc.t('"name": ')
    doc.t('"')
    m.person(doc)
    doc.t('"')
    for key, make in chosen:
        value, entity, kind = make()
        doc.t(",\n  " if indent else ", ").t(f'"{key}": ')
        _json_value(doc, value, entity, kind)
    doc.t("\n}" if indent else "}")


def csv_doc(m: Maker, doc: Doc) -> None:
    rng = m.rng
    sep = rng.choice([",", ";", "\t"])
    doc.t(sep.join(["name", "email", "phone", "iban", "city", "order", "note"]))
    for _ in range(rng.randint(2, 6)):
        doc.t("\n")
        m.person(doc)
        doc.t(sep).e(m.email(), "EMAIL").t(sep).e(m.phone()[0], "PHONE").t(sep)  # the header is its context
        doc.e(v.iban(rng), "IBAN").t(sep).e(rng.choice(CITIES), "LOCATION").t(sep).n(v.order_number(rng), "order")
        doc.t(sep + m.pick("filler").replace(sep, " "))


_SECRET_KEYS = ("api_key", "client_secret", "access_token", "auth_token", "secret_key", "password", "apiKey",
                "API_TOKEN", "DB_PASSWORD", "webhook_secret", "private_token", "SECRET")  # fmt: skip


def _secret_line(m: Maker, doc: Doc, style: str) -> None:
    rng = m.rng
    roll = rng.random()
    key = rng.choice(_SECRET_KEYS)
    if roll < 0.35:
        value, entity = v.opaque_secret(rng), "API_KEY"
    elif roll < 0.5:
        key, value, entity = "aws_secret_access_key", v.aws_secret(rng), "AWS_SECRET_KEY"
    elif roll < 0.6:
        key, value, entity = "aws_access_key_id", v.aws_access_key(rng), "AWS_ACCESS_KEY"
    else:
        value, entity = v.api_token(rng)[1], "API_KEY"
    if style == "yaml":
        doc.t(f"{key.lower()}: ").e(value, entity)
    elif style == "env":
        quote = '"' if rng.random() < 0.3 else ""
        doc.t(f"{'export ' if rng.random() < 0.3 else ''}{key.upper()}={quote}").e(value, entity).t(quote)
    else:
        doc.t(f"{key.lower()} = ").e(value, entity)


_NON_SECRETS = (("token_type", "bearer"), ("password_min_length", "12"), ("secret_name", "prod/db/credentials"),
                ("token_url", "https://auth.example.com/oauth/token"), ("api_key_header", "X-Api-Key"),
                ("auth_method", "oauth2"), ("password", "${DB_PASSWORD}"), ("token_ttl", "3600"),
                ("secret_key_file", "/run/secrets/app_key"), ("author", "Platform Team"))  # fmt: skip


def config(m: Maker, doc: Doc) -> None:
    rng = m.rng
    style = rng.choice(["yaml", "env", "ini"])
    if style == "ini":
        doc.t("[database]\n")
    lines = rng.randint(4, 8)
    for k in range(lines):
        if k:
            doc.t("\n")
        if rng.random() < 0.4:
            doc.t(f"{'#' if style != 'ini' else ';'} {rng.choice(_COMMENTS)}\n")
        roll = rng.random()
        assign = {"yaml": ": ", "env": "=", "ini": " = "}[style]
        if roll < 0.4:
            _secret_line(m, doc, style)
        elif roll < 0.55:
            key, value = rng.choice(_NON_SECRETS)
            key = key.upper() if style == "env" else key
            doc.t(f"{key}{assign}").n(value, "secret-named")
        elif roll < 0.7:
            doc.t(f"{'HOST' if style == 'env' else 'host'}{assign}").e(v.ipv4(rng), "IP_ADDRESS")
        elif roll < 0.8:
            doc.t(f"{'ADMIN_EMAIL' if style == 'env' else 'admin_email'}{assign}").e(m.email(), "EMAIL")
        elif roll < 0.9:
            doc.t(f"{'VERSION' if style == 'env' else 'version'}{assign}").n(v.version_string(rng), "version")
        else:
            doc.t(f"{'REQUEST_ID' if style == 'env' else 'instance_id'}{assign}").n(v.a_uuid(rng), "uuid")


def code(m: Maker, doc: Doc) -> None:
    rng = m.rng
    lang = rng.choice(["python", "js", "go", "shell"])
    lines = rng.randint(3, 6)
    for k in range(lines):
        if k:
            doc.t("\n")
        if rng.random() < 0.5:
            doc.t(f"{'//' if lang in ('js', 'go') else '#'} {rng.choice(_COMMENTS)}\n")
        roll = rng.random()
        token = v.api_token(rng)[1] if rng.random() < 0.5 else v.opaque_secret(rng)
        if roll < 0.35:
            if lang == "python":
                doc.t('API_KEY = "').e(token, "API_KEY").t('"')
            elif lang == "js":
                doc.t("const apiKey = '").e(token, "API_KEY").t("';")
            elif lang == "go":
                doc.t('authToken := "').e(token, "API_KEY").t('"')
            else:
                doc.t("curl --token ").e(token, "API_KEY").t(" https://api.example.com/v1/items")
        elif roll < 0.5:
            token = v.bearer_token(rng)
            doc.t('headers = {"Authorization": "Bearer ').e(token, "JWT" if token.startswith("eyJ") else "BEARER_TOKEN")
            doc.t('"}')
        elif roll < 0.6:
            doc.t('NOTIFY = "').e(m.email(), "EMAIL").t('"')
        elif roll < 0.7:
            doc.t('DEFAULT_HOST = "').e(v.ipv4(rng), "IP_ADDRESS").t('"')
        elif roll < 0.8:
            escaped = rng.random() < 0.5
            doc.t('key = "' if escaped else "key = '''").e(v.private_key(rng, escaped=escaped), "PRIVATE_KEY")
            doc.t('"' if escaped else "'''")
        elif roll < 0.9:
            doc.t("# pinned: requests==").n(v.version_string(rng).lstrip("v").split("-")[0], "version")
        else:
            doc.t('CHECKSUM = "').n(v.hash_value(rng), "hash").t('"')


GENRE_BUILDERS: dict[str, Callable[[Maker, Doc], Any]] = {
    "ticket": ticket,
    "email": email,
    "chat": chat,
    "log": log,
    "json": json_doc,
    "csv": csv_doc,
    "config": config,
    "code": code,
}
