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
from bench.instructions import HANDLER_STAGE

if TYPE_CHECKING:
    from bench.coldstart import ColdResults
    from bench.consumers import ConsumerResult
    from bench.ingest import IngestResult
    from bench.sizes import SizesResult
    from bench.warm import WarmResults

MB = 1024 * 1024
TARGET_RDS_GET_VS_FLOOR = 1.2  # at TARGET_RTT_MS, against the same-work floor
TARGET_NAIVE_VS_OURS = 5.0
TARGET_PER_1000 = 1.0
# At TARGET_RTT_MS, against the same work row by row: the notes' loop shape doing what
# ours does (locked reads, upsert, outbox event per row). The notes' own loop does less
# (no checks, no events), so its ratio is reported beside, not judged.
TARGET_INGEST = 20.0
TARGET_COLD = 1.5
TARGET_RTT_MS = 0.5


@dataclass
class Collected:
    settings: dict[str, Any]
    machine_at_start: dict[str, Any] = field(default_factory=dict)
    mysql: dict[str, Any] = field(default_factory=dict)
    warm: "WarmResults | None" = None
    consumers: "list[ConsumerResult] | None" = None
    ingest: "list[IngestResult] | None" = None
    cold: "ColdResults | None" = None
    sizes: "SizesResult | None" = None
    snapstart: dict[str, Any] | None = None
    local_api: dict[str, Any] | None = None
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
            for comparison in self.warm.comparisons:
                series += list(comparison.series.values())
        series += [c.batches for c in self.consumers or []]
        for ingest in self.ingest or []:
            for variant, seconds in ingest.seconds.items():
                series.append(
                    Series(
                        f"ingest@{ingest.rtt_ms:g}.{variant}",
                        f"{ingest.rows} partner rows, {variant}, rtt {ingest.rtt_ms:g} ms",
                        values_ns=[int(s * 1e9) for s in seconds],
                    )
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


def build(c: Collected) -> dict[str, Any]:
    """The results document (bench/README.md describes its shape)."""
    start = c.machine_at_start
    end = machine()
    description = (
        f"{start['cpu']}, {start['cpus']} CPUs, {start['memory_gib']} GiB RAM, {start['platform']}"
    )
    python = f"{start['python']} (the bench process, moto and the local stack)"
    if c.cold is not None:
        python += f"; CPython {c.cold.python_version} for the functions"
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
        "networks": {},
        "warm_ms": {},
        "ratios": {},
        "per_1000_warm_invocations": {},
        "ingest_rows_per_s": {},
        "ingest_by_rtt": {},
        "sqs_messages_per_s": {},
        "sqs": {},
        "cold_start_ms": {},
        "cold_ms": {},
        "import_profiles": {},
        "snapstart": c.snapstart or {},
        "local_api": (c.local_api | {"rtt_ms": 0.0}) if c.local_api else {},
        "sizes_bytes": {},
        "limits_bytes": {"zipped_direct_upload": 50 * MB, "unzipped_with_layers": 250 * MB},
        "targets": [],
        "errors": {},
    }
    _warm(c, results)
    _ingest(c, results)
    for consumer in c.consumers or []:
        results["sqs_messages_per_s"][consumer.name] = round(consumer.messages_per_s, 1)
        results["sqs"][consumer.name] = {
            "function": consumer.function,
            "messages": consumer.messages,
            "batch_p50_ms": _r(consumer.batches.p50_ms()),
            "batch_p99_ms": _r(consumer.batches.percentile_ms(99)),
            "rows_per_s": round(consumer.rows_per_s) if consumer.rows else None,
            "rtt_ms": 0.0,
        }
    _cold(c, results)
    _sizes(c, results)
    for name in ("snapstart", "local_api"):
        section = results[name]
        if section.get("error"):
            results["errors"][name] = section["error"]
    return results


