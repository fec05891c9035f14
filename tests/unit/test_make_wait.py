"""`make wait` beside an outputs.json that a stopped `make api` left behind."""

import json
import socket
from pathlib import Path

import pytest

from local_stack import running


def test_a_stale_outputs_file_is_waited_past_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Catches: `make wait` repeating, every half second, the note of the commands that
    start a throwaway stack ("starting a throwaway stack instead"), which it never does."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps({"AwsEndpointUrl": gone, "LambdaEndpointUrl": gone, "ApiUrl": gone})
    )
    monkeypatch.setattr(running, "OUTPUTS_FILE", outputs)

    with pytest.raises(running.NoRunningStack, match="no local stack became ready within 1s"):
        running.wait(timeout_s=1.2)

    assert capsys.readouterr().err == ""
