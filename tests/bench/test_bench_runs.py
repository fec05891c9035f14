"""`make bench` keeps running: the whole harness, every phase, on its tiny configuration.

`python -m bench --tiny` runs each phase with the fewest calls that still make each figure
(warm, sqs, ingest, cold, local_api, snapstart, sizes), in a subprocess as `make bench`
runs it, writing to a results file and a work folder of this test's own (never
bench/results.json or bench/reference-results.json). The figures are not judged, only
that every phase made them: a phase that breaks fails here instead of on the next person
who runs `make bench`.

The run deploys its own local AWS endpoint, MySQL server and stack (ports the system
picks; the `make api` it times has PORT=0 and a state folder of its own) and `make build`s
for the sizes, so it shares the sam-build group: never beside another build of the tree.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_stack.assembly.stack import LOCAL_PARAMETERS
from local_stack.paths import ROOT
from local_stack.template.transform import load_template

pytestmark = [pytest.mark.xdist_group("sam-build"), pytest.mark.timeout(1500)]

BACKENDS = ("rds", "dynamodb", "aurora", "django")
OPS = ("get", "create", "update", "delete", "list")
RUN_TIMEOUT_S = 1400
COMMITTED = (ROOT / "bench" / "results.json", ROOT / "bench" / "reference-results.json")


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bench-tiny")
    output = folder / "results.json"
    before = {path: _digest(path) for path in COMMITTED}
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MYSQL_"))}
    # as `make bench` runs it: python3.13 on PATH for `make build` (the Makefile's PY313)
    runtimes = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.13*" / "bin")))
    path = os.pathsep.join([*runtimes[:1], environment.get("PATH", "")])
    environment |= {"BENCH_WORK_DIR": str(folder / "work"), "PATH": path}
    process = subprocess.run(  # noqa: S603 - the project's own module
        [sys.executable, "-m", "bench", "--tiny", "--output", str(output)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    log = "\n".join(
        line for line in (process.stdout + process.stderr).splitlines() if not line.startswith("{")
    )
    assert process.returncode == 0, (
        f"python -m bench --tiny exited {process.returncode}:\n{log[-6000:]}"
    )
    assert {path: _digest(path) for path in COMMITTED} == before, "the run wrote a committed file"
    document: dict[str, Any] = json.loads(output.read_text())
    return document


def test_every_phase_ran_without_an_error(results: dict[str, Any]):
    """Catches: a phase that raises or records an error (the warm phase's AccessDenied of
    the notes' handler under the function's role; a floor that stops doing ours' work; a
    cold-start probe that answers 4xx; `make build` failing; the latency proxy in front of
    the master user's secret instead of the one the functions read, which the warm phase
    reports as an error)."""
    assert results["errors"] == {}
    assert set(results["phase_seconds"]) >= {
        "deploy",
        "warm",
        "ingest",
        "sqs",
        "cold",
        "snapstart",
        "local_api",
        "sizes",
    }


def test_every_function_of_the_template_has_a_cold_figure(results: dict[str, Any]):
    """Catches: a function added to template.yaml without a probe in bench/coldstart.py
    (e.g. the Django or Aurora functions), or a probe whose runs all failed."""
    functions = set(load_template(parameters=LOCAL_PARAMETERS).functions)
    assert set(results["cold_ms"]) == functions
    for name, figure in results["cold_ms"].items():
        for way in ("fresh_interpreter", "local_runtime"):
            assert figure[way]["ours_p50"], f"{name}: no {way} figure"
            assert figure[way]["baseline_p50"], f"{name}: no {way} baseline"


def test_the_cold_start_instructions_are_counted_by_stage(results: dict[str, Any]):
    """Catches: callgrind not run or its count not read (bench/instructions.py), or the
    stages not cumulative (each one's total is the one before plus what it added)."""
    stages = results["cold_instructions"]["stages"]
    assert len(stages) == 2, "--tiny counts the first two stages"
    assert stages[0]["instructions"] > 0
    assert stages[1]["instructions"] == stages[0]["instructions"] + stages[1]["added"]
    assert stages[1]["added"] > 0, "importing boto3 and pymysql costs something"


def test_every_backend_has_warm_figures_at_every_rtt(results: dict[str, Any]):
    """Catches: a backend dropped from the default --backends or its floor failing; the
    latency proxy not put in front of the database secret the functions read."""
    rtts = [float(rtt) for rtt in results["settings"]["rtt"].split(",")]
    for backend in BACKENDS:
        for op in OPS:
            for rtt in rtts:
                key = f"{backend}_{op}" + (f"@rtt{rtt:g}ms" if rtt else "")
                entry = results["warm_ms"][key]
                assert entry["ours_p50"], key
                assert entry["floor_p50"], key
    proxied = [network for network in results["networks"].values() if network["rtt_ms"]]
    assert proxied, "no run at a round-trip time"
    assert all(network["database_secrets_pointed_at_the_proxy"] for network in proxied)


def test_each_variant_ran_under_a_role_that_fits_it(results: dict[str, Any]):
    """Catches: the notes' handlers run under the function's own role (which must not grant
    what they call), or the roles left out of results.json."""
    roles = results["roles"]
    assert set(roles) == set(BACKENDS)
    for backend, variants in roles.items():
        function_role = variants["ours"]["role"]
        assert variants["floor"]["role"] == function_role, backend
        for variant in ("naive", "naive_reuse"):
            if variant in variants:
                assert variants[variant]["role"] != function_role, (backend, variant)
                assert variants[variant]["policy"]["Statement"], (backend, variant)
    assert "naive" in roles["rds"]
    assert "naive" in roles["dynamodb"]


def test_the_warm_get_is_profiled_by_part(results: dict[str, Any]):
    """Catches: the profile missing, or its parts not a partition of the time (a part
    counted twice, or a marker that no longer matches the built layer's paths, which
    leaves the MySQL or Powertools part empty)."""
    profile = results["warm_profile"]
    shares = profile["self_time_percent"]
    assert profile["function"] == "CustomersRdsFunction"
    assert profile["calls"] > 0
    assert abs(sum(shares.values()) - 100) < 1
    for part in (
        "MySQL: pymysql, TLS and waiting for the server",
        "Powertools event handler: routing, validation, response",
        "our code: customer_platform and the function",
    ):
        assert shares.get(part, 0) > 0, shares


def test_the_other_phases_made_their_figures(results: dict[str, Any]):
    """Catches: sizes without the Django layer or a function (or the Django function
    counted without the shared layer); ingest missing an RTT, or a same-work loop that
    writes other rows or no events than ours (say, upsert_rows without its outbox
    events, or given the rows as plain lists); an empty SQS or local_api
    section; a SnapStart check that no longer holds (it watched the master user's sessions
    instead of the function's)."""
    functions = set(load_template(parameters=LOCAL_PARAMETERS).functions)
    assert set(results["sizes_bytes"]) >= functions | {"SharedLayer", "DjangoLayer"}
    django = results["sizes_bytes"]["CustomersDjangoFunction"]
    assert django["layers"] == ["SharedLayer", "DjangoLayer"]
    rtts = {f"{float(rtt):g}" for rtt in results["settings"]["rtt"].split(",")}
    assert set(results["ingest_by_rtt"]) == rtts
    for entry in results["ingest_by_rtt"].values():
        assert entry["ours"]
        assert entry["row_by_row"]
        assert entry["same_work_loop"]
        # ours and the same-work loop left the same customers and outbox events, and some
        assert entry["same_work"] is True, entry["work"]
        assert entry["work"]["ours"]["customers"] > 0
        assert entry["work"]["ours"]["events"] > 0
    assert results["sqs_messages_per_s"]
    assert results["local_api"]
    checks = results["snapstart"]["checks"]
    assert checks
    assert all(check["ok"] for check in checks), checks
