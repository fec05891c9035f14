"""A function for testing the local runtime itself (not part of the stack).

The event (or, through API Gateway, its body) says what to do: sleep, exit the process,
raise, answer with a response of a given size, or report the environment; the other
answers carry the process id, so a test can tell which execution environment served it.
"""

import json
import os
import time
from typing import Any

STARTED = time.time()  # once per execution environment (the init phase)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event.get("body"), str):  # through API Gateway: the orders are the body
        event = json.loads(event["body"])
    print(f"probe {event.get('tag', '')} in {os.getpid()}")
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    if "exit" in event:
        os._exit(int(event["exit"]))
    if event.get("raise"):
        raise ValueError(str(event["raise"]))
    if "size" in event:  # a response of exactly `size` bytes
        return {"data": "x" * (int(event["size"]) - len(json.dumps({"data": ""})))}
    return {
        "pid": os.getpid(),
        "started": STARTED,
        "environment": dict(os.environ) if event.get("environment") else None,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
    }
