"""`make logs FN=...`: a name that is no function is a message (the other cases, with and
without a running stack: tests/unit/test_make_wait.py)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_unknown_logical_id_is_refused_with_an_example():
    """Catches: `make logs` following a file no function will ever write."""
    run = subprocess.run(
        ["make", "-s", "logs", "FN=NoSuchFunction"],  # noqa: S607 - make from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert run.returncode == 2
    assert "NoSuchFunction is not a logical id of template.yaml" in run.stdout
