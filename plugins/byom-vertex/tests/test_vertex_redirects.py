"""The REST paths never follow a redirect (independent probe: google-auth's
AuthorizedSession followed a 307 from the gated host to us-central1 and re-POSTed the
prompt there); and gRPC targets that name a resolver (``unix:443``) are refused."""

from __future__ import annotations

import http.server
import threading

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk import BadRequest, ConfigError


@pytest.fixture
def redirecting():
    """A server on 127.0.0.1 that answers every POST with a 307 to another local server
    (which plays a region the policy does not allow); yields (its URL, the other server)."""
    with LocalVertexServer(location="us-central1") as other:

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{other.rest_port}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", other
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("rest_raw", ["http", "gapic"])
@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
def test_a_redirect_is_refused_and_the_prompt_goes_nowhere_else(redirecting, rest_raw, stream):
    url, other = redirecting
    config = {
        "provider": "vertex",
        "project": "test-project",
        "location": "europe-west4",
        "endpoint_id": "1234567890",
        "transport": "rest",
        "codec": "vllm",
        "api_endpoint": url,
        "insecure": True,
        "rest_raw": rest_raw,
        "credentials": {"kind": "anonymous"},
    }
    policy = {"allowed_jurisdictions": ["EU"], "allow_loopback": True, "audit": {"sink": "memory"}}
    with byom_sdk.Client(models={"m": config}, policy=policy) as client:
        model = client.model("m")
        with pytest.raises(BadRequest, match=r"answered 307 with a redirect to .*byom does not follow") as info:
            if stream:
                list(model.stream("hello"))
            else:
                model.generate("hello")
        assert info.value.code == "redirect"
        assert info.value.request_sent  # the configured host received it: no refusal before sending
    assert other.count() == 0  # the redirect target never saw a request


@pytest.mark.parametrize("endpoint", ["unix:443", "unix-abstract:443", "UNIX:443", "vsock:1:443", "dns:8080"])
def test_a_grpc_resolver_target_is_not_a_host(endpoint):
    config = {
        "provider": "vertex",
        "project": "test-project",
        "location": "europe-west4",
        "endpoint_id": "1",
        "api_endpoint": endpoint,
        "credentials": {"kind": "anonymous"},
    }
    with pytest.raises(ConfigError, match=r"field 'api_endpoint'.*gRPC reads '[a-z-]+:' as a name resolver"):
        byom_sdk.Client(models={"m": config}, policy={"audit": {"sink": "memory"}}).model("m")
