"""`make drill-aws NAME=<stack>`: what only a deployed stack can show, observed and printed.

The local stack and the tests prove most of the design; the rows marked "only on AWS" in
the docs pages need the real services. This drill exercises them against ONE stack that you
name, in your sandbox account, and prints for each what it expected, what it observed and
OK / UNEXPECTED / SKIPPED. It never guesses a stack, refuses one tagged environment=prod or
not in a *_COMPLETE state, and exits 1 if anything was unexpected.

    make drill-aws NAME=customer-platform                          # the safe checks
    make drill-aws NAME=customer-platform ARGS="--only edge,roles"  # some of them
    make drill-aws NAME=customer-platform ARGS="--allow-disruption" # + the disruptive ones

Checks (`--only`): edge (401 without a token, 403 without an API key, 400 for a malformed
body, all before any function), roles (the function's 403s per Cognito group), throttle (a
burst over the usage plan meets 429), rds (a CRUD round trip on MySQL, its engine version),
s3 (S3 enforces the presigned POST policy and the bucket policy; TLS only), pitr (DynamoDB's
restore lag), scheduler (the schedule's and the fetcher's failure handling), xray (traces
of the VPC function with SQL subsegments), deployment (what docs/deployment.md fixed that
only the deployed stack shows: one API stage, the account's API Gateway logging role, the
hosted rotation functions' runtime, CodeDeploy's alarms and rollback under a gradual
DeploymentStrategy). With --allow-disruption also: failover (RDS
reboot with failover, Multi-AZ only: seconds until /rds answers again), rotation (rotate the
database secret while the API is in use), failed-sync (an unreachable feed: Lambda's retries
and the fetcher's on-failure queue).

It creates one temporary user per group (readers, writers, admins) and deletes them, and
every customer and document it creates, at the end.
"""

import argparse
import concurrent.futures
import json
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import requests

from local_stack.template.transform import load_yaml
from tools.get_token import api_key_value, stack_outputs

SAFE = ("edge", "roles", "throttle", "rds", "s3", "pitr", "scheduler", "xray", "deployment")
DISRUPTIVE = ("failover", "rotation", "failed-sync")
GROUPS = ("readers", "writers", "admins")
HTTP_TIMEOUT = 30
USABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
# template.yaml Globals: AutoPublishAlias. Schedules invoke this alias, and SAM attaches a
# function's EventInvokeConfig (retries, on-failure destination) to it, not to $LATEST.
LIVE_ALIAS = "live"


@dataclass
class Observation:
    check: str
    expected: str
    observed: str
    outcome: str  # OK, UNEXPECTED, SKIPPED

    def line(self) -> str:
        return (
            f"{self.outcome:<10} {self.check:<12} expected {self.expected};"
            f" observed {self.observed}"
        )


def observe(check: str, expected: str, observed: str, ok: bool) -> Observation:
    return Observation(check, expected, observed, "OK" if ok else "UNEXPECTED")


def skipped(check: str, why: str) -> Observation:
    return Observation(check, "-", why, "SKIPPED")


def refusal(cloudformation: Any, stack: str) -> str | None:
    """Why the drill must not run against `stack`, or None."""
    if not stack.strip():
        return "no stack name: say which deployed stack to drill (NAME=...)"
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        return f"stack {stack!r} not found in this account and region ({error})"
    tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    if tags.get("environment") == "prod":
        return f"stack {stack!r} is tagged environment=prod; the drill is for sandboxes"
    if described["StackStatus"] not in USABLE:
        return f"stack {stack!r} is {described['StackStatus']}; deploy it first"
    return None


