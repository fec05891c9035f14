"""`make sync PARTNER_URL=<url>`: one scheduled partner sync on the local stack.

Points the feed-URL parameter at PARTNER_URL (when given), runs the fetcher as its schedule
would, waits until the writer has drained the ingest queue, and prints the counts. With
`make api` running it uses that stack (its writer drains the queue); otherwise it starts a
throwaway local stack for the run.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pymysql

from local_stack.functions import FunctionError, LocalFunction
from local_stack.invoke import running_endpoint, running_function
from local_stack.server import OUTPUTS_FILE, running_stack

FETCHER = "PartnerFetcherFunction"


@dataclass
class SyncReport:
    fetch: dict[str, Any]
    partner_customers: int
    dead_lettered: int
    seconds: float


def _count_partner_customers(secret: dict[str, Any]) -> int:
    connection = pymysql.connect(
        host=secret["host"],
        port=int(secret["port"]),
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
    )
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM customers WHERE partner_id IS NOT NULL")
        (count,) = cursor.fetchone()
        return int(count)


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def sync(
    fetcher: LocalFunction,
    outputs: dict[str, Any],
    endpoint: str | None,
    partner_url: str | None,
    timeout_s: float = 120,
) -> SyncReport:
    """Run the fetcher once and wait until the ingest queue is drained by the writer."""
    started = time.monotonic()
    ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
    secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)
    if partner_url:
        ssm.put_parameter(
            Name=outputs["PartnerFeedUrlParameterName"], Value=partner_url, Overwrite=True
        )
    summary = fetcher.invoke({"id": f"make-sync-{int(time.time())}"}).result
    deadline = time.monotonic() + timeout_s
    while _queue_depth(sqs, outputs["IngestQueueUrl"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    secret = json.loads(
        secrets.get_secret_value(SecretId=outputs["DatabaseSecretArn"])["SecretString"]
    )
    return SyncReport(
        fetch=summary,
        partner_customers=_count_partner_customers(secret),
        dead_lettered=_queue_depth(sqs, outputs["IngestDeadLetterQueueUrl"]),
        seconds=time.monotonic() - started,
    )


def print_report(report: SyncReport) -> None:
    fetch = report.fetch
    print(
        f"fetched {fetch['fetched']} rows in {fetch['pages']} page(s): "
        f"{fetch['valid']} valid, {fetch['rejected']} rejected, {fetch['duplicates']} repeated ids"
    )
    if fetch.get("rejections"):
        for reason, count in fetch["rejections"].items():
            print(f"  rejected {count} x {reason}")
    print(f"queued in {fetch['messages']} message(s); the writer drained the ingest queue")
    print(f"customers with a partner id in MySQL: {report.partner_customers}")
    if report.dead_lettered:
        print(f"WARNING: {report.dead_lettered} message(s) in the ingest DLQ")
    print(f"done in {report.seconds:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PARTNER_URL") or None)
    args = parser.parse_args(argv)
    try:
        endpoint = running_endpoint()
        if endpoint is not None:
            print(f"Using the running local stack at {endpoint}", file=sys.stderr)
            fetcher = running_function(FETCHER, endpoint)
            report = sync(fetcher, json.loads(OUTPUTS_FILE.read_text()), endpoint, args.url)
        else:
            print("No running `make api`; starting a throwaway local stack", file=sys.stderr)
            with running_stack(write_outputs=False) as running:
                report = sync(
                    running.stack.function(FETCHER),
                    running.outputs,
                    running.aws_endpoint_url,
                    args.url,
                )
    except FunctionError as error:
        print(f"sync failed: {error.cause}", file=sys.stderr)
        sys.stderr.write(error.logs[-3000:])
        return 1
    print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
