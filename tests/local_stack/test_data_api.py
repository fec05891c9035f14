"""The local RDS Data API, judged by boto3 and botocore's service model of rds-data.

Every answer is checked twice: botocore parses it (what an SDK sees), and its raw JSON is
checked against the operation's output shape in the model (`conforms`), because botocore's
parser silently drops members it does not know. Errors must carry the code and the HTTP
status the model gives them. Behaviour follows the RDS Data API Reference and the Aurora
User Guide (sources in local_stack/services/data_api/).

Tests run on the session's stack (its Aurora cluster) as the account's administrator, with
a scratch table of their own, and restore every switch they touch.
"""

import base64
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape

from local_stack.assembly.stack import LocalStack
from local_stack.services import data_api
from local_stack.services.data_api.service import OPERATIONS
from tests.support.polling import rounds

MODEL = botocore.session.get_session().get_service_model("rds-data")


# -- the model as the judge ---------------------------------------------------------------


def conforms(value: Any, shape: Shape, where: str = "$") -> list[str]:  # noqa: PLR0911
    """Where `value` (decoded JSON) departs from `shape`: unknown or missing members, a union
    with other than one member, a wrong JSON type, a value outside an enum."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        members = shape.members  # type: ignore[attr-defined]
        problems = [f"{where}.{k}: not in {shape.name}" for k in value if k not in members]
        required = shape.required_members
        problems += [f"{where}.{k}: required" for k in required if k not in value]
        if shape.is_tagged_union and len(value) != 1:  # type: ignore[attr-defined]
            problems.append(f"{where}: a union with {len(value)} members")
        for key, item in value.items():
            if key in members:
                problems += conforms(item, members[key], f"{where}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        member = shape.member  # type: ignore[attr-defined]
        return [p for i, item in enumerate(value) for p in conforms(item, member, f"{where}[{i}]")]
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "blob": (str,),
        "boolean": (bool,),
        "integer": (int,),
        "long": (int,),
        "double": (int, float),
    }
    if kind in expected:
        ok = isinstance(value, expected[kind]) and not (
            kind in ("integer", "long", "double") and isinstance(value, bool)
        )
        if not ok:
            return [f"{where}: {value!r} is not a {kind}"]
        enum = getattr(shape, "enum", None)
        if kind == "string" and enum and value not in enum:
            return [f"{where}: {value!r} not in {enum}"]
        if kind == "blob":
            base64.b64decode(value, validate=True)
        return []
    return [f"{where}: no check for {kind}"]


class Recorder:
    """The raw HTTP answers a client received (before botocore parsed them)."""

    def __init__(self, client: Any) -> None:
        self.answers: list[tuple[str, int, dict[str, str], Any]] = []
        client.meta.events.register("before-parse.rds-data.*", self._grab)

    def _grab(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict["body"]
        self.answers.append(
            (
                operation_model.name,
                response_dict["status_code"],
                dict(response_dict["headers"]),
                json.loads(body) if body else None,
            )
        )

    def last(self) -> tuple[str, int, dict[str, str], Any]:
        return self.answers[-1]

    def check_last(self) -> Any:
        """The last answer conforms to its operation's output (or error) shape."""
        operation, status, headers, body = self.last()
        if status == 200:
            output = MODEL.operation_model(operation).output_shape
            assert output is not None
            problems = conforms(body, output)
        else:
            code = headers["x-amzn-ErrorType"].split(":")[0]
            error = MODEL.shape_for(code)
            assert error.metadata["error"]["httpStatusCode"] == status, (code, status)
            assert code in {e.name for e in MODEL.operation_model(operation).error_shapes}
            problems = conforms(body, error)
        assert problems == [], problems
        return body


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_arn(stack: LocalStack) -> str:
    return str(stack.outputs()["AuroraClusterArn"])


