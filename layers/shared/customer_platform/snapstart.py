"""Restore-safe execution environments for Lambda SnapStart (template parameter EnableSnapStart).

With SnapStart, Lambda runs a published version's initialisation once, snapshots the
initialised environment and resumes every new execution environment from that one
snapshot. Whatever exists at snapshot time is then shared by all of them, so nothing
unique may: no database connection (the server sees one session used by many
environments, or a dead one), no cached secret (a password rotated since the snapshot),
no random state (every environment would draw the same "random" numbers).

This package never creates such things at import: connections, secrets and clients are
opened on the first request (customer_platform.database, .secrets, .aws). The runtime
hooks below make that a guarantee rather than a habit:

* before the snapshot: close every database connection of this environment;
* after a restore: drop every connection again (one opened by priming code, say), forget
  the cached secrets so the next connection reads the current one, and reseed `random`
  from the operating system.

The hooks come from snapshot_restore_py, which Lambda's Python managed runtimes ship and
the local runtime's folder has (docs/cold-starts.md). They are registered when any
function imports customer_platform; this module imports nothing heavy and touches only the
modules a function has already loaded.
"""

import random
import sys

from snapshot_restore_py import register_after_restore, register_before_snapshot


def close_connections() -> int:
    """Close every open database connection of this execution environment."""
    database = sys.modules.get("customer_platform.database")
    if database is None:
        return 0
    closed = 0
    for instance in list(database.OPEN):
        instance.close()
        closed += 1
    return closed


def forget_secrets() -> None:
    """The next secret read goes to Secrets Manager (the Powertools cache is dropped)."""
    secrets = sys.modules.get("customer_platform.secrets")
    if secrets is not None:
        secrets.reset()


@register_before_snapshot
def before_snapshot() -> None:
    close_connections()


@register_after_restore
def after_restore() -> None:
    close_connections()
    forget_secrets()
    random.seed()  # from os.urandom: restored environments must not share a sequence
