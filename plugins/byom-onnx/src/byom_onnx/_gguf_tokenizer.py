"""Build a ``tokenizers`` Tokenizer from GGUF tokenizer metadata.

Byte-level BPE (``tokenizer.ggml.model == "gpt2"``) and SentencePiece BPE (``"llama"``) are
handled; other models (``bert``, ``t5``, ``rwkv``…) are refused naming the file.

llama.cpp picks the pre-tokenizer regex by ``tokenizer.ggml.pre``; the table below carries
the same expressions (from ``llama-vocab.cpp``) for the families the converter knows, so ids
match llama.cpp's ``tokenize(..., special=True)``. Unknown families are refused rather than
tokenised with a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

from ._gguf import GGUFFile

if TYPE_CHECKING:
    import tokenizers

__all__ = ["PRE_TOKENIZERS", "TokenizerBundle", "build_tokenizer"]

_LLAMA3 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: ``tokenizer.ggml.pre`` → (split regex or a named GPT-2 variant, BPE ignore_merges).
PRE_TOKENIZERS: dict[str, tuple[str, bool]] = {
    "default": ("gpt2", False),
    "gpt-2": ("gpt2", False),
    "gpt2": ("gpt2", False),
    "smollm": ("digits+gpt2", False),
    "starcoder": ("digits+gpt2", False),
    "refact": ("digits+gpt2", False),
    "llama3": (_LLAMA3, True),
    "llama-bpe": (_LLAMA3, True),
    "llama-v3": (_LLAMA3, True),
    "qwen2": (_QWEN2, False),
}
_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")


class TokenizerBundle:
    """The tokenizer plus the files written beside the converted model."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, config: dict[str, Any], eos_ids: list[int]) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.eos_ids = eos_ids


def _pre_tokenizer(kind: str) -> Any:
    from tokenizers import Regex, pre_tokenizers

    if kind == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if kind == "digits+gpt2":
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(kind), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _bpe_tokenizer(gguf: GGUFFile, tokens: list[str]) -> tokenizers.Tokenizer:
    from tokenizers import Tokenizer, decoders, models

    pre = str(gguf.get("tokenizer.ggml.pre", "default"))
    if pre not in PRE_TOKENIZERS:
        raise ConfigError(
            f"{gguf.path}: pre-tokenizer '{pre}' (tokenizer.ggml.pre) is not supported yet "
            f"(known: {', '.join(sorted(PRE_TOKENIZERS))})",
            field="path",
        )
    regex, ignore_merges = PRE_TOKENIZERS[pre]
    merges: list[tuple[str, str]] = []
    for m in gguf.get("tokenizer.ggml.merges") or []:
        left, _, right = str(m).partition(" ")
        merges.append((left, right))
    bpe = models.BPE(
        vocab={t: i for i, t in enumerate(tokens)}, merges=merges, ignore_merges=ignore_merges, fuse_unk=False
    )
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = _pre_tokenizer(regex)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _spm_tokenizer(gguf: GGUFFile, tokens: list[str], types: list[int]) -> tokenizers.Tokenizer:
    """SentencePiece BPE (``tokenizer.ggml.model == "llama"``) as HF's LlamaConverter builds it.

    SentencePiece merges the adjacent pair whose result has the highest score; a BPE whose
    merge ranks follow the merged pieces' scores does the same. Characters outside the vocab
    fall back to ``<0xNN>`` byte tokens.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers

    scores = [float(x) for x in gguf.get("tokenizer.ggml.scores") or [-float(i) for i in range(len(tokens))]]
    vocab = {t: i for i, t in enumerate(tokens)}
    normal = {t for t, kind in zip(tokens, types, strict=True) if kind == 1}
    ranked: list[tuple[float, int, str, str]] = []
    for piece in normal:
        pid = vocab[piece]
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-scores[pid], pid, left, right))
    ranked.sort()
    unk_id = gguf.get("tokenizer.ggml.unknown_token_id")
    bpe = models.BPE(
        vocab=vocab,
        merges=[(left, right) for _, _, left, right in ranked],
        unk_token=tokens[int(unk_id)] if unk_id is not None else None,
        fuse_unk=True,
        byte_fallback=True,
    )
    tokenizer = Tokenizer(bpe)
    prefix = bool(gguf.get("tokenizer.ggml.add_space_prefix", True))
    steps = [normalizers.Prepend("\u2581")] if prefix else []
    tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", "\u2581")])
    decode = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    tokenizer.decoder = decoders.Sequence([*decode, decoders.Strip(" ", 1, 0)] if prefix else decode)
    return tokenizer


def build_tokenizer(gguf: GGUFFile) -> TokenizerBundle:
    """The tokenizer described by the file's ``tokenizer.ggml.*`` keys."""
    from tokenizers import AddedToken

    model = gguf.get("tokenizer.ggml.model")
    if model not in ("gpt2", "llama"):
        raise ConfigError(
            f"{gguf.path}: tokenizer model '{model}' is not supported yet "
            "(supported: 'gpt2' byte-level BPE, 'llama' SentencePiece BPE)",
            field="path",
        )
    tokens: list[str] = list(gguf.require("tokenizer.ggml.tokens"))
    types: list[int] = list(gguf.get("tokenizer.ggml.token_type") or [1] * len(tokens))
    tokenizer = _spm_tokenizer(gguf, tokens, types) if model == "llama" else _bpe_tokenizer(gguf, tokens)
    # CONTROL (3) tokens are special; USER_DEFINED (4) are matched whole but decoded as text.
    added = [
        AddedToken(tokens[i], special=(kind == 3), normalized=False) for i, kind in enumerate(types) if kind in (3, 4)
    ]
    tokenizer.add_tokens(added)

    def text_of(key: str) -> str | None:
        value = gguf.get(key)
        return tokens[int(value)] if value is not None and 0 <= int(value) < len(tokens) else None

    template = gguf.get("tokenizer.chat_template")
    eos_ids: list[int] = []
    eos_id = gguf.get("tokenizer.ggml.eos_token_id")
    if eos_id is not None:
        eos_ids.append(int(eos_id))
    eot_id = gguf.get("tokenizer.ggml.eot_token_id")
    if eot_id is not None:
        eos_ids.append(int(eot_id))
    # A turn-end marker the chat template writes is where a chat reply ends, whatever the
    # eos key says (SmolLM2's GGUF names <|im_start|> as eos; replies end with <|im_end|>).
    for marker in _END_MARKERS:
        token_id = tokenizer.token_to_id(marker)
        if (
            token_id is not None
            and types[token_id] == 3
            and (marker in (template or "") or marker == text_of("tokenizer.ggml.eos_token_id"))
        ):
            eos_ids.append(token_id)
    eos_ids = list(dict.fromkeys(eos_ids))
    end_marker = next((m for m in _END_MARKERS if m in (template or "")), None)
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": text_of("tokenizer.ggml.bos_token_id"),
        "eos_token": end_marker or text_of("tokenizer.ggml.eos_token_id"),
        "unk_token": text_of("tokenizer.ggml.unknown_token_id"),
        "pad_token": text_of("tokenizer.ggml.padding_token_id"),
        "add_bos_token": bool(gguf.get("tokenizer.ggml.add_bos_token", False)),
        "model_max_length": int(gguf.arch_key("context_length", 2048)),
        "clean_up_tokenization_spaces": False,
    }
    if template:
        config["chat_template"] = str(template)
    return TokenizerBundle(tokenizer, config, eos_ids)
