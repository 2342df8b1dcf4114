"""The local stack: moto with every table, queue, bucket and secret of `template.yaml`.

Resources are created from the template itself, so the local stack cannot drift from what a
deployment creates; functions get the same environment variables the template gives them.

The handlers of this process reach moto in-process (`mock_aws`: botocore still builds and
parses every request and answer as it would against AWS, only the socket is skipped), and a
moto server on the same state serves other processes (`stack.endpoint`). S3 answers under the
server's address, so an upload URL the API hands out works from anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import ThreadedMotoServer

from roster import aws
from roster.connectors.core.trust import LOCAL_STACK_FLAG
from roster_dev.local import moto_dynamodb, moto_hot_paths
from roster_dev.local.template import ACCOUNT, REGION, Template, resolve

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


# A queue's template properties that SQS takes as attributes (the rest, such as tags, it does not)
QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _attribute(value: Any) -> str:
    """A template value as SQS spells attributes: `true`, not Python's `True`."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def project_root() -> Path:
    """The checkout this package runs from (where template.yaml is)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").exists():
            return parent
    return Path.cwd()


@dataclass
class LocalStack:
    template: Template
    port: int = 0
    endpoint: str = ""
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    admin_key: str = ""
    s3_endpoint: str = ""
    _server: ThreadedMotoServer | None = None
    _s3_server: ThreadedMotoServer | None = None
    _in_process: Any = None

    @classmethod
    def from_project(cls, port: int = 0) -> LocalStack:
        return cls(Template.load(project_root() / "template.yaml"), port=port)

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        moto_dynamodb.install()
        moto_hot_paths.install()
        self._in_process = mock_aws()
        self._in_process.start()
        MotoRequestHandler.protocol_version = "HTTP/1.1"  # keep connections open between requests
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.endpoint = "http://{}:{}".format(*self._server.get_host_and_port())
        # S3 on a port of its own: moto treats every request to a custom S3 endpoint as S3
        self._s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._s3_server.start()
        self.s3_endpoint = "http://{}:{}".format(*self._s3_server.get_host_and_port())
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ["AWS_ENDPOINT_URL_S3"] = self.s3_endpoint
        os.environ["MOTO_S3_CUSTOM_ENDPOINTS"] = self.s3_endpoint
        os.environ[LOCAL_STACK_FLAG] = "1"  # e.g. a Salesforce connection may trust the emulator's CA
        os.environ.pop("AWS_PROFILE", None)
        self._create_tables()
        self._create_queues()
        self._create_buckets()
        self._create_secrets()
        self._create_event_buses()
        self._create_event_rules()
        self.refs.update(self.template.parameters())
        self.refs.update({name: name for name in self.template.resources("AWS::Serverless::Function")})  # the runner's
        self.environment = {
            name: str(resolve(value, self.refs, self.attributes))
            for name, value in self.template.function_environment().items()
        }
        os.environ.update(self.environment)
        aws.reset()
        return self

    def stop(self) -> None:
        for server in (self._server, self._s3_server):
            if server is not None:
                server.stop()
        self._server = self._s3_server = None
        if self._in_process is not None:
            self._in_process.stop()
            self._in_process = None

    def client(self, service: str) -> Any:
        """A client of this process: in-process moto, as the handlers use it.

        DynamoDB Streams is the one service moto's in-process mock does not route (it answers 404),
        so its client goes through the server."""
        endpoint = self.endpoint if service == "dynamodbstreams" else None
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    def _create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for name, props in self.template.resources("AWS::DynamoDB::Table").items():
            request: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if "GlobalSecondaryIndexes" in props:
                request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if "StreamSpecification" in props:
                request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            table = dynamodb.create_table(**request)["TableDescription"]
            if "TimeToLiveSpecification" in props:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
            if "PointInTimeRecoverySpecification" in props:
                dynamodb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
                )
            self.refs[name] = name
            self.attributes[(name, "Arn")] = table["TableArn"]
            if "LatestStreamArn" in table:
                self.attributes[(name, "StreamArn")] = table["LatestStreamArn"]

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        queues = self.template.resources("AWS::SQS::Queue")
        # dead-letter queues first, so redrive policies can name them
        ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name])
        for name in ordered:
            props = queues[name]
            attributes = {
                key: _attribute(resolve(value, self.refs, self.attributes)) if key != "RedrivePolicy" else ""
                for key, value in props.items()
                if key in QUEUE_ATTRIBUTES
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(resolve(props["RedrivePolicy"], self.refs, self.attributes))
            queue_name = f"{name}.fifo" if props.get("FifoQueue") else name  # as CloudFormation names FIFO queues
            url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
            self.refs[name] = self.refs[queue_name] = url
            self.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
            self.attributes[(name, "QueueName")] = queue_name

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        for name in self.template.resources("AWS::S3::Bucket"):
            bucket = f"roster-{name.lower()}"
            s3.create_bucket(Bucket=bucket)
            self.refs[name] = bucket
            self.attributes[(name, "Arn")] = f"arn:aws:s3:::{bucket}"

    def _create_event_buses(self) -> None:
        events = self.client("events")
        for name, props in self.template.resources("AWS::Events::EventBus").items():
            bus = str(resolve(props["Name"], self.refs, self.attributes))
            self.attributes[(name, "Arn")] = events.create_event_bus(Name=bus)["EventBusArn"]
            self.refs[name] = bus

    def _create_event_rules(self) -> None:
        """Rules with their SQS targets, so events published on a bus reach the queues a deployment's would."""
        events = self.client("events")
        for name, props in self.template.resources("AWS::Events::Rule").items():
            if "EventPattern" not in props:
                continue  # schedules: the runner leaves them to the tests
            bus = str(resolve(props.get("EventBusName", "default"), self.refs, self.attributes))
            rule = events.put_rule(
                Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED"
            )
            self.refs[name] = name
            self.attributes[(name, "Arn")] = rule["RuleArn"]
            targets = [
                {"Id": target["Id"], "Arn": str(resolve(target["Arn"], self.refs, self.attributes))}
                for target in props.get("Targets", [])
            ]
            if targets:
                events.put_targets(Rule=name, EventBusName=bus, Targets=targets)

    def _create_secrets(self) -> None:
        manager = self.client("secretsmanager")
        for name in self.template.resources("AWS::SecretsManager::Secret"):
            value = secrets.token_urlsafe(36)
            arn = manager.create_secret(Name=name, SecretString=value)["ARN"]
            self.refs[name] = arn
            if name == "AdminKeySecret":
                self.admin_key = value