@pytest.fixture
def cluster(cluster_arn: str) -> Iterator[data_api.LocalCluster]:
    """The stack's local cluster; every switch a test sets is restored after it."""
    found = data_api.cluster(cluster_arn)
    saved = (found.transaction_idle_s, found.transaction_max_s, found.statement_timeout_s)
    yield found
    found.transaction_idle_s, found.transaction_max_s, found.statement_timeout_s = saved


@pytest.fixture
def rds_data(stack: LocalStack) -> Any:
    return stack.cloud.client("rds-data")


@pytest.fixture
def recorder(rds_data: Any) -> Iterator[Recorder]:
    recorder = Recorder(rds_data)
    yield recorder
    rds_data.meta.events.unregister("before-parse.rds-data.*", recorder._grab)


@pytest.fixture
def master(stack: LocalStack, cluster_arn: str) -> dict[str, str]:
    """Call arguments as the cluster's master (the only user that may create tables)."""
    return {
        "resourceArn": cluster_arn,
        "secretArn": str(stack.outputs()["AuroraMasterSecretArn"]),
        "database": "customers",
    }


@pytest.fixture
def table(rds_data: Any, master: dict[str, str]) -> Iterator[str]:
    """A scratch table with a column of each type the mapping distinguishes."""
    name = f"t_types_{uuid.uuid4().hex[:10]}"
    rds_data.execute_statement(
        **master,
        sql=f"CREATE TABLE {name} (id BIGINT AUTO_INCREMENT PRIMARY KEY, i INT, "
        "d DECIMAL(10,2), f DOUBLE, ts DATETIME(3), day DATE, t TIME, s VARCHAR(20), "
        "b VARBINARY(8), flag BIT(1), doc JSON, n VARCHAR(5) NULL)",
    )
    yield name
    rds_data.execute_statement(**master, sql=f"DROP TABLE IF EXISTS {name}")


def insert_row(rds_data: Any, master: dict[str, str], table: str, **extra: Any) -> Any:
    return rds_data.execute_statement(
        **master,
        sql=f"INSERT INTO {table} (i, d, f, ts, day, t, s, b, flag, doc, n) VALUES "  # noqa: S608 - a scratch table
        "(:i, :d, :f, :ts, :day, :t, :s, :b, :flag, :doc, :n)",
        parameters=[
            {"name": "i", "value": {"longValue": 42}},
            {"name": "d", "value": {"stringValue": "12.30"}, "typeHint": "DECIMAL"},
            {"name": "f", "value": {"doubleValue": 2.5}},
            {
                "name": "ts",
                "value": {"stringValue": "2026-11-22 10:15:00.123"},
                "typeHint": "TIMESTAMP",
            },
            {"name": "day", "value": {"stringValue": "2026-11-22"}, "typeHint": "DATE"},
            {"name": "t", "value": {"stringValue": "10:15:00"}, "typeHint": "TIME"},
            {"name": "s", "value": {"stringValue": "Ada: 100% ':x'"}},
            {"name": "b", "value": {"blobValue": b"\x00\xff"}},
            {"name": "flag", "value": {"booleanValue": True}},
            {"name": "doc", "value": {"stringValue": '{"a": 1}'}, "typeHint": "JSON"},
            {"name": "n", "value": {"isNull": True}},
        ],
        **extra,
    )


def error_of(call: Any) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


# -- the model's operations -------------------------------------------------------------------


def test_every_operation_of_the_model_is_routed_by_its_request_uri():
    """Mutation caught: a path of OPERATIONS that differs from the model's requestUri
    (the SDKs would reach moto's canned rds-data instead)."""
    routed = {
        MODEL.operation_model(name).http["requestUri"]: name for name in MODEL.operation_names
    }

    assert routed == OPERATIONS


# -- types --------------------------------------------------------------------------------------


