"""Turn a run's measurements into results.json and the printed table (text or Markdown).

    .venv/bin/python -m bench.report [bench/results.json] [--markdown]

re-renders a results file: `--markdown` prints the tables for the README.
"""

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import REPO, Series, machine_metadata

if TYPE_CHECKING:
    from bench.coldstart import ColdResults
    from bench.consumers import ConsumerResult
    from bench.ingest import IngestResult
    from bench.sizes import SizesResult
    from bench.warm import WarmResults

MB = 1024 * 1024
TARGET_RDS_GET_VS_FLOOR = 1.5
TARGET_NAIVE_VS_OURS = 5.0
TARGET_PER_1000 = 1.0
TARGET_INGEST = 20.0
TARGET_COLD = 1.5


@dataclass
class Collected:
    settings: dict[str, Any]
    machine_at_start: dict[str, Any] = field(default_factory=dict)
    mysql: dict[str, Any] = field(default_factory=dict)
    warm: "WarmResults | None" = None
    consumers: "list[ConsumerResult] | None" = None
    ingest: "IngestResult | None" = None
    cold: "ColdResults | None" = None
    sizes: "SizesResult | None" = None
    wall_time_s: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phase_seconds[name] = round(time.monotonic() - started, 1)

    def all_series(self) -> list[Series]:
        series: list[Series] = []
        if self.warm is not None:
            for case in self.warm.cases:
                series += [case.ours, case.floor, case.naive, *case.extra.values()]
        series += [c.batches for c in self.consumers or []]
        for variant, seconds in (self.ingest.seconds if self.ingest is not None else {}).items():
            description = f"{self.ingest.rows if self.ingest else 0} partner rows, {variant}"
            series.append(
                Series(f"ingest.{variant}", description, values_ns=[int(s * 1e9) for s in seconds])
            )
        for function in self.cold.functions if self.cold is not None else []:
            series += list(function.series.values())
        return series


def machine() -> dict[str, Any]:
    metadata = machine_metadata()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpu": metadata.get("cpu_model_name") or platform.processor() or platform.machine(),
        "cpus": metadata.get("cpu_count") or os.cpu_count(),
        "memory_gib": round(memory / 2**30),
        "platform": metadata.get("platform", platform.platform()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_avg_1min": metadata.get("load_avg_1min"),
    }


def mysql_description(admin: Any) -> dict[str, Any]:
    with admin.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
        server_version, flush = cursor.fetchone()
    source = "MYSQL_HOST" if os.environ.get("MYSQL_HOST") else "a throwaway mariadbd"
    return {
        "version": server_version,
        "source": source,
        "innodb_flush_log_at_trx_commit": int(flush),
    }


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _versions() -> dict[str, str]:
    names = ("boto3", "botocore", "moto", "aws-lambda-powertools", "pydantic", "PyMySQL", "pyperf")
    return {name: version(name) for name in names}


