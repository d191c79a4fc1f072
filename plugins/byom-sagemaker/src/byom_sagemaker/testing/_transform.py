"""Offline SageMaker Batch Transform: a local container, a transform service that plays the
SageMaker control plane and runs jobs for real, and moto's S3 as the bucket.

moto stores a transform job as ``Completed`` the moment it is created and runs nothing, so
tests of a batch flow need the service's behaviour, not its bookkeeping:

- :class:`LocalContainer`: a bring-your-own-container server on 127.0.0.1 (``GET /ping``,
  ``GET /execution-parameters``, ``POST /invocations``) answering with a container
  personality (TGI, LMI, OpenAI, JumpStart, TEI) over any byom model; it logs every body it
  receives.
- :class:`LocalTransformService`: ``CreateTransformJob`` / ``DescribeTransformJob`` /
  ``StopTransformJob`` / ``ListTransformJobs`` / ``DescribeModel`` over the AWS JSON protocol
  (point a boto3 ``sagemaker`` client at :attr:`~LocalTransformService.url`). A job reads
  its input objects from S3, splits them by line, applies ``InputFilter``, calls the model's
  container at ``/invocations`` (``MaxConcurrentTransforms`` at once), joins and filters the
  answers (``JoinSource`` / ``OutputFilter``), and writes ``<object>.out`` to
  ``S3OutputPath`` — only for an object whose records all succeeded, as the service does.
- :class:`LocalS3`: moto's server on an ephemeral port, with :meth:`~LocalS3.stored` to
  read back (and grep) everything the bucket holds.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from byom_sdk import ByomError, Model

from ._personalities import ContainerFailure, Personality, personality_for

__all__ = ["LocalContainer", "LocalS3", "LocalTransformService", "TransformJob", "jsonpath"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Owner:
    """Runs a handler class on 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        httpd = _Server(("127.0.0.1", 0), handler)
        httpd.owner = self  # type: ignore[attr-defined]  # read by the handler
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# -- the container ------------------------------------------------------------------------------


class _ContainerHandler(_Handler):
    def do_GET(self) -> None:
        owner: LocalContainer = self.server.owner  # type: ignore[attr-defined]
        if self.path == "/ping":
            self._send(200, b"", "text/plain")
        elif self.path == "/execution-parameters":
            self._send(200, json.dumps(owner.execution_parameters).encode())
        else:
            self._send(404, b'{"message": "not found"}')

    def do_POST(self) -> None:
        owner: LocalContainer = self.server.owner  # type: ignore[attr-defined]
        body = self._body()
        if self.path != "/invocations":
            self._send(404, b'{"message": "not found"}')
            return
        owner._log(body)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            answer, content_type = owner.personality.invoke(owner.model, body, headers)
        except ContainerFailure as failure:
            self._send(failure.status, json.dumps(failure.body).encode())
        except ByomError as exc:
            self._send(500, json.dumps({"error": str(exc)}).encode())
        else:
            self._send(200, answer, content_type)


class LocalContainer(_Owner):
    """A model container on 127.0.0.1 as SageMaker runs it (``serve``): ``/ping``,
    ``/execution-parameters`` and ``/invocations``.

    :param codec: a container personality name (``tgi``, ``lmi``, ``openai``,
        ``jumpstart``, ``tei``; options as keywords) or a :class:`Personality`.
    :param model: the byom model that answers (default: a ``ScriptedModel`` echo).
    :param max_concurrent_transforms: what ``/execution-parameters`` advertises.
    """

    def __init__(
        self,
        codec: str | Personality = "tgi",
        model: Model | None = None,
        *,
        max_concurrent_transforms: int = 4,
        **options: Any,
    ) -> None:
        super().__init__()
        if model is None:
            from byom_sdk.testing import ScriptedModel

            model = ScriptedModel(model_id="container")
        self.model = model
        self.personality = codec if isinstance(codec, Personality) else personality_for(codec, **options)
        self.execution_parameters = {
            "MaxConcurrentTransforms": max_concurrent_transforms,
            "BatchStrategy": "SingleRecord",
            "MaxPayloadInMB": 6,
        }
        self._lock = threading.Lock()
        #: every body POSTed to /invocations, in arrival order.
        self.received: list[bytes] = []

    def _log(self, body: bytes) -> None:
        with self._lock:
            self.received.append(body)

    def received_bytes(self) -> bytes:
        with self._lock:
            return b"\n".join(self.received)

    def start(self) -> LocalContainer:
        if self._httpd is None:
            self._serve(_ContainerHandler)
        return self

    def __enter__(self) -> LocalContainer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- JSONPath, the subset DataProcessing uses -----------------------------------------------------

