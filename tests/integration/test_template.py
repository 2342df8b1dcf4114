"""template.yaml stays true: the local stack matches it, and SAM validates and builds it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import boto3
import pytest

from roster.config import Settings
from roster.connectors.core.trust import LOCAL_STACK_FLAG
from roster.outbound import ALLOW_SETTING, allowed_targets
from roster.sources.csv_import import INGEST_ATTEMPTS
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from roster_dev.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
TEMPLATE = Template.load(ROOT / "template.yaml")


def test_local_stack_creates_every_table_queue_bucket_and_secret(stack: LocalStack) -> None:
    tables = set(stack.client("dynamodb").list_tables()["TableNames"])
    assert tables == set(TEMPLATE.resources("AWS::DynamoDB::Table"))
    for name, props in TEMPLATE.resources("AWS::DynamoDB::Table").items():
        described = stack.client("dynamodb").describe_table(TableName=name)["Table"]
        assert described["KeySchema"] == props["KeySchema"]
        if "StreamSpecification" in props:
            assert described["StreamSpecification"]["StreamViewType"] == props["StreamSpecification"]["StreamViewType"]
        indexes = {index["IndexName"]: index["KeySchema"] for index in described.get("GlobalSecondaryIndexes", [])}
        assert indexes == {index["IndexName"]: index["KeySchema"] for index in props.get("GlobalSecondaryIndexes", [])}
    buses = {bus["Name"] for bus in stack.client("events").list_event_buses()["EventBuses"]}
    assert {stack.refs[name] for name in TEMPLATE.resources("AWS::Events::EventBus")} <= buses
    queues = {url.rsplit("/", 1)[1] for url in stack.client("sqs").list_queues()["QueueUrls"]}
    named = {stack.attributes[(name, "QueueName")] for name in TEMPLATE.resources("AWS::SQS::Queue")}
    assert named <= queues  # FIFO queues end in .fifo, as CloudFormation names them; tests may add queues of their own
    buckets = {bucket["Name"] for bucket in stack.client("s3").list_buckets()["Buckets"]}
    assert buckets == {f"roster-{name.lower()}" for name in TEMPLATE.resources("AWS::S3::Bucket")}
    assert stack.admin_key


def test_customer_data_at_rest_is_encrypted_recoverable_and_reached_over_tls_only(stack: LocalStack) -> None:
    sqs, dynamodb = stack.client("sqs"), stack.client("dynamodb")
    for name, props in TEMPLATE.resources("AWS::SQS::Queue").items():  # dead-letter queues hold the same data
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, f"{name} is not encrypted"
        attributes = sqs.get_queue_attributes(QueueUrl=stack.refs[name], AttributeNames=["All"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true", name
    for name, props in TEMPLATE.resources("AWS::DynamoDB::Table").items():
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", name
    policies = {props["Bucket"]["Ref"]: props for props in TEMPLATE.resources("AWS::S3::BucketPolicy").values()}
    for name, props in TEMPLATE.resources("AWS::S3::Bucket").items():
        assert props["VersioningConfiguration"]["Status"] == "Enabled", name
        assert "ServerSideEncryptionConfiguration" in props["BucketEncryption"], name
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in rule for rule in rules), f"{name} keeps old versions forever"
        statements = policies[name]["PolicyDocument"]["Statement"]
        assert any(
            statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        ), f"{name} accepts plain HTTP"


def test_the_api_logs_every_request_to_a_log_group_with_a_retention() -> None:
    api = TEMPLATE.resources("AWS::Serverless::Api")["RosterApi"]
    log_group = api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    retention = TEMPLATE.resources("AWS::Logs::LogGroup")[log_group]["RetentionInDays"]
    assert TEMPLATE.body["Parameters"][retention["Ref"]]["Default"] > 0  # kept for a while, not forever
    line = json.loads(api["AccessLogSetting"]["Format"])  # one JSON object per request
    assert line["requestId"] == "$context.requestId" and line["status"] == "$context.status"
    assert not any("header" in value or "body" in value.lower() for value in line.values()), "keys or bodies logged"
    assert TEMPLATE.body["Resources"]["RosterApi"]["DependsOn"] == "ApiGatewayAccount"


def test_every_function_logs_to_a_log_group_with_a_retention() -> None:
    log_config = TEMPLATE.body["Globals"]["Function"]["LoggingConfig"]
    retention = TEMPLATE.resources("AWS::Logs::LogGroup")[log_config["LogGroup"]["Ref"]]["RetentionInDays"]
    assert TEMPLATE.body["Parameters"][retention["Ref"]]["Default"] > 0  # kept for a while, not forever
    for name, function in TEMPLATE.resources("AWS::Serverless::Function").items():
        assert "LoggingConfig" not in function, f"{name} logs elsewhere"


def test_functions_that_call_a_crm_run_at_most_crm_max_concurrency_at_once() -> None:
    """Lambda scaling must never outrun a CRM's API limits: each queue-fed CRM worker is capped."""
    parameter = TEMPLATE.body["Parameters"]["CrmMaxConcurrency"]
    assert parameter["MinValue"] <= parameter["Default"] and parameter["MinValue"] >= 2  # SQS's own minimum
    crm_workers = {
        name: props
        for name, props in TEMPLATE.resources("AWS::Serverless::Function").items()
        if "roster.connectors." in (ROOT / props["CodeUri"] / "app.py").read_text()
        and any(event["Type"] == "SQS" for event in props.get("Events", {}).values())
    }
    assert {"SalesforceSyncFunction", "SalesforceExportFunction"} <= set(crm_workers)
    for name, props in crm_workers.items():
        for event in props["Events"].values():
            assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "CrmMaxConcurrency"}}, name
        # a reservation would throttle messages the event source already received, counting them towards the DLQ
        assert "ReservedConcurrentExecutions" not in props, name


