"""A loopback OpenAI-compatible server for tests, backed by any byom ``Model``.

::

    from byom_openai_compat.testing import OpenAICompatServer

    with OpenAICompatServer() as server:            # ScriptedModel behind it by default
        config = OpenAICompatConfig(base_url=server.base_url, model="scripted")
        faulty = OpenAICompatConfig(base_url=server.fault_url("throttled"), model="scripted")
"""

from __future__ import annotations

from ._server import FAULT_SCENARIOS, OpenAICompatServer

__all__ = ["FAULT_SCENARIOS", "OpenAICompatServer"]
