"""`make logs FN=...`: a name that is no function is a message, a function that has not run
yet is waited for (no "has it run?" exit)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_logs(name: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - fixed arguments
            ["make", "-s", "logs", f"FN={name}"],  # noqa: S607 - make from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as waited:
        out = waited.stdout.decode() if isinstance(waited.stdout, bytes) else waited.stdout
        return subprocess.CompletedProcess(waited.cmd, -1, out or "", "")


def test_an_unknown_logical_id_is_refused_with_an_example():
    """Catches: `make logs` following a file no function will ever write."""
    run = make_logs("NoSuchFunction", timeout_s=30)

    assert run.returncode == 2
    assert "NoSuchFunction is not a logical id of template.yaml" in run.stdout


def test_a_function_that_has_not_run_yet_is_waited_for():
    """Catches: exiting with "has it run?" when the stack is up but the function idle."""
    log = ROOT / ".local" / "logs" / "PartnerFetcherFunction.log"
    existed = log.exists()
    run = make_logs("PartnerFetcherFunction", timeout_s=3)

    assert run.returncode == -1, "make logs returned instead of following the log"
    if not existed:
        assert "waiting for its first invocation" in run.stdout
        log.unlink()
