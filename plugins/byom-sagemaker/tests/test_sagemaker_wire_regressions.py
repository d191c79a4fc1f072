"""Wire regressions the shared layer fixed for SageMaker: a read timeout in the middle of a
stream is a Timeout (urllib3's error comes unwrapped through botocore's event stream), a
unary answer cut mid-way is not sent again, and a TGI stream's server usage is read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel
from byom_sagemaker.testing import encode_payload_part

from byom_sdk import Client, GenerateRequest, TextDelta, Timeout, Unavailable, UsageEvent
from byom_sdk.testing import isolated_registry


class _Scripted(BaseHTTPRequestHandler):
    """A SageMaker runtime stand-in acting out one scenario per server."""

    scenario = "stall"
    calls: list[str]

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.calls.append(self.path)  # type: ignore[attr-defined]
        scenario = self.server.scenario  # type: ignore[attr-defined]
        if scenario == "cut":  # a unary answer that breaks half way
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'[{"generated_text": "half')
            self.wfile.flush()
            self.connection.close()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        records = [
            {"token": {"id": 1, "text": "Hel", "special": False}, "generated_text": None, "details": None},
            {
                "token": {"id": 2, "text": "lo", "special": False},
                "generated_text": "Hello",
                "details": {"finish_reason": "length", "generated_tokens": 2, "input_length": 9},
            },
        ]
        for index, record in enumerate(records):
            frame = encode_payload_part(b"data:" + json.dumps(record).encode() + b"\n\n")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            if scenario == "stall" and index == 0:
                time.sleep(3.0)  # longer than the client's read timeout
                return
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def runtime() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.daemon_threads = True
    server.calls = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(server: Any, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_name": "ep",
        "region": "eu-west-1",
        "codec": "tgi",
        "endpoint_url": f"http://127.0.0.1:{server.server_address[1]}",
        "credentials": {"access_key_id": "AKID", "secret_access_key": "secret"},
        **extra,
    }


def test_a_read_timeout_in_the_middle_of_a_stream_is_a_timeout(runtime):
    runtime.scenario = "stall"
    with SageMakerModel(SageMakerConfig(**_config(runtime, read_timeout=0.5))) as model:
        seen = []
        started = time.perf_counter()
        with pytest.raises(Timeout) as info:
            for event in model.stream("hi", max_tokens=2):
                seen.append(event)
        assert time.perf_counter() - started < 2.5
    assert seen == [TextDelta(text="Hel")]
    assert info.value.retryable is False and info.value.details["partial_text"] == "Hel"


def test_tgi_stream_usage_is_the_servers(runtime):
    runtime.scenario = "complete"
    with SageMakerModel(SageMakerConfig(**_config(runtime))) as model:
        events = list(model.stream(GenerateRequest(prompt="hi", max_tokens=2)))
    [usage] = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (9, 2, "server")


def test_a_unary_answer_cut_mid_way_is_not_sent_again(runtime):
    runtime.scenario = "cut"
    import byom_sagemaker._plugin as plugin

    with isolated_registry(plugin):
        client = Client(
            models={"m": {"provider": "sagemaker", **_config(runtime)}},
            policy={"allow_loopback": True, "audit": {"sink": "memory"}},
            retry={"max_attempts": 3, "initial_backoff": 0.0, "jitter": False},
        )
        with client, pytest.raises(Unavailable) as info:
            client.model("m").generate("hi")
    assert info.value.request_sent and info.value.attempts == 1
    assert len(runtime.calls) == 1  # the endpoint generated the answer once