_KEYS = re.compile(r"^\$\[\s*('[^']*'(?:\s*,\s*'[^']*')*)\s*\]$")


def jsonpath(value: Any, expression: str) -> Any:
    """``$``, ``$.a.b`` (a member) or ``$['a','b']`` (an object of those members): the
    filters a byom batch job uses.

    :raises ValueError: another expression, or a member that is missing.
    """
    expression = expression.strip()
    if expression == "$":
        return value
    keys = _KEYS.match(expression)
    if keys is not None:
        names = [name.strip().strip("'") for name in keys.group(1).split(",")]
        if not isinstance(value, Mapping):
            raise ValueError(f"{expression} applied to a non-object")
        return {name: value[name] for name in names if name in value}
    if expression.startswith("$."):
        current = value
        for part in expression[2:].split("."):
            if not isinstance(current, Mapping) or part not in current:
                raise ValueError(f"{expression}: no member {part!r}")
            current = current[part]
        return current
    raise ValueError(f"JSONPath {expression!r} is not supported by the local transform service")


# -- the service --------------------------------------------------------------------------------


@dataclass
class TransformJob:
    """A transform job as the local service keeps it."""

    name: str
    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    records: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        out = {
            **self.request,
            "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{self.name}",
            "TransformJobStatus": self.status,
            "CreationTime": self.created,
        }
        if self.started is not None:
            out["TransformStartTime"] = self.started
        if self.ended is not None:
            out["TransformEndTime"] = self.ended
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason[:1024]
        return out


class _ServiceError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


