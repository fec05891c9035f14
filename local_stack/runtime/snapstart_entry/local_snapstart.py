"""The local-only SnapStart entry point: a function's handler, and its runtime hooks on demand.

Lambda runs SnapStart's runtime hooks itself: before-snapshot hooks once the version's
initialisation is done, after-restore hooks when an environment resumes from the snapshot.
The Lambda Runtime Interface Emulator has no snapshot to take, so locally this module
stands in for that step (local_stack/assembly/snapstart.py installs it beside a function's code):

* at import (the init phase) it imports the function's own handler, named by
  LOCAL_SNAPSTART_HANDLER, so every hook the function registers is registered;
* an event `{"localSnapStart": "before-snapshot"}` or `{"localSnapStart": "after-restore"}`
  runs the registered hooks with awslambdaric's own hook runner, the code Lambda's runtime
  runs around a snapshot, in the function's own process;
* any other event goes to the function's handler, unchanged.

Never deployed: it exists only in the local runtime's build of a function started this way.
"""

import importlib
import os
from typing import Any

from awslambdaric import lambda_runtime_hooks_runner

_module, _, _attribute = os.environ["LOCAL_SNAPSTART_HANDLER"].rpartition(".")
_handler = getattr(importlib.import_module(_module), _attribute)
_PHASES = {
    "before-snapshot": lambda_runtime_hooks_runner.run_before_snapshot,
    "after-restore": lambda_runtime_hooks_runner.run_after_restore,
}


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and set(event) == {"localSnapStart"}:
        _PHASES[event["localSnapStart"]]()
        return {"localSnapStart": event["localSnapStart"], "done": True}
    return _handler(event, context)
