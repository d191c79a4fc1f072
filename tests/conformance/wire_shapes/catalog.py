"""The subjects of the wire-shape meta-test: correct providers (every wire.* check must
pass) and broken ones (the named wire.* check must fail).

A subject is a :class:`WireSuite` for one provider on the loopback server; ``focus`` names
the checks the meta-test runs for it (the five wire.* checks for a correct provider, the
catching check for a broken one).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from byom_sdk.testing.conformance import ModelConformance

from . import broken as b
from . import shapes as s
from ._harness import Base, TemplateTokenizer, chatml_tokenizer, llama3_tokenizer, phi3_tokenizer, server

WIRE_CHECKS = ("wire.one_request", "wire.messages", "wire.parameters", "wire.extra", "wire.metadata")


@dataclass(frozen=True)
class Subject:
    """One provider on the plain or TLS loopback server."""

    provider: type[Base]
    #: the wire.* check that must catch a broken provider (None: a correct one).
    check: str | None = None
    tokenizer: Callable[[], TemplateTokenizer] | None = None
    tls: bool = False
    #: the subject's name when one provider class appears more than once.
    label: str | None = None

    @property
    def name(self) -> str:
        kind = "Correct" if self.check is None else "Broken"
        return f"Test{kind}{self.label or self.provider.__name__}"

    @property
    def missing(self) -> str | None:
        """The optional package the subject needs and this environment lacks, if any."""
        needs = ["cryptography"] if self.tls else []
        needs += ["requests"] if self.provider.sync_client == "requests" else []
        return next((name for name in needs if importlib.util.find_spec(name) is None), None)

    def make(self) -> Base:
        """A fresh provider on the subject's server."""
        tokenizer = self.tokenizer() if self.tokenizer else None
        endpoint = server(tls=self.tls)
        return self.provider(endpoint.url, tokenizer=tokenizer, verify=endpoint.verify)


class WireSuite(ModelConformance):
    """The conformance suite on one subject's provider; no ``received_requests`` (socket capture)."""

    subject: ClassVar[Subject]
    focus: ClassVar[tuple[str, ...]]

    def make_model(self) -> Any:
        return self.subject.make()


CORRECT: tuple[Subject, ...] = (
    Subject(s.Anthropic),
    Subject(s.AnthropicBlocks),
    Subject(s.Gemini),
    Subject(s.GeminiGenAI),
    Subject(s.CountTokensFirst),
    Subject(s.TGI, tokenizer=chatml_tokenizer, label="TGIChatML"),
    Subject(s.TGI, tokenizer=llama3_tokenizer, label="TGILlama3"),
    Subject(s.TGI, tokenizer=phi3_tokenizer, label="TGIPhi3"),
    Subject(s.TGIBosToServer, tokenizer=llama3_tokenizer),
    Subject(s.Cohere),
    Subject(s.CohereMessageFirst),
    Subject(s.OpenAI),
    Subject(s.OpenAI, tls=True, label="OpenAITLS"),
    Subject(s.OpenAISeed),
    Subject(s.OpenAIRequests),
    Subject(s.OpenAIRequestsSyncOnly),
    Subject(s.FormEncoded),
    Subject(s.ChunkedJSON),
    Subject(s.ChunkedJSONRequests),
    Subject(s.GzipJSON),
    Subject(s.QueryParams),
    Subject(s.Multipart),
    Subject(s.TokenAuth),
    Subject(s.TokenAuthRequests),
    Subject(s.SingleTextEmbed),
    Subject(s.LangServeTyped, tokenizer=chatml_tokenizer),
    Subject(s.LangServeTyped, label="LangServeTypedNoTokenizer"),
)

BROKEN: tuple[Subject, ...] = (
    Subject(b.DropsSystemInStreams, "wire.messages"),
    Subject(b.GeminiSwapsRoles, "wire.messages"),
    Subject(b.LangServeSwapsRoles, "wire.messages"),
    Subject(b.TrimsTrailingNewlines, "wire.messages"),
    Subject(b.DropsAssistantTurn, "wire.messages"),
    Subject(b.LatinReplace, "wire.messages"),
    Subject(b.NFKCSanitiser, "wire.messages"),
    Subject(b.StripsZeroWidthAndCR, "wire.messages"),
    Subject(b.AppendsToUserTurn, "wire.messages"),
    Subject(b.SystemSentLast, "wire.messages"),
    Subject(b.ConcatsIntoOneUser, "wire.messages"),
    Subject(b.EmbedDedupesSorted, "wire.messages"),
    Subject(b.EmbedSortsByLengthDesc, "wire.messages"),
    Subject(b.TenantHeader, "wire.metadata"),
    Subject(b.TenantInQuery, "wire.metadata"),
    Subject(b.UserInPath, "wire.metadata"),
    Subject(b.GzipLeaksTenant, "wire.metadata"),
    Subject(b.AsyncLeaksTenantTLS, "wire.metadata", tls=True),
    Subject(b.TemperatureOnlyWhenGreedy, "wire.parameters"),
    Subject(b.TemperatureFalsyDropped, "wire.parameters"),
    Subject(b.ExtraTopLevelInStream, "wire.extra", tokenizer=chatml_tokenizer),
    Subject(b.ExtraNestedVerbatim, "wire.extra"),
    Subject(b.DuplicateOnAstream, "wire.one_request"),
)


def subjects() -> dict[str, type[WireSuite]]:
    """The test classes of the nested run, one per subject this environment can build."""
    return {
        subject.name: type(
            subject.name,
            (WireSuite,),
            {"subject": subject, "focus": (subject.check,) if subject.check else WIRE_CHECKS},
        )
        for subject in (*CORRECT, *BROKEN)
        if subject.missing is None
    }