class _ServiceHandler(_Handler):
    def do_POST(self) -> None:
        owner: LocalTransformService = self.server.owner  # type: ignore[attr-defined]
        target = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        try:
            request = json.loads(self._body() or b"{}")
            owner.calls.append((target, request))
            answer = owner._dispatch(target, request)
        except _ServiceError as error:
            self._send(
                error.status,
                json.dumps({"__type": error.kind, "message": error.message}).encode(),
                "application/x-amz-json-1.1",
            )
        else:
            self._send(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")


class LocalTransformService(_Owner):
    """The SageMaker control plane for transform jobs, running them for real.

    :param s3_endpoint_url: where the jobs read and write (a :class:`LocalS3` url).
    :param credentials: ``access_key_id`` / ``secret_access_key`` for that S3.
    :param region: the region the service claims.
    :param container_retries: retries of a failed ``/invocations`` when the job does not
        set ``InvocationsMaxRetries`` (the service's default is 3).
    """

    def __init__(
        self,
        s3_endpoint_url: str,
        *,
        credentials: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        container_retries: int = 3,
    ) -> None:
        super().__init__()
        self.s3_endpoint_url = s3_endpoint_url
        self.credentials = dict(credentials or {"access_key_id": "testing", "secret_access_key": "testing"})
        self.region = region
        self.container_retries = container_retries
        self.models: dict[str, str] = {}
        self.jobs: dict[str, TransformJob] = {}
        #: every control-plane call, ``(operation, request)``, in arrival order.
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def add_model(self, name: str, container_url: str) -> None:
        """Register SageMaker Model ``name``, served by the container at ``container_url``."""
        self.models[name] = container_url.rstrip("/")

    def start(self) -> LocalTransformService:
        if self._httpd is None:
            self._serve(_ServiceHandler)
        return self

    def __enter__(self) -> LocalTransformService:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for job in list(self.jobs.values()):
            job.stop.set()
        self.stop()

    # -- the API -------------------------------------------------------------------------------

    def _dispatch(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "CreateTransformJob":
            return self._create(request)
        if operation == "DescribeTransformJob":
            return self._job(request).describe()
        if operation == "StopTransformJob":
            job = self._job(request)
            if job.status == "InProgress":
                job.status = "Stopping"
                job.stop.set()
            return {}
        if operation == "ListTransformJobs":
            return {
                "TransformJobSummaries": [
                    {"TransformJobName": j.name, "TransformJobStatus": j.status, "CreationTime": j.created}
                    for j in self.jobs.values()
                ]
            }
        if operation == "DescribeModel":
            name = request.get("ModelName", "")
            if name not in self.models:
                raise _ServiceError("ValidationException", f'Could not find model "{name}".')
            return {
                "ModelName": name,
                "ModelArn": f"arn:aws:sagemaker:{self.region}:123456789012:model/{name}",
                "CreationTime": time.time(),
                "PrimaryContainer": {"Image": "local"},
            }
        raise _ServiceError("UnknownOperationException", f"{operation} is not served by the local transform service")

    def _job(self, request: Mapping[str, Any]) -> TransformJob:
        job = self.jobs.get(str(request.get("TransformJobName")))
        if job is None:
            raise _ServiceError("ValidationException", f"Could not find job {request.get('TransformJobName')!r}")
        return job

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        for name in ("TransformJobName", "ModelName", "TransformInput", "TransformOutput", "TransformResources"):
            if name not in request:
                raise _ServiceError("ValidationException", f"{name} is required")
        if request["ModelName"] not in self.models:
            raise _ServiceError("ValidationException", f'Could not find model "{request["ModelName"]}".')
        with self._lock:
            if request["TransformJobName"] in self.jobs:
                raise _ServiceError("ResourceInUse", f"Job {request['TransformJobName']} already exists")
            job = TransformJob(request["TransformJobName"], request)
            self.jobs[job.name] = job
        threading.Thread(target=self._execute, args=(job,), daemon=True, name=f"transform-{job.name}").start()
        return {"TransformJobArn": job.describe()["TransformJobArn"]}

    # -- running a job ------------------------------------------------------------------------------

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.credentials["access_key_id"],
            aws_secret_access_key=self.credentials["secret_access_key"],
            config=Config(s3={"addressing_style": "path"}),
        )

    def _execute(self, job: TransformJob) -> None:
        job.started = time.time()
        try:
            failure = self._run(job)
        except Exception as exc:  # noqa: BLE001 - the job fails with a reason, as the service's do
            failure = f"AlgorithmError: {type(exc).__name__}: {exc}"
        job.ended = time.time()
        if job.stop.is_set():
            job.status = "Stopped"
        elif failure:
            job.status, job.failure_reason = "Failed", failure
        else:
            job.status = "Completed"

    def _run(self, job: TransformJob) -> str | None:
        request = job.request
        source = request["TransformInput"]["DataSource"]["S3DataSource"]
        bucket, prefix = _split_s3(source["S3Uri"])
        out_bucket, out_prefix = _split_s3(request["TransformOutput"]["S3OutputPath"])
        split = request["TransformInput"].get("SplitType", "None")
        processing = request.get("DataProcessing") or {}
        container = self.models[request["ModelName"]]
        s3 = self.s3_client()
        concurrency = int(request.get("MaxConcurrentTransforms") or _execution_parameters(container)) or 1
        retries = (request.get("ModelClientConfig") or {}).get("InvocationsMaxRetries", self.container_retries)
        keys = [
            str(item["Key"])
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        ]
        failures: list[str] = []
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        for key in keys:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            records = [line for line in data.splitlines() if line.strip()] if split == "Line" else [data]
            headers = {
                "Content-Type": request["TransformInput"].get("ContentType", "application/json"),
                "Accept": request["TransformOutput"].get("Accept", "application/json"),
            }

            def one(record: bytes, headers: dict[str, str] = headers) -> bytes:
                return self._record(container, record, processing, headers, int(retries))

            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(_catching(one), records))
            job.records += len(records)
            bad = [(i, r) for i, r in enumerate(results) if isinstance(r, Exception)]
            if job.stop.is_set():
                return None
            if bad:
                index, error = bad[0]
                failures.append(f"ClientError: record {index + 1} of s3://{bucket}/{key}: {error}")
                continue  # the object's output is not written: the service keeps no partial objects
            name = key[len(base) :] if key.startswith(base) else key.rsplit("/", 1)[-1]
            body = b"\n".join(results) + b"\n"
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{name}.out".lstrip("/"), Body=body)
        return "; ".join(failures) or None

    def _record(
        self, container: str, record: bytes, processing: Mapping[str, Any], headers: dict[str, str], retries: int
    ) -> bytes:
        source: Any = None
        payload = record
        if processing.get("InputFilter") or processing.get("JoinSource") == "Input":
            source = json.loads(record)
            payload = json.dumps(jsonpath(source, processing.get("InputFilter", "$"))).encode()
        status, answer = 0, b""
        for _ in range(retries + 1):
            status, answer = _post(f"{container}/invocations", payload, headers)
            if status < 500:
                break
        if status != 200:
            raise RuntimeError(f"the container answered {status}: {answer[:300].decode('utf-8', 'replace')}")
        output: Any
        try:
            output = json.loads(answer)
        except ValueError:
            output = answer.decode("utf-8", "replace")
        if processing.get("JoinSource") == "Input":
            joined = (
                {**source, "SageMakerOutput": output}
                if isinstance(source, dict)
                else {"SageMakerInput": source, "SageMakerOutput": output}
            )
            output = joined
        return json.dumps(jsonpath(output, processing.get("OutputFilter", "$"))).encode()


