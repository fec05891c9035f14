"""`make restore FROM=<restored table>`: copy customers back from a point-in-time restore.

DynamoDB restores a table only into a new table (RestoreTableToPointInTime). The stack keeps
its own table, its stream and every ARN that functions and alarms hold; this copies the
customers of the restored table back into it (docs/customers-dynamodb.md, "Recovery").

For each customer item of the restored table:

* missing from the live table (deleted since): put back, with its email guard, in one
  transaction that fails if the id came back meanwhile or another customer now holds the
  email (reported as a conflict, left for a person to decide);
* the same in both: nothing to do;
* different (changed since the restore point): reported, and only with `--overwrite`
  replaced, conditioned on the live item not changing meanwhile, its email guard moved.

Every item written carries `restoredFrom` = the restored table's name. The stream still
records the write, and the publisher announces it as CustomerUpdated (never
CustomerCreated: no second welcome email; customer_platform/events/stream.py). A customer
deleted on purpose after the restore point comes back too: run with `--dry-run` first and
compare with the audit trail (`GET /dynamodb/customers/{id}/events`).

    make restore FROM=<table> [DRY_RUN=1] [OVERWRITE=1]        # the running local stack
    make restore FROM=<table> STACK=<name> [DRY_RUN=1] ...      # a deployed stack

Deployed, the caller needs dynamodb:Scan on the restored table, GetItem, PutItem and
DeleteItem on the live one (TransactWriteItems is authorized per item), kms:Decrypt and
GenerateDataKey on the stack key.
"""

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from customer_platform.customers.dynamodb import CUSTOMER_PREFIX, EMAIL_PREFIX
from customer_platform.events.stream import RESTORED_FROM

TABLE_OUTPUT = "CustomersTableName"
COMPARED = ("customerId", "name", "email", "createdAt", "updatedAt")


@dataclass
class CopyBack:
    """What a copy-back did (or, in a dry run, would do), customer id by outcome."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, outcome: str, customer_id: str) -> None:
        self.outcomes.setdefault(outcome, []).append(customer_id)

    def counts(self) -> Counter[str]:
        return Counter({outcome: len(ids) for outcome, ids in self.outcomes.items()})


def _customers(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :customer)",
        "ExpressionAttributeValues": {":customer": {"S": CUSTOMER_PREFIX}},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.scan(**request)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _guard(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": {"S": EMAIL_PREFIX + item["email"]["S"]}, "owner": item["customerId"]}


def _claim(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """The email guard, unless another customer holds the email."""
    return {
        "Put": {
            "TableName": table,
            "Item": _guard(item),
            "ConditionExpression": "attribute_not_exists(pk) OR #owner = :id",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":id": item["customerId"]},
        }
    }


def _writes(
    table: str, restored: dict[str, Any], live: dict[str, Any] | None, marker: str
) -> list[dict[str, Any]]:
    item = restored | {RESTORED_FROM: {"S": marker}}
    if live is None:
        put = {"Put": {"TableName": table, "Item": item}}
        put["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        return [put, _claim(table, restored)]
    writes: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": item,
                "ConditionExpression": "updatedAt = :seen",
                "ExpressionAttributeValues": {":seen": live["updatedAt"]},
            }
        }
    ]
    if live["email"] != restored["email"]:
        writes.append(
            {
                "Delete": {
                    "TableName": table,
                    "Key": {"pk": {"S": EMAIL_PREFIX + live["email"]["S"]}},
                    "ConditionExpression": "#owner = :id",
                    "ExpressionAttributeNames": {"#owner": "owner"},
                    "ExpressionAttributeValues": {":id": live["customerId"]},
                }
            }
        )
        writes.append(_claim(table, restored))
    return writes


def copy_back(
    dynamodb: Any, source: str, target: str, *, overwrite: bool = False, dry_run: bool = False
) -> CopyBack:
    """Copy the customers of `source` (a restored table) back into `target` (the live one)."""
    report = CopyBack()
    for restored in _customers(dynamodb, source):
        customer_id = restored["customerId"]["S"]
        live = dynamodb.get_item(
            TableName=target, Key={"pk": restored["pk"]}, ConsistentRead=True
        ).get("Item")
        if live is not None and all(live.get(k) == restored.get(k) for k in COMPARED):
            report.add("unchanged", customer_id)
            continue
        if live is not None and not overwrite:
            report.add("differs (kept; --overwrite replaces it)", customer_id)
            continue
        outcome = "restored" if live is None else "reverted"
        if dry_run:
            report.add(f"would be {outcome}", customer_id)
            continue
        try:
            dynamodb.transact_write_items(TransactItems=_writes(target, restored, live, source))
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if reasons[-1] == "ConditionalCheckFailed" and reasons[0] != "ConditionalCheckFailed":
                report.add("conflict: another customer holds the email", customer_id)
            else:
                report.add("conflict: changed meanwhile, run again", customer_id)
            continue
        report.add(outcome, customer_id)
    return report


def _print(report: CopyBack, source: str, target: str) -> None:
    print(f"{source} -> {target}")
    for outcome, ids in sorted(report.outcomes.items()):
        print(f"  {outcome}: {len(ids)}")
        for customer_id in ids if outcome not in ("unchanged",) else []:
            print(f"    {customer_id}")
    if not report.outcomes:
        print("  no customers in the restored table")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("source", help="the restored table (RestoreTableToPointInTime target)")
    parser.add_argument("--stack", help="a deployed stack (default: the running local stack)")
    parser.add_argument("--region")
    parser.add_argument("--overwrite", action="store_true", help="revert changed customers")
    parser.add_argument("--dry-run", action="store_true", help="say what would be written")
    args = parser.parse_args(argv)
    if args.stack:
        session = boto3.session.Session(region_name=args.region)
        described = session.client("cloudformation").describe_stacks(StackName=args.stack)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}
        dynamodb = session.client("dynamodb")
    else:
        from local_stack.commands.running import NoRunningStack, require_running_outputs  # noqa: PLC0415
        from local_stack.services.endpoint import ADMIN_CREDENTIALS, REGION  # noqa: PLC0415 - local only

        try:
            outputs = require_running_outputs()
        except NoRunningStack as error:
            print(f"make restore: {error} (or STACK=<name> for a deployed stack)", file=sys.stderr)
            return 1
        dynamodb = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client("dynamodb", endpoint_url=outputs["AwsEndpointUrl"])
    target = outputs[TABLE_OUTPUT]
    if args.source == target:
        parser.error("FROM is the live table; name the table the restore created")
    report = copy_back(
        dynamodb, args.source, target, overwrite=args.overwrite, dry_run=args.dry_run
    )
    _print(report, args.source, target)
    return 1 if any(outcome.startswith("conflict") for outcome in report.outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
