"""Warm GET latency of /rds/customers/{id}, beside the floor and the baseline, in one run.

    .venv/bin/python -m bench.rds_get [--requests 500]

1. handler   the deployed customers-rds handler, warm (connection open, secrets cached):
             Powertools resolver, validation, logging, one point SELECT, JSON response
2. raw       `cursor.execute(SELECT ... WHERE id = %s)` + fetchone on an already open
             pymysql connection: the floor any handler sits on
3. naive     bench/naive_customers_get.py, the notes' way: Secrets Manager client and
             GetSecretValue, connect, SELECT, close, on every call

Everything runs on this machine: MySQL from local_stack.mysql (MYSQL_* or a throwaway
mariadbd) and Secrets Manager in moto, in process. On AWS the naive handler pays more:
GetSecretValue crosses the network (through the VPC endpoint) and the connection
handshake is a real round trip, so these figures understate the gap.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts anything
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)

import pymysql  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench import naive_customers_get  # noqa: E402
from local_stack import mysql  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402

EVENT = Path(__file__).resolve().parents[1] / "events" / "customers_rds" / "get.json"


def expect(condition: bool) -> None:
    if not condition:
        raise RuntimeError("the benchmarked call did not return the customer")


def timed(call: Callable[[], Any], requests: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (
        f"  {name:<9} median {statistics.median(ordered):7.3f} ms   p90 {p(0.9):7.3f} ms   "
        f"p99 {p(0.99):7.3f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with mock_aws():
        stack = LocalStack(stack_name="bench").deploy()
        try:
            created = json.loads(
                stack.api.request(
                    "POST",
                    "/rds/customers",
                    body=json.dumps({"name": "Ada Lovelace", "email": "ada@example.com"}),
                ).body
            )
            event = json.loads(EVENT.read_text())
            event["path"] = f"/rds/customers/{created['id']}"
            event["pathParameters"] = {"id": created["id"]}
            function = stack.function("CustomersRdsFunction")
            environment = function.environment
            secret = json.loads(
                stack.cloud.client("secretsmanager").get_secret_value(
                    SecretId=environment["DATABASE_SECRET_ARN"]
                )["SecretString"]
            )

            def handler() -> None:
                expect(function.invoke(event).result["statusCode"] == 200)

            handler_ms = [function.invoke(event).duration_ms for _ in range(args.requests + 20)][
                20:
            ]
            wrapped_ms = timed(handler, args.requests)

            connection = pymysql.connect(
                host=secret["host"],
                port=int(secret["port"]),
                user=secret["username"],
                password=secret["password"],
                database=secret["dbname"],
                autocommit=True,
            )
            cursor = connection.cursor()

            def raw() -> None:
                cursor.execute(
                    "SELECT id, name, email, created_at, updated_at FROM customers WHERE id = %s",
                    (created["id"],),
                )
                expect(cursor.fetchone() is not None)

            raw_ms = timed(raw, args.requests)
            connection.close()

            os.environ["DATABASE_SECRET_ARN"] = environment["DATABASE_SECRET_ARN"]

            def naive() -> None:
                expect(naive_customers_get.lambda_handler(event, None)["statusCode"] == 200)

            naive_ms = timed(naive, args.requests)
            secret_ms = timed(naive_customers_get.get_secret, args.requests)

            def connect_and_close() -> None:
                pymysql.connect(
                    host=secret["host"],
                    port=int(secret["port"]),
                    user=secret["username"],
                    password=secret["password"],
                    database=secret["dbname"],
                ).close()

            connect_ms = timed(connect_and_close, args.requests)
        finally:
            stack.close()
            mysql.stop_server()
    print(f"GET /rds/customers/{{id}}, warm, {args.requests} requests each (one run):")
    print(summary("handler", handler_ms))
    print(summary("raw", raw_ms))
    print(summary("naive", naive_ms))
    print("  of which, per call:")
    print(summary("secret", secret_ms) + "   (boto3 client + GetSecretValue, moto in process)")
    print(summary("connect", connect_ms) + "   (TCP + MySQL handshake + close, loopback)")
    print(
        "  (handler = inside lambda_handler; with the local stack's per-invocation "
        f"namespace switch it is {statistics.median(wrapped_ms):.3f} ms median)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
