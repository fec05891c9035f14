"""The baseline: the customers CRUD handlers on RDS written the way the source notes write them.

A faithful re-creation of ../shared/seeds/002, "4 APIs for all CRUD operations" (one
`lambda_handler` per operation) with the `get_secret()` of "setup the lambda function and
connect it with RDS" in place of the hard-coded credentials: every invocation builds a
boto3 session and a Secrets Manager client, fetches the secret, opens a MySQL connection,
runs one statement (committing writes), closes the connection, and turns any error into a
500 carrying the exception text. Kept only so the benchmark can measure what the real
handler saves. Do not copy it.

Adapted to this project's schema and nothing else: the notes' `INSERT (name, email)`
relies on an auto-increment id and default timestamps that `customers` does not have, so
create also sends the id and both timestamps; the notes have no list operation, so `list_`
is written in the same style (`SELECT * ... LIMIT`). `SELECT *` is read by position as in
the notes, which since migration 0002 (`partner_id` after `id`) returns the partner id as
the name: one more way that style breaks, and no cost difference for the benchmark.

`REUSING_CLIENT` is the same handlers with one change: the Secrets Manager client is built
once per execution environment and reused, as anyone would fix first. They still fetch the
secret and connect on every call, so the two together separate what the notes' boto3
session per call costs from what fetching the secret and connecting per call costs.
"""

import json
import os
import uuid
from collections.abc import Callable
from functools import cache, partial
from typing import Any

import boto3
import pymysql

Event = dict[str, Any]
Response = dict[str, Any]


def get_secret() -> dict[str, Any]:
    session = boto3.session.Session()
    client = session.client(service_name="secretsmanager", region_name=os.environ["AWS_REGION"])
    response = client.get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])
    secret: dict[str, Any] = json.loads(response["SecretString"])
    return secret


@cache
def _reused_client() -> Any:
    return boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"])


def get_secret_reusing_client() -> dict[str, Any]:
    response = _reused_client().get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])
    secret: dict[str, Any] = json.loads(response["SecretString"])
    return secret


def connect(fetch: Callable[[], dict[str, Any]] = get_secret) -> Any:
    secret = fetch()
    return pymysql.connect(
        host=secret["host"],
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
        port=int(secret["port"]),
    )


def create(event: Event, context: Any, connect: Callable[[], Any] = connect) -> Response:
    connection = connect()
    cursor = connection.cursor()
    try:
        data = json.loads(event["body"])
        name = data["name"]
        email = data["email"]
        sql = (
            "INSERT INTO customers (id, name, email, created_at, updated_at) "
            "VALUES (%s, %s, %s, NOW(3), NOW(3))"
        )
        cursor.execute(sql, (str(uuid.uuid4()), name, email))
        connection.commit()
        return {"statusCode": 200, "body": json.dumps("Customer created successfully")}
    except Exception as e:  # noqa: BLE001 - the baseline's error handling, kept as written
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()


def get(event: Event, context: Any, connect: Callable[[], Any] = connect) -> Response:
    connection = connect()
    cursor = connection.cursor()
    try:
        customer_id = event["pathParameters"]["id"]
        cursor.execute("SELECT * FROM customers WHERE id = %s", (customer_id,))
        row = cursor.fetchone()
        if row:
            customer = {"id": row[0], "name": row[1], "email": row[2]}
            return {"statusCode": 200, "body": json.dumps(customer)}
        return {"statusCode": 404, "body": json.dumps("Customer not found")}
    except Exception as e:  # noqa: BLE001
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()


def update(event: Event, context: Any, connect: Callable[[], Any] = connect) -> Response:
    connection = connect()
    cursor = connection.cursor()
    try:
        customer_id = event["pathParameters"]["id"]
        data = json.loads(event["body"])
        name = data["name"]
        email = data["email"]
        sql = "UPDATE customers SET name = %s, email = %s WHERE id = %s"
        cursor.execute(sql, (name, email, customer_id))
        connection.commit()
        return {"statusCode": 200, "body": json.dumps("Customer updated successfully")}
    except Exception as e:  # noqa: BLE001
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()


def delete(event: Event, context: Any, connect: Callable[[], Any] = connect) -> Response:
    connection = connect()
    cursor = connection.cursor()
    try:
        customer_id = event["pathParameters"]["id"]
        cursor.execute("DELETE FROM customers WHERE id = %s", (customer_id,))
        connection.commit()
        return {"statusCode": 200, "body": json.dumps("Customer deleted successfully")}
    except Exception as e:  # noqa: BLE001
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()


def list_(event: Event, context: Any, connect: Callable[[], Any] = connect) -> Response:
    connection = connect()
    cursor = connection.cursor()
    try:
        limit = int((event.get("queryStringParameters") or {}).get("limit", 20))
        cursor.execute("SELECT * FROM customers LIMIT %s", (limit,))
        customers = [{"id": r[0], "name": r[1], "email": r[2]} for r in cursor.fetchall()]
        return {"statusCode": 200, "body": json.dumps(customers)}
    except Exception as e:  # noqa: BLE001
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()


HANDLERS: dict[str, Callable[[Event, Any], Response]] = {
    "create": create,
    "get": get,
    "update": update,
    "delete": delete,
    "list": list_,
}


def _reusing_client(handler: Callable[..., Response]) -> Callable[[Event, Any], Response]:
    def reusing(event: Event, context: Any) -> Response:
        return handler(event, context, connect=partial(connect, get_secret_reusing_client))

    return reusing


REUSING_CLIENT: dict[str, Callable[[Event, Any], Response]] = {
    name: _reusing_client(handler) for name, handler in HANDLERS.items()
}
