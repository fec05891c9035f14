"""A machine not ready for the local stack gets a message, not a traceback.

Each `make` command that deploys the stack meets the MySQL server the same way; here it is
pointed (MYSQL_HOST) at a server it cannot verify, the quickest set-up error to provoke
without touching the machine's MariaDB."""

from pathlib import Path

import pytest

from tests.local_stack.test_local_api import run_module


@pytest.mark.parametrize(
    ("module", "args", "command"),
    [
        ("local_stack.commands.server", [], "make api"),
        ("local_stack.commands.demo", [], "make demo"),
        (
            "local_stack.commands.invoke",
            ["CustomersRdsFunction", "events/customers_rds/get.json"],
            "make invoke",
        ),
        ("local_stack.commands.sync", [], "make sync"),
    ],
)
def test_no_usable_mysql_is_a_message_naming_the_fix(
    tmp_path: Path, module: str, args: list[str], command: str
):
    """Catches: a `make` command without the messages_not_tracebacks decorator (a
    MySQLUnavailable traceback, the message buried at its end)."""
    run = run_module(module, *args, MYSQL_HOST="127.0.0.1", PORT="0", LOCAL_STATE_DIR=str(tmp_path))

    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{command}: MYSQL_HOST=127.0.0.1 is set but MYSQL_CA is not a file" in run.stderr
    assert "MYSQL_CA=/path/to/ca.pem" in run.stderr
    assert "Traceback" not in run.stderr
