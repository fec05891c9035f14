"""`make bench`: every figure in one run on this machine, printed and written to results.json.

    .venv/bin/python -m bench [--requests 1000] [--cold-runs 5] [--only warm,cold,...]

Phases (bench/README.md says what each measures and why that way):

warm       latency p50/p99 of the customers APIs on both backends, beside the floor and
           the notes' handlers; secret fetches and connections per 1,000 invocations
sqs        consumer messages per second on batches of 10
ingest     partner rows per second into MySQL, beside the notes' row-by-row loop
cold       cold start of every function in a fresh interpreter, beside a boto3 baseline
sizes      package sizes from `make build`, beside Lambda's limits

The first three run against the stack deployed into moto (in process) with MySQL from
local_stack.mysql (MYSQL_* variables, else a throwaway mariadbd). Output: the table on
stdout, bench/results.json, and every timing series as a pyperf suite in
.local/bench/results.pyperf.json (`python -m pyperf stats|hist|compare_to ...`).
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import REPO, WORK_DIR, fake_aws_environment

if TYPE_CHECKING:
    from bench.harness import Counters
    from bench.report import Collected

PHASES = ("warm", "sqs", "ingest", "cold", "sizes")
RESULTS = REPO / "bench" / "results.json"
SUITE = WORK_DIR / "results.pyperf.json"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed calls per warm series")
    parser.add_argument(
        "--naive-rds",
        type=int,
        default=100,
        help="timed calls per notes' RDS op (each builds a boto3 session and connects)",
    )
    parser.add_argument(
        "--naive-dynamodb", type=int, default=1000, help="timed calls per notes' DynamoDB op"
    )
    parser.add_argument("--backends", default="rds,dynamodb", help="for the warm phase")
    parser.add_argument("--sqs-messages", type=int, default=1000)
    parser.add_argument("--partner-batches", type=int, default=8, help="of 10 x 250-row messages")
    parser.add_argument("--ingest-rows", type=int, default=10_000)
    parser.add_argument("--ingest-repetitions", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: few calls, not figures to quote"
    )
    args = parser.parse_args()
    phases = [phase for phase in args.only.split(",") if phase]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phases {unknown}; choose from {', '.join(PHASES)}")
    if args.quick:
        args.requests, args.naive_rds, args.naive_dynamodb = 50, 10, 50
        args.sqs_messages, args.partner_batches = 50, 1
        args.ingest_rows, args.ingest_repetitions, args.cold_runs = 2000, 1, 1

    fake_aws_environment()
    layer = str(REPO / "layers" / "shared")
    if layer not in sys.path:
        sys.path.insert(0, layer)  # customer_platform, for ingest and the partner messages

    from bench import report  # noqa: PLC0415 - after the environment is safe
    from bench.harness import AwsCalls, Counters, MySQLConnections, write_suite  # noqa: PLC0415

    counters = Counters(AwsCalls().install(), MySQLConnections().install())
    started = time.monotonic()
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    collected = report.Collected(settings=settings | {"only": phases})
    collected.machine_at_start = report.machine()

    if {"warm", "sqs", "ingest"} & set(phases):
        _stack_phases(phases, args, counters, collected)
    if "cold" in phases:
        from bench import coldstart  # noqa: PLC0415

        with collected.phase("cold"):
            collected.cold = coldstart.run(args.cold_runs, WORK_DIR)
    if "sizes" in phases:
        from bench import sizes  # noqa: PLC0415

        with collected.phase("sizes"):
            collected.sizes = sizes.run()

    collected.wall_time_s = time.monotonic() - started
    results = report.build(collected)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    write_suite(collected.all_series(), SUITE)
    print(report.render(results))
    print(f"\nwritten: {args.output}, {SUITE}")
    return 0


def _stack_phases(
    phases: list[str], args: argparse.Namespace, counters: "Counters", collected: "Collected"
) -> None:
    from moto import mock_aws  # noqa: PLC0415

    from bench import consumers, ingest, report, warm  # noqa: PLC0415
    from bench.harness import progress  # noqa: PLC0415
    from local_stack import mysql  # noqa: PLC0415
    from local_stack.stack import LocalStack  # noqa: PLC0415

    with mock_aws():
        progress("deploying template.yaml into moto, with MySQL from local_stack.mysql")
        with collected.phase("deploy"):
            stack = LocalStack(stack_name="bench").deploy()
        admin = mysql.server().connect()
        counters.mysql.watch_server(admin)
        try:
            collected.mysql = report.mysql_description(admin)
            if "warm" in phases:
                with collected.phase("warm"):
                    collected.warm = warm.run(
                        stack,
                        counters,
                        args.requests,
                        {"rds": args.naive_rds, "dynamodb": args.naive_dynamodb},
                        tuple(args.backends.split(",")),
                    )
            if "sqs" in phases:
                with collected.phase("sqs"):
                    collected.consumers = consumers.run(
                        stack, args.sqs_messages, args.partner_batches
                    )
            if "ingest" in phases:
                with collected.phase("ingest"):
                    collected.ingest = ingest.run(stack, args.ingest_rows, args.ingest_repetitions)
        finally:
            counters.mysql.watch_server(None)
            admin.close()
            stack.close()
            mysql.stop_server()


if __name__ == "__main__":
    raise SystemExit(main())