def _warm(c: Collected, results: dict[str, Any]) -> None:
    if c.warm is None:
        return
    ratios, targets = results["ratios"], results["targets"]
    results["networks"] = c.warm.networks
    results["roles"] = c.warm.roles
    results["warm_notes"] = c.warm.notes
    if c.warm.profile:
        results["warm_profile"] = c.warm.profile
    for comparison in c.warm.comparisons:
        entry: dict[str, Any] = {
            "backend": comparison.backend,
            "op": comparison.op,
            "rtt_ms": comparison.rtt_ms,
        }
        for variant, series in comparison.series.items():
            if len(series):
                entry[f"{variant}_p50"] = _r(series.p50_ms())
                entry[f"{variant}_p99"] = _r(series.percentile_ms(99))
        entry["n"] = {variant: len(series) for variant, series in comparison.series.items()}
        entry["work_per_call"] = comparison.work
        entry["sql_per_call"] = comparison.sql
        # None: the floor is other work by design (Django's is the MySQL floor's raw SQL)
        entry["same_work"] = comparison.same_work
        entry["order"] = comparison.rounds.record()
        results["warm_ms"][comparison.key] = entry
    per_1000 = {name: tally.per_1000() for name, tally in c.warm.tallies.items()}
    mine = [v for k, v in per_1000.items() if k.endswith("_ours")]
    results["per_1000_warm_invocations"] = {
        "secret_fetches": max((float(v["secret_fetches"]) for v in mine), default=0.0),
        "db_connections": max((float(v["db_connections"]) for v in mine), default=0.0),
        "by_handler": per_1000,
    }
    for error in c.warm.errors:
        results["errors"].setdefault("warm", []).append(error)
    for rtt_key, label in (
        ("rds_get", ""),
        (f"rds_get@rtt{TARGET_RTT_MS:g}ms", f"_at_rtt{TARGET_RTT_MS:g}"),
    ):
        get = results["warm_ms"].get(rtt_key)
        if not get:
            continue
        ratios[f"rds_get_vs_floor{label}"] = _r(get["ours_p50"] / get["floor_p50"], 2)
        ratios[f"rds_get_vs_one_statement{label}"] = _r(get["ours_p50"] / get["floor_one_p50"], 2)
        ratios[f"naive_vs_ours_rds_get{label}"] = _r(get["naive_p50"] / get["ours_p50"], 1)
        if get.get("naive_reuse_p50"):
            ratios[f"naive_reuse_vs_ours_rds_get{label}"] = _r(
                get["naive_reuse_p50"] / get["ours_p50"], 1
            )
    label = f"_at_rtt{TARGET_RTT_MS:g}"
    if f"rds_get_vs_floor{label}" in ratios:
        value = ratios[f"rds_get_vs_floor{label}"]
        targets.append(
            _target(
                f"warm RDS get <= {TARGET_RDS_GET_VS_FLOOR}x its same-work floor at "
                f"{TARGET_RTT_MS:g} ms RTT",
                value,
                value <= TARGET_RDS_GET_VS_FLOOR,
                "x",
                limit=TARGET_RDS_GET_VS_FLOOR,
            )
        )
        value = ratios[f"naive_vs_ours_rds_get{label}"]
        targets.append(
            _target(
                f"warm RDS get >= {TARGET_NAIVE_VS_OURS:g}x faster than the notes' handler at "
                f"{TARGET_RTT_MS:g} ms RTT",
                value,
                value >= TARGET_NAIVE_VS_OURS,
                "x",
                limit=TARGET_NAIVE_VS_OURS,
                higher_is_better=True,
            )
        )
    worst = results["per_1000_warm_invocations"]
    targets.append(
        _target(
            "<= 1 secret fetch per 1,000 warm invocations (worst of ours)",
            worst["secret_fetches"],
            worst["secret_fetches"] <= TARGET_PER_1000,
            limit=TARGET_PER_1000,
        )
    )
    targets.append(
        _target(
            "<= 1 new MySQL connection per 1,000 warm invocations (worst of ours)",
            worst["db_connections"],
            worst["db_connections"] <= TARGET_PER_1000,
            limit=TARGET_PER_1000,
        )
    )
    mismatched = [key for key, entry in results["warm_ms"].items() if entry["same_work"] is False]
    targets.append(
        _target(
            "every same-work floor makes the statements or calls ours makes (counted)",
            len(mismatched),
            not mismatched,
            " mismatches",
            limit=0,
        )
    )


