"""The baseline: GET /customers/{id} written the way the source notes write it.

A faithful re-creation of ../shared/seeds/002 ("4 APIs for all CRUD operations" plus the
`get_secret()` of "setup the lambda function and connect it with RDS"): every invocation
builds a Secrets Manager client, fetches the secret, opens a MySQL connection, runs the
query, closes the connection, and turns any error into a 500 carrying the exception text.
Kept only so the benchmark can measure what the real handler saves. Do not copy it.
"""

import json
import os
from typing import Any

import boto3
import pymysql


def get_secret() -> dict[str, Any]:
    session = boto3.session.Session()
    client = session.client(service_name="secretsmanager", region_name=os.environ["AWS_REGION"])
    response = client.get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])
    secret: dict[str, Any] = json.loads(response["SecretString"])
    return secret


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    secret = get_secret()
    connection = pymysql.connect(
        host=secret["host"],
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
        port=int(secret["port"]),
    )
    cursor = connection.cursor()
    try:
        customer_id = event["pathParameters"]["id"]
        cursor.execute("SELECT * FROM customers WHERE id = %s", (customer_id,))
        row = cursor.fetchone()
        if row:
            customer = {"id": row[0], "name": row[1], "email": row[2]}
            return {"statusCode": 200, "body": json.dumps(customer)}
        return {"statusCode": 404, "body": json.dumps("Customer not found")}
    except Exception as e:  # noqa: BLE001 - the baseline's error handling, kept as written
        return {"statusCode": 500, "body": json.dumps(str(e))}
    finally:
        cursor.close()
        connection.close()
