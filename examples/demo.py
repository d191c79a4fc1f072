"""The demo `make demo` runs: plugins, then a round trip through the Client.

Interim version (core only): a scripted test double stands in for a real model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import byom_sdk
from byom_sdk.cli import main as byom

CONFIG = """
[models.support-bot]
provider = "scripted"
description = "deterministic test double standing in for a real model"
replies = ["Ticket 4711 is about a failed refund; next step: escalate to billing."]
"""


def run() -> None:
    print("$ byom plugins")
    byom(["plugins"])
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "byom.toml"
        config.write_text(CONFIG)
        client = byom_sdk.Client.from_config(config)
        model = client.model("support-bot")
        reply = model.generate([{"role": "user", "content": "Summarise ticket 4711"}], max_tokens=50)
        print(f"\nreply: {reply.text}\nusage: {reply.usage}\nfinish: {reply.finish_reason}")
        print("stream:", "".join(e.text for e in model.stream("Summarise ticket 4711")
                                 if isinstance(e, byom_sdk.TextDelta)))
        client.close()


if __name__ == "__main__":
    run()