def build(c: Collected) -> dict[str, Any]:  # noqa: PLR0912, PLR0915 - one section after another
    """The results document (see the README's Performance section for the shape)."""
    start = c.machine_at_start
    end = machine()
    description = (
        f"{start['cpu']}, {start['cpus']} CPUs, {start['memory_gib']} GiB RAM, {start['platform']}"
    )
    python = f"{start['python']} (in process)"
    if c.cold is not None:
        python += f"; CPython {c.cold.python_version} for cold starts"
    results: dict[str, Any] = {
        "machine": description,
        "python": python,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench",
        "wall_time_s": round(c.wall_time_s, 1),
        "phase_seconds": c.phase_seconds,
        "load_avg_1min": {"start": start.get("load_avg_1min"), "end": end.get("load_avg_1min")},
        "settings": c.settings,
        "versions": _versions(),
        "mysql": c.mysql,
        "warm_ms": {},
        "ratios": {},
        "per_1000_warm_invocations": {},
        "ingest_rows_per_s": {},
        "sqs_messages_per_s": {},
        "sqs": {},
        "cold_start_ms": {},
        "sizes_bytes": {},
        "limits_bytes": {"zipped_direct_upload": 50 * MB, "unzipped_with_layers": 250 * MB},
        "targets": [],
        "errors": {},
    }
    ratios = results["ratios"]
    targets = results["targets"]

    if c.warm is not None:
        for case in c.warm.cases:
            results["warm_ms"][f"{case.backend}_{case.op}"] = {
                "ours_p50": _r(case.ours.p50_ms()),
                "ours_p99": _r(case.ours.percentile_ms(99)),
                "floor_p50": _r(case.floor.p50_ms()),
                "floor_p99": _r(case.floor.percentile_ms(99)),
                "naive_p50": _r(case.naive.p50_ms()),
                "naive_p99": _r(case.naive.percentile_ms(99)),
                "n": {"ours": len(case.ours), "floor": len(case.floor), "naive": len(case.naive)},
            }
            for name, extra in case.extra.items():
                results["warm_ms"][f"{case.backend}_{case.op}"][f"{name}_p50"] = _r(extra.p50_ms())
        per_1000 = {name: tally.per_1000() for name, tally in c.warm.tallies.items()}
        mine = [v for k, v in per_1000.items() if k.endswith("_ours")]
        results["per_1000_warm_invocations"] = {
            "secret_fetches": max(float(v["secret_fetches"] or 0) for v in mine),
            "db_connections": max(float(v["db_connections"] or 0) for v in mine),
            "by_handler": per_1000,
        }
        get = results["warm_ms"].get("rds_get")
        if get:
            ratios["rds_get_vs_floor"] = _r(get["ours_p50"] / get["floor_p50"], 2)
            ratios["naive_vs_ours_rds_get"] = _r(get["naive_p50"] / get["ours_p50"], 1)
            targets.append(
                _target(
                    f"warm RDS get <= {TARGET_RDS_GET_VS_FLOOR}x the raw pymysql floor",
                    ratios["rds_get_vs_floor"],
                    ratios["rds_get_vs_floor"] <= TARGET_RDS_GET_VS_FLOOR,
                    "x",
                )
            )
            targets.append(
                _target(
                    f"warm RDS get >= {TARGET_NAIVE_VS_OURS:g}x faster than the notes' handler",
                    ratios["naive_vs_ours_rds_get"],
                    ratios["naive_vs_ours_rds_get"] >= TARGET_NAIVE_VS_OURS,
                    "x",
                )
            )
        worst = results["per_1000_warm_invocations"]
        targets.append(
            _target(
                "<= 1 secret fetch per 1,000 warm invocations (worst of ours)",
                worst["secret_fetches"],
                worst["secret_fetches"] <= TARGET_PER_1000,
            )
        )
        targets.append(
            _target(
                "<= 1 new MySQL connection per 1,000 warm invocations (worst of ours)",
                worst["db_connections"],
                worst["db_connections"] <= TARGET_PER_1000,
            )
        )

    if c.ingest is not None:
        ingest = c.ingest
        rates = {variant: ingest.rows_per_s(variant) for variant in ingest.seconds}
        results["ingest_rows_per_s"] = {k: round(v) for k, v in rates.items()} | {
            "rows": ingest.rows,
            "messages": ingest.messages,
            "repetitions": len(ingest.seconds.get("ours", [])),
        }
        results["mysql"] = results["mysql"] or ingest.server
        ratios["ingest_vs_row_by_row"] = _r(rates["ours"] / rates["row_by_row"], 1)
        ratios["ingest_vs_commit_each"] = _r(rates["ours"] / rates["commit_each"], 1)
        targets.append(
            _target(
                f"bulk ingest >= {TARGET_INGEST:g}x the notes' row-by-row loop",
                ratios["ingest_vs_row_by_row"],
                ratios["ingest_vs_row_by_row"] >= TARGET_INGEST,
                "x",
            )
        )

    for consumer in c.consumers or []:
        results["sqs_messages_per_s"][consumer.name] = round(consumer.messages_per_s, 1)
        results["sqs"][consumer.name] = {
            "function": consumer.function,
            "messages": consumer.messages,
            "batch_p50_ms": _r(consumer.batches.p50_ms()),
            "batch_p99_ms": _r(consumer.batches.percentile_ms(99)),
            "rows_per_s": round(consumer.rows_per_s) if consumer.rows else None,
        }

    if c.cold is not None:
        if c.cold.error:
            results["errors"]["cold"] = c.cold.error
        cold_ratios: dict[str, float] = {}
        for function in c.cold.functions:
            if function.errors:
                results["errors"][f"cold.{function.logical_id}"] = function.errors
            ours, no_xray, base = (function.p50_ms(v) for v in ("ours", "ours_no_xray", "baseline"))
            entry: dict[str, Any] = {
                "ours_p50": _r(ours, 1),
                "ours_no_xray_p50": _r(no_xray, 1),
                "baseline_p50": _r(base, 1),
                "runs": len(function.series["ours"]) if "ours" in function.series else 0,
                "clients": function.clients,
                "first_event": function.event_kind,
                "modules": function.modules,
            }
            if ours and base:
                entry["ratio"] = cold_ratios[function.logical_id] = round(ours / base, 2)
                entry["ratio_no_xray"] = _r(no_xray / base, 2) if no_xray else None
            results["cold_start_ms"][function.logical_id] = entry
        results["cold_start_interpreter"] = f"{c.cold.interpreter} ({c.cold.python_version})"
        ratios["cold_vs_boto3_baseline"] = cold_ratios
        if cold_ratios:
            worst_name = max(cold_ratios, key=lambda name: cold_ratios[name])
            targets.append(
                _target(
                    f"each handler's cold start <= {TARGET_COLD}x the boto3-only baseline "
                    f"(worst: {worst_name})",
                    cold_ratios[worst_name],
                    all(r <= TARGET_COLD for r in cold_ratios.values()),
                    "x",
                )
            )

    if c.sizes is not None:
        if c.sizes.error:
            results["errors"]["sizes"] = c.sizes.error
        for package in c.sizes.packages:
            sizes: dict[str, Any] = {"zipped": package.zipped, "unzipped": package.unzipped}
            if package.kind == "function":
                sizes["unzipped_with_layers"] = package.unzipped_with_layers
            results["sizes_bytes"][package.name] = sizes
        if c.sizes.packages:
            largest = max(
                (p for p in c.sizes.packages if p.kind == "function"),
                key=lambda p: p.unzipped_with_layers,
                default=None,
            )
            if largest is not None:
                targets.append(
                    _target(
                        "every function with its layers <= 250 MB unzipped "
                        f"(largest: {largest.name})",
                        round(largest.unzipped_with_layers / MB, 1),
                        largest.unzipped_with_layers <= 250 * MB,
                        " MB",
                    )
                )
    return results