def _ingest(c: Collected, results: dict[str, Any]) -> None:
    for ingest in c.ingest or []:
        rates = {variant: ingest.rows_per_s(variant) for variant in ingest.seconds}
        entry: dict[str, Any] = {k: round(v) for k, v in rates.items()} | {
            "rows": ingest.rows,
            "messages": ingest.messages,
            "repetitions": len(ingest.seconds.get("ours", [])),
            "rtt_ms": ingest.rtt_ms,
            "vs_same_work_loop": round(rates["ours"] / rates["same_work_loop"], 1),
            "vs_row_by_row": round(rates["ours"] / rates["row_by_row"], 1),
            "vs_commit_each": round(rates["ours"] / rates["commit_each"], 1),
            "work": ingest.work,
            "same_work": ingest.same_work,
            "order": ingest.order,
        }
        if not ingest.same_work:
            results["errors"][f"ingest@{ingest.rtt_ms:g}"] = (
                f"the same-work loop did not leave what ours left: {ingest.work}"
            )
        results["ingest_by_rtt"][f"{ingest.rtt_ms:g}"] = entry
        if ingest.rtt_ms == 0:
            results["ingest_rows_per_s"] = entry
            results["ratios"]["ingest_vs_same_work_loop"] = entry["vs_same_work_loop"]
            results["ratios"]["ingest_vs_row_by_row"] = entry["vs_row_by_row"]
            results["ratios"]["ingest_vs_commit_each"] = entry["vs_commit_each"]
        if ingest.rtt_ms == TARGET_RTT_MS:
            label = f"_at_rtt{TARGET_RTT_MS:g}"
            results["ratios"][f"ingest_vs_same_work_loop{label}"] = entry["vs_same_work_loop"]
            results["ratios"][f"ingest_vs_row_by_row{label}"] = entry["vs_row_by_row"]
            results["ratios"][f"ingest_vs_commit_each{label}"] = entry["vs_commit_each"]
            results["targets"].append(
                _target(
                    f"bulk ingest >= {TARGET_INGEST:g}x the same work written row by row "
                    f"(the notes' loop) at {TARGET_RTT_MS:g} ms RTT",
                    entry["vs_same_work_loop"],
                    entry["vs_same_work_loop"] >= TARGET_INGEST and ingest.same_work,
                    "x",
                    limit=TARGET_INGEST,
                    higher_is_better=True,
                )
            )


def _cold(c: Collected, results: dict[str, Any]) -> None:
    if c.cold is None:
        return
    if c.cold.error:
        results["errors"]["cold"] = c.cold.error
    ratios: dict[str, dict[str, float]] = {"fresh_interpreter": {}, "local_runtime": {}}
    for function in c.cold.functions:
        if function.errors:
            results["errors"][f"cold.{function.logical_id}"] = function.errors
        p50 = {variant: function.p50_ms(variant) for variant in function.series}
        ways: dict[str, Any] = {}
        for way, ours, base in (
            ("fresh_interpreter", "ours", "baseline"),
            ("local_runtime", "ours_runtime", "baseline_runtime"),
        ):
            entry = {
                "ours_p50": _r(p50.get(ours), 1),
                "baseline_p50": _r(p50.get(base), 1),
                "runs": len(function.series[ours]) if ours in function.series else 0,
            }
            if p50.get(ours) and p50.get(base):
                entry["ratio"] = ratios[way][function.logical_id] = round(
                    float(p50[ours] or 0) / float(p50[base] or 1), 2
                )
            ways[way] = entry
        results["cold_ms"][function.logical_id] = ways | {
            "rtt_ms": 0.0,
            "first_request": function.request,
            "aws_calls": function.calls,
            "sql_statements": function.statements,
            "modules": function.modules,
            "order": function.order,
        }
        fresh = ways["fresh_interpreter"]
        results["cold_start_ms"][function.logical_id] = {
            "ours_p50": fresh["ours_p50"],
            "baseline_p50": fresh["baseline_p50"],
            "runs": fresh["runs"],
            "ratio": fresh.get("ratio"),
            "rtt_ms": 0.0,
            "first_event": function.request,
        }
        results["import_profiles"][function.logical_id] = function.import_profile
    results["cold_start_interpreter"] = f"{c.cold.interpreter} ({c.cold.python_version})"
    if c.cold.instructions is not None:
        results["cold_instructions"] = c.cold.instructions
        if "error" in c.cold.instructions:
            results["errors"]["cold.instructions"] = c.cold.instructions["error"]
    results["ratios"]["cold_vs_boto3_baseline"] = ratios["fresh_interpreter"]
    results["ratios"]["cold_local_runtime_vs_boto3_baseline"] = ratios["local_runtime"]
    for way, label in (
        ("fresh_interpreter", "in a fresh interpreter"),
        ("local_runtime", "under the local runtime"),
    ):
        if ratios[way]:
            worst = max(ratios[way], key=lambda name: ratios[way][name])
            targets = results["targets"]
            targets.append(
                _target(
                    f"each cold start <= {TARGET_COLD}x its boto3-only baseline, {label} "
                    f"(worst: {worst})",
                    ratios[way][worst],
                    all(r <= TARGET_COLD for r in ratios[way].values()),
                    "x",
                    limit=TARGET_COLD,
                )
            )


