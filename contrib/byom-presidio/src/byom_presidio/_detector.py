"""Presidio's recognizers as a byom detector, with every download path closed.

Presidio reaches for the network in two places by default: ``AnalyzerEngine()`` calls
``spacy.cli.download("en_core_web_lg")`` when the model is missing, and the e-mail
recognizer's ``tldextract.extract`` fetches the public-suffix list on first use. Here the
NLP engine is a ``SpacyNlpEngine`` whose pipeline is ``spacy.blank("en")`` built in code
(nothing to load or download), and the e-mail recognizer validates domains with a
``TLDExtract(suffix_list_urls=())`` that only reads the snapshot bundled with tldextract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from byom_sdk.trust import Span

__all__ = ["DEFAULT_ENTITIES", "ENTITY_MAP", "PresidioDetector", "build_analyzer"]

#: Presidio entity → byom entity name (unlisted names pass through unchanged).
ENTITY_MAP: Mapping[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    # Ids both know, under the built-in detector's names (placeholders and thresholds agree).
    "SG_NRIC_FIN": "SG_NRIC",
    "FI_PERSONAL_IDENTITY_CODE": "FI_HETU",
}

#: Structured entities the detector reports by default (no NER-only types).
DEFAULT_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "MEDICAL_LICENSE",
    "PHONE_NUMBER",
    "UK_NHS",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
)

_TLD: Any = None


def _offline_tldextract() -> Any:
    global _TLD
    if _TLD is None:
        import tldextract

        # No URLs: use the public-suffix snapshot shipped in the wheel; no cache dir
        # either, so nothing is written or fetched.
        _TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return _TLD


def _offline_email_recognizer() -> Any:
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(_offline_tldextract()(pattern_text).fqdn)

    return OfflineEmailRecognizer()


def _blank_nlp_engine(language: str) -> Any:
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        """A spaCy engine over ``spacy.blank(lang)``: tokens only, nothing to download."""

        def load(self) -> None:
            self.nlp = {language: spacy.blank(language)}  # type: ignore[assignment]

    engine = BlankSpacyNlpEngine(models=[{"lang_code": language, "model_name": f"blank:{language}"}])
    engine.load()
    return engine


def build_analyzer(*, language: str = "en", all_recognizers: bool = False) -> Any:
    """An offline ``AnalyzerEngine``.

    :param all_recognizers: load every predefined recognizer (as ``AnalyzerEngine()``
        would) instead of the structured ones behind :data:`DEFAULT_ENTITIES`; the
        e-mail recognizer is replaced by the offline one either way.
    """
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr

    engine = _blank_nlp_engine(language)
    registry = RecognizerRegistry(supported_languages=[language])
    if all_recognizers:
        registry.load_predefined_recognizers(languages=[language], nlp_engine=engine)
        registry.remove_recognizer("EmailRecognizer")
    else:
        for recognizer in (
            pr.CreditCardRecognizer(),
            pr.CryptoRecognizer(),
            pr.IbanRecognizer(),
            pr.IpRecognizer(),
            pr.MacAddressRecognizer(),
            pr.MedicalLicenseRecognizer(),
            pr.PhoneRecognizer(),
            pr.NhsRecognizer(),
            pr.UsItinRecognizer(),
            pr.UsPassportRecognizer(),
            pr.UsSsnRecognizer(),
        ):
            registry.add_recognizer(recognizer)
    registry.add_recognizer(_offline_email_recognizer())
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language])


class PresidioDetector:
    """Presidio recognizers behind the byom detector interface (registry ``presidio``).

    :param entities: Presidio entity names to report (default :data:`DEFAULT_ENTITIES`;
        ``None`` for everything the recognizers find).
    :param language: the analyzer language.
    :param all_recognizers: see :func:`build_analyzer`.
    :param score_threshold: Presidio's own cut-off (the trust policy's per-entity
        thresholds apply on top).
    """

    name = "presidio"

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = DEFAULT_ENTITIES,
        language: str = "en",
        all_recognizers: bool = False,
        score_threshold: float = 0.0,
    ) -> None:
        self.language = language
        self.entities = list(entities) if entities is not None else None
        self.score_threshold = score_threshold
        self.analyzer = build_analyzer(language=language, all_recognizers=all_recognizers)

    def analyze(self, text: str) -> list[Any]:
        """Presidio's raw ``RecognizerResult`` list."""
        results: list[Any] = self.analyzer.analyze(
            text=text, language=self.language, entities=self.entities, score_threshold=self.score_threshold
        )
        return results

    @property
    def reported_entities(self) -> tuple[str, ...] | None:
        """The byom names its spans carry (``None``: every entity Presidio knows)."""
        if self.entities is None:
            return None
        return tuple(ENTITY_MAP.get(name, name) for name in self.entities)

    def find(self, text: str) -> Iterable[Span]:
        """Presidio's results as byom spans (entity names mapped)."""
        return [
            Span(r.start, r.end, ENTITY_MAP.get(r.entity_type, r.entity_type), float(r.score), self.name)
            for r in self.analyze(text)
        ]