def test_typed_parameters_go_in_and_each_type_comes_back_as_the_data_api_maps_it(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    """Given a row written with typed parameters (type hints for DECIMAL, TIMESTAMP, DATE,
    TIME, JSON; text holding `%`, quotes and `:x` that must stay text)
    When it is read with includeResultMetadata
    Then each column comes back in the Field member the Data API uses, and the metadata
    names its JDBC type. Mutations caught: DECIMAL as a double; a DATETIME's milliseconds
    dropped; `:x` inside quotes bound as a parameter; BIT(1) as a blob."""
    insert_row(rds_data, master, table)
    recorder.check_last()

    response = rds_data.execute_statement(
        **master,
        sql=f"SELECT i, d, f, ts, day, t, s, b, flag, doc, n, id FROM {table}",  # noqa: S608 - a scratch table
        includeResultMetadata=True,
    )
    body = recorder.check_last()

    (record,) = response["records"]
    assert record[:10] == [
        {"longValue": 42},
        {"stringValue": "12.30"},
        {"doubleValue": 2.5},
        {"stringValue": "2026-11-22 10:15:00.123"},
        {"stringValue": "2026-11-22"},
        {"stringValue": "10:15:00"},
        {"stringValue": "Ada: 100% ':x'"},
        {"blobValue": b"\x00\xff"},
        {"booleanValue": True},
        {"stringValue": '{"a": 1}'},
    ]
    assert record[10] == {"isNull": True}
    assert body["records"][0][7] == {"blobValue": base64.b64encode(b"\x00\xff").decode()}
    metadata = {c["name"]: c for c in response["columnMetadata"]}
    assert (metadata["i"]["type"], metadata["i"]["typeName"]) == (4, "INT")
    assert (metadata["d"]["typeName"], metadata["d"]["scale"]) == ("DECIMAL", 2)
    assert (metadata["ts"]["type"], metadata["ts"]["typeName"]) == (93, "DATETIME")
    assert metadata["id"]["isAutoIncrement"] is True
    assert metadata["n"]["nullable"] == 1
    assert metadata["s"]["tableName"] == table


def test_json_format_returns_one_string_of_objects_keyed_by_column(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    """formatRecordsAs=JSON: `formattedRecords` only (no records, no columnMetadata even
    when asked), DECIMAL as a string unless decimalReturnType says DOUBLE_OR_LONG, BIGINT as
    a string with longReturnType STRING. Mutation caught: columnMetadata sent with JSON."""
    insert_row(rds_data, master, table)
    sql = f"SELECT id AS ident, d, ts, flag, n FROM {table}"  # noqa: S608 - a scratch table

    plain = rds_data.execute_statement(
        **master, sql=sql, formatRecordsAs="JSON", includeResultMetadata=True
    )
    recorder.check_last()
    options = {"decimalReturnType": "DOUBLE_OR_LONG", "longReturnType": "STRING"}
    numeric = rds_data.execute_statement(
        **master, sql=sql, formatRecordsAs="JSON", resultSetOptions=options
    )

    assert "records" not in plain
    assert "columnMetadata" not in plain
    (row,) = json.loads(plain["formattedRecords"])
    assert set(row) == {"ident", "d", "ts", "flag", "n"}
    assert (row["d"], row["ts"], row["flag"], row["n"]) == (
        "12.30",
        "2026-11-22 10:15:00.123",
        True,
        None,
    )
    (converted,) = json.loads(numeric["formattedRecords"])
    assert converted["d"] == 12.3
    assert converted["ident"] == str(row["ident"])


def test_writes_report_rows_changed_and_generated_keys(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    first = insert_row(rds_data, master, table)
    second = insert_row(rds_data, master, table)
    updated = rds_data.execute_statement(**master, sql=f"UPDATE {table} SET i = i + 1")  # noqa: S608 - a scratch table
    recorder.check_last()

    assert first["numberOfRecordsUpdated"] == 1
    (generated,) = first["generatedFields"]
    assert second["generatedFields"] == [{"longValue": generated["longValue"] + 1}]
    assert updated["numberOfRecordsUpdated"] == 2


def test_batch_runs_the_statement_once_per_parameter_set(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    response = rds_data.batch_execute_statement(
        **master,
        sql=f"INSERT INTO {table} (s) VALUES (:s)",  # noqa: S608 - a scratch table
        parameterSets=[[{"name": "s", "value": {"stringValue": name}}] for name in "abc"],
    )
    recorder.check_last()
    rows = rds_data.execute_statement(
        **master,
        sql=f"SELECT s FROM {table} ORDER BY id",  # noqa: S608 - a scratch table
        formatRecordsAs="JSON",
    )

    assert len(response["updateResults"]) == 3
    assert all(len(result["generatedFields"]) == 1 for result in response["updateResults"])
    assert json.loads(rows["formattedRecords"]) == [{"s": "a"}, {"s": "b"}, {"s": "c"}]


@pytest.mark.parametrize(
    "case",
    [
        ([], "SELECT :missing", "a placeholder without a parameter"),
        (
            [{"name": "a", "value": {"arrayValue": {"longValues": [1]}}}],
            "SELECT :a",
            "array parameters, which the Data API does not support",
        ),
        (
            [{"name": "t", "value": {"stringValue": "22/11/2026"}, "typeHint": "TIMESTAMP"}],
            "SELECT :t",
            "a TIMESTAMP hint on text that is not YYYY-MM-DD HH:MM:SS",
        ),
    ],
)
def test_parameters_the_data_api_refuses_are_bad_requests(
    rds_data: Any, master: dict[str, str], recorder: Recorder, case: tuple[Any, str, str]
):
    parameters, sql, why = case

    error = error_of(lambda: rds_data.execute_statement(**master, sql=sql, parameters=parameters))

    assert error.response["Error"]["Code"] == "BadRequestException", why
    recorder.check_last()


def test_a_failing_statement_is_a_database_error_with_mysqls_code(
    rds_data: Any, master: dict[str, str], recorder: Recorder
):
    error = error_of(lambda: rds_data.execute_statement(**master, sql="SELECT * FROM nowhere"))

    assert error.response["Error"]["Code"] == "DatabaseErrorException"
    assert error.response["Error"]["Message"].startswith("Database error code: 1146. Message:")
    recorder.check_last()


def test_a_result_over_one_mebibyte_is_refused(rds_data: Any, master: dict[str, str]):
    """ "The response size limit is 1 MiB" (Data API limitations). Mutation caught: no
    size check (the call would answer 2 MB)."""
    sql = "SELECT REPEAT('x', 60000) AS chunk FROM (SELECT 1 UNION ALL SELECT 2) a, " + ", ".join(  # noqa: S608 - a scratch table
        f"(SELECT 1 UNION ALL SELECT 2) t{i}" for i in range(5)
    )

    error = error_of(lambda: rds_data.execute_statement(**master, sql=sql))

    assert error.response["Error"]["Code"] == "BadRequestException"
    assert "size limit" in error.response["Error"]["Message"]


# -- transactions -----------------------------------------------------------------------------


def count(rds_data: Any, master: dict[str, str], table: str, **extra: Any) -> int:
    response = rds_data.execute_statement(
        **master,
        sql=f"SELECT COUNT(*) AS n FROM {table}",  # noqa: S608 - a scratch table
        formatRecordsAs="JSON",
        **extra,
    )
    return int(json.loads(response["formattedRecords"])[0]["n"])


def test_a_transaction_is_seen_only_inside_until_commit_and_then_is_gone(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    """Mutation caught: statements of a transaction run on a pooled autocommit connection
    (the row would be visible outside before COMMIT)."""
    transaction = rds_data.begin_transaction(**master)["transactionId"]
    recorder.check_last()
    insert_row(rds_data, master, table, transactionId=transaction)
    inside = count(rds_data, master, table, transactionId=transaction)
    outside = count(rds_data, master, table)

    committed = rds_data.commit_transaction(
        resourceArn=master["resourceArn"], secretArn=master["secretArn"], transactionId=transaction
    )
    recorder.check_last()

    assert (inside, outside) == (1, 0)
    assert committed["transactionStatus"] == "Transaction Committed"
    assert count(rds_data, master, table) == 1
    # a statement in a committed transaction: its id is gone
    error = error_of(lambda: count(rds_data, master, table, transactionId=transaction))
    assert error.response["Error"]["Code"] == "TransactionNotFoundException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    recorder.check_last()


def test_rollback_undoes_and_ends_the_transaction(
    rds_data: Any, master: dict[str, str], table: str, recorder: Recorder
):
    transaction = rds_data.begin_transaction(**master)["transactionId"]
    insert_row(rds_data, master, table, transactionId=transaction)
    ids = {"resourceArn": master["resourceArn"], "secretArn": master["secretArn"]}

    rolled_back = rds_data.rollback_transaction(**ids, transactionId=transaction)
    recorder.check_last()

    assert rolled_back["transactionStatus"] == "Rollback Complete"
    assert count(rds_data, master, table) == 0
    error = error_of(lambda: rds_data.commit_transaction(**ids, transactionId=transaction))
    assert error.response["Error"]["Code"] == "TransactionNotFoundException"


def test_an_error_in_a_transaction_ends_it_rolled_back(
    rds_data: Any, master: dict[str, str], table: str
):
    """ "The transaction was aborted because of an error in a previous call" (Troubleshooting
    RDS Data API). Mutation caught: the transaction kept open after a failed statement."""
    transaction = rds_data.begin_transaction(**master)["transactionId"]
    insert_row(rds_data, master, table, transactionId=transaction)

    failed = error_of(
        lambda: rds_data.execute_statement(
            **master, sql="SELECT * FROM nowhere", transactionId=transaction
        )
    )
    after = error_of(lambda: count(rds_data, master, table, transactionId=transaction))

    assert failed.response["Error"]["Code"] == "DatabaseErrorException"
    assert after.response["Error"]["Code"] == "TransactionNotFoundException"
    assert count(rds_data, master, table) == 0


def test_an_idle_transaction_times_out_rolled_back_and_releases_its_locks(
    rds_data: Any, master: dict[str, str], table: str, cluster: data_api.LocalCluster
):
    """AWS: a transaction times out after 3 minutes without a call that uses its id, and is
    rolled back (BeginTransaction). Here the limit is shortened. Mutation caught: expired
    transactions only noticed when their id is used again (the row lock would be held, and
    the UPDATE below would wait for it)."""
    insert_row(rds_data, master, table)
    cluster.transaction_idle_s = 0.2
    transaction = rds_data.begin_transaction(**master)["transactionId"]
    rds_data.execute_statement(
        **master,
        sql=f"UPDATE {table} SET s = 'locked'",  # noqa: S608 - a scratch table
        transactionId=transaction,
    )

    for _ in rounds("the idle transaction to expire"):
        if cluster.open_transactions() == 0:
            break
        time.sleep(0.05)
    changed = rds_data.execute_statement(**master, sql=f"UPDATE {table} SET s = 'free'")  # noqa: S608 - a scratch table

    assert changed["numberOfRecordsUpdated"] == 1
    error = error_of(lambda: count(rds_data, master, table, transactionId=transaction))
    assert error.response["Error"]["Code"] == "TransactionNotFoundException"


# -- the writer's state -----------------------------------------------------------------------


def test_a_paused_cluster_answers_resuming_until_it_has_resumed(
    rds_data: Any, master: dict[str, str], cluster: data_api.LocalCluster, recorder: Recorder
):
    """A paused Serverless v2 writer: the first request starts the resume, and requests
    meanwhile get DatabaseResumingException (HTTP 400); then it serves again."""
    cluster.pause(resume_seconds=0.5)

    error = error_of(lambda: rds_data.execute_statement(**master, sql="SELECT 1"))
    recorder.check_last()
    meanwhile = set()
    for _ in rounds("the cluster to resume"):
        try:
            served = rds_data.execute_statement(**master, sql="SELECT 1 AS one")
            break
        except ClientError as again:
            meanwhile.add(again.response["Error"]["Code"])
            time.sleep(0.05)

    assert meanwhile <= {"DatabaseResumingException"}
    assert error.response["Error"]["Code"] == "DatabaseResumingException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert served["records"] == [[{"longValue": 1}]]


def test_a_statement_over_the_timeout_is_stopped_and_reported_with_its_connection(
    rds_data: Any, master: dict[str, str], cluster: data_api.LocalCluster, recorder: Recorder
):
    """The Data API stops a statement at its timeout (45 s in AWS, shortened here) unless
    continueAfterTimeout. Mutation caught: the statement left running (SLEEP would finish
    and answer 0 instead of the error)."""
    cluster.statement_timeout_s = 0.3

    error = error_of(lambda: rds_data.execute_statement(**master, sql="SELECT SLEEP(5)"))
    body = recorder.check_last()

    assert error.response["Error"]["Code"] == "StatementTimeoutException"
    assert isinstance(body["dbConnectionId"], int)
    assert rds_data.execute_statement(**master, sql="SELECT 2")["records"] == [[{"longValue": 2}]]


# -- authorization ----------------------------------------------------------------------------


def client_as(stack: LocalStack, function: str) -> Any:
    issued = stack.endpoint.registry.issue(stack.policies.functions[function].principal())
    return boto3.client(
        "rds-data",
        region_name=stack.region,
        endpoint_url=stack.endpoint.url,
        aws_access_key_id=issued.access_key_id,
        aws_secret_access_key=issued.secret_access_key,
        aws_session_token=issued.session_token,
    )


def test_the_iam_gate_wants_the_action_on_the_cluster_and_the_callers_secret_read(
    stack: LocalStack, cluster_arn: str, master: dict[str, str]
):
    """As the customers-aurora function's role: its own secret works; the master's secret
    is refused (no GetSecretValue on it), as is any call by a role without rds-data (the
    /rds function's)."""
    aurora = client_as(stack, "CustomersAuroraFunction")
    own = {"resourceArn": cluster_arn, "secretArn": str(stack.outputs()["AuroraSecretArn"])}

    allowed = aurora.execute_statement(**own, database="customers", sql="SELECT 1")
    masters = error_of(lambda: aurora.execute_statement(**master, sql="SELECT 1"))
    other = error_of(
        lambda: client_as(stack, "CustomersRdsFunction").execute_statement(
            **own, database="customers", sql="SELECT 1"
        )
    )

    assert allowed["records"] == [[{"longValue": 1}]]
    assert masters.response["Error"]["Code"] == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in masters.response["Error"]["Message"]
    assert other.response["Error"]["Code"] == "AccessDeniedException"
    assert "rds-data:ExecuteStatement" in other.response["Error"]["Message"]


def test_the_application_user_may_not_change_the_schema(
    rds_data: Any, stack: LocalStack, cluster_arn: str
):
    """The function's user has the application's privileges only (migrations grant them):
    no DDL. Mutation caught: the migrations granting ALL to the application's user."""
    own = {"resourceArn": cluster_arn, "secretArn": str(stack.outputs()["AuroraSecretArn"])}

    error = error_of(
        lambda: rds_data.execute_statement(
            **own, database="customers", sql="ALTER TABLE customers ADD COLUMN x INT"
        )
    )

    assert error.response["Error"]["Code"] == "DatabaseErrorException"
    assert "command denied" in error.response["Error"]["Message"]


def test_decimal_values_round_trip_as_text(rds_data: Any, master: dict[str, str], table: str):
    """DECIMAL travels as text both ways (typeHint DECIMAL in, stringValue out), so no
    binary floating point touches it."""
    value = Decimal("99999999.99")
    rds_data.execute_statement(
        **master,
        sql=f"INSERT INTO {table} (d) VALUES (:d)",  # noqa: S608 - a scratch table
        parameters=[{"name": "d", "value": {"stringValue": str(value)}, "typeHint": "DECIMAL"}],
    )

    response = rds_data.execute_statement(**master, sql=f"SELECT d FROM {table}")  # noqa: S608 - a scratch table

    assert Decimal(response["records"][0][0]["stringValue"]) == value
