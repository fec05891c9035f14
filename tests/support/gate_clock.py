"""Time passing at the local AWS endpoint: its IAM gate judges every expiry (a session's,
a presigned URL's, a POST policy's) by its own clock, which a test may move."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from local_stack.iam.gate import Gate


@contextmanager
def clock_at(gate: Gate, moment: datetime) -> Iterator[None]:
    saved: Callable[[], datetime] = gate.clock
    gate.clock = lambda: moment
    try:
        yield
    finally:
        gate.clock = saved
