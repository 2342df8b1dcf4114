"""The local stack: a moto server with every table, queue, bucket and secret of `template.yaml`.

Resources are created from the template itself, so the local stack cannot drift from what a
deployment creates; functions get the same environment variables the template gives them.
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
from moto.server import ThreadedMotoServer

from roster import aws
from roster.local import moto_dynamodb
from roster.local.template import ACCOUNT, REGION, Template, resolve
from roster.sources.salesforce.trust import LOCAL_STACK_FLAG

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


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
    _server: ThreadedMotoServer | None = None

    @classmethod
    def from_project(cls, port: int = 0) -> LocalStack:
        return cls(Template.load(project_root() / "template.yaml"), port=port)

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        moto_dynamodb.install()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ[LOCAL_STACK_FLAG] = "1"  # e.g. a Salesforce connection may trust the emulator's CA
        os.environ.pop("AWS_PROFILE", None)
        self._create_tables()
        self._create_queues()
        self._create_buckets()
        self._create_secrets()
        self._create_event_buses()
        self._create_event_rules()
        self.environment = {
            name: str(resolve(value, self.refs, self.attributes))
            for name, value in self.template.function_environment().items()
        }
        os.environ.update(self.environment)
        aws.reset()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

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
                key: str(resolve(value, self.refs, self.attributes)) if key != "RedrivePolicy" else ""
                for key, value in props.items()
                if key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "RedrivePolicy")
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(resolve(props["RedrivePolicy"], self.refs, self.attributes))
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.refs[name] = url
            self.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            self.attributes[(name, "QueueName")] = name

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