def _sizes(c: Collected, results: dict[str, Any]) -> None:
    if c.sizes is None:
        return
    if c.sizes.error:
        results["errors"]["sizes"] = c.sizes.error
    for package in c.sizes.packages:
        sizes: dict[str, Any] = {"zipped": package.zipped, "unzipped": package.unzipped}
        if package.kind == "function":
            sizes["unzipped_with_layers"] = package.unzipped_with_layers
            sizes["layers"] = package.layers
        results["sizes_bytes"][package.name] = sizes
    largest = max(
        (p for p in c.sizes.packages if p.kind == "function"),
        key=lambda p: p.unzipped_with_layers,
        default=None,
    )
    if largest is not None:
        results["targets"].append(
            _target(
                f"every function with its layers <= 250 MB unzipped (largest: {largest.name})",
                round(largest.unzipped_with_layers / MB, 1),
                largest.unzipped_with_layers <= 250 * MB,
                " MB",
                limit=250,
            )
        )


def _target(
    name: str,
    value: float,
    met: bool,
    unit: str = "",
    *,
    limit: float,
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """A target and how far from it the value is: `missed_by` is the relative shortfall
    (0.25: the value must fall, or rise, by a quarter of the limit's ratio to meet it)."""
    target: dict[str, Any] = {"target": name, "value": value, "unit": unit, "met": bool(met)}
    target["limit"] = limit
    if not met and value and limit:
        target["missed_by"] = round(
            (limit / value - 1) if higher_is_better else (value / limit - 1), 3
        )
    return target


# -- rendering ----------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _size(size: int) -> str:
    return f"{size / MB:.2f} MB" if size >= MB else f"{size / 1024:.1f} KB"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def _work(work: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in work.items()) or "-"


Table = tuple[str, list[str], list[list[str]], str]


def tables(results: dict[str, Any]) -> list[Table]:
    """(title, header, rows, note) for each section present in `results`."""
    sections: list[Table] = []
    sections += _targets_table(results)
    sections += _warm_tables(results)
    sections += _warm_profile_table(results)
    sections += _roles_table(results)
    sections += _ingest_table(results)
    sections += _sqs_table(results)
    sections += _cold_table(results)
    sections += _cold_instructions_table(results)
    sections += _snapstart_table(results)
    sections += _local_api_table(results)
    sections += _sizes_table(results)
    return sections


def _targets_table(results: dict[str, Any]) -> list[Table]:
    targets = results.get("targets") or []
    if not targets:
        return []
    rows = []
    for t in targets:
        verdict = "met"
        if not t["met"]:
            verdict = "MISSED" + (f" by {t['missed_by']:.0%}" if "missed_by" in t else "")
        rows.append([verdict, t["target"], f"{_fmt(t['value'])}{t['unit']}"])
    return [("Targets", ["", "target", "measured"], rows, "")]


def _floor_mark(same_work: bool | None) -> str:
    if same_work is None:
        return " (floor: the MySQL floor's raw SQL)"
    return "" if same_work else " (floor differs)"


def _roles_table(results: dict[str, Any]) -> list[Table]:
    roles = results.get("roles") or {}
    rows = []
    for backend, variants in roles.items():
        by_role: dict[str, list[str]] = {}
        for variant, role in variants.items():
            by_role.setdefault(role["role"], []).append(variant)
        for role, names in by_role.items():
            rows.append([backend, ", ".join(names), role])
    if not rows:
        return []
    return [
        (
            "Roles the warm variants ran under (the local IAM check enforced them)",
            ["backend", "variants", "role"],
            rows,
            "The function's own role from template.yaml for ours and the floors; for the "
            "notes' handlers a least-privilege role for exactly what they call (bench/roles.py; "
            "its policy is in results.json).",
        )
    ]


def _warm_tables(results: dict[str, Any]) -> list[Table]:
    warm = results.get("warm_ms") or {}
    sections: list[Table] = []
    networks = results.get("networks") or {}
    for rtt in sorted({entry["rtt_ms"] for entry in warm.values()}):
        rows = []
        for w in warm.values():
            if w["rtt_ms"] != rtt:
                continue
            rows.append(
                [
                    w["backend"],
                    w["op"],
                    _fmt(w.get("ours_p50"), 3),
                    _fmt(w.get("ours_p99"), 3),
                    _fmt(w.get("floor_p50"), 3),
                    _ratio(w.get("ours_p50"), w.get("floor_p50")),
                    _fmt(w.get("floor_one_p50"), 3),
                    _fmt(w.get("naive_p50"), 2),
                    _ratio(w.get("naive_p50"), w.get("ours_p50")),
                    _fmt(w.get("naive_reuse_p50"), 2),
                    _work(w["work_per_call"].get("ours", {})) + _floor_mark(w.get("same_work")),
                ]
            )
        network = networks.get(f"{rtt:g}", {})
        measured = ""
        if network.get("mysql_added_rtt_measured_ms") is not None:
            measured = (
                " Measured added round trip: MySQL "
                f"{network['mysql_added_rtt_measured_ms']:.3f} ms, "
                f"AWS endpoint {network['aws_added_rtt_measured_ms']:.3f} ms."
            )
            if network["aws_added_rtt_measured_ms"] > 1.5 * rtt:
                measured += (
                    " The AWS path's proxy forwards in the bench process, beside moto, and adds "
                    "more than asked even with no delay set: DynamoDB figures at this RTT are "
                    "at the measured distance."
                )
        sections.append(
            (
                f"Warm latency at {rtt:g} ms added round-trip time (ms, handler called directly)",
                [
                    "backend",
                    "op",
                    "ours p50",
                    "ours p99",
                    "floor p50",
                    "ours/floor",
                    "one-statement p50",
                    "notes p50",
                    "notes/ours",
                    "notes, client reused p50",
                    "work per call (counted)",
                ],
                rows,
                "floor: the same statements or calls as ours, raw (checked by counting them at "
                "the MySQL server and the AWS endpoint); one-statement: the single statement or "
                "call; notes: the notes' handlers (bench/naive_*.py), as written and with their "
                "Secrets Manager client reused."
                + (
                    " django's floor is the MySQL floor's raw SQL (the same work without the "
                    "ORM, not checked)."
                    if any(w["backend"] == "django" for w in warm.values())
                    else ""
                )
                + "".join(f" {note}." for note in results.get("warm_notes") or [])
                + measured,
            )
        )
    per_1000 = (results.get("per_1000_warm_invocations") or {}).get("by_handler") or {}
    if per_1000:
        names = {"ours": "ours", "naive": "the notes'", "naive_reuse": "the notes', client reused"}
        rows = []
        for name, v in per_1000.items():
            backend, _, variant = name.partition("_")
            rows.append(
                [
                    f"{backend} ({names.get(variant, variant)})",
                    _fmt(v["invocations"]),
                    _fmt(v["secret_fetches"], 1),
                    _fmt(v["db_connections"], 1),
                ]
            )
        sections.append(
            (
                "Per 1,000 warm invocations (counted at the boundaries)",
                ["handler", "invocations", "GetSecretValue", "MySQL connections"],
                rows,
                "GetSecretValue counted at the AWS endpoint by the function's access key; "
                "connections by the MySQL server's Connections status.",
            )
        )
    return sections


def _warm_profile_table(results: dict[str, Any]) -> list[Table]:
    profile = results.get("warm_profile") or {}
    if not profile:
        return []
    rows = [[part, f"{share:.1f}%"] for part, share in profile["self_time_percent"].items()]
    return [
        (
            "Warm RDS get, where the time goes",
            ["part", "share of the time"],
            rows,
            f"Measured with cProfile: {profile['calls']:,} warm gets of {profile['function']} "
            "in its worker, "
            + ("on loopback" if not profile["rtt_ms"] else f"at {profile['rtt_ms']:g} ms RTT")
            + "; each function's own time, summed by part (bench/inside.py PARTS). "
            "The profiler slows Python more than waiting on a socket, so read the shares "
            "against each other, not as milliseconds: the MySQL part is what the same-work "
            "floor also does, the rest is the fixed cost per request that the ratio measures.",
        )
    ]


def _ingest_table(results: dict[str, Any]) -> list[Table]:
    by_rtt = results.get("ingest_by_rtt") or {}
    if not by_rtt:
        return []
    labels = {
        "ours": "ours: upsert_rows, one transaction per 250-row message",
        "ours_parsing": "ours, parsing and validating each message first",
        "ours_rerun": "ours, re-run of the same feed (nothing changes)",
        "same_work_loop": "the same work row by row: upsert_rows per row, 4 statements each",
        "row_by_row": "the notes' loop: execute per row, one commit (no checks, no events)",
        "commit_each": "the notes' loop, commit after every row",
    }
    rtts = sorted(by_rtt, key=float)
    rows = []
    for key, label in labels.items():
        row = [label]
        for rtt in rtts:
            entry = by_rtt[rtt]
            row += [_fmt(entry.get(key)), _ratio(entry.get(key), entry.get("same_work_loop"))]
        rows.append(row)
    header = ["variant"]
    for rtt in rtts:
        header += [f"rows/s at {rtt} ms", f"vs same-work loop at {rtt} ms"]
    first = by_rtt[rtts[0]]
    mysql = results.get("mysql") or {}
    return [
        (
            f"Partner ingest, {first['rows']:,} rows into MySQL",
            header,
            rows,
            f"MySQL {mysql.get('version', '?')} ({mysql.get('source', '?')}), "
            f"innodb_flush_log_at_trx_commit={mysql.get('innodb_flush_log_at_trx_commit')}; "
            f"median of {first.get('repetitions')}, variants in ABBA order. "
            + "; ".join(
                f"at {rtt} ms ours and the same-work loop left "
                + " and ".join(
                    f"{_work(by_rtt[rtt].get('work', {}).get(v) or {})} ({v})"
                    for v in ("ours", "same_work_loop")
                )
                for rtt in rtts
            )
            + " (counted in the tables).",
        )
    ]


def _sqs_table(results: dict[str, Any]) -> list[Table]:
    sqs = results.get("sqs") or {}
    if not sqs:
        return []
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
    return [
        (
            "SQS consumers, batches of 10, one warm environment",
            ["consumer", "messages/s", "batch p50 ms", "rows/s", "messages"],
            rows,
            "partner_writer messages carry 250 rows each.",
        )
    ]


def _cold_table(results: dict[str, Any]) -> list[Table]:
    cold = results.get("cold_ms") or {}
    if not cold:
        return []
    rows = []
    for name, v in cold.items():
        fresh, runtime = v["fresh_interpreter"], v["local_runtime"]
        rows.append(
            [
                name,
                _fmt(fresh["ours_p50"], 0),
                _fmt(fresh["baseline_p50"], 0),
                f"{fresh['ratio']:.2f}x" if fresh.get("ratio") else "-",
                _fmt(runtime["ours_p50"], 0),
                _fmt(runtime["baseline_p50"], 0),
                f"{runtime['ratio']:.2f}x" if runtime.get("ratio") else "-",
                v["first_request"],
            ]
        )
    runs = max(v["fresh_interpreter"]["runs"] for v in cold.values())
    return [
        (
            f"Cold start to first real response, median of {runs} interleaved runs (ms), "
            f"{results.get('cold_start_interpreter', '')}",
            [
                "function",
                "fresh interpreter",
                "baseline",
                "ratio",
                "local runtime",
                "baseline",
                "ratio",
                "first request",
            ],
            rows,
            "baseline: boto3 (and pymysql) only, making the same AWS calls and SQL statements "
            "as the function's first request; fresh interpreter: handler import and the "
            "request in a bare python; local runtime: emulator and runtime start, import and "
            "request, timed around the invocation.",
        )
    ]


def _cold_instructions_table(results: dict[str, Any]) -> list[Table]:
    measured = results.get("cold_instructions") or {}
    stages = measured.get("stages") or []
    if not stages:
        return []
    over = measured.get("over_the_baseline")
    rows = []
    for number, stage in enumerate(stages):
        share = "-"
        if over and 1 < number <= HANDLER_STAGE:  # what ours imports beyond the baseline
            share = f"{stage['added'] / over:.0%}"
        rows.append(
            [
                stage["stage"],
                _fmt(stage["instructions"] / 1e6, 0),
                _fmt(stage["added"] / 1e6, 0),
                share,
            ]
        )
    ratio = measured.get("ours_vs_baseline_imports")
    return [
        (
            f"Cold start, where the instructions go: {measured['function']}, each stage "
            "adding one import to the one before (millions of instructions, callgrind)",
            ["stage", "total", "added", "share of what ours adds"],
            rows,
            "instructions do not move with the machine's load, milliseconds do; the handler "
            "module's imports against the baseline's: "
            + (f"{ratio:.2f}x" if ratio else "-")
            + ". The share column is each stage's part of what ours imports beyond the "
            "baseline; the TLS trust store is loaded by both.",
        )
    ]


def _snapstart_table(results: dict[str, Any]) -> list[Table]:
    snap = results.get("snapstart") or {}
    checks = snap.get("checks") or []
    if not checks:
        return []
    rows = [
        ["verified" if c["ok"] else "FAILED", c["check"], c.get("observed", "")] for c in checks
    ]
    timings = snap.get("first_request_ms") or {}
    note = ""
    if timings:
        note = (
            f"{snap.get('function')}: first request after restore "
            f"{timings.get('after_restore', 0):.1f} ms (secret read and connection, nothing "
            f"imported); a cold start's first request under the local runtime "
            f"{timings.get('cold_start', 0):.1f} ms; a warm request "
            f"{timings.get('warm', 0):.1f} ms."
        )
    return [
        ("SnapStart hooks, run in a function's own process", ["", "check", "observed"], rows, note)
    ]


def _local_api_table(results: dict[str, Any]) -> list[Table]:
    local = results.get("local_api") or {}
    sections: list[Table] = []
    start = local.get("start_s") or {}
    overhead = local.get("emulator_overhead_ms") or {}
    if start or overhead:
        rows = []
        if start:
            rows.append(["`make api` start, cold build cache (s)", _fmt(start.get("cold"), 1)])
            rows.append(
                ["`make api` start, warm build cache, median (s)", _fmt(start.get("warm"), 1)]
            )
            rows.append(["`make api` stop on SIGTERM (s)", _fmt(start.get("stop"), 1)])
        for backend, v in overhead.items():
            rows.append(
                [f"{backend} get, through the emulator p50 (ms)", _fmt(v["runtime_p50"], 3)]
            )
            rows.append(
                [f"{backend} get, handler called directly p50 (ms)", _fmt(v["direct_p50"], 3)]
            )
            rows.append(
                [f"{backend} get, emulator overhead per invocation (ms)", _fmt(v["overhead"], 3)]
            )
        sections.append(("The local runtime", ["", "value"], rows, ""))
    rps = local.get("requests_per_s") or {}
    if rps:
        levels = sorted({int(c) for v in rps.values() for c in v}, key=int)
        rows = [
            [f"GET /{backend}/customers/{{id}}"]
            + [f"{v[str(c)]['rps']:.0f} (p50 {v[str(c)]['p50_ms']:.1f} ms)" for c in levels]
            for backend, v in rps.items()
        ]
        sections.append(
            (
                "Requests per second through HTTP (`make api`), by concurrent clients",
                ["route", *[f"{c} clients" for c in levels]],
                rows,
                f"keep-alive clients in a separate process, {local.get('rps_seconds', '?')} s "
                f"each; at most {local.get('environments_per_function', '?')} environments per "
                "function (LOCAL_LAMBDA_CONCURRENCY).",
            )
        )
    return sections


def _sizes_table(results: dict[str, Any]) -> list[Table]:
    sizes = results.get("sizes_bytes") or {}
    if not sizes:
        return []
    rows = [
        [
            name + (f" (+ {', '.join(v['layers'])})" if v.get("layers") else ""),
            _size(v["zipped"]),
            _size(v["unzipped"]),
            _size(v["unzipped_with_layers"]) if "unzipped_with_layers" in v else "-",
            f"{v['zipped'] / (50 * MB):.0%}",
            f"{v.get('unzipped_with_layers', v['unzipped']) / (250 * MB):.0%}",
        ]
        for name, v in sizes.items()
    ]
    return [
        (
            "Packages from sam build",
            ["package", "zipped", "unzipped", "with layers", "of 50 MB", "of 250 MB"],
            rows,
            "Lambda's limits: 50 MB zipped for a direct upload; 250 MB unzipped, function "
            "and all its layers together.",
        )
    ]


def import_profiles_markdown(results: dict[str, Any]) -> str:
    """Each function's ten heaviest imports on its cold path, as Markdown."""
    lines = []
    for name, profile in (results.get("import_profiles") or {}).items():
        if not profile:
            continue
        lines += ["", f"**{name}**", "", "| module | cumulative ms | self ms | depth |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [
            f"| `{p['module']}` | {p['cumulative_ms']:.1f} | {p['self_ms']:.1f} | {p['depth']} |"
            for p in profile
        ]
    return "\n".join(lines).strip()


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


def _measured_line(results: dict[str, Any]) -> str:
    load = results.get("load_avg_1min") or {}
    return (
        f"Measured {results['date'][:10]} on {results['machine']}; {results['python']}; "
        f"`make bench` took {results['wall_time_s']:.0f} s; load average (1 min) "
        f"{load.get('start')} at the start, {load.get('end')} at the end."
    )


def render_markdown(results: dict[str, Any], only: tuple[str, ...] | None = None) -> str:
    """Every table (or those whose titles start with one of `only`), after the run's line."""
    lines = [_measured_line(results)]
    for title, header, rows, note in tables(results):
        if only is None or title.startswith(only):
            lines += _markdown_table(title, header, rows, note)
    if only is None:
        for name, error in (results.get("errors") or {}).items():
            lines += ["", f"Error in {name}: {error}"]
    return "\n".join(lines)


# -- the generated parts of README.md, docs/performance.md and docs/cold-starts.md ---------

REFERENCE = REPO / "bench" / "reference-results.json"
GENERATED = {
    REPO / "README.md": ("performance-summary",),
    REPO / "docs" / "performance.md": ("performance",),
    REPO / "docs" / "cold-starts.md": ("cold-starts", "import-profiles"),
}


def _begin(name: str) -> str:
    return (
        f"<!-- generated: {name} (python -m bench.report --write-docs, from "
        "bench/reference-results.json; do not edit by hand) -->"
    )


def _end(name: str) -> str:
    return f"<!-- end of generated: {name} -->"


def generated_blocks(results: dict[str, Any]) -> dict[str, str]:
    """Every generated block's Markdown, by name."""
    cold = [t for t in tables(results) if t[0].startswith(("Cold start", "SnapStart"))]
    cold_lines: list[str] = []
    for title, header, rows, note in cold:
        cold_lines += _markdown_table(title, header, rows, note)
    return {
        "performance-summary": render_markdown(results, only=("Targets",))
        + "\n\nEvery table behind these ratios: [docs/performance.md](docs/performance.md).",
        "performance": render_markdown(results),
        "cold-starts": "\n".join(cold_lines).strip(),
        "import-profiles": import_profiles_markdown(results),
    }


def replace_blocks(text: str, blocks: dict[str, str], names: tuple[str, ...]) -> str:
    """`text` with each named block's content replaced (the markers must be there)."""
    for name in names:
        begin, end = _begin(name), _end(name)
        if begin not in text or end not in text:
            raise ValueError(f"no generated block {name!r}: add the lines\n{begin}\n{end}")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n\n{blocks[name]}\n\n{end}{tail}"
    return text


def write_docs(results_file: Path = REFERENCE, check: bool = False) -> list[Path]:
    """Rewrite the generated blocks; with `check`, only list the files that differ."""
    blocks = generated_blocks(json.loads(results_file.read_text()))
    stale = []
    for path, names in GENERATED.items():
        current = path.read_text()
        wanted = replace_blocks(current, blocks, names)
        if wanted != current:
            stale.append(path)
            if not check:
                path.write_text(wanted)
    return stale


def _markdown_table(title: str, header: list[str], rows: list[list[str]], note: str) -> list[str]:
    lines = ["", f"**{title}**", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if note:
        lines += ["", note[0].upper() + note[1:]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", nargs="?", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="rewrite the generated blocks of README.md and docs/*.md from RESULTS "
        "(default for this option: bench/reference-results.json)",
    )
    args = parser.parse_args()
    if args.write_docs:
        source = args.results if args.results != parser.get_default("results") else REFERENCE
        for path in write_docs(source):
            print(f"updated {path.relative_to(REPO)}")
        return 0
    results = json.loads(args.results.read_text())
    print(render_markdown(results) if args.markdown else render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
