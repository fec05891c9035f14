"""The running `make api` stack, as the other commands find it: `.local/outputs.json`.

`make api` (and `make demo`) write the file once everything answers, and it stays when they
stop. So the commands check that its endpoint still answers, and say what to do when it
does not.
"""

import json
import socket
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from local_stack.server import OUTPUTS_FILE

START_HINT = "start one with `make api` (or `make api &` then `make wait` in one terminal)"


class NoRunningStack(RuntimeError):
    """No local stack answers; the message says what to run."""


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1):
            return True
    except OSError:
        return False


def _stale(outputs: dict[str, Any]) -> str | None:
    """Why `outputs` names no running stack, or None when its endpoint answers."""
    endpoint = str(outputs.get("AwsEndpointUrl", ""))
    if _answers(endpoint) and "LambdaEndpointUrl" in outputs:
        return None
    return (
        f"{OUTPUTS_FILE} names a local stack at {endpoint} that no longer answers (it has stopped)"
    )


def running_outputs(required: bool) -> dict[str, Any] | None:
    """The running stack's outputs; None (or NoRunningStack when `required`) without one."""
    if not OUTPUTS_FILE.exists():
        if required:
            raise NoRunningStack(f"no local stack is running: {START_HINT}")
        return None
    outputs: dict[str, Any] = json.loads(OUTPUTS_FILE.read_text())
    stale = _stale(outputs)
    if stale is not None:
        if required:
            raise NoRunningStack(f"{stale}: {START_HINT}")
        print(f"note: {stale}; starting a throwaway stack instead", file=sys.stderr)
        return None
    return outputs


def require_running_outputs() -> dict[str, Any]:
    """The running stack's outputs, or NoRunningStack saying what to run."""
    outputs = running_outputs(required=True)
    if outputs is None:  # pragma: no cover - required=True raises instead
        raise NoRunningStack(f"no local stack is running: {START_HINT}")
    return outputs


def wait(timeout_s: float = 300) -> dict[str, Any]:
    """Block until a `make api` started elsewhere is ready; its outputs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # A file left by a stack that has stopped is not an answer; the `make api` being
        # started removes it and writes its own when it is ready.
        if OUTPUTS_FILE.exists():
            outputs: dict[str, Any] = json.loads(OUTPUTS_FILE.read_text())
            if _stale(outputs) is None and _answers(str(outputs["ApiUrl"])):
                return outputs
        time.sleep(0.5)
    raise NoRunningStack(f"no local stack became ready within {timeout_s:.0f}s: {START_HINT}")


def main() -> int:
    """`make wait`: returns when the API answers and prints its URL."""
    try:
        outputs = wait()
    except NoRunningStack as error:
        print(f"make wait: {error}", file=sys.stderr)
        return 1
    print(outputs["ApiUrl"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
