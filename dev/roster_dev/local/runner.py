"""Delivers HTTP requests, SQS messages and Lambda Invoke requests to the real handlers, in the event shapes AWS
uses.

Each function of `template.yaml` is imported from its `CodeUri`; its `Api` and `SQS` events say
what triggers it, exactly as in a deployment, and `lambda.invoke` by its logical id reaches it as Lambda's
Invoke API would (the template names a function to its callers with `!Ref`).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.awslambda.models import LambdaBackend
from moto.dynamodb.models.table import StreamShard
from moto.sqs.models import Queue, sqs_backends

from roster_dev.local.stack import LocalStack, project_root
from roster_dev.local.template import ACCOUNT, REGION, resolve

Handler = Callable[[dict[str, Any], Any], Any]
MAX_API_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
RETRY_DELAY_SECONDS = 1  # failed messages come back sooner than the deployed visibility timeout
IDLE_POLL_SECONDS = 30.0  # an idle poller looks at the queues at least this often, new work or not
STALL_SECONDS = 300.0  # a wait fails only after this long without any delivery or change in what is pending

_new_work: list[threading.Event] = []
_work_taken = [0]  # messages and stream records moto has taken so far


def _signals_new_work(add: Callable[..., None]) -> Callable[..., None]:
    def call(*args: Any, **kwargs: Any) -> None:
        add(*args, **kwargs)
        _work_taken[0] += 1
        for event in _new_work:
            event.set()

    return call


def _watch_for_new_work(event: threading.Event) -> None:
    """Wake `event` whenever moto takes a message or a stream record, from this process or another."""
    if not getattr(Queue, "_roster_watched", False):
        Queue.add_message = _signals_new_work(Queue.add_message)  # type: ignore[method-assign]
        StreamShard.add = _signals_new_work(StreamShard.add)  # type: ignore[method-assign]
        Queue._roster_watched = True  # type: ignore[attr-defined]
    _new_work.append(event)


_invocable: dict[str, Callable[[dict[str, Any]], Any]] = {}


def _route_invokes() -> None:
    """Answer moto's Lambda Invoke (in-process or through its server) with the runner's handlers: the result as
    the payload, or a raised error as Lambda reports one (`X-Amz-Function-Error: Unhandled`)."""
    if getattr(LambdaBackend, "_roster_routed", False):
        return
    original = LambdaBackend.invoke

    def invoke(
        backend: LambdaBackend, name: str, qualifier: str | None, body: Any, headers: Any, answer: Any
    ) -> str | bytes | None:
        handler = _invocable.get(name.rsplit(":", 1)[-1])  # a name or an ARN
        if handler is None:
            return original(backend, name, qualifier, body, headers, answer)
        try:
            return json.dumps(handler(json.loads(body or b"null")))
        except Exception as error:  # every failure of a function is its caller's to see
            answer["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})

    LambdaBackend.invoke = invoke  # type: ignore[method-assign,assignment]
    LambdaBackend._roster_routed = True  # type: ignore[attr-defined]


class Stalled(TimeoutError):
    """Nothing moved for a long while: names what was awaited and what is still pending."""


@dataclass
class _Watch:
    """Follows a runner's deliveries and pending messages during a wait; raises `Stalled` when both stand still."""

    runner: Runner
    what: str
    stall: float
    deliveries: int = -1
    pending: dict[str, int] | None = None
    moved: float = 0.0
    looked: float = 0.0

    def look(self) -> None:
        now = time.monotonic()
        if self.runner.deliveries != self.deliveries:
            self.deliveries, self.moved = self.runner.deliveries, now
            return
        if now - self.looked < 5:  # pending messages are counted now and then: it costs a call per queue
            return
        self.looked = now
        pending = self.runner.waiting()
        if pending != self.pending:
            self.pending, self.moved = pending, now
        elif now - self.moved > self.stall:
            raise Stalled(f"{self.what}: nothing moved for {self.stall:.0f} s; pending: {pending or 'no messages'}")


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 30

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class QueueTrigger:
    function: str
    queue_url: str
    batch_size: int


@dataclass
class StreamTrigger:
    """A DynamoDB stream read from where the runner started, as an event source mapping does."""

    function: str
    stream_arn: str
    batch_size: int
    iterator: str | None = None


