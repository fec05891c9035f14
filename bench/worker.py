"""A function's warm execution environment without the emulator: direct handler calls.

Run by bench/workers.py, never imported: `python -S bench/worker.py REPO` on the
function's interpreter (the template's python3.13), in its built folder, with exactly the
environment the local runtime gives the function (its variables, credentials, endpoint,
PYTHONPATH of function folder, layer and runtime). What differs from an execution
environment under the Lambda Runtime Interface Emulator is only the transport: the event
arrives as a line on stdin instead of through the emulator's HTTP hop, so the time of each
call is the handler's own. `make bench` reports that hop separately (local_api).

Requests and replies are JSON lines (stdin, and the original stdout); everything the
handler prints goes to stderr, which the parent keeps as the environment's log.
"""

import json
import os
import sys
import traceback


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's logs (Powertools writes to stdout) go to stderr
    sys.path.append(sys.argv[1])  # bench.inside, after everything the function sees
    from bench.inside import Environment  # noqa: PLC0415 - after the path is set

    environment = Environment()
    for line in sys.stdin:
        try:
            reply = environment.handle(json.loads(line))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which raises
            reply = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        protocol.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
