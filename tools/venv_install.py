"""`make venv`'s installer: pip, with one readable line per step instead of pip's wall.

    .venv/bin/python -m tools.venv_install requirements/dev.txt

Runs `python -m pip install -r <requirements>` in the virtualenv and shows

    [ 37/186] moto==5.2.5

for each package pip collects (rewritten in place on a terminal; in a log every tenth of the
way, and at least every 15 seconds while pip resolves), one line when pip starts installing,
and the total time at the end. pip prints nothing while it installs (its longest step:
minutes on a loaded machine), so meanwhile this counts the packages already in place in the
virtualenv (their `.dist-info` folders) and says so: in place on a terminal, and in a log
every tenth of the way and at least every 15 seconds, also while one large package is being
unpacked. Routine pip chatter (indexes, downloads, cache hits) is dropped, and so are
warnings about index or find-links locations that do not exist on this machine (a pip
configuration outside the project); anything else pip says is passed through, and if pip
fails, its last lines are shown.
Standard library only: it runs before anything is installed.
"""

import argparse
import re
import subprocess
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

ROUTINE = re.compile(
    r"^(Looking in (indexes|links)"
    r"|\s+(Downloading|Using cached|File was already downloaded|Obtaining|Preparing"
    r"|Installing build|Getting requirements|Building wheel|Created wheel|Stored in)"
    r"|Requirement already satisfied|Building wheels for collected|Successfully built)"
)
MISSING_LOCATION = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file")
COLLECTING = re.compile(r"^(?:Collecting|Processing) (\S+)")
INSTALLING = "Installing collected packages:"
INSTALLED = "Successfully installed"
TAIL_LINES = 40
HEARTBEAT_SECONDS = 15.0  # a log never goes longer than this without a line while pip installs
POLL_SECONDS = 1.0


def pinned_count(requirements: Path) -> int:
    """How many packages the lock file pins (lines `name==version`; a `name[extras]==version`
    line pins the same package again, for pip's resolver, and is not counted twice)."""
    return sum(
        1
        for line in requirements.read_text().splitlines()
        if "==" in line and "[" not in line.split("==", 1)[0]
    )


def _name(argument: str) -> str:
    """`moto==5.2.5` as pip names it, or the file name of a local wheel."""
    return argument.rsplit("/", 1)[-1]


def site_packages() -> tuple[Path, ...]:
    """Where pip installs into this interpreter's environment (the virtualenv's)."""
    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys(Path(paths[key]) for key in ("purelib", "platlib")))


def _installed(folders: Iterable[Path]) -> set[str]:
    """The distributions in place: one `.dist-info` folder each, written as pip installs it."""
    return {
        entry.name
        for folder in folders
        if folder.is_dir()
        for entry in folder.iterdir()
        if entry.name.endswith(".dist-info")
    }


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


