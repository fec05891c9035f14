"""`make sync [PARTNER_URL=<url>]`: one scheduled partner sync on the local stack.

Points the feed-URL parameter at PARTNER_URL, or, without one, at the bundled local partner
feed (local_stack.services.partner_feed, sample rows on 127.0.0.1: the template's default is a
public URL on the internet). Runs the fetcher as its schedule would, waits until the
writer has drained the ingest queue, and prints the counts. With `make api` running it
uses that stack (its writer drains the queue; PORT=... picks the stack when several run);
otherwise it deploys a throwaway stack.
"""

import argparse
import json
import os
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from local_stack.commands.cli import messages_not_tracebacks
from local_stack.commands.running import NoRunningStack, running_outputs
from local_stack.commands.server import running_stack
from local_stack.runtime.functions import FunctionError
from local_stack.services.endpoint import ADMIN_CREDENTIALS, REGION
from local_stack.services.event_sources import scheduled_event
from local_stack.services.lambda_api import invoke_remote
from local_stack.services.mysql import connect_with
from local_stack.services.partner_feed import PartnerFeed, sample_rows

FETCHER = "PartnerFetcherFunction"
LOCAL_FEED_ROWS = 25

Invoke = Callable[[dict[str, Any]], Any]  # the fetcher's result, or FunctionError


@dataclass
class SyncReport:
    fetch: dict[str, Any]
    partner_customers: int
    dead_lettered: int
    seconds: float


def _count_partner_customers(secret: dict[str, Any], tls: ssl.SSLContext) -> int:
    connection = connect_with(secret, tls)
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
    invoke: Invoke,
    outputs: dict[str, Any],
    endpoint: str,
    partner_url: str,
    *,
    timeout_s: float = 120,
    lambda_url: str | None = None,
) -> SyncReport:
    """Run the fetcher once and wait until the ingest queue is drained by the writer.
    `outputs["MySqlCaFile"]`: the CA the stack's MySQL server presents
    (local_stack.network.tls)."""
    started = time.monotonic()
    session = boto3.session.Session(
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    ssm = session.client("ssm", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    ssm.put_parameter(
        Name=outputs["PartnerFeedUrlParameterName"], Value=partner_url, Overwrite=True
    )
    if lambda_url is not None:
        # A warm fetcher of a running stack caches the feed URL for 5 minutes; what one
        # would do on AWS to apply a new URL at once: new execution environments.
        print("Starting the fetcher afresh (UpdateFunctionConfiguration)", file=sys.stderr)
        session.client("lambda", endpoint_url=lambda_url).update_function_configuration(
            FunctionName=FETCHER
        )
    # a run of the fetcher's schedule, now (the fetcher refuses events of other sources)
    summary = invoke(scheduled_event("make-sync", f"make-sync-{int(time.time())}"))
    deadline = time.monotonic() + timeout_s
    while _queue_depth(sqs, outputs["IngestQueueUrl"]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the ingest queue was not drained within {timeout_s:.0f}s")
        time.sleep(0.2)
    secret = json.loads(
        secrets.get_secret_value(SecretId=outputs["DatabaseSecretArn"])["SecretString"]
    )
    return SyncReport(
        fetch=summary,
        partner_customers=_count_partner_customers(
            secret, ssl.create_default_context(cafile=outputs["MySqlCaFile"])
        ),
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


@contextmanager
def _feed(url: str | None) -> Iterator[str]:
    """`url`, or the bundled partner feed for as long as the sync runs."""
    if url:
        yield url
        return
    feed = PartnerFeed(rows=sample_rows(LOCAL_FEED_ROWS)).start()
    print(f"No PARTNER_URL: using the bundled local partner feed ({feed.url})", file=sys.stderr)
    try:
        yield feed.url
    finally:
        feed.stop()


@messages_not_tracebacks("make sync")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PARTNER_URL") or None)
    args = parser.parse_args(argv)
    try:
        outputs = running_outputs(required=False)
    except NoRunningStack as error:  # PORT names no running stack, or several run
        print(f"make sync: {error}", file=sys.stderr)
        return 1
    try:
        with _feed(args.url) as url:
            if outputs is not None:
                print(f"Using the running local stack ({outputs['ApiUrl']})", file=sys.stderr)
                lambda_url = outputs["LambdaEndpointUrl"]
                report = sync(
                    lambda event: invoke_remote(lambda_url, FETCHER, event).result,
                    outputs,
                    outputs["AwsEndpointUrl"],
                    url,
                    lambda_url=lambda_url,
                )
            else:
                print("No running `make api`: deploying a throwaway stack", file=sys.stderr)
                with running_stack(write_outputs=False) as running:
                    fetcher = running.stack.function(FETCHER)
                    report = sync(
                        lambda event: fetcher.invoke(event).result,
                        running.outputs,
                        running.aws_endpoint_url,
                        url,
                    )
    except FunctionError as error:
        # One line: what failed and where its whole story is (the traceback stays in the log).
        said = str(error.error.get("errorMessage", "")).strip().splitlines() or [""]
        print(
            f"make sync: the partner fetcher failed against {args.url or 'the local feed'}"
            f" ({error.error_type}: {said[0][:300]}); its log: .local/logs/{FETCHER}.log",
            file=sys.stderr,
        )
        return 1
    print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
