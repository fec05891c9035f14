"""What the `make` commands of the local stack print when the machine is not ready for them:
a message naming what happened and what fixes it, never a traceback."""

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec

from local_stack.services.mysql import MySQLUnavailable

# Conditions that are the machine's, not a bug: each message already says what fixes it.
SETUP_ERRORS: tuple[type[Exception], ...] = (MySQLUnavailable,)
P = ParamSpec("P")


def messages_not_tracebacks(command: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Decorate a `main()`: a set-up error ends it with `<command>: <message>` and status 1."""

    def decorate(main: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(main)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except SETUP_ERRORS as error:
                print(f"{command}: {error}", file=sys.stderr)
                return 1

        return run

    return decorate
