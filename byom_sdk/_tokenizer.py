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
    "{{ '<|im_start|>' + message['role'] + '\n' + (message['content'] or '') }}"
    # Tool calls are rendered (Qwen's ChatML form) so they are counted against the context
    # window: an assistant turn that only calls tools would otherwise count as empty.
    "{% for call in message['tool_calls'] or [] %}"
    # Separate outputs: tojson gives Markup, and Markup + str would HTML-escape the tags.
    "{{ '\n<tool_call>\n' }}{{ call['function'] | tojson }}{{ '\n</tool_call>' }}"
    "{% endfor %}"
    "{{ '<|im_end|>' + '\n' }}"
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


def _private_backend(backend: tokenizers.Tokenizer) -> tokenizers.Tokenizer:
    """A copy of ``backend`` that neither pads nor truncates."""
    import tokenizers

    copy = tokenizers.Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


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
    :param add_bos_token: prepend BOS when encoding with special tokens; ``None`` leaves
        special tokens to the tokenizer's own post-processor (as transformers does when
        ``tokenizer_config.json`` does not say).
    """

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        *,
        chat_template: str | None = None,
        bos_token: str | None = None,
        eos_tokens: Sequence[str] = (),
        add_bos_token: bool | None = False,
    ) -> None:
        # A private copy with padding and truncation off: a backend that pads or truncates
        # (or one its owner reconfigures later, from any thread) would make counts wrong and
        # let prompts over the context window through.
        self._setup(_private_backend(tokenizer), chat_template, bos_token, eos_tokens, add_bos_token)

    def _setup(
        self,
        backend: tokenizers.Tokenizer,
        chat_template: str | None,
        bos_token: str | None,
        eos_tokens: Sequence[str],
        add_bos_token: bool | None,
    ) -> None:
        self.backend = backend
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
        config: Any = {}
        config_file = folder / "tokenizer_config.json"
        if config_file.is_file():
            try:
                config = json.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read {config_file}: {exc}", field="tokenizer.path") from exc
            if not isinstance(config, dict):
                raise ConfigError(f"{config_file} is not a JSON object", field="tokenizer.path")
        eos = _token_text(config.get("eos_token"))
        template = chat_template or config.get("chat_template")
        if isinstance(template, list):  # named templates: take "default"
            template = next(
                (t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"), None
            )
        add_bos = config.get("add_bos_token")
        # The backend was just loaded and is ours alone: switch padding and truncation off in
        # place rather than pay __init__'s copy (a second parse of a many-MB file).
        backend.no_padding()
        backend.no_truncation()
        tokenizer = cls.__new__(cls)
        tokenizer._setup(
            backend,
            template if isinstance(template, str) else None,
            _token_text(config.get("bos_token")),
            (eos,) if eos else (),
            # Only a JSON boolean counts: bool("false") is True.
            add_bos if isinstance(add_bos, bool) else None,
        )
        try:  # compile now, so a broken template is a config error at load, not a failed call
            tokenizer._template  # noqa: B018
        except Exception as exc:
            source = "the chat_template given" if chat_template else str(config_file)
            raise ConfigError(
                f"{source}: chat_template does not compile: {exc}", field="tokenizer.chat_template"
            ) from exc
        return tokenizer

    @classmethod
    def from_config(cls, config: HFTokenizerConfig) -> HFTokenizer:
        return cls.from_file(config.path, chat_template=config.chat_template)

    # -- the Tokenizer protocol -----------------------------------------------------------

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        if add_special_tokens and self.add_bos_token is None:
            return list(self.backend.encode(text, add_special_tokens=True).ids)
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
                item = dict(message)
                # Templates index message['role'] unguarded; name the message instead of
                # failing on jinja's "'dict object' has no attribute 'role'".
                if not isinstance(item.get("role"), str):
                    raise ValueError(f"chat template: message {len(rendered)} has no role")
                rendered.append(item)
        return str(
            self._template.render(
                messages=rendered,
                add_generation_prompt=add_generation_prompt,
                bos_token=bos_token,
                eos_token=eos_token,
            )
        )