@dataclass
class Drill:
    session: Any
    stack: str
    outputs: dict[str, str]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    tokens: dict[str, str] = field(default_factory=dict)
    cleanups: list[Callable[[], object]] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    # -- plumbing ------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return self.session.client(service)

    @property
    def api(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    def api_key(self) -> str:
        return api_key_value(self.client("apigateway"), self.outputs["ApiKeyId"])

    def physical_id(self, logical_id: str) -> str | None:
        try:
            resource = self.client("cloudformation").describe_stack_resource(
                StackName=self.stack, LogicalResourceId=logical_id
            )
        except Exception:  # noqa: BLE001 - absent in this configuration
            return None
        physical: str = resource["StackResourceDetail"]["PhysicalResourceId"]
        return physical

    def headers(self, group: str | None, *, key: bool = True) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["x-api-key"] = self.api_key()
        if group is not None:
            headers["Authorization"] = f"Bearer {self.token(group)}"
        return headers

    def call(self, method: str, path: str, group: str | None, body: Any = None, **kw: Any) -> Any:
        return self.http.request(
            method,
            self.api + path,
            headers=self.headers(group, key=kw.pop("key", True)),
            data=None if body is None else json.dumps(body),
            timeout=HTTP_TIMEOUT,
        )

    def token(self, group: str) -> str:
        if group not in self.tokens:
            self.tokens[group] = self._temporary_user(group)
        return self.tokens[group]

    def _temporary_user(self, group: str) -> str:
        cognito = self.client("cognito-idp")
        pool = self.outputs["UserPoolId"]
        email = f"drill-{group}-{uuid.uuid4().hex[:8]}@example.com"
        password = "Dr1ll-" + secrets.token_urlsafe(18) + "!"
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=email,
            MessageAction="SUPPRESS",
            TemporaryPassword=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        self.cleanups.append(lambda: cognito.admin_delete_user(UserPoolId=pool, Username=email))
        cognito.admin_set_user_password(
            UserPoolId=pool, Username=email, Password=password, Permanent=True
        )
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)
        result = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.outputs["UserPoolClientId"],
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        token: str = result["AuthenticationResult"]["IdToken"]
        return token

    def customer(self, backend: str) -> dict[str, Any]:
        body = {"name": "Drill", "email": f"drill-{uuid.uuid4().hex[:10]}@example.com"}
        created: dict[str, Any] = self.call("POST", f"/{backend}/customers", "writers", body).json()
        self.cleanups.append(
            lambda: self.call("DELETE", f"/{backend}/customers/{created['id']}", "admins")
        )
        return created

    def close(self) -> None:
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception as error:  # noqa: BLE001 - report and go on cleaning
                print(f"cleanup failed: {error}", file=sys.stderr)

    # -- checks ----------------------------------------------------------------------------

    def cognito_mode(self, check: str) -> Observation | None:
        mode = self.outputs.get("ApiAuthMode")
        if mode != "COGNITO":
            return skipped(check, f"ApiAuth={mode}; these checks need ApiAuth=COGNITO")
        return None

    def edge(self) -> list[Observation]:
        if (skip := self.cognito_mode("edge")) is not None:
            return [skip]
        no_token = self.call("GET", "/dynamodb/customers", None)
        no_key = self.call("GET", "/dynamodb/customers", "readers", key=False)
        malformed = self.call("POST", "/dynamodb/customers", "writers", {"name": 1})
        return [
            observe("edge", "401 without a token", _status(no_token), no_token.status_code == 401),
            observe("edge", "403 without an API key", _status(no_key), no_key.status_code == 403),
            observe(
                "edge",
                "400 for a malformed body, from API Gateway's model",
                _status(malformed),
                malformed.status_code == 400,
            ),
        ]

    def roles(self) -> list[Observation]:
        if (skip := self.cognito_mode("roles")) is not None:
            return [skip]
        created = self.customer("dynamodb")
        body = {"name": "Drill", "email": f"drill-{uuid.uuid4().hex[:10]}@example.com"}
        reader_post = self.call("POST", "/dynamodb/customers", "readers", body)
        writer_delete = self.call("DELETE", f"/dynamodb/customers/{created['id']}", "writers")
        reader_get = self.call("GET", f"/dynamodb/customers/{created['id']}", "readers")
        return [
            observe("roles", "a reader reads: 200", _status(reader_get), reader_get.ok),
            observe(
                "roles",
                "a reader's POST: 403",
                _status(reader_post),
                reader_post.status_code == 403,
            ),
            observe(
                "roles",
                "a writer's DELETE: 403",
                _status(writer_delete),
                writer_delete.status_code == 403,
            ),
        ]

    def throttle(self, requests_to_send: int) -> list[Observation]:
        if (skip := self.cognito_mode("throttle")) is not None:
            return [skip]
        headers = self.headers("readers")

        def one(_: int) -> int:
            return self.http.get(
                self.api + "/dynamodb/customers?limit=1", headers=headers, timeout=HTTP_TIMEOUT
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(one, range(requests_to_send)))
        counts = {status: statuses.count(status) for status in sorted(set(statuses))}
        return [
            observe(
                "throttle",
                f"some 429s among {requests_to_send} concurrent requests (usage plan burst)",
                json.dumps(counts),
                429 in counts,
            )
        ]

    def rds(self) -> list[Observation]:
        if (skip := self.cognito_mode("rds")) is not None:
            return [skip]
        database = self.physical_id("Database")
        engine = "an existing database"
        if database is not None:
            described = self.client("rds").describe_db_instances(DBInstanceIdentifier=database)
            instance = described["DBInstances"][0]
            engine = f"{instance['Engine']} {instance['EngineVersion']}"
        created = self.customer("rds")
        path = f"/rds/customers/{created.get('id')}"
        got = self.call("GET", path, "readers")
        put = self.call("PUT", path, "writers", {"name": "Drill 2", "email": created["email"]})
        listed = self.call("GET", "/rds/customers?limit=2", "readers")
        statuses = [_status(got), _status(put), _status(listed)]
        return [
            observe(
                "rds",
                "GET, PUT, list on /rds/customers: 200s",
                f"{', '.join(statuses)} against {engine}",
                got.ok and put.ok and listed.ok,
            )
        ]

    def s3(self) -> list[Observation]:
        if (skip := self.cognito_mode("s3")) is not None:
            return [skip]
        slot = self.call(
            "POST", "/documents", "writers", {"filename": "drill.txt", "contentType": "text/plain"}
        ).json()
        self.cleanups.append(lambda: self.call("DELETE", f"/documents/{slot['id']}", "admins"))
        url, fields = slot["upload"]["url"], slot["upload"]["fields"]
        wrong_type = requests.post(
            url,
            data=fields | {"Content-Type": "text/html"},
            files={"file": ("drill.txt", b"<b>x</b>", "text/html")},
            timeout=HTTP_TIMEOUT,
        )
        empty = requests.post(
            url, data=fields, files={"file": ("drill.txt", b"", "text/plain")}, timeout=HTTP_TIMEOUT
        )
        good = requests.post(
            url,
            data=fields,
            files={"file": ("drill.txt", b"drill", "text/plain")},
            timeout=HTTP_TIMEOUT,
        )
        key = fields["key"]
        bucket = self.outputs["DocumentsBucketName"]
        try:
            self.client("s3").get_object(Bucket=bucket, Key=key)
            own = "GetObject succeeded"
        except Exception as error:  # noqa: BLE001 - the refusal is the observation
            own = f"{type(error).__name__}: {str(error)[:80]}"
        document = self.call("GET", f"/documents/{slot['id']}", "readers").json()
        signed = document.get("download", {}).get("url", "")
        over_tls = requests.get(signed, timeout=HTTP_TIMEOUT)
        plain = requests.get(signed.replace("https://", "http://", 1), timeout=HTTP_TIMEOUT)
        return [
            observe(
                "s3",
                "S3 refuses a Content-Type the POST policy did not sign: 403",
                _status(wrong_type),
                wrong_type.status_code == 403,
            ),
            observe(
                "s3",
                "S3 refuses a size outside content-length-range: 400",
                _status(empty),
                empty.status_code == 400,
            ),
            observe("s3", "the signed upload: 204", _status(good), good.status_code == 204),
            observe(
                "s3",
                "the presigned GET returns the bytes",
                f"{over_tls.status_code}, {len(over_tls.content)} bytes",
                over_tls.content == b"drill",
            ),
            observe(
                "s3",
                "the same signed URL over plain HTTP: 403 (aws:SecureTransport deny)",
                _status(plain),
                plain.status_code == 403,
            ),
            observe(
                "s3",
                "your own credentials are denied the object (bucket policy)",
                own,
                "AccessDenied" in own,
            ),
        ]

    def pitr(self) -> list[Observation]:
        table = self.outputs["CustomersTableName"]
        return [pitr_lag(self.client("dynamodb"), table, datetime.now(UTC))]

    def scheduler(self) -> list[Observation]:
        observations = []
        name = self.physical_id("PartnerFetcherFunctionDaily")
        if name is None:
            observations.append(skipped("scheduler", "no partner sync schedule in this stack"))
        else:
            schedule = self.client("scheduler").get_schedule(Name=name.split("|")[-1])
            target = schedule["Target"]
            observations.append(
                observe(
                    "scheduler",
                    "the schedule retries deliveries and has a DLQ",
                    json.dumps(
                        {
                            "RetryPolicy": target.get("RetryPolicy"),
                            "DeadLetterConfig": target.get("DeadLetterConfig"),
                            "State": schedule.get("State"),
                        }
                    ),
                    "Arn" in target.get("DeadLetterConfig", {}),
                )
            )
        function = self.outputs["PartnerFetcherFunctionName"]
        config = async_config(self.client("lambda"), function)
        destination = on_failure_destination(config)
        observations.append(
            observe(
                "scheduler",
                f"the fetcher's failed asynchronous runs: retried, then sent to its on-failure"
                f" destination (EventInvokeConfig of the {LIVE_ALIAS} alias)",
                json.dumps(
                    {
                        "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
                        "OnFailure": destination,
                    }
                ),
                bool(destination),
            )
        )
        return observations

    def xray(self, wait_seconds: int) -> list[Observation]:
        function = self.outputs["CustomersRdsFunctionName"]
        xray = self.client("xray")
        deadline = time.monotonic() + wait_seconds
        ids: list[str] = []
        while time.monotonic() < deadline and not ids:
            summaries = xray.get_trace_summaries(
                StartTime=self.started,
                EndTime=datetime.now(UTC),
                FilterExpression=f'service("{function}")',
            )
            ids = [summary["Id"] for summary in summaries.get("TraceSummaries", [])][:5]
            if not ids:
                time.sleep(10)
        if not ids:
            return [
                observe("xray", f"traces of {function}", f"none within {wait_seconds} s", False)
            ]
        documents = [
            json.loads(segment["Document"])
            for trace in xray.batch_get_traces(TraceIds=ids)["Traces"]
            for segment in trace["Segments"]
        ]
        names = sorted({name for document in documents for name in _subsegment_names(document)})
        has_sql = any(_has_sql(document) for document in documents)
        return [
            observe(
                "xray",
                "traces of the VPC function with SQL subsegments",
                f"{len(ids)} traces; subsegments {names[:8]}; sql={has_sql}",
                has_sql,
            )
        ]

    def deployment(self) -> list[Observation]:
        """What the deployment review fixed (docs/deployment.md) that only AWS shows."""
        stack = self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"][0]
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
        return [
            self._one_stage(parameters["Stage"]),
            self._logging_role(),
            *self._rotation_runtimes(),
            *self._gradual_deploys(parameters.get("DeploymentStrategy", "AllAtOnce")),
        ]

    def _one_stage(self, stage: str) -> Observation:
        found = self.client("apigateway").get_stages(restApiId=self.outputs["ApiId"])["item"]
        names = sorted(item["stageName"] for item in found)
        return observe(
            "deployment",
            f"the API's only stage is {stage} (no SAM 'Stage')",
            str(names),
            names == [stage],
        )

    def _logging_role(self) -> Observation:
        arn = self.client("apigateway").get_account().get("cloudwatchRoleArn")
        iam = self.client("iam")
        exists = False
        if arn:
            try:
                iam.get_role(RoleName=arn.rsplit("/", 1)[-1])
                exists = True
            except iam.exceptions.NoSuchEntityException:
                exists = False
        return observe(
            "deployment",
            "the account's API Gateway CloudWatch role exists (access logs)",
            f"{arn or 'none'}{'' if exists else ' (missing)'}",
            exists,
        )

    def _rotation_runtimes(self) -> list[Observation]:
        runtime = load_yaml()["Globals"]["Function"]["Runtime"]
        manager = self.client("secretsmanager")
        found = []
        for output in ("DatabaseSecretArn", "DatabaseMasterSecretArn"):
            secret = self.outputs.get(output)
            if not secret:
                continue  # an existing database: the stack rotates nothing
            described = manager.describe_secret(SecretId=secret)
            if not described.get("RotationEnabled"):
                found.append(skipped("deployment", f"{output}: no rotation"))
                continue
            function = described["RotationLambdaARN"]
            configuration = self.client("lambda").get_function_configuration(FunctionName=function)
            found.append(
                observe(
                    "deployment",
                    f"the hosted rotation of {output} runs on {runtime}",
                    f"{function.rsplit(':', 1)[-1]}: {configuration.get('Runtime')}",
                    configuration.get("Runtime") == runtime,
                )
            )
        return found

    def _gradual_deploys(self, strategy: str) -> list[Observation]:
        pages = self.client("cloudformation").get_paginator("list_stack_resources")
        resources = [
            summary
            for page in pages.paginate(StackName=self.stack)
            for summary in page["StackResourceSummaries"]
        ]
        groups = [r for r in resources if r["ResourceType"] == "AWS::CodeDeploy::DeploymentGroup"]
        if strategy == "AllAtOnce":
            return [
                observe(
                    "deployment",
                    "DeploymentStrategy=AllAtOnce: no CodeDeploy deployment group",
                    f"{len(groups)} deployment groups",
                    not groups,
                )
            ]
        (application,) = (
            r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::CodeDeploy::Application"
        )
        found = []
        for group in groups:
            info = self.client("codedeploy").get_deployment_group(
                applicationName=application, deploymentGroupName=group["PhysicalResourceId"]
            )["deploymentGroupInfo"]
            alarms = info.get("alarmConfiguration", {})
            rollback = info.get("autoRollbackConfiguration", {})
            found.append(
                observe(
                    "deployment",
                    f"{group['LogicalResourceId']}: CodeDeployDefault.Lambda{strategy},"
                    " rolled back on its alias alarms",
                    json.dumps(
                        {
                            "config": info.get("deploymentConfigName"),
                            "alarms": [a["name"] for a in alarms.get("alarms", [])],
                            "rollback": rollback.get("events", []),
                        }
                    ),
                    info.get("deploymentConfigName") == f"CodeDeployDefault.Lambda{strategy}"
                    and bool(alarms.get("enabled") and alarms.get("alarms"))
                    and "DEPLOYMENT_STOP_ON_ALARM" in rollback.get("events", []),
                )
            )
        return found

    # -- disruptive checks -------------------------------------------------------------------

    def failover(self, watch_seconds: int) -> list[Observation]:
        database = self.physical_id("Database")
        if database is None:
            return [skipped("failover", "the stack uses an existing database")]
        rds = self.client("rds")
        instance = rds.describe_db_instances(DBInstanceIdentifier=database)["DBInstances"][0]
        if not instance.get("MultiAZ"):
            return [skipped("failover", "single-AZ: a reboot is an outage; DatabaseMultiAZ=true")]
        created = self.customer("rds")
        rds.reboot_db_instance(DBInstanceIdentifier=database, ForceFailover=True)
        outage = watch(
            lambda: self.call("GET", f"/rds/customers/{created['id']}", "readers"), watch_seconds
        )
        return [
            observe(
                "failover",
                "a failover: 503s with Retry-After, never a 500, then 200s again",
                outage.summary(),
                outage.recovered and 500 not in outage.statuses,
            )
        ]

    def rotation(self, watch_seconds: int) -> list[Observation]:
        secret = self.outputs.get("DatabaseSecretArn")
        manager = self.client("secretsmanager")
        if not secret or not manager.describe_secret(SecretId=secret).get("RotationEnabled"):
            return [skipped("rotation", "rotation is off (DatabaseSecretRotationDays=0)")]
        created = self.customer("rds")
        manager.rotate_secret(SecretId=secret)
        seen = watch(
            lambda: self.call("GET", f"/rds/customers/{created['id']}", "readers"), watch_seconds
        )
        return [
            observe(
                "rotation",
                "a rotation while the API is used: no failed request (a rare 503 at most)",
                seen.summary(),
                all(status in (200, 503) for status in seen.statuses),
            )
        ]

    def failed_sync(self, wait_seconds: int) -> list[Observation]:
        parameter = self.outputs["PartnerFeedUrlParameterName"]
        ssm = self.client("ssm")
        original = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        function = self.outputs["PartnerFetcherFunctionName"]
        destination = on_failure_destination(async_config(self.client("lambda"), function))
        if not destination:
            return [skipped("failed-sync", f"the fetcher's {LIVE_ALIAS} alias has no OnFailure")]
        sqs = self.client("sqs")
        queue = sqs.get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
        ssm.put_parameter(Name=parameter, Value="https://127.0.0.1:9/unreachable", Overwrite=True)
        try:
            # the alias, as the schedule invokes it: $LATEST has no EventInvokeConfig
            self.client("lambda").invoke(
                FunctionName=function,
                Qualifier=LIVE_ALIAS,
                InvocationType="Event",
                Payload=b"{}",  # a run by hand: the fetcher refuses other sources' events
            )
            arrived = wait_for_message(sqs, queue, wait_seconds)
        finally:
            ssm.put_parameter(Name=parameter, Value=original, Overwrite=True)
        return [
            observe(
                "failed-sync",
                "an unreachable feed: Lambda retries twice, then the run is in the on-failure queue"
                " (a fetcher that ran in the last 5 minutes still has the real URL cached)",
                arrived,
                arrived.startswith("arrived"),
            )
        ]


