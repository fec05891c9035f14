"""Nothing outlives the stack: process groups that die with the process that started them.

Each execution environment (and the throwaway MySQL) runs in a process group of its own, so
that stopping one stops its runtime too, and a Ctrl-C meant for `make api` is handled by
`make api` in order. The orderly path stops them explicitly. For the disorderly one (the
owner is SIGKILLed, or crashes), one small watchdog process per owner watches the owner's
pid and, once it is gone, terminates every group still registered in its folder.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_WATCHDOG = r"""
import os, shutil, signal, sys, time
owner, folder = int(sys.argv[1]), sys.argv[2]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(owner):
    time.sleep(0.5)
def groups():
    try:
        return [int(name) for name in os.listdir(folder) if name.isdigit()]
    except OSError:
        return []
for sig, pause in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 0)):
    for group in groups():
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + pause
    while time.monotonic() < deadline and any(alive(g) for g in groups()):
        time.sleep(0.1)
shutil.rmtree(folder, ignore_errors=True)
"""


class Reaper:
    """Registers process groups to be terminated if this process dies without stopping them."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="local-stack-groups-"))
        self._lock = threading.Lock()
        self._watchdog = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.folder)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def register(self, group: int) -> None:
        (self.folder / str(group)).touch()

    def forget(self, group: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / str(group)).unlink()

    def close(self) -> None:
        """The owner is stopping in order: the watchdog is no longer needed."""
        with self._lock:
            if self._watchdog.poll() is None:
                self._watchdog.terminate()
                self._watchdog.wait()
            shutil.rmtree(self.folder, ignore_errors=True)


def stop_group(process: "subprocess.Popen[bytes]", grace_s: float = 2.0) -> None:
    """SIGTERM the process's group, then SIGKILL whatever is left after `grace_s`."""
    if process.poll() is not None and not _group_alive(process.pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
