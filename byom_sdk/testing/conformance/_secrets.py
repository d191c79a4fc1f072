"""Checks that a provider keeps its credentials to itself: not in its repr or info, not in
the errors it raises (their causes included), not in what it logs.

The credentials are found on the provider itself, so a plugin needs no extra hook: every
pydantic ``SecretStr`` / ``SecretBytes`` it holds (its config, nested models, dicts of
headers), and strings held under a credential's name (``api_key``, ``token``,
``password``, an ``Authorization`` header...) on the plugin's own objects. A subject can
name more in ``secrets``. Applications log errors with their tracebacks and turn logging up
to DEBUG when something breaks; a key that shows there has left the customer's control.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from ..._provider import Provider
from ..._redact import THIRD_PARTY_LOGGERS, RedactRecords
from ._core import FAULTS, check, plugin_label
from ._subject import ModelSubject

__all__ = ["SecretChecks", "credentials_of"]

#: a name that holds a credential (lower case, "-" read as "_"): it ends with one of these.
_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:api_?key|x_api_key|subscription_key|access_key|secret_key|secret_access_key|private_key|"
    r"client_secret|secret|password|passwd|authorization)$"
    # a token by itself or of a credential kind: not a tokenizer's bos_token / eos_token
    r"|(?:^|_)(?:access|refresh|id|session|bearer|auth|api|security)_token$|^token$"
)
#: shorter values would show up by chance (and are no credential worth the name).
_MIN_LENGTH = 8
_MAX_DEPTH = 6


def _is_credential_name(name: str) -> bool:
    return _CREDENTIAL_NAME.search(name.lower().replace("-", "_")) is not None


def credentials_of(provider: Provider, *, extra: tuple[str, ...] = ()) -> list[str]:
    """The credential values ``provider`` holds (see the module docstring), longest first."""
    found: set[str] = {s for s in extra if len(s) >= _MIN_LENGTH}
    seen: set[int] = set()
    packages = {type(provider).__module__.split(".")[0], "byom_sdk"}  # the plugin's and the wire layer's

    def add(value: str) -> None:
        if len(value) >= _MIN_LENGTH:
            found.add(value)
            # "Bearer abc...": the token alone leaks the same.
            scheme, _, token = value.partition(" ")
            if token and scheme.isalpha() and len(token) >= _MIN_LENGTH:
                found.add(token)

    def visit(value: Any, name: str, depth: int) -> None:
        if depth > _MAX_DEPTH or id(value) in seen:
            return
        if isinstance(value, SecretStr):
            add(value.get_secret_value())
            return
        if isinstance(value, SecretBytes):
            add(value.get_secret_value().decode("utf-8", "replace"))
            return
        if isinstance(value, str):
            if name and _is_credential_name(name):
                add(value)
            return
        if isinstance(value, (bytes, int, float, bool)) or value is None:
            return
        seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in list(value.items()):
                visit(item, str(key), depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value):
                visit(item, name, depth + 1)
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                visit(getattr(value, field, None), field, depth + 1)
        elif type(value).__module__.split(".")[0] in packages:
            # The plugin's own objects and byom's (its transports): a client library's
            # internals are its business (and reading them could be slow or have side effects).
            attributes = getattr(value, "__dict__", None)
            if isinstance(attributes, dict):
                for key, item in list(attributes.items()):
                    visit(item, key.lstrip("_"), depth + 1)

    visit(provider, "", 0)
    return sorted(found, key=len, reverse=True)


def _shown(secret: str) -> str:
    return f"{secret[:3]}…({len(secret)} characters)"


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [_shown(s) for s in secrets if s in text]


def _error_texts(error: BaseException) -> Iterator[tuple[str, str]]:
    """What an application sees of an error: its message, repr, details and args — and the
    same for every exception in its cause chain, which a logged traceback prints."""
    seen: set[int] = set()
    current: BaseException | None = error
    depth = 0
    while current is not None and id(current) not in seen and depth < 8:
        seen.add(id(current))
        label = "the error" if current is error else f"its cause {type(current).__name__}"
        yield label, str(current)
        yield f"repr of {label}", repr(current)
        details = getattr(current, "details", None)
        if details:
            yield f"details of {label}", json.dumps(details, default=str, ensure_ascii=False)
        yield f"args of {label}", repr(current.args)
        current = current.__cause__ or current.__context__
        depth += 1


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call is not this check's finding.
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "\n".join(t for _, t in _error_texts(record.exc_info[1]))
        self.texts.append((record.name, text))


@contextmanager
def _every_log_record() -> Iterator[_Records]:
    """Every record logged meanwhile, at DEBUG and up, from every logger."""
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    # Loggers with their own level above DEBUG would filter before the root handler sees it.
    quiet = {
        name: logger.level
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG
    }
    # The SDK redacts what the HTTP client libraries log (byom_sdk._redact): the plugin is
    # judged without that net, which catches only those loggers' lines, while a credential
    # in a URL's query also lands in the endpoint's and every proxy's access logs.
    nets = {
        name: [f for f in logging.getLogger(name).filters if isinstance(f, RedactRecords)]
        for name in THIRD_PARTY_LOGGERS
    }
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name, found in nets.items():
        for net in found:
            logging.getLogger(name).removeFilter(net)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)
        for name, found in nets.items():
            for net in found:
                logging.getLogger(name).addFilter(net)


class SecretChecks(ModelSubject):
    """The provider's credentials never show in its repr, its ``info``, its errors or its logs.

    :cvar secrets: credential values the provider holds that the suite cannot find on it
        (a key read from a file at call time, say); found ones need not be listed.
    """

    secrets: ClassVar[tuple[str, ...]] = ()

    def _credentials(self, model: Provider) -> list[str]:
        found = credentials_of(model, extra=tuple(self.secrets))
        if not found:
            pytest.skip(
                f"{plugin_label(model)} holds no credential the suite can find (no SecretStr, no "
                f"api_key/token/password value on its objects; name one in {type(self).__name__}.secrets)"
            )
        return found

    def _failing_models(self) -> Iterator[tuple[str, Provider]]:
        for fault in FAULTS:
            model = self.faulty(fault)
            if model is not None:
                yield f"fault {fault!r}", model
        scenarios = (("unreachable", self.make_unreachable_model), ("broken stream", self.make_broken_stream_model))
        for what, make in scenarios:
            model = make()
            if model is not None:
                yield what, model

    @check("secrets.repr")
    def test_secrets_repr(self, byom_model: Provider) -> None:
        """No credential in the provider's ``repr``/``str``, in its ``info`` or its tokenizer's repr.

        Providers end up in log lines, debugger output and error reports. Fix: keep keys in
        ``pydantic.SecretStr`` (its repr is ``'**********'``) and leave them out of
        ``__repr__``, ``ModelInfo`` (``id``, ``boundary.endpoint``) and URLs.
        """
        secrets = self._credentials(byom_model)
        problems = []
        shown = {
            "repr(model)": repr(byom_model),
            "str(model)": str(byom_model),
            "model.info": byom_model.info.model_dump_json(),
            "repr(model.tokenizer)": repr(byom_model.tokenizer),
        }
        for where, text in shown.items():
            leaked = _leaks(text, secrets)
            if leaked:
                problems.append(f"{where} shows {', '.join(leaked)}")
        assert not problems, f"{plugin_label(byom_model)} shows a credential: " + "; ".join(problems)

    @check("secrets.errors")
    def test_secrets_errors(self, byom_model: Provider) -> None:
        """No credential in the errors of any fault scenario: message, repr, ``details``,
        ``args`` — nor in any exception of the cause chain a logged traceback prints.

        A client library's error often carries the request (URL with ``?key=``, headers);
        wrapping it as ``__cause__`` keeps it in every traceback. Fix: redact the request
        before it goes into a message, and map the client error to one that holds no
        header or query value.
        """
        secrets = self._credentials(byom_model)
        problems: list[str] = []
        tried = 0
        for scenario, model in self._failing_models():
            found = credentials_of(model, extra=tuple(self.secrets))
            wanted = sorted({*secrets, *found}, key=len, reverse=True)
            try:
                for name, operation in self.operations(model).items():
                    tried += 1
                    try:
                        operation(model)
                    except Exception as exc:  # noqa: BLE001 - any error: the texts are examined.
                        for where, text in _error_texts(exc):
                            leaked = _leaks(text, wanted)
                            if leaked:
                                problems.append(f"{scenario}, {name}: {where} shows {', '.join(leaked)}")
                                break
            finally:
                model.close()
        if not tried:
            pytest.skip(f"{type(self).__name__} offers no failing scenario (make_faulty_model and the like)")
        assert not problems, f"{plugin_label(byom_model)} puts a credential in its errors: " + "; ".join(problems[:4])

    @check("secrets.logs")
    def test_secrets_logs(self, byom_model: Provider) -> None:
        """No credential in any log record (DEBUG included) while calls succeed and fail.

        Fix: log the request without its headers and query (or with their values
        redacted); never log the config object's plain values.
        """
        secrets = self._credentials(byom_model)
        with _every_log_record() as records:
            for operation in self.operations(byom_model).values():
                operation(byom_model)
            for _, model in self._failing_models():
                try:
                    for operation in self.operations(model).values():
                        try:
                            operation(model)
                        except Exception:  # noqa: BLE001 - only what was logged matters here.
                            pass
                finally:
                    model.close()
        problems = [
            f"logger {name!r}: {', '.join(leaked)}" for name, text in records.texts if (leaked := _leaks(text, secrets))
        ]
        assert not problems, f"{plugin_label(byom_model)} logs a credential: " + "; ".join(problems[:4])
