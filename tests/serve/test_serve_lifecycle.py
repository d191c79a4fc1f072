"""A request's life: the client leaving cancels its generation (audited as cancelled),
the per-request deadline, graceful shutdown draining streams, configuration, keys, the
``byom serve`` entrypoint as SageMaker and Vertex start it, and what ``import`` costs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import ACME_KEY, KEYS, PacedModel, audited_calls

import byom_sdk
from byom_sdk.serve import ServerThread, create_app, load_settings
from byom_sdk.testing import ScriptedModel

AUTH = {"Authorization": f"Bearer {ACME_KEY}"}
CHAT = {"model": "paced", "messages": [{"role": "user", "content": "go"}]}


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def outcomes(client):
    return [c.get("outcome") for c in audited_calls(client)]


def test_a_client_leaving_mid_stream_cancels_the_generation(make_client, start_server):
    model = PacedModel(" ".join(f"w{i}" for i in range(50)), pause=0.05)
    client = make_client({"paced": model})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    with (
        httpx.Client(base_url=server.url) as http,
        http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH) as response,
    ):
        first = next(response.iter_lines())
        assert first.startswith("data: ")
    # The connection is closed: the server notices, closes the model's stream, audits it.
    assert wait_for(lambda: outcomes(client) == ["cancelled"]), outcomes(client)
    assert model.finished == 0
    [call] = audited_calls(client)
    assert call["tenant"] == "acme" and call["sent"] is True


def test_a_client_leaving_a_unary_call_cancels_it(make_client, start_server):
    model = PacedModel(pause=3.0)
    client = make_client({"paced": model})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH, timeout=0.3)
    assert wait_for(lambda: outcomes(client) == ["cancelled"], timeout=2.5), outcomes(client)
    assert model.started == 1 and model.finished == 0


def test_the_request_deadline(make_client, start_server):
    client = make_client({"paced": PacedModel(" ".join(["w"] * 40), pause=0.1)}, retry={"max_attempts": 1})
    app = create_app(client, profile=["openai", "sagemaker"], api_keys=KEYS, settings={"request_timeout": 1.0})
    server = start_server(app)
    unary = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert unary.status_code == 200  # one pause: well within the deadline; a stream of 40 pauses is not
    streamed = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH)
    assert streamed.status_code == 200
    events = [line for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert '"type":"timeout"' in events[-1] and "[DONE]" not in streamed.text  # cut, and said so
    tgi = httpx.post(server.url + "/invocations", json={"inputs": "x", "parameters": {}, "stream": True})
    assert '"error_type":"generation"' in tgi.text.splitlines()[-2]
    assert outcomes(client) == ["ok", "cancelled", "cancelled"]


def test_a_slow_unary_call_times_out_with_504(make_client, start_server):
    client = make_client({"paced": PacedModel(pause=2.0)})
    server = start_server(create_app(client, profile="openai", api_keys=KEYS, settings={"request_timeout": 0.3}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout"
    assert response.headers["x-should-retry"] == "false"
    assert outcomes(client) == ["cancelled"]


def test_shutdown_drains_streams_in_flight(make_client):
    client = make_client({"paced": PacedModel(" ".join(["w"] * 8), pause=0.1)})
    server = ServerThread(create_app(client, profile="openai", api_keys=KEYS), drain_timeout=10).start()
    try:
        with (
            httpx.Client(base_url=server.url) as http,
            http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH) as response,
        ):
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            stopping = threading.Thread(target=server.stop)
            stopping.start()  # SIGTERM's equivalent, while the stream is half-way
            assert wait_for(lambda: server.server.should_exit)
            rest = [line for line in lines if line]
        assert rest[-1] == "data: [DONE]"  # the stream finished
        stopping.join(10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/health")  # and nothing new is accepted
    finally:
        server.stop()
    assert outcomes(client) == ["ok"]


def test_settings_from_byom_toml(tmp_path, monkeypatch):
    config = tmp_path / "byom.toml"
    config.write_text(
        textwrap.dedent("""
            [models.bot]
            provider = "scripted"

            [serve]
            profile = ["openai", "sagemaker"]
            request_timeout = 30
            container_tenant = "${TENANT:-platform}"

            [[serve.api_keys]]
            name = "einstein"
            key_env = "BYOM_TEST_KEY"
            tenant = "acme"
        """),
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.profiles == ("openai", "sagemaker") and settings.container_tenant == "platform"
    with byom_sdk.Client.from_config(config) as client:  # [serve] is a known table
        with pytest.raises(byom_sdk.ConfigError, match="BYOM_TEST_KEY"):
            create_app(client, settings=settings, environ={})
        monkeypatch.setenv("BYOM_TEST_KEY", "sk-from-the-environment")
        create_app(client, settings=settings)
    config.write_text('[serve]\nprofile = "openai"\nport = "eighty"\n', encoding="utf-8")
    with pytest.raises(byom_sdk.ConfigError) as info:
        load_settings(config)
    assert info.value.field == "serve.port"
    config.write_text('[[serve.api_keys]]\nkey = "short"\ntenant = "x"\n', encoding="utf-8")
    with pytest.raises(byom_sdk.ConfigError, match="shorter than 12"):
        load_settings(config)


def test_create_app_refuses_keyless_public_routes_and_unknown_models(make_client):
    client = make_client({"bot": ScriptedModel()})
    with pytest.raises(byom_sdk.ConfigError, match="needs API keys"):
        create_app(client, profile="open-connector")
    with pytest.raises(byom_sdk.ConfigError, match="no model named 'ghost'"):
        create_app(client, profile="sagemaker", models=["ghost"])
    with pytest.raises(byom_sdk.ConfigError, match="unknown profile"):
        create_app(client, profile="grpc")
    create_app(client, profile="openai", settings={"allow_unauthenticated": True})
    create_app(client, profile="sagemaker")  # container routes rely on the platform's IAM


def test_keys_stored_as_digests(make_client, start_server):
    import hashlib

    digest = hashlib.sha256(b"sk-hashed-only-key-99").hexdigest()
    client = make_client({"bot": ScriptedModel()})
    app = create_app(client, profile="openai", api_keys=[{"key_sha256": digest, "tenant": "initech"}])
    server = start_server(app)
    ok = httpx.get(server.url + "/v1/models", headers={"Authorization": "Bearer sk-hashed-only-key-99"})
    assert ok.status_code == 200
    assert (
        httpx.get(server.url + "/v1/models", headers={"Authorization": "Bearer sk-hashed-only-key-98"}).status_code
        == 401
    )


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _byom():
    script = Path(sys.executable).with_name("byom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "byom_sdk.cli"]


@pytest.mark.parametrize("platform", ["sagemaker", "vertex"])
def test_the_serve_entrypoint_as_the_platform_starts_it(tmp_path, platform):
    """``docker run IMAGE serve`` with ENTRYPOINT ["byom"]: the container's environment
    says where to listen and what to serve; SIGTERM drains and exits 0."""
    audit = tmp_path / "audit.sqlite"
    (tmp_path / "byom.toml").write_text(
        textwrap.dedent(f"""
            [models.bot]
            provider = "scripted"

            [trust]
            allow_loopback = true
            audit = {{ path = "{audit.as_posix()}" }}

            [serve]
            container_tenant = "{platform}-platform"
        """),
        encoding="utf-8",
    )
    port = _free_port()
    env = {**os.environ, "BYOM_CONFIG": str(tmp_path / "byom.toml"), "BYOM_SERVE_PROFILE": platform}
    if platform == "sagemaker":
        env["SAGEMAKER_BIND_TO_PORT"] = str(port)
        health, predict = "/ping", "/invocations"
        body = {"inputs": "from the platform", "parameters": {}}
    else:
        env.update(AIP_HTTP_PORT=str(port), AIP_HEALTH_ROUTE="/v1/endpoints/1/deployedModels/2")
        env["AIP_PREDICT_ROUTE"] = "/v1/endpoints/1/deployedModels/2:predict"
        health, predict = env["AIP_HEALTH_ROUTE"], env["AIP_PREDICT_ROUTE"]
        body = {"instances": [{"prompt": "from the platform", "raw_response": True}]}
    process = subprocess.Popen(
        [*_byom(), "serve", "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _status(url + health) == 200, timeout=30), (
            process.stderr.read() if process.poll() else ""
        )
        answer = httpx.post(url + predict, json=body).json()
        text = answer[0]["generated_text"] if platform == "sagemaker" else answer["predictions"][0]
        assert text == "echo: from the platform"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"byom serve: {platform} on http://127.0.0.1:{port}" in err
    from byom_sdk.trust import read_audit

    tenants = {e.record.get("tenant") for e in read_audit(audit) if e.record.get("kind") == "intent"}
    assert tenants == {f"{platform}-platform"}


def _status(url):
    try:
        return httpx.get(url, timeout=1).status_code
    except httpx.HTTPError:
        return None


def test_the_cli_refuses_a_keyless_openai_server(tmp_path):
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n', encoding="utf-8")
    done = subprocess.run(
        [*_byom(), "--config", str(tmp_path / "byom.toml"), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "needs API keys" in done.stderr and "Traceback" not in done.stderr


def test_import_byom_sdk_does_not_load_the_server():
    code = (
        "import sys, byom_sdk; byom_sdk.Client; "
        "print(any(m.startswith(('starlette', 'uvicorn', 'byom_sdk.serve')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_the_docker_image_runs_byom_serve_with_a_valid_config():
    root = Path(__file__).resolve().parents[2]
    dockerfile = (root / "docker" / "Dockerfile.onnx").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["byom"]' in dockerfile and 'CMD ["serve"]' in dockerfile  # `docker run IMAGE serve`
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            source = line.split()[1]
            assert (root / source).exists(), f"the Dockerfile copies {source}, which does not exist"
    settings = load_settings(root / "docker" / "byom.onnx.toml")
    assert settings.profiles == ("sagemaker", "vertex")
    assert settings.drain_timeout < 30  # SageMaker kills the container 30 s after SIGTERM


def test_a_model_that_cannot_be_built_stops_the_server(tmp_path):
    pytest.importorskip("byom_onnx")
    (tmp_path / "bogus.gguf").write_text("not a model", encoding="utf-8")
    (tmp_path / "byom.toml").write_text(
        '[models.bad]\nprovider = "onnx"\npath = "bogus.gguf"\n\n[trust]\naudit = { sink = "memory" }\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [*_byom(), "--config", str(tmp_path / "byom.toml"), "serve", "--profile", "sagemaker", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    # The socket was up first (SageMaker's 250 ms), then building the model failed: the
    # server stops by itself and says why.
    assert "byom serve: sagemaker on http://127.0.0.1:" in done.stderr
    assert done.returncode != 0 and "is not a GGUF file" in done.stderr
    assert "Traceback" not in done.stderr


def test_urls_in_log_records_lose_their_user_info_and_query_values():
    import logging

    from byom_sdk.serve._cli import _RedactUrls

    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
        ("POST", "http://user:hunter2@127.0.0.1:9/v1/chat/completions?api_key=sk-SECRET", "HTTP/1.1 200 OK"), None,
    )  # fmt: skip
    assert _RedactUrls().filter(record)
    message = record.getMessage()
    assert "hunter2" not in message and "sk-SECRET" not in message
    assert "http://***@127.0.0.1:9/v1/chat/completions?api_key=***" in message and "200 OK" in message


def test_a_port_in_use_is_a_one_line_error_naming_host_and_port(tmp_path, capsys):
    import socket

    from byom_sdk.cli import main

    config = '[models.bot]\nprovider = "scripted"\n\n[serve]\nallow_unauthenticated = true\n'
    (tmp_path / "byom.toml").write_text(config)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "-c", str(tmp_path / "byom.toml"), "--port", str(port)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert f"cannot listen on 127.0.0.1:{port}" in err
