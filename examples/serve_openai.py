"""Serve a byom model over the OpenAI API, with the trust boundary in the path, and call it
with the real ``openai`` client.

    pip install "byom-sdk[serve]" openai
    python examples/serve_openai.py

The same app runs from the command line as ``byom serve --profile openai`` (docs/serve.md).
Here the server runs on a thread of this process, on 127.0.0.1 and a free port; the model
is the scripted test double, which echoes what it received, so you can see that the email
address reached the model as a placeholder while the caller gets it back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import openai

import byom_sdk
from byom_sdk.serve import ServerThread, create_app
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import read_audit

KEY = "sk-demo-acme-crm-0001"  # in production: key_env = "..." in [[serve.api_keys]]


def main() -> None:
    support_bot = ScriptedModel()
    with tempfile.TemporaryDirectory() as tmp:
        audit_path = Path(tmp) / "audit.sqlite"
        policy = {"allow_loopback": True, "audit": {"path": str(audit_path)}}
        with byom_sdk.Client(models={"support-bot": support_bot}, policy=policy) as client:
            app = create_app(
                client,
                profile="openai",
                api_keys=[{"name": "crm", "key": KEY, "tenant": "acme", "user": "crm-app"}],
            )
            with ServerThread(app) as server:
                call_it(server.url, support_bot)
        for entry in read_audit(audit_path, newest_first=False):
            record = entry.record
            if record.get("kind") == "intent":
                print(
                    f"audit: tenant={record['tenant']} user={record['user']} "
                    f"surface={record['tags']['surface']} entities={record['entities']}"
                )


def call_it(url: str, support_bot: ScriptedModel) -> None:
    with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as api:
        print("models:", [m.id for m in api.models.list()])
        reply = api.chat.completions.create(
            model="support-bot",
            messages=[{"role": "user", "content": "Summarise ticket 4711 from jane.doe@example.com"}],
        )
        print("reply:", reply.choices[0].message.content)
        print("the model saw:", support_bot.requests[-1].messages[-1].content)

        stream = api.chat.completions.create(
            model="support-bot",
            messages=[{"role": "user", "content": "Stream the status of ticket 4711"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
        print("streamed:", "".join(pieces), f"({usage.completion_tokens} tokens)" if usage else "")

    with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-not-a-real-key", max_retries=0) as stranger:
        try:
            stranger.models.list()
        except openai.AuthenticationError as exc:
            print(f"wrong key: {exc.status_code} {exc.code}")


if __name__ == "__main__":
    main()
