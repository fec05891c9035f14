"""A function of the local stack started the SnapStart way, with its hooks run on demand.

    pool = snapstart_pool(stack, "CustomersRdsFunction")
    pool.invoke({"localSnapStart": "before-snapshot"})   # as Lambda does before the snapshot
    ...                                                    # time passes: a secret rotates
    pool.invoke({"localSnapStart": "after-restore"})      # as Lambda does on resume
    pool.invoke(api_event)                                 # the restored environment serves

The function runs under the local runtime like any other (its own process under the Lambda
Runtime Interface Emulator, its environment, credentials and endpoint), with one file
more in its built folder: local_stack/runtime/snapstart_entry/local_snapstart.py, whose handler
runs the registered before-snapshot and after-restore hooks in the function's own process
with awslambdaric's hook runner when asked, and otherwise calls the function's handler.
Why an entry point and not the emulator's own SnapStart mode: a check of restore safety
must act between the snapshot and the restore (rotate a secret, move the database) and
then observe the restored environment at real boundaries; Lambda takes that moment away
(the two happen back to back at deployment and on resume), so locally the test takes it.
"""

import dataclasses
import shutil
import tempfile
from pathlib import Path

from local_stack.assembly.stack import LocalStack
from local_stack.runtime import FunctionPool

ENTRY = Path(__file__).parents[1] / "runtime" / "snapstart_entry" / "local_snapstart.py"
ENTRY_HANDLER = "local_snapstart.handler"


def snapstart_pool(stack: LocalStack, logical_id: str) -> FunctionPool:
    """A new pool of `logical_id` whose environments run through the SnapStart entry point
    (closed with the stack, or by `pool.close()`)."""
    function = stack.function(logical_id)
    code = Path(tempfile.mkdtemp(prefix=f"snapstart-{logical_id}-"))
    shutil.copytree(function.source.code_dir, code, dirs_exist_ok=True)
    shutil.copy(ENTRY, code / ENTRY.name)
    config = dataclasses.replace(
        function.config,
        logical_id=f"{logical_id}SnapStart",
        handler=ENTRY_HANDLER,
        variables=function.config.variables | {"LOCAL_SNAPSTART_HANDLER": function.config.handler},
    )
    try:
        return stack.runtime.add(
            config,
            code_dir=code,
            layers=stack._layers,
            region=stack.region,
            credentials=function.credentials,
            endpoint_url=function.environment["AWS_ENDPOINT_URL"],
        )
    finally:
        shutil.rmtree(code, ignore_errors=True)  # the runtime built its own copy