def _target(name: str, value: float, met: bool, unit: str = "") -> dict[str, Any]:
    return {"target": name, "value": value, "unit": unit, "met": bool(met)}


# -- rendering ----------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _size(size: int) -> str:
    return f"{size / MB:.2f} MB" if size >= MB else f"{size / 1024:.1f} KB"


def _commit_note(warm: dict[str, Any]) -> str:
    get = warm.get("rds_get") or {}
    if not get.get("floor_with_commit_p50"):
        return "."
    return (
        f"; rds get's floor as a transaction (SELECT, then COMMIT, as Database.run does): "
        f"{get['floor_with_commit_p50']:.3f} ms p50."
    )


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.1f}x"


def tables(results: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) for each section present in `results`."""
    sections = []
    warm = results.get("warm_ms") or {}
    if warm:
        rows = []
        for name, w in warm.items():
            backend, op = name.split("_", 1)
            rows.append(
                [
                    backend,
                    op,
                    _fmt(w["ours_p50"], 3),
                    _fmt(w["ours_p99"], 3),
                    _fmt(w["floor_p50"], 3),
                    _ratio(w["ours_p50"], w["floor_p50"]),
                    _fmt(w["naive_p50"], 3),
                    _ratio(w["naive_p50"], w["ours_p50"]),
                    f"{w['n']['ours']}/{w['n']['floor']}/{w['n']['naive']}",
                ]
            )
        sections.append(
            (
                "Warm latency, in process (ms)",
                [
                    "backend",
                    "op",
                    "ours p50",
                    "ours p99",
                    "floor p50",
                    "ours/floor",
                    "notes p50",
                    "notes/ours",
                    "n ours/floor/notes",
                ],
                rows,
                "floor: one raw pymysql statement on an open autocommit connection, or the "
                "raw boto3 call our repository makes on the same moto; notes: the notes' "
                "handlers (bench/naive_*.py)" + _commit_note(warm),
            )
        )
    per_1000 = (results.get("per_1000_warm_invocations") or {}).get("by_handler") or {}
    if per_1000:
        rows = [
            [
                name.replace("_ours", " (ours)").replace("_naive", " (the notes')"),
                _fmt(v["invocations"]),
                _fmt(v["secret_fetches"], 1),
                _fmt(v["db_connections"], 1),
                _fmt(v["db_connections_server_side"], 1),
            ]
            for name, v in per_1000.items()
        ]
        sections.append(
            (
                "Per 1,000 warm invocations (counted)",
                ["handler", "invocations", "GetSecretValue", "MySQL connects", "server-side"],
                rows,
                "counted: a botocore before-call hook on every session; pymysql connects; "
                "the server's Connections status.",
            )
        )
    ingest = results.get("ingest_rows_per_s") or {}
    if ingest:
        labels = {
            "ours": "ours: upsert_rows, one transaction per 250-row message",
            "ours_parsing": "ours, parsing and validating each message first",
            "ours_rerun": "ours, re-run of the same feed (nothing changes)",
            "row_by_row": "the notes' loop: execute per row, one commit",
            "commit_each": "the notes' loop, commit after every row",
        }
        rows = [
            [label, _fmt(ingest.get(key)), _ratio(ingest.get(key), ingest.get("row_by_row"))]
            for key, label in labels.items()
            if key in ingest
        ]
        mysql = results.get("mysql") or {}
        sections.append(
            (
                f"Partner ingest, {ingest['rows']:,} rows into MySQL",
                ["variant", "rows/s", "vs the notes' loop"],
                rows,
                f"MySQL {mysql.get('version', '?')} ({mysql.get('source', '?')}), "
                f"innodb_flush_log_at_trx_commit={mysql.get('innodb_flush_log_at_trx_commit')}; "
                f"median of {ingest.get('repetitions')}.",
            )
        )
    sqs = results.get("sqs") or {}
    if sqs:
        rows = [
            [
                f"{name} ({v['function']})",
                _fmt(results["sqs_messages_per_s"][name], 1),
                _fmt(v["batch_p50_ms"], 1),
                _fmt(v["rows_per_s"]),
                _fmt(v["messages"]),
            ]
            for name, v in sqs.items()
        ]
        sections.append(
            (
                "SQS consumers, batches of 10, one warm environment",
                ["consumer", "messages/s", "batch p50 ms", "rows/s", "messages"],
                rows,
                "partner_writer messages carry 250 rows each.",
            )
        )
    cold = results.get("cold_start_ms") or {}
    if cold:
        rows = [
            [
                name,
                _fmt(v["ours_p50"], 1),
                _fmt(v["ours_no_xray_p50"], 1),
                _fmt(v["baseline_p50"], 1),
                f"{v['ratio']:.2f}x" if v.get("ratio") else "-",
                f"{v['ratio_no_xray']:.2f}x" if v.get("ratio_no_xray") else "-",
                ",".join(v["clients"]),
            ]
            for name, v in cold.items()
        ]
        sections.append(
            (
                f"Cold start, median of {max(v['runs'] for v in cold.values())} fresh "
                f"interpreters (ms), {results.get('cold_start_interpreter', '')}",
                [
                    "function",
                    "ours",
                    "no X-Ray",
                    "boto3 baseline",
                    "ours/base",
                    "no X-Ray/base",
                    "clients",
                ],
                rows,
                "import + the clients the first request builds + one event that needs no "
                "network; baseline: import boto3 and build the same clients.",
            )
        )
    sizes = results.get("sizes_bytes") or {}
    if sizes:
        rows = [
            [
                name,
                _size(v["zipped"]),
                _size(v["unzipped"]),
                _size(v["unzipped_with_layers"]) if "unzipped_with_layers" in v else "-",
                f"{v['zipped'] / (50 * MB):.0%}",
                f"{v.get('unzipped_with_layers', v['unzipped']) / (250 * MB):.0%}",
            ]
            for name, v in sizes.items()
        ]
        sections.append(
            (
                "Packages from sam build",
                ["package", "zipped", "unzipped", "with layers", "of 50 MB", "of 250 MB"],
                rows,
                "Lambda's limits: 50 MB zipped for a direct upload; 250 MB unzipped, function "
                "and all its layers together.",
            )
        )
    targets = results.get("targets") or []
    if targets:
        rows = [
            ["met" if t["met"] else "MISSED", t["target"], f"{_fmt(t['value'])}{t['unit']}"]
            for t in targets
        ]
        sections.append(("Targets", ["", "target", "measured"], rows, ""))
    return sections


def render(results: dict[str, Any]) -> str:
    lines = [
        f"make bench, {results['date']}: {results['machine']}",
        f"{results['python']}; wall time {results['wall_time_s']:.0f} s; load average (1 min) "
        f"{results['load_avg_1min']['start']} at start, {results['load_avg_1min']['end']} at end",
    ]
    for title, header, rows, note in tables(results):
        widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
        lines += ["", title]
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for row in rows:
            cells = [
                cell.ljust(width) if i == 0 or not cell[:1].isdigit() else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        if note:
            lines.append(f"  ({note})")
    for name, error in (results.get("errors") or {}).items():
        lines.append(f"\nerror in {name}: {error}")
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Measured {results['date'][:10]} on {results['machine']}; {results['python']}; "
        f"`make bench` took {results['wall_time_s']:.0f} s.",
    ]
    for title, header, rows, note in tables(results):
        lines += ["", f"**{title}**", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(" --- " for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        if note:
            lines += ["", note[0].upper() + note[1:]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", nargs="?", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    print(render_markdown(results) if args.markdown else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
