"""`make demo` as a user runs it: every chapter's checks hold and it exits 0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(360)  # the demo subprocess has 300 s
def test_the_demo_walks_every_pattern_and_exits_zero(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"LOCAL_STATE_DIR": str(tmp_path), "NO_COLOR": "1"}

    run = subprocess.run(
        [sys.executable, "-m", "local_stack.commands.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "checks passed" in run.stdout
    chapters = ("DynamoDB", "fan-out", "RDS MySQL", "outbox", "presigned", "partner sync")
    for chapter in (*chapters, "RDS Data API", "Django"):
        assert chapter in run.stdout, chapter
    assert (tmp_path / "outputs.json").exists()