def test_every_work_queue_has_a_dead_letter_queue_and_a_long_enough_visibility_timeout() -> None:
    queues = TEMPLATE.resources("AWS::SQS::Queue")
    functions = TEMPLATE.resources("AWS::Serverless::Function")
    timeout_of = {}
    for props in functions.values():
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS":
                timeout_of[event["Properties"]["Queue"]["Fn::GetAtt"][0]] = props["Timeout"]
    assert timeout_of, "no function reads a queue"
    for queue, timeout in timeout_of.items():
        assert queues[queue]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues
        assert int(queues[queue]["VisibilityTimeout"]) >= 6 * int(timeout)
    # the ingest worker reports a row that keeps conflicting on its batch's last delivery, not one later
    assert int(queues["IngestQueue"]["RedrivePolicy"]["maxReceiveCount"]) == INGEST_ATTEMPTS


def test_every_stream_mapping_retries_then_parks_failures_in_a_queue() -> None:
    queues = TEMPLATE.resources("AWS::SQS::Queue")
    streams = [
        event["Properties"]
        for props in TEMPLATE.resources("AWS::Serverless::Function").values()
        for event in props.get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert len(streams) >= 2
    for stream in streams:
        assert stream["BisectBatchOnFunctionError"] and stream["MaximumRetryAttempts"] > 0
        assert stream["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] in queues


def test_every_setting_the_code_reads_is_set_by_the_template() -> None:
    variables = set(TEMPLATE.function_environment())
    wanted = {name.upper() for name in Settings.model_fields if name != "region"}
    assert wanted <= variables


def test_a_deployment_exempts_no_address_from_the_outbound_check(stack: LocalStack) -> None:
    """Only the local stack lists addresses Roster may call besides public ones, and only its emulators."""
    assert ALLOW_SETTING not in (ROOT / "template.yaml").read_text()
    assert LOCAL_STACK_FLAG not in (ROOT / "template.yaml").read_text()
    moto_ports = {int(url.rsplit(":", 1)[1]) for url in (stack.endpoint, stack.s3_endpoint)}
    assert not {port for _, port in allowed_targets()} & moto_ports


def test_every_function_has_sample_events_and_a_thin_handler(runner: Runner) -> None:
    assert set(runner.handlers) == set(TEMPLATE.resources("AWS::Serverless::Function"))
    events = {path.name for path in (ROOT / "events").glob("*.json")}
    assert {"api_upsert.json", "api_openapi.json", "csv_import.json", "ingest.json"} <= events
    for props in TEMPLATE.resources("AWS::Serverless::Function").values():
        source = (ROOT / props["CodeUri"] / "app.py").read_text()
        assert len(source.splitlines()) < 40, f"{props['CodeUri']} holds logic that belongs in roster"


def test_layer_requirements_match_the_project_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = [
        line for line in (ROOT / "layers/roster/requirements.txt").read_text().splitlines() if line and line[0] != "#"
    ]
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    declared = {name.match(dep).group(0).lower() for dep in project if not dep.startswith("boto3")}  # type: ignore[union-attr]
    pinned = {name.match(dep).group(0).lower() for dep in layer}  # type: ignore[union-attr]
    assert declared == pinned
    assert all("==" in dep for dep in layer)


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam validate --lint`, then `sam build` once for the tests that read what it built."""
    assert SAM.exists(), "make test installs the SAM CLI into .tools/sam"
    work = tmp_path_factory.mktemp("sam")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{SAM.parent}:{os.environ['PATH']}"}
    validate = subprocess.run([str(SAM), "validate", "--lint"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    build = subprocess.run(
        [str(SAM), "build", "--build-dir", str(work / "build"), "--cache-dir", str(work / "cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return work / "build"


@pytest.mark.slow
def test_sam_validate_lint_and_build(sam_build: Path) -> None:
    assert (sam_build / "RosterLayer" / "python" / "roster" / "identity" / "resolver.py").exists()
    assert (sam_build / "ApiFunction" / "app.py").exists()


# What the Lambda Python runtime itself provides; everything else a function imports must come from the layer.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


@pytest.mark.slow
def test_the_layer_holds_only_what_lambda_runs_and_every_handler_imports_with_it_alone(
    sam_build: Path, tmp_path: Path
) -> None:
    layer = sam_build / "RosterLayer" / "python"
    shipped = {path.relative_to(layer).as_posix() for path in layer.rglob("*") if path.is_file()}
    ours = {path for path in shipped if path.startswith("roster/")}
    assert ours, "the layer holds the roster package"
    dev_tools = [path for path in ours if re.search(r"/local/|emulator|demo|sample|/cli|/client\.py", path)]
    assert not dev_tools, f"dev tools shipped in the layer: {dev_tools[:10]}"
    assert not any(path.startswith(("roster_dev/", "typer/", "rich/", "moto/")) for path in shipped)

    runtime = tmp_path / "runtime"  # stands in for the runtime's own boto3
    runtime.mkdir()
    site = Path(boto3.__file__).parents[1]
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    parameters = TEMPLATE.parameters()
    environment = {  # the template's own values and parameter defaults, a stand-in for each resource reference
        name: value
        if isinstance(value, str)
        else parameters.get(value.get("Ref", ""), f"https://sqs.us-east-1.amazonaws.com/123456789012/{name.lower()}")
        for name, value in TEMPLATE.function_environment().items()
    }
    load = "import sys; sys.path[:0] = sys.argv[1:]; import app"
    for function in TEMPLATE.resources("AWS::Serverless::Function"):
        code = sam_build / function
        check = subprocess.run(
            [sys.executable, "-I", "-c", load, str(code), str(layer), str(runtime)],
            cwd=code,
            capture_output=True,
            text=True,
            env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", **environment},
        )
        assert check.returncode == 0, f"{function}: {check.stderr[-2000:]}"
