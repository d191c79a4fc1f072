"""The tokenizer interface, and its implementation over Hugging Face ``tokenizers``.

Remote models can be given a tokenizer in config so the SDK counts tokens with the
model's real vocabulary (``Usage.source == "tokenizer"``) and refuses prompts that would
overflow the context window before anything is sent. Chat templates are rendered in
jinja2's immutable sandbox, as transformers does; models without one get ChatML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ._errors import ConfigError
from ._types import Message

if TYPE_CHECKING:
    import jinja2
    import tokenizers

__all__ = ["CHATML_TEMPLATE", "ChatTemplate", "HFTokenizer", "HFTokenizerConfig", "Tokenizer"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@runtime_checkable
class Tokenizer(Protocol):
    """What the SDK needs from a tokenizer."""

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]: ...

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str: ...

    def count(self, text: str) -> int: ...

    def apply_chat_template(
        self, messages: Sequence[Message | Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str: ...

    @property
    def special_tokens(self) -> Mapping[str, int]: ...

    @property
    def eos_token_ids(self) -> tuple[int, ...]: ...


class HFTokenizerConfig(BaseModel):
    """Config of the built-in ``hf`` tokenizer kind.

    :param path: a ``tokenizer.json`` file, or a folder holding it (and optionally
        ``tokenizer_config.json`` with ``chat_template``, ``bos_token``, ``eos_token``).
    :param chat_template: overrides the folder's template (jinja2 text).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: Path
    chat_template: str | None = None


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


class HFTokenizer:
    """A :class:`Tokenizer` backed by a ``tokenizers.Tokenizer``.

    :param tokenizer: the fast tokenizer.
    :param chat_template: jinja2 chat template; ``None`` uses ChatML.
    :param bos_token: text of the BOS token (passed to templates), if any.
    :param eos_tokens: texts of the tokens that end generation.
    :param add_bos_token: prepend BOS when encoding with special tokens.
    """

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        *,
        chat_template: str | None = None,
        bos_token: str | None = None,
        eos_tokens: Sequence[str] = (),
        add_bos_token: bool = False,
    ) -> None:
        self.backend = tokenizer
        self.chat_template = chat_template or CHATML_TEMPLATE
        self.bos_token = bos_token
        self.eos_tokens = tuple(eos_tokens)
        self.add_bos_token = add_bos_token

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path, *, chat_template: str | None = None) -> HFTokenizer:
        """Load ``tokenizer.json`` (or a folder with it and ``tokenizer_config.json``)."""
        import tokenizers

        path = Path(path)
        folder = path if path.is_dir() else path.parent
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise ConfigError(f"tokenizer file not found: {file}", field="tokenizer.path")
        try:
            backend = tokenizers.Tokenizer.from_file(str(file))
        except Exception as exc:
            raise ConfigError(f"cannot read tokenizer {file}: {exc}", field="tokenizer.path") from exc
        # Some tokenizer.json files (sentence-transformers exports) pad and truncate to a fixed
        # length; counts and context checks need the real number of tokens.
        backend.no_padding()
        backend.no_truncation()
        config: dict[str, Any] = {}
        config_file = folder / "tokenizer_config.json"
        if config_file.is_file():
            try:
                config = json.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read {config_file}: {exc}", field="tokenizer.path") from exc
        eos = _token_text(config.get("eos_token"))
        template = chat_template or config.get("chat_template")
        if isinstance(template, list):  # named templates: take "default"
            template = next((t.get("template") for t in template if t.get("name") == "default"), None)
        return cls(
            backend,
            chat_template=template if isinstance(template, str) else None,
            bos_token=_token_text(config.get("bos_token")),
            eos_tokens=(eos,) if eos else (),
            add_bos_token=bool(config.get("add_bos_token", False)),
        )

    @classmethod
    def from_config(cls, config: HFTokenizerConfig) -> HFTokenizer:
        return cls.from_file(config.path, chat_template=config.chat_template)

    # -- the Tokenizer protocol -----------------------------------------------------------

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = self.backend.encode(text, add_special_tokens=False).ids
        if add_special_tokens and self.add_bos_token and self.bos_token is not None:
            bos = self.backend.token_to_id(self.bos_token)
            if bos is not None and (not ids or ids[0] != bos):
                ids.insert(0, bos)
        return ids

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return str(self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def count(self, text: str) -> int:
        return len(self.backend.encode(text, add_special_tokens=False).ids)

    @cached_property
    def special_tokens(self) -> Mapping[str, int]:
        found: dict[str, int] = {}
        for token_id, added in self.backend.get_added_tokens_decoder().items():
            if added.special:
                found[added.content] = token_id
        return found

    @cached_property
    def eos_token_ids(self) -> tuple[int, ...]:
        ids = []
        for text in self.eos_tokens:
            token_id = self.backend.token_to_id(text)
            if token_id is not None:
                ids.append(token_id)
        return tuple(ids)

    @cached_property
    def _template(self) -> ChatTemplate:
        return ChatTemplate(self.chat_template)

    def apply_chat_template(
        self, messages: Sequence[Message | Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        return self._template.render(
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token or "",
            eos_token=self.eos_tokens[0] if self.eos_tokens else "",
        )


class ChatTemplate:
    """A jinja2 chat template compiled once in the immutable sandbox.

    :param source: the template text (``tokenizer_config.json``'s ``chat_template``).
    """

    def __init__(self, source: str = CHATML_TEMPLATE) -> None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise ValueError(f"chat template: {message}")

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        self.source = source
        self._template: jinja2.Template = env.from_string(source)
        # Rendering copies the template's globals into each context; as the ChainMap jinja
        # keeps them in, that copy costs more than the rest of a short render.
        self._template.globals = dict(self._template.globals)

    def render(
        self,
        messages: Sequence[Message | Mapping[str, Any]],
        *,
        add_generation_prompt: bool = True,
        bos_token: str = "",
        eos_token: str = "",
    ) -> str:
        rendered = []
        for message in messages:
            if isinstance(message, Message):
                item: dict[str, Any] = {"role": message.role, "content": message.content}
                if message.name:
                    item["name"] = message.name
                if message.tool_calls:
                    item["tool_calls"] = [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in message.tool_calls
                    ]
                if message.tool_call_id:
                    item["tool_call_id"] = message.tool_call_id
                rendered.append(item)
            else:
                rendered.append(dict(message))
        return str(
            self._template.render(
                messages=rendered,
                add_generation_prompt=add_generation_prompt,
                bos_token=bos_token,
                eos_token=eos_token,
            )
        )
