"""The one exception hierarchy of byom-sdk.

Every error an application can see from the SDK derives from :class:`ByomError`; provider
plugins map their client library's exceptions onto it and keep the original as
``__cause__``. Each class carries a ``retryable`` default that the retry policy reads;
an instance may override it (a container's 503 wrapped in a ModelError is retryable).

::

    ByomError
    ├── ConfigError                 bad byom.toml / model config (names file, alias, field)
    ├── PluginError                 a plugin failed to load, or broke the contract
    ├── PolicyViolation             the trust policy refused the call (names rule and model)
    ├── CapabilityNotSupported      the model did not declare the capability called
    ├── AuditError                  the audit record could not be written or the log is unusable
    ├── InvalidValue                a contract type built with an invalid field (also a ValueError)
    └── ProviderError               the model or its endpoint failed
        ├── Throttled               429 / throttling / quota             (retryable)
        ├── Unavailable             503 / 500 / connection / not ready   (retryable)
        ├── Timeout                 deadline or read timeout             (not retryable)
        ├── ModelError              the model container itself failed    (not retryable)
        │   └── SchemaError         the output does not follow the requested schema
        ├── AuthError               credentials missing or refused       (not retryable)
        └── BadRequest              the request was invalid for the model (not retryable)

A read timeout is not retryable by default: the request may already be running on the
model, and silently re-invoking a generation doubles cost and side effects.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._redact import redact, redact_value

__all__ = [
    "AuditError",
    "AuthError",
    "BadRequest",
    "ByomError",
    "CapabilityNotSupported",
    "ConfigError",
    "InvalidValue",
    "ModelError",
    "PluginError",
    "PolicyViolation",
    "ProviderError",
    "SchemaError",
    "Throttled",
    "Timeout",
    "Unavailable",
]


class ByomError(Exception):
    """Base of every byom-sdk error.

    :param message: one line saying what went wrong and what is at fault.
    :param retryable: overrides the class default read by the retry policy.

    ``masked_message`` is the message as it was before the trust layer restored the
    caller's values into it (``None`` when nothing was restored): what a server log or a
    debug line may show, since the restored ``message`` can hold personal data.
    """

    default_retryable: ClassVar[bool] = False
    masked_message: str | None = None

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        message = redact(message)  # no ${ENV} value or URL credential in any SDK error
        if not message.isascii():
            # A lone surrogate quoted from bad input would make printing or logging the
            # error fail: it is shown escaped (\udc80).
            message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.message = message
        self.retryable: bool = self.default_retryable if retryable is None else retryable


class ConfigError(ByomError):
    """Configuration is invalid; the message names the file, the model alias and the field.

    :param source: the config file (or ``"<Client(models=...)>"``).
    :param alias: the model alias at fault, when there is one.
    :param field: the dotted field path at fault, when there is one.

    ``detail`` keeps the bare message; :meth:`within` adds context (a file, an alias) to an
    error raised deeper down without repeating the field or the message.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        alias: str | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if source:
            where.append(source)
        if alias:
            where.append(f"model '{alias}'")
        if field:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.detail = message
        self.source = source
        self.alias = alias
        self.field = field

    def within(self, *, source: str | None = None, alias: str | None = None, field: str | None = None) -> ConfigError:
        """This error with the context it lacked: its own source, alias and field win,
        ``field`` is prefixed to its own (``tokenizer`` + ``path`` → ``tokenizer.path``)."""
        own = self.field
        combined = f"{field}.{own}" if field and own else field or own
        error = ConfigError(self.detail, source=self.source or source, alias=self.alias or alias, field=combined)
        error.__cause__ = self.__cause__
        return error


class PluginError(ByomError):
    """A plugin failed to load, declared an unsupported API version, or broke the contract.

    :param plugin: the entry-point (plugin) name at fault.
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class PolicyViolation(ByomError):
    """The trust policy refused the call before any byte left the boundary.

    :param rule: the policy rule that refused (e.g. ``"allowed_regions"``).
    :param model: the model alias the call was for.
    """

    def __init__(self, message: str, *, rule: str, model: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.model = model


class CapabilityNotSupported(ByomError):
    """The model was asked for something its ``ModelInfo.capabilities`` does not declare."""

    def __init__(self, capability: str, *, model: str) -> None:
        super().__init__(f"model '{model}' does not support '{capability}' (not declared in its capabilities)")
        self.capability = capability
        self.model = model


class AuditError(ByomError):
    """The audit trail cannot be written or trusted: the store is unwritable, or its key does
    not match the log. Fail closed: the call is refused before its request leaves.

    :param path: the audit store (file) at fault, when there is one.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class InvalidValue(ByomError, ValueError):
    """A contract type (``GenerateRequest``, ``Message``, ``Usage``…) was built with an
    invalid field, or a field of one was assigned (they are immutable).

    A ``ValueError`` too, as the validation error it replaces was. Raised inside a provider
    call, it is the plugin's bug: the call fails with a ``ProviderError`` naming the plugin.

    :param field: the first failing field, dotted under the type (``GenerateRequest.max_tokens``).
    :param errors: every failure, ``"field: message"``.
    """

    def __init__(self, message: str, *, field: str | None = None, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.errors = errors


class ProviderError(ByomError):
    """The model or its endpoint failed.

    :param provider: the provider name (``"sagemaker"``, ``"vertex"``, ``"onnx"``…).
    :param status_code: the HTTP / wire status when there is one.
    :param retry_after: a backoff hint in seconds from the provider (e.g. a cold start).
    :param code: the provider's own error code (``"ThrottlingException"``…).
    :param request_sent: the endpoint received the request before the failure (e.g. the
        connection dropped while the answer came back): retrying would run it again, so
        the retry policy does not, unless configured to.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        request_sent: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.code = code
        # Bodies quoted in details may echo a configured key back ("Incorrect API key: sk-...").
        self.details: dict[str, Any] = redact_value(details) if details else {}
        self.request_sent = request_sent
        #: how many attempts the retry policy made before giving up (set by the policy).
        self.attempts: int = 1


class Throttled(ProviderError):
    """Rate limited or out of quota (HTTP 429, ThrottlingException, RESOURCE_EXHAUSTED)."""

    default_retryable = True


class Unavailable(ProviderError):
    """The endpoint is unavailable or not ready (503, 500, connection errors, cold start)."""

    default_retryable = True


class Timeout(ProviderError):
    """A deadline or read timeout passed; not retried since the model may still be running."""


class ModelError(ProviderError):
    """The model container failed; retryable only when it reported overload (429 / 503)."""


class SchemaError(ModelError):
    """The model's output does not follow the requested ``response_format`` or tool
    schema (after the one repair round an emulated model gets). ``details["raw_text"]``
    holds the output as the application would have seen it (placeholders restored) and
    ``details["errors"]`` what was wrong with it."""


class AuthError(ProviderError):
    """Credentials are missing, expired or refused."""


class BadRequest(ProviderError):
    """The request is invalid for this model (validation, context window, payload size)."""