def _catching(fn: Any) -> Any:
    def wrapped(record: bytes) -> Any:
        try:
            return fn(record)
        except Exception as exc:  # noqa: BLE001 - collected per record, reported in FailureReason
            return exc

    return wrapped


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request("POST", parts.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _execution_parameters(container: str) -> int:
    parts = urllib.parse.urlsplit(container)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", "/execution-parameters")
        response = connection.getresponse()
        if response.status != 200:
            return 1
        return int(json.loads(response.read()).get("MaxConcurrentTransforms") or 1)
    except (OSError, ValueError):
        return 1
    finally:
        connection.close()


# -- S3 -------------------------------------------------------------------------------------------


class LocalS3:
    """moto's S3 on 127.0.0.1 (an ephemeral port), for batch tests.

    ``stored()`` reads back every object of every bucket: what a test greps to prove what
    reached the bucket.
    """

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self._server: Any = None
        self.url = ""

    def start(self) -> LocalS3:
        from moto.server import ThreadedMotoServer

        if self._server is None:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def credentials(self) -> dict[str, str]:
        return {"access_key_id": "testing", "secret_access_key": "testing"}

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> str:
        client = self.client()
        if self.region == "us-east-1":
            client.create_bucket(Bucket=name)
        else:
            client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        return name

    def stored(self, bucket: str | None = None) -> Iterator[tuple[str, bytes]]:
        """``("bucket/key", body)`` for every object of ``bucket`` (default: every bucket).

        moto keeps its state per process, across servers: name a bucket of your own."""
        client = self.client()
        names = [bucket] if bucket else [b["Name"] for b in client.list_buckets().get("Buckets", ())]
        for name in names:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", ()):
                    yield f"{name}/{item['Key']}", client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