def async_config(lambda_client: Any, function: str) -> dict[str, Any]:
    """The EventInvokeConfig of the function's live alias; {} when there is none."""
    try:
        config: dict[str, Any] = lambda_client.get_function_event_invoke_config(
            FunctionName=function, Qualifier=LIVE_ALIAS
        )
    except lambda_client.exceptions.ResourceNotFoundException:
        return {}
    return config


def on_failure_destination(config: dict[str, Any]) -> str | None:
    destination: str | None = (
        config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    )
    return destination


def _status(response: Any) -> str:
    body = (response.text or "")[:80].replace("\n", " ")
    return f"{response.status_code} {body}"


def _subsegment_names(document: dict[str, Any]) -> Iterator[str]:
    for sub in document.get("subsegments", []):
        yield str(sub.get("name"))
        yield from _subsegment_names(sub)


def _has_sql(document: dict[str, Any]) -> bool:
    return "sql" in document or any(_has_sql(sub) for sub in document.get("subsegments", []))


def pitr_lag(dynamodb: Any, table: str, now: datetime) -> Observation:
    """How far behind now the latest restorable time of `table` is."""
    description = dynamodb.describe_continuous_backups(TableName=table)[
        "ContinuousBackupsDescription"
    ]
    pitr = description.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        return observe("pitr", "point-in-time recovery on", str(pitr), False)
    latest = pitr["LatestRestorableDateTime"]
    lag = (now - latest).total_seconds()
    return observe(
        "pitr",
        "PITR on; the latest restorable time a few minutes behind (about 5, AWS says)",
        f"{lag:.0f} s behind; earliest {pitr['EarliestRestorableDateTime']:%Y-%m-%d %H:%M}",
        lag >= 0,
    )


