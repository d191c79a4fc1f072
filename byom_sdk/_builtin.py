"""The core's own plugin: the ``hf`` tokenizer kind."""

from __future__ import annotations

from ._hookspecs import hookimpl
from ._specs import TokenizerSpec
from ._tokenizer import HFTokenizer, HFTokenizerConfig


@hookimpl
def byom_tokenizers() -> list[TokenizerSpec]:
    return [
        TokenizerSpec(
            name="hf",
            factory=HFTokenizer.from_config,
            config_schema=HFTokenizerConfig,
            description="Hugging Face tokenizer.json (+ tokenizer_config.json chat template)",
        )
    ]