class Runner:
    """Runs the template's functions in this process against the local stack."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.handlers: dict[str, Handler] = {}
        self.timeouts: dict[str, int] = {}
        self.api_function: str | None = None
        self.queues: list[QueueTrigger] = []
        self.streams: list[StreamTrigger] = []
        self._api_lock = threading.Lock()  # a Lambda container serves one request at a time
        self._stop = threading.Event()
        self._new_work = threading.Event()  # wakes the background poller
        self._wake = threading.Event()  # wakes a foreground wait
        self._threads: list[threading.Thread] = []
        self._http: ThreadingHTTPServer | None = None
        self.deliveries = 0  # batches handed to a handler, whether it succeeded or not
        self.invoked: Counter[str] = Counter()  # calls of each function, whatever triggered them
        self._caught_up_with = -1  # the work count at the start of the poller's last round that found nothing
        self.sqs = stack.client("sqs")
        self.dynamodb_streams = stack.client("dynamodbstreams")
        self._load()
        _route_invokes()
        _invocable.update({name: functools.partial(self.invoke, name) for name in self.handlers})
        _watch_for_new_work(self._new_work)
        _watch_for_new_work(self._wake)

    def _load(self) -> None:
        globals_ = self.stack.template.body.get("Globals", {}).get("Function", {})
        functions = self.stack.template.resources("AWS::Serverless::Function")
        for name, props in functions.items():
            module_name, _, attribute = props["Handler"].rpartition(".")
            path = project_root() / props["CodeUri"] / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"roster_function_{name}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.handlers[name] = getattr(module, attribute)
            self.timeouts[name] = int(props.get("Timeout", globals_.get("Timeout", 3)))
            for event in props.get("Events", {}).values():
                if event["Type"] == "Api":
                    self.api_function = name
                elif event["Type"] == "SQS":
                    arn = resolve(event["Properties"]["Queue"], self.stack.refs, self.stack.attributes)
                    queue = arn.rsplit(":", 1)[1]
                    size = int(event["Properties"].get("BatchSize", 10))
                    self.queues.append(QueueTrigger(name, self.stack.refs[queue], size))
                elif event["Type"] == "DynamoDB":
                    arn = resolve(event["Properties"]["Stream"], self.stack.refs, self.stack.attributes)
                    size = int(event["Properties"].get("BatchSize", 100))
                    self.streams.append(StreamTrigger(name, arn, size))

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.invoked[function] += 1
        return self.handlers[function](event, LambdaContext(function, timeout_seconds=self.timeouts[function]))

    # --- API Gateway --------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
        body: bytes | None = None,
    ) -> dict[str, Any]:
        """One request through API Gateway's REST proxy event into the API function."""
        assert self.api_function is not None, "template.yaml declares no Api event"
        if body is not None and len(body) > MAX_API_BODY:
            return {"statusCode": 413, "headers": {}, "body": json.dumps({"message": "Request Too Long"})}
        headers = headers or {}
        text = body.decode("utf-8", errors="replace") if body else None
        event = {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {key: [value] for key, value in headers.items()},
            "queryStringParameters": {key: values[-1] for key, values in query.items()} if query else None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": method,
                "path": f"/prod{path}",
                "stage": "prod",
                "requestId": str(uuid.uuid4()),
                "accountId": ACCOUNT,
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": text,
            "isBase64Encoded": False,
        }
        with self._api_lock:
            response: dict[str, Any] = self.invoke(self.api_function, event)
        return response

    def serve(self, port: int = 0) -> str:
        """Serve the API over HTTP in the background; returns the base URL."""
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                response = runner.api(
                    self.command,
                    parts.path,
                    headers=dict(self.headers.items()),
                    query=parse_qs(parts.query) if parts.query else None,
                    body=body,
                )
                payload = response.get("body") or ""
                data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
                self.send_response(int(response["statusCode"]))
                for key, value in (response.get("headers") or {}).items():
                    self.send_header(key, str(value))
                for key, values in (response.get("multiValueHeaders") or {}).items():
                    for value in values:
                        self.send_header(key, str(value))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def __getattr__(self, name: str) -> Any:
                """Every method (`do_GET`, `do_TRACE`, ...) goes to the API, which answers each itself."""
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints its own progress
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # --- SQS --------------------------------------------------------------------------------

    def pump(self, trigger: QueueTrigger, wait_seconds: int = 0) -> int:
        """Deliver one batch from a queue, as Lambda's event source mapping would; returns its size."""
        sqs = self.sqs
        received: list[dict[str, Any]] = []
        while len(received) < trigger.batch_size:  # a batch gathers up to BatchSize, ten messages a receive
            more = sqs.receive_message(
                QueueUrl=trigger.queue_url,
                MaxNumberOfMessages=min(trigger.batch_size - len(received), 10),
                WaitTimeSeconds=wait_seconds if not received else 0,
                AttributeNames=["All"],
            ).get("Messages", [])
            received.extend(more)
            if len(more) < 10:
                break
        if not received:
            return 0
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{trigger.queue_url.rsplit('/', 1)[1]}"
        records = [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for message in received
        ]
        self.deliveries += 1
        try:
            result = self.invoke(trigger.function, {"Records": records}) or {}
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        except Exception:  # the whole batch failed: Lambda retries every message of it
            failed = {message["MessageId"] for message in received}
        done: list[dict[str, str]] = []
        for message in received:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=trigger.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_DELAY_SECONDS,
                )
            else:
                done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        for start in range(0, len(done), 10):  # as the event source mapping does: ten deletes a request
            sqs.delete_message_batch(QueueUrl=trigger.queue_url, Entries=done[start : start + 10])
        return len(received)

    def pump_stream(self, trigger: StreamTrigger) -> int:
        """Deliver the next records of a table's stream; a failed record is delivered again next time."""
        streams = self.dynamodb_streams
        if trigger.iterator is None:
            shard = streams.describe_stream(StreamArn=trigger.stream_arn)["StreamDescription"]["Shards"][0]
            trigger.iterator = streams.get_shard_iterator(
                StreamArn=trigger.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        page = streams.get_records(ShardIterator=trigger.iterator, Limit=trigger.batch_size)
        records = page.get("Records", [])
        if not records:
            trigger.iterator = page.get("NextShardIterator", trigger.iterator)
            return 0
        for record in records:
            record["eventSourceARN"] = trigger.stream_arn
            record["dynamodb"]["ApproximateCreationDateTime"] = time.time()
        self.deliveries += 1
        try:
            result = self.invoke(trigger.function, {"Records": records}) or {}
            failed = [item["itemIdentifier"] for item in result.get("batchItemFailures", [])]
        except Exception:  # the whole batch failed: it is delivered again
            failed = [records[0]["dynamodb"]["SequenceNumber"]]
        if failed:
            shard = streams.describe_stream(StreamArn=trigger.stream_arn)["StreamDescription"]["Shards"][0]
            trigger.iterator = streams.get_shard_iterator(
                StreamArn=trigger.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=min(failed, key=int),
            )["ShardIterator"]
            return len(records)
        trigger.iterator = page["NextShardIterator"]
        return len(records)

    def waiting(self) -> dict[str, int]:
        """Messages waiting or in flight, per triggering queue that has any."""
        found: dict[str, int] = {}
        for trigger in self.queues:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=trigger.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            count = sum(int(value) for value in attributes.values())
            if count:
                found[trigger.queue_url.rsplit("/", 1)[1]] = count
        return found

    def pending(self) -> int:
        """Messages waiting or in flight on every triggering queue."""
        return sum(self.waiting().values())

    def wait_for(self, done: Callable[[], bool], what: str, *, stall: float = STALL_SECONDS) -> None:
        """Wait until `done()`, failing only when nothing moved for `stall` seconds.

        Moving is any delivery to a handler or any change in the messages pending; a busy
        machine makes the work slower, never failed."""
        watch = _Watch(self, what, stall)
        while not done():
            if self._wake.wait(0.2):
                self._wake.clear()
            watch.look()

    def drain(self, on_progress: Callable[[], None] | None = None, *, stall: float = STALL_SECONDS) -> None:
        """Deliver messages until every queue is empty (failed ones retry until they go to their DLQ)."""
        watch = _Watch(self, "draining the queues", stall)
        while True:
            delivered = sum(self.pump(trigger) for trigger in self.queues)
            delivered += sum(self.pump_stream(trigger) for trigger in self.streams)
            if on_progress:
                on_progress()
            if not delivered:
                if self.pending() == 0:
                    return
                if self._wake.wait(0.2):
                    self._wake.clear()
            watch.look()

    def start(self) -> None:
        """Deliver every queue and stream in the background, taking turns in one thread.

        In AWS each event source mapping runs on its own; here every handler shares one interpreter
        lock with moto, and handlers running side by side only slow each other down."""
        thread = threading.Thread(target=self._poll, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _deliver_round(self, streams: bool) -> int:
        delivered = 0
        for trigger in self.queues:
            delivered += self._safely(lambda t=trigger: self.pump(t))  # type: ignore[misc]
        for stream in self.streams if streams else ():
            delivered += self._safely(lambda t=stream: self.pump_stream(t))  # type: ignore[misc]
        return delivered

    @staticmethod
    def _safely(deliver: Callable[[], int]) -> int:
        try:
            return deliver()
        except Exception:  # keep polling, like an event source mapping does
            time.sleep(RETRY_DELAY_SECONDS)
            return 0

    def idle(self) -> bool:
        """The background poller found nothing since the last message or stream record, and none is in flight."""
        return self._caught_up_with == _work_taken[0] and self.pending() == 0

    def _poll(self) -> None:
        """Deliver while there is work; with none, sleep until moto takes some.

        A stream gets records only through moto, which wakes the poller; a queue may also have a
        message become visible on its own (a delay or a retry running out), so an idle poller also
        wakes when the first such message is due, and then looks at the queues only."""
        woken = True
        while not self._stop.is_set():
            taken = _work_taken[0]
            if self._deliver_round(streams=woken):
                woken = True
                continue
            self._caught_up_with = taken
            woken = self._new_work.wait(self._next_due())
            self._new_work.clear()

    def _next_due(self) -> float:
        """Seconds until a message in flight or delayed on a triggering queue becomes visible again."""
        queues = sqs_backends[ACCOUNT][REGION].queues
        now = time.time() * 1000
        due = [
            max(message.visible_at, message.delayed_until)
            for trigger in self.queues
            for message in list(queues[trigger.queue_url.rsplit("/", 1)[1]]._messages)
            if not message.visible or message.delayed
        ]
        return min(IDLE_POLL_SECONDS, max(0.05, (min(due) - now) / 1000)) if due else IDLE_POLL_SECONDS

    def stop(self) -> None:
        self._stop.set()
        self._new_work.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._http is not None:
            self._http.shutdown()