@dataclass
class Watched:
    statuses: list[int]
    first_failure: float | None
    last_failure: float | None
    recovered: bool

    def summary(self) -> str:
        counts = {s: self.statuses.count(s) for s in sorted(set(self.statuses))}
        window = (
            "no failure"
            if self.first_failure is None or self.last_failure is None
            else f"failures for {self.last_failure - self.first_failure:.0f} s"
        )
        return f"{json.dumps(counts)}; {window}; recovered={self.recovered}"


def watch(request: Callable[[], Any], seconds: int) -> Watched:
    """Call `request` once a second for `seconds`; when failures start and stop."""
    statuses: list[int] = []
    first = last = None
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            status = request().status_code
        except requests.RequestException:
            status = 0
        statuses.append(status)
        if status >= 400 or status == 0:
            now = time.monotonic() - start
            first = now if first is None else first
            last = now
        time.sleep(1)
    return Watched(statuses, first, last, bool(statuses) and statuses[-1] == 200)


def wait_for_message(sqs: Any, queue_url: str, seconds: int) -> str:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        messages = sqs.receive_message(
            QueueUrl=queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=1
        ).get("Messages", [])
        if messages:
            return f"arrived after {time.monotonic() - start:.0f} s"
    return f"nothing within {seconds} s"


def run(drill: Drill, checks: list[str], args: argparse.Namespace) -> list[Observation]:
    actions: dict[str, Callable[[], list[Observation]]] = {
        "edge": drill.edge,
        "roles": drill.roles,
        "throttle": lambda: drill.throttle(args.burst),
        "rds": drill.rds,
        "s3": drill.s3,
        "pitr": drill.pitr,
        "scheduler": drill.scheduler,
        "xray": lambda: drill.xray(args.wait),
        "deployment": drill.deployment,
        "failover": lambda: drill.failover(args.watch),
        "rotation": lambda: drill.rotation(args.watch),
        "failed-sync": lambda: drill.failed_sync(args.watch),
    }
    observations: list[Observation] = []
    for check in checks:
        try:
            found = actions[check]()
        except Exception as error:  # noqa: BLE001 - one broken check must not hide the rest
            found = [observe(check, "the check runs", f"{type(error).__name__}: {error}", False)]
        for observation in found:
            print(observation.line(), flush=True)
        observations.extend(found)
    return observations


