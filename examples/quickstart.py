"""Quickstart: a Client from an inline config, generate, stream, embed, async twin."""

from __future__ import annotations

import asyncio

import byom_sdk

client = byom_sdk.Client(
    models={"support-bot": {"provider": "scripted", "replies": ["Ticket 4711: refund failed; escalate."]}}
)
bot = client.model("support-bot")

reply = bot.generate([{"role": "user", "content": "Summarise ticket 4711"}], max_tokens=50)
print(reply.text, reply.usage, reply.finish_reason)

for event in bot.stream("Summarise ticket 4711", max_tokens=3):
    print(type(event).__name__, event)

print(bot.embed(["refund", "billing"]).dimension)
print(asyncio.run(bot.agenerate("again")).text)
client.close()
