"""The boto3-only baseline of a cold start: the same I/O as the function's first request.

Copied by bench/coldstart.py into a function folder of its own as `app.py`, beside
`replay.json`: the AWS calls (service, operation, parameters) and SQL statements that the
real function's first request made, recorded in an untimed discovery run. At import it
loads boto3 (and pymysql when the function talks to MySQL); its first invocation builds
the same clients and makes the same calls, connects with the credentials the recorded
GetSecretValue returns and sends the same statements, over TLS verified against the same
CA bundle as the function's (loading it is part of the same work: the function's first
connection loads it too). Nothing else: no Powertools, no pydantic, no validation, no
routing. A replayed conditional write may be refused this
time (its condition held once); the refusal costs the same round trip and is ignored.
"""

import json
import os
import ssl
import sys

import boto3
from botocore import xform_name

with open(os.path.join(os.path.dirname(__file__), "replay.json")) as _file:
    REPLAY = json.load(_file)
if REPLAY["statements"]:
    import pymysql

_clients: dict = {}  # type: ignore[type-arg]


def _tls() -> ssl.SSLContext:
    """What the function's connections are secured with: the layer's CA bundle (found on
    sys.path without importing the layer's package), verified, TLS 1.2 or later."""
    for entry in sys.path:
        bundle = os.path.join(entry, "customer_platform", "certs", "database-ca-bundle.pem")
        if os.path.exists(bundle):
            context = ssl.create_default_context(cafile=bundle)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            return context
    raise RuntimeError("no database CA bundle on sys.path")


def lambda_handler(event, context):  # type: ignore[no-untyped-def]
    secret = None
    for service, operation, params in REPLAY["calls"]:
        client = _clients.get(service) or _clients.setdefault(service, boto3.client(service))
        try:
            response = getattr(client, xform_name(operation))(**params)
        except client.exceptions.ClientError:
            continue
        if operation == "GetSecretValue" and "host" in response.get("SecretString", ""):
            secret = json.loads(response["SecretString"])
    if REPLAY["statements"] and secret is not None:
        connection = pymysql.connect(
            host=secret["host"],
            port=int(secret["port"]),
            user=secret["username"],
            password=secret["password"],
            database=secret["dbname"],
            ssl=_tls(),
        )
        with connection.cursor() as cursor:
            for kind, query, args in REPLAY["statements"]:
                try:
                    getattr(cursor, kind)(query, args)
                except pymysql.MySQLError:
                    connection.rollback()
        connection.commit()
    return {"statusCode": 200}