@dataclass
class Progress:
    """Turns pip's output lines into a few readable ones, written through `out`."""

    total: int
    out: TextIO
    interactive: bool
    clock: Callable[[], float] = time.monotonic
    collected: int = 0
    downloaded: int = 0  # wheels pip fetched from an index
    at_hand: int = 0  # wheels from pip's cache or a local file
    installed: bool = False
    started: float = field(init=False)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    folders: tuple[Path, ...] = ()  # where pip installs: watched while it says nothing
    heartbeat: float = HEARTBEAT_SECONDS
    poll: float = POLL_SECONDS
    _open_line: bool = False
    _installing: int = 0  # packages pip announced it installs
    _before: set[str] = field(init=False)
    _placed: int = 0
    _install_started: float = 0.0
    _last_said: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._before = _installed(self.folders)  # before pip starts: not counted

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if MISSING_LOCATION.match(line):
            return
        self.tail.append(line)
        if line.startswith("  Downloading "):
            self.downloaded += 1
        elif line.startswith(("  Using cached ", "  File was already downloaded", "Processing ")):
            self.at_hand += 1
        if step := COLLECTING.match(line):
            self._collected(_name(step.group(1)))
        elif line.startswith(INSTALLING):
            self._start_installing(len(line[len(INSTALLING) :].split(",")))
        elif line.startswith(INSTALLED):
            self.stop()
            self.installed = True
            count = len(line[len(INSTALLED) :].split())
            spent = _duration(self.clock() - self.started)
            self.say(
                f"  installed {count} packages in {spent} ({self.downloaded} downloaded,"
                f" {self.at_hand} from pip's cache or local files)"
            )
        elif line.strip() and not ROUTINE.match(line):
            self.say(f"  pip: {line.strip()}")

    def _collected(self, name: str) -> None:
        self.collected += 1
        self.total = max(self.total, self.collected)  # an unpinned dependency adds to it
        counter = f"[{self.collected:>{len(str(self.total))}}/{self.total}]"
        if self.interactive:
            self.out.write(f"\r  {counter} {name}".ljust(72)[:100])
            self.out.flush()
            self._open_line = True
        else:
            now = self.clock()
            tenth = self.collected * 10 // self.total > (self.collected - 1) * 10 // self.total
            if self.collected == 1 or tenth or now - self._last_said >= self.heartbeat:
                self._last_said = now
                self.say(f"  {counter} collected {name}")

    def _start_installing(self, count: int) -> None:
        self._installing = count
        self._install_started = self._last_said = self.clock()
        self.say(
            f"  installing {count} packages (pip says nothing until it is done;"
            " counting them as they land)"
        )
        if self.folders:
            self._watcher = threading.Thread(target=self._watch, name="install-watcher")
            self._watcher.daemon = True
            self._watcher.start()

    def _watch(self) -> None:
        while not self._done.wait(self.poll):
            self.tick()

    def tick(self) -> None:
        """While pip installs: how many packages are in place, in place on a terminal; in a
        log, every tenth of the way and after `heartbeat` seconds without a line."""
        placed = min(len(_installed(self.folders) - self._before), self._installing)
        now = self.clock()
        total = self._installing
        counter = f"[{placed:>{len(str(total))}}/{total}]"
        text = f"  {counter} in place ({_duration(now - self._install_started)})"
        tenth = placed * 10 // max(total, 1) > self._placed * 10 // max(total, 1)
        self._placed = placed
        if self.interactive:
            with self._lock:
                self.out.write(f"\r{text}".ljust(72)[:100])
                self.out.flush()
                self._open_line = True
        elif tenth or now - self._last_said >= self.heartbeat:
            self._last_said = now
            self.say(text)

    def stop(self) -> None:
        """The install ended: the watcher says nothing more."""
        self._done.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
            self._watcher = None

    def say(self, text: str) -> None:
        with self._lock:
            if self._open_line:
                self.out.write("\n")
                self._open_line = False
            self.out.write(text + "\n")
            self.out.flush()

    def failed(self, code: int) -> None:
        self.say(f"pip failed (exit {code}); its last lines:")
        for line in self.tail:
            self.out.write(f"  | {line}\n")
        self.out.flush()


def pip_command(requirements: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--require-virtualenv",
        "--progress-bar",
        "off",
        "-r",
        str(requirements),
    ]


def run(command: list[str], progress: Progress) -> int:
    with subprocess.Popen(  # noqa: S603 - our own interpreter running pip
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as pip:
        lines: Iterable[str] = pip.stdout or ()
        try:
            for line in lines:
                progress.feed(line)
        finally:
            progress.stop()
        code = pip.wait()
    if code:
        progress.failed(code)
    elif not progress.installed:
        progress.say("  nothing to install: every pinned package is already there")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirements", type=Path)
    args = parser.parse_args(argv)
    progress = Progress(
        total=pinned_count(args.requirements),
        out=sys.stdout,
        interactive=sys.stdout.isatty(),
        folders=site_packages(),
    )
    return run(pip_command(args.requirements), progress)


if __name__ == "__main__":
    sys.exit(main())