def chosen_checks(only: str | None, allow_disruption: bool) -> list[str]:
    available = list(SAFE) + (list(DISRUPTIVE) if allow_disruption else [])
    if not only:
        return available
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in SAFE + DISRUPTIVE]
    if unknown:
        raise SystemExit(f"unknown checks {unknown}; choose from {', '.join(SAFE + DISRUPTIVE)}")
    blocked = [name for name in wanted if name in DISRUPTIVE and not allow_disruption]
    if blocked:
        raise SystemExit(f"{blocked} disrupt the stack; add --allow-disruption to run them")
    return wanted


@contextmanager
def drill_for(session: Any, stack: str) -> Iterator[Drill]:
    drill = Drill(session, stack, stack_outputs(session.client("cloudformation"), stack))
    try:
        yield drill
    finally:
        drill.close()


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--stack", required=True, help="the deployed stack to drill (no default)")
    parse.add_argument("--region", default=None)
    parse.add_argument("--only", help=f"comma-separated: {', '.join(SAFE + DISRUPTIVE)}")
    parse.add_argument(
        "--allow-disruption", action="store_true", help="failover, rotation, failed-sync"
    )
    parse.add_argument("--burst", type=int, default=100, help="requests for the throttle check")
    parse.add_argument("--wait", type=int, default=90, help="seconds to wait for X-Ray traces")
    parse.add_argument("--watch", type=int, default=300, help="seconds to watch a disruption")
    return parse


def main(argv: list[str] | None = None, session: Any = None) -> int:
    args = parser().parse_args(argv)
    checks = chosen_checks(args.only, args.allow_disruption)
    session = session or boto3.session.Session(region_name=args.region)
    reason = refusal(session.client("cloudformation"), args.stack)
    if reason is not None:
        print(f"make drill-aws: refusing: {reason}", file=sys.stderr)
        return 2
    print(f"Drilling {args.stack} in {session.region_name}: {', '.join(checks)}\n", flush=True)
    with drill_for(session, args.stack) as drill:
        observations = run(drill, checks, args)
    unexpected = [o for o in observations if o.outcome == "UNEXPECTED"]
    print(f"\n{len(observations)} observations, {len(unexpected)} unexpected.")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
