"""The migrations custom resource: CloudFormation's events in, one PUT to the presigned
ResponseURL out, on every path (FAILED included), with Delete as a no-op."""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from customer_platform import migrations
from customer_platform.database import Credentials
from local_stack.assembly.stack import LocalStack
from local_stack.services.mysql import ServerAddress
from tests.support.mysql import (
    MASTER_SECRET,
    change_password,
    database_for,
    kill_connections,
    secret_document,
)

FUNCTION = "DatabaseMigrationsFunction"
LATEST = migrations.available()[-1].version


@dataclass
class ResponseBucket:
    """Stands in for the presigned S3 URL CloudFormation waits on."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def bucket() -> Iterator[ResponseBucket]:
    captured = ResponseBucket()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            captured.received.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(body),
                }
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    captured.url = f"http://127.0.0.1:{server.server_address[1]}/response?X-Amz-Signature=abc"
    yield captured
    server.shutdown()
    server.server_close()


def cfn_event(request_type: str, url: str, physical_id: str | None = None) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrations",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/customer-platform/guid",
        "RequestId": f"request-{request_type.lower()}",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "SharedLayerVersion": "arn:layer:1"},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def drop_schema(stack: LocalStack) -> None:
    db = database_for(Credentials.from_secret(json.dumps(secret_document(stack, MASTER_SECRET))))
    db.run(lambda cursor: cursor.execute("DROP TABLE customers, schema_migrations"))
    db.close()


def test_create_applies_the_migrations_and_answers_success(
    fresh_stack: LocalStack, bucket: ResponseBucket
):
    drop_schema(fresh_stack)

    fresh_stack.function(FUNCTION).invoke(cfn_event("Create", bucket.url))

    [response] = bucket.received
    assert response["content_type"] == ""  # what the presigned URL was signed for
    assert response["path"] == "/response?X-Amz-Signature=abc"
    body = response["body"]
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "database-schema"
    assert body["RequestId"] == "request-create"
    assert body["LogicalResourceId"] == "DatabaseMigrations"
    assert body["StackId"].startswith("arn:aws:cloudformation:")
    assert body["Data"] == {
        "Applied": ",".join(m.version for m in migrations.available()),
        "Version": LATEST,
    }
    assert CustomersClientLike(fresh_stack).works()


def test_an_update_with_nothing_new_applies_nothing_and_keeps_the_physical_id(
    stack: LocalStack, bucket: ResponseBucket
):
    stack.function(FUNCTION).invoke(cfn_event("Update", bucket.url, "database-schema"))

    body = bucket.received[0]["body"]
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "database-schema"
    assert body["Data"] == {"Applied": "none", "Version": LATEST}


def lock_out(stack: LocalStack, server: ServerAddress) -> None:
    """The database refuses the function: its (master) password changed, its session ended."""
    user = secret_document(stack, MASTER_SECRET)["username"]
    change_password(server, user, uuid.uuid4().hex)
    kill_connections(server, user)


def test_a_failure_still_answers_with_failed_and_a_reason_that_leaks_nothing(
    fresh_stack: LocalStack, bucket: ResponseBucket, mysql_server: ServerAddress
):
    document = secret_document(fresh_stack, MASTER_SECRET)
    lock_out(fresh_stack, mysql_server)

    result = fresh_stack.function(FUNCTION).invoke(cfn_event("Create", bucket.url)).result

    [response] = bucket.received
    body = response["body"]
    assert body["Status"] == "FAILED"
    # Lambda's log stream name of the execution environment: YYYY/MM/DD/[$LATEST]<32 hex>
    assert re.fullmatch(
        r"Create failed; see log stream \d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["Reason"]
    )
    assert document["password"] not in json.dumps(body)
    assert result["Status"] == "FAILED"


def test_delete_is_a_no_op_that_answers_success_even_without_a_database(
    fresh_stack: LocalStack, bucket: ResponseBucket, mysql_server: ServerAddress
):
    lock_out(fresh_stack, mysql_server)

    fresh_stack.function(FUNCTION).invoke(cfn_event("Delete", bucket.url, "database-schema"))

    body = bucket.received[0]["body"]
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "database-schema"
    assert body["Data"] == {}


def test_a_direct_invoke_migrates_and_returns_the_versions(fresh_stack: LocalStack):
    drop_schema(fresh_stack)

    result = fresh_stack.function(FUNCTION).invoke({}).result

    assert result == {
        "Applied": ",".join(m.version for m in migrations.available()),
        "Version": LATEST,
    }


@dataclass
class CustomersClientLike:
    stack: LocalStack

    def works(self) -> bool:
        response = self.stack.api.request(
            "POST", "/rds/customers", body=json.dumps({"name": "Ada", "email": "ada@example.com"})
        )
        return response.status == 201
