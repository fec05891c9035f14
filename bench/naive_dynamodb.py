"""The baseline: the customers CRUD handlers on DynamoDB as the source notes write them.

A faithful re-creation of ../shared/seeds/002, "REST API in python which processes CRUD
operations with DynamoDB": a module-level `boto3.resource('dynamodb').Table(...)`, one
Table call per handler (put_item of the request body, get_item, update_item of an `info`
map, delete_item), every ClientError a 500 with its text, and no validation, uniqueness
or concurrency check. Unlike the notes' RDS code, these already reuse their client across
warm invocations, so the gap to ours is what validation, the email guard and optimistic
concurrency cost, not connection churn.

Adapted to this project's table and nothing else: the table name comes from
CUSTOMERS_TABLE_NAME instead of the literal 'Customers', and the key is the table's `pk`
("CUSTOMER#<id>") instead of `customerId`. The notes have no list operation; `list_` is
written in the same style (`table.scan(Limit=...)`). The resource is built on first use
rather than at import, so that it is created inside the benchmark's moto.
"""

import json
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

Event = dict[str, Any]
Response = dict[str, Any]


@cache
def table() -> Any:  # the notes: `dynamodb = boto3.resource('dynamodb'); table = ...` at import
    dynamodb = boto3.resource("dynamodb")
    return dynamodb.Table(os.environ["CUSTOMERS_TABLE_NAME"])


def _key(customer_id: str) -> dict[str, str]:
    return {"pk": "CUSTOMER#" + customer_id}


def create(event: Event, context: Any) -> Response:
    try:
        data = json.loads(event["body"])
        table().put_item(Item=_key(data["customerId"]) | data)
        return {"statusCode": 200, "body": json.dumps("Customer created successfully")}
    except ClientError as e:
        return {"statusCode": 500, "body": json.dumps(str(e))}


def get(event: Event, context: Any) -> Response:
    customer_id = event["pathParameters"]["id"]
    try:
        response = table().get_item(Key=_key(customer_id))
        item = response.get("Item")
        if item:
            return {"statusCode": 200, "body": json.dumps(item)}
        return {"statusCode": 404, "body": json.dumps("Customer not found")}
    except ClientError as e:
        return {"statusCode": 500, "body": json.dumps(str(e))}


def update(event: Event, context: Any) -> Response:
    customer_id = event["pathParameters"]["id"]
    data = json.loads(event["body"])
    try:
        table().update_item(
            Key=_key(customer_id),
            UpdateExpression="set info = :i",
            ExpressionAttributeValues={":i": data},
            ReturnValues="UPDATED_NEW",
        )
        return {"statusCode": 200, "body": json.dumps("Customer updated successfully")}
    except ClientError as e:
        return {"statusCode": 500, "body": json.dumps(str(e))}


def delete(event: Event, context: Any) -> Response:
    customer_id = event["pathParameters"]["id"]
    try:
        table().delete_item(Key=_key(customer_id))
        return {"statusCode": 200, "body": json.dumps("Customer deleted successfully")}
    except ClientError as e:
        return {"statusCode": 500, "body": json.dumps(str(e))}


def list_(event: Event, context: Any) -> Response:
    limit = int((event.get("queryStringParameters") or {}).get("limit", 20))
    try:
        response = table().scan(Limit=limit)
        return {"statusCode": 200, "body": json.dumps(response.get("Items", []))}
    except ClientError as e:
        return {"statusCode": 500, "body": json.dumps(str(e))}


HANDLERS: dict[str, Callable[[Event, Any], Response]] = {
    "create": create,
    "get": get,
    "update": update,
    "delete": delete,
    "list": list_,
}
