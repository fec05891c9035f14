"""`make bench`: every figure in one run on this machine, printed and written to results.json.

    .venv/bin/python -m bench [--quick | --tiny] [--only warm,ingest,...] [--rtt 0,0.5]

Phases (bench/README.md says what each measures and why that way):

warm       latency p50/p99 of the customers APIs on the four backends, beside same-work floors
           and the notes' handlers, on loopback and at a network round-trip time; secret
           fetches and connections per 1,000 invocations
sqs        consumer messages per second on batches of 10
ingest     partner rows per second into MySQL, beside the notes' row-by-row loop, per RTT
cold       cold starts two ways (a fresh interpreter; process start to first response under
           the local runtime), each beside a boto3-only baseline doing the same I/O; import
           profiles
local_api  the local runtime itself: `make api` start time (cold and warm build), the
           emulator's overhead per invocation, requests per second through HTTP
snapstart  the SnapStart hooks run in order in a function's own process (local check)
sizes      package sizes from `make build`, beside Lambda's limits

Handlers are called directly in clean interpreters (bench workers: the function's
interpreter, folder and environment) for the warm, sqs and ingest micro-figures; cold
starts, local_api and snapstart go through the local runtime. Output: the table on stdout,
bench/results.json, and every timing series as a pyperf suite in
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
    from local_stack.assembly.stack import LocalStack
    from local_stack.network.tcp_proxy import TcpProxy

PHASES = ("warm", "sqs", "ingest", "cold", "local_api", "snapstart", "sizes")
STACK_PHASES = {"warm", "sqs", "ingest", "cold", "local_api", "snapstart"}
RESULTS = REPO / "bench" / "results.json"
SUITE = WORK_DIR / "results.pyperf.json"
RTT_DEFAULT = "0,0.5"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="timed calls per warm series")
    parser.add_argument(
        "--naive-requests",
        type=int,
        default=20,
        help="timed calls per notes' RDS series (each fetches a secret and connects)",
    )
    parser.add_argument(
        "--dynamodb-requests", type=int, default=80, help="timed calls per DynamoDB series (moto)"
    )
    parser.add_argument(
        "--backends", default="rds,dynamodb,aurora,django", help="for the warm phase"
    )
    parser.add_argument("--rtt", default=RTT_DEFAULT, help="round-trip times (ms) for warm, ingest")
    parser.add_argument("--sqs-messages", type=int, default=500)
    parser.add_argument("--partner-batches", type=int, default=4, help="of 10 x 250-row messages")
    parser.add_argument("--ingest-rows", type=int, default=5_000)
    parser.add_argument("--ingest-repetitions", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=9)
    parser.add_argument("--rps-seconds", type=float, default=4.0)
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of the machinery: few calls, not figures"
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="every phase with the fewest calls that still make each figure (what `make test` "
        "runs to keep the harness working): figures not to be read",
    )
    args = parser.parse_args(argv)
    args.phases = [phase for phase in args.only.split(",") if phase]
    unknown = sorted(set(args.phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phases {unknown}; choose from {', '.join(PHASES)}")
    if args.quick:
        args.requests, args.naive_requests, args.dynamodb_requests = 40, 4, 20
        args.sqs_messages, args.partner_batches, args.rps_seconds = 30, 1, 1.0
        args.ingest_rows, args.ingest_repetitions, args.cold_runs = 1000, 1, 1
    if args.tiny:
        args.requests, args.naive_requests, args.dynamodb_requests = 2, 1, 2
        args.sqs_messages, args.partner_batches, args.rps_seconds = 10, 1, 0.3
        args.ingest_rows, args.ingest_repetitions, args.cold_runs = 250, 1, 1
        # one RTT: the proxied path (the loopback one is the same code, shorter)
        args.rtt = "0.5" if args.rtt == RTT_DEFAULT else args.rtt
    args.rtts = tuple(float(value) for value in args.rtt.split(",") if value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    fake_aws_environment()
    layer = str(REPO / "layers" / "shared")
    if layer not in sys.path:
        sys.path.insert(0, layer)  # customer_platform, for the partner messages

    from bench import report  # noqa: PLC0415 - after the environment is safe
    from bench.harness import write_suite  # noqa: PLC0415

    started = time.monotonic()
    settings = {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "rtts"
    }
    collected = report.Collected(settings=settings | {"only": args.phases})
    collected.machine_at_start = report.machine()

    if STACK_PHASES & set(args.phases):
        _stack_phases(args, collected)
    if "sizes" in args.phases:
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


def _stack_phases(args: argparse.Namespace, collected: "Collected") -> None:
    from bench import report  # noqa: PLC0415
    from bench.harness import Counters, EndpointCalls, ServerStatus, progress  # noqa: PLC0415
    from local_stack.assembly.stack import LocalStack  # noqa: PLC0415
    from local_stack.network.tcp_proxy import TcpProxy  # noqa: PLC0415
    from local_stack.services import mysql  # noqa: PLC0415
    from local_stack.services.endpoint import AwsEndpoint, administrator  # noqa: PLC0415

    calls = EndpointCalls()
    endpoint = AwsEndpoint(middleware=calls.middleware).start()
    host, port = endpoint.url.removeprefix("http://").rsplit(":", 1)
    # Every function reaches AWS through this proxy (no delay unless a phase sets one).
    aws_proxy = TcpProxy((host, int(port)))
    try:
        with administrator(endpoint):
            progress("deploying template.yaml on the local AWS endpoint and runtime")
            with collected.phase("deploy"):
                stack = LocalStack(
                    endpoint=endpoint,
                    stack_name="bench",
                    log_dir=WORK_DIR / "logs",
                    function_endpoint_url=f"http://127.0.0.1:{aws_proxy.port}",
                ).deploy()
            admin = mysql.server().connect()
            try:
                counters = Counters(calls, ServerStatus(admin))
                collected.mysql = report.mysql_description(admin)
                _run_phases(
                    args, collected, stack, counters, endpoint_url=endpoint.url, aws_proxy=aws_proxy
                )
            finally:
                admin.close()
                stack.close()
    finally:
        aws_proxy.close()
        endpoint.stop()
        mysql.stop_server()


def _run_phases(
    args: argparse.Namespace,
    collected: "Collected",
    stack: "LocalStack",
    counters: "Counters",
    *,
    endpoint_url: str,
    aws_proxy: "TcpProxy",
) -> None:
    from bench import consumers, ingest, warm  # noqa: PLC0415

    network = warm.Network(stack, aws_proxy, endpoint_url)
    if args.tiny:
        network.samples = 20
    try:
        if "warm" in args.phases:
            with collected.phase("warm"):
                requests = {
                    "rds": {"ours": args.requests, "naive": args.naive_requests},
                    "dynamodb": {"ours": args.dynamodb_requests, "naive": args.dynamodb_requests},
                    # each statement an HTTPS call to the local Data API: as dear as moto
                    "aurora": {"ours": args.dynamodb_requests, "naive": 0},
                    "django": {"ours": args.requests, "naive": 0},
                }
                collected.warm = warm.run(
                    stack,
                    network,
                    counters,
                    requests,
                    rtts=args.rtts,
                    backends=tuple(args.backends.split(",")),
                    warmup=1 if args.tiny else warm.WARMUP,
                )
        if "ingest" in args.phases:
            with collected.phase("ingest"):
                collected.ingest = ingest.run(
                    stack, network, args.ingest_rows, args.ingest_repetitions, args.rtts
                )
        network.apply(0.0)
        if "sqs" in args.phases:
            with collected.phase("sqs"):
                collected.consumers = consumers.run(stack, args.sqs_messages, args.partner_batches)
        if "cold" in args.phases:
            from bench import coldstart  # noqa: PLC0415

            with collected.phase("cold"):
                collected.cold = coldstart.run(
                    stack, counters, args.cold_runs, profile=not args.tiny
                )
                collected.cold.instructions = _instructions(stack, stages=2 if args.tiny else None)
        if "snapstart" in args.phases:
            from bench import snapstart  # noqa: PLC0415

            with collected.phase("snapstart"):
                collected.snapstart = snapstart.run(stack, counters)
        if "local_api" in args.phases:
            from bench import local_api  # noqa: PLC0415

            with collected.phase("local_api"):
                collected.local_api = local_api.run(
                    stack,
                    args.rps_seconds,
                    quick=args.quick or args.tiny,
                    calls=10 if args.tiny else None,
                    cold_build=not args.tiny,
                )
    finally:
        network.close()


def _instructions(stack: "LocalStack", stages: int | None) -> dict[str, object]:
    """bench/instructions.py's stages (the first `stages`, or all); an error is a result."""
    import subprocess  # noqa: PLC0415

    from bench import instructions  # noqa: PLC0415
    from bench.harness import progress  # noqa: PLC0415

    progress(f"cold start: instructions by import stage of {instructions.FUNCTION} (callgrind)")
    try:
        return instructions.run(stack.function(instructions.FUNCTION), stack.endpoint.url, stages)
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        return {"function": instructions.FUNCTION, "error": str(error)}


if __name__ == "__main__":
    raise SystemExit(main())
