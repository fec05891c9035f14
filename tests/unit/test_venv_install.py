"""tools/venv_install.py: pip's output as a few readable lines, pip's errors kept, and a
line at least every heartbeat while pip installs in silence; requirements/dev.txt pins
everything pip needs, so pip never searches for a version."""

import io
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools import lock_extras
from tools.venv_install import Progress, pinned_count, run

# What pip 23 prints for a small install, with a machine's pip configuration naming index
# and find-links locations that do not exist.
TRANSCRIPT = """\
WARNING: Location 'file:///opt/x/requests/' is ignored: it is neither a file nor a directory.
Looking in indexes: https://pypi.org/simple, file:///opt/pypi/simple
Looking in links: /opt/wheels
Collecting requests==2.32.3 (from -r requirements/dev.txt (line 1))
  Downloading requests-2.32.3-py3-none-any.whl (64 kB)
WARNING: Location 'file:///opt/x/six/' is ignored: it is neither a file nor a directory.
Processing /opt/pypi/files/six-1.17.0-py2.py3-none-any.whl (from -r requirements/dev.txt (line 2))
Collecting idna==3.10 (from -r requirements/dev.txt (line 3))
  Using cached idna-3.10-py3-none-any.whl (70 kB)
Installing collected packages: six, idna, requests
Successfully installed idna-3.10 requests-2.32.3 six-1.17.0
"""


class Clock:
    """Time that moves `step` seconds each time it is read."""

    def __init__(self, step: float = 10.0) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def shown(
    interactive: bool, transcript: str = TRANSCRIPT, total: int = 3, step: float = 10.0
) -> str:
    out = io.StringIO()
    progress = Progress(total=total, out=out, interactive=interactive, clock=Clock(step))
    for line in transcript.splitlines(keepends=True):
        progress.feed(line)
    return out.getvalue()


def test_a_log_gets_one_line_per_step_and_none_of_the_noise():
    assert shown(interactive=False).splitlines() == [
        "  [1/3] collected requests==2.32.3",
        "  [2/3] collected six-1.17.0-py2.py3-none-any.whl",
        "  [3/3] collected idna==3.10",
        "  installing 3 packages (pip says nothing until it is done; counting them as they land)",
        "  installed 3 packages in 50 s (1 downloaded, 2 from pip's cache or local files)",
    ]


def test_a_terminal_gets_one_counter_rewritten_in_place():
    text = shown(interactive=True)

    assert text.count("\r") == 3
    assert "\r  [3/3] idna==3.10" in text
    assert text.splitlines()[-2:] == [
        "  installing 3 packages (pip says nothing until it is done; counting them as they land)",
        "  installed 3 packages in 20 s (1 downloaded, 2 from pip's cache or local files)",
    ]
    assert "is ignored" not in text


def test_a_long_install_is_logged_every_tenth_of_the_way():
    transcript = "".join(f"Collecting p{i}==1.0\n" for i in range(1, 101))

    lines = shown(interactive=False, transcript=transcript, total=100, step=0.1).splitlines()

    assert lines[0] == "  [  1/100] collected p1==1.0"
    assert lines[-1] == "  [100/100] collected p100==1.0"
    assert len(lines) == 11


def test_a_log_hears_from_a_slow_resolution_at_every_heartbeat():
    """Catches: collection logged only every tenth of the way (a loaded machine's log said
    nothing for over a minute between two tenths while pip resolved)."""
    transcript = "".join(f"Collecting p{i}==1.0\n" for i in range(1, 101))

    # When each package takes 8 s to collect: a line every 16 s, at the latest
    lines = shown(interactive=False, transcript=transcript, total=100, step=8.0).splitlines()

    assert lines[:3] == [
        "  [  1/100] collected p1==1.0",
        "  [  3/100] collected p3==1.0",
        "  [  5/100] collected p5==1.0",
    ]
    assert len(lines) == 51


def test_what_pip_says_beyond_routine_progress_is_passed_through():
    text = shown(interactive=False, transcript="ERROR: No matching distribution found for x\n")

    assert text == "  pip: ERROR: No matching distribution found for x\n"


def test_a_failure_shows_pips_last_lines_without_the_location_warnings():
    out = io.StringIO()
    progress = Progress(total=1, out=out, interactive=False)
    for line in TRANSCRIPT.splitlines()[:4]:
        progress.feed(line)

    progress.failed(1)

    tail = out.getvalue().split("pip failed (exit 1); its last lines:\n")[1]
    assert tail.splitlines() == [
        "  | Looking in indexes: https://pypi.org/simple, file:///opt/pypi/simple",
        "  | Looking in links: /opt/wheels",
        "  | Collecting requests==2.32.3 (from -r requirements/dev.txt (line 1))",
    ]


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_hears_from_a_long_silent_install_at_every_heartbeat(tmp_path: Path):
    """Catches: the watcher saying something only when the count moves (one large wheel
    being unpacked then left the log silent for minutes: the newcomer's complaint)."""
    # Given an install of 40 packages under way, one of them in place, in a log
    clock, out = ManualClock(), io.StringIO()
    progress = Progress(
        total=40, out=out, interactive=False, clock=clock, folders=(tmp_path,), heartbeat=15
    )
    progress.feed("Installing collected packages: " + ", ".join(f"p{i}" for i in range(40)))
    (tmp_path / "p0-1.0.dist-info").mkdir()
    # When the watcher looks after 5 s, 16 s and 31 s with nothing more in place
    said = []
    for now in (5.0, 16.0, 31.0):
        clock.now = now
        before = out.getvalue()
        progress.tick()
        said.append(out.getvalue()[len(before) :])

    # Then nothing at 5 s (under a heartbeat since the last line), a line at 16 s and 31 s
    assert said == ["", "  [ 1/40] in place (16 s)\n", "  [ 1/40] in place (31 s)\n"]


def test_a_log_hears_every_tenth_of_the_install(tmp_path: Path):
    """Catches: the counter only on the heartbeat (a quiet machine's fast install would
    then show nothing between its first and last lines)."""
    clock, out = ManualClock(), io.StringIO()
    progress = Progress(total=10, out=out, interactive=False, clock=clock, folders=(tmp_path,))
    progress.feed("Installing collected packages: " + ", ".join(f"p{i}" for i in range(10)))

    (tmp_path / "p0-1.0.dist-info").mkdir()
    (tmp_path / "p0-1.0.dist-info.lock").mkdir()  # not a distribution
    progress.tick()
    progress.tick()  # nothing new, under a heartbeat: no line

    assert out.getvalue().splitlines()[1:] == ["  [ 1/10] in place (0 s)"]


FAKE_PIP = textwrap.dedent(
    """\
    import sys, time
    from pathlib import Path

    site, said = Path(sys.argv[1]), Path(sys.argv[2])
    print("Collecting a==1.0", flush=True)
    print("Collecting b==1.0", flush=True)
    print("Installing collected packages: a, b", flush=True)
    (site / "a-1.0.dist-info").mkdir()
    for _ in range(600):  # until the installer has said that a is in place
        if said.exists():
            break
        time.sleep(0.1)
    (site / "b-1.0.dist-info").mkdir()
    print("Successfully installed a-1.0 b-1.0", flush=True)
    """
)


class Recorder(io.StringIO):
    """The installer's output; touches `said` once a package-in-place line is written."""

    def __init__(self, said: Path) -> None:
        super().__init__()
        self.said = said

    def write(self, text: str) -> int:
        if "[1/2] in place (" in text:
            self.said.touch()
        return super().write(text)


def test_a_silent_pip_install_is_followed_package_by_package(tmp_path: Path):
    """Catches: no watcher while pip installs (the log said "installing 189 packages" and
    then nothing for over two minutes). A real process stands in for pip: it installs one
    package, then waits until the installer has reported it before finishing."""
    # Given a pip that writes a first package into the site folder, then goes quiet
    site, said = tmp_path / "site-packages", tmp_path / "said"
    site.mkdir()
    (site / "old-1.0.dist-info").mkdir()  # already there: not counted
    out = Recorder(said)
    progress = Progress(total=2, out=out, interactive=False, folders=(site,), poll=0.05)
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)

    # When the installer runs it
    code = run([sys.executable, str(script), str(site), str(said)], progress)

    # Then it said the first package was in place before pip said anything more
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[2].startswith("  installing 2 packages")
    assert lines[3].startswith("  [1/2] in place (")
    assert lines[-1].startswith("  installed 2 packages in ")


ROOT = Path(__file__).resolve().parents[2]


def _lines() -> list[str]:
    return (ROOT / "requirements" / "dev.txt").read_text().splitlines()


def _pins() -> dict[str, str]:
    return lock_extras.pins(_lines())


def _needs(requirement: Requirement, extra: str = "") -> bool:
    environment = {**default_environment(), "extra": extra}
    return requirement.marker is None or requirement.marker.evaluate(environment)


def test_the_lock_file_pins_everything_pip_needs_so_it_never_searches():
    """Catches: a dependency missing from requirements/dev.txt or pinned to a version its
    dependents exclude. `pip freeze` leaves `wheel` out, aws-lambda-builders requires it,
    and the newest wheel needs packaging>=24 against the pinned 23.2: pip then looked at
    version after version ("pip is looking at multiple versions of wheel", a minute on a
    loaded machine). Judged on the installed distributions' own metadata."""
    # Given the pins and what each pinned distribution (with the extras asked of it) requires
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        ("pyproject.toml", Requirement(line)) for line in project["optional-dependencies"]["dev"]
    ]
    extras = {canonicalize_name(r.name): set(r.extras) for _, r in wanted}
    for name in pins:
        for line in metadata.distribution(name).requires or ():
            requirement = Requirement(line)
            if _needs(requirement):
                wanted.append((name, requirement))
                extras.setdefault(canonicalize_name(requirement.name), set()).update(
                    requirement.extras
                )
    for name, asked in extras.items():
        for line in metadata.distribution(name).requires or ():
            requirement = Requirement(line)
            if any(_needs(requirement, extra) for extra in asked) and not _needs(requirement):
                wanted.append((f"{name}[{','.join(sorted(asked))}]", requirement))

    # Then each requirement names a pinned distribution, at a version it accepts
    unmet = [
        f"{who} requires {requirement}: pinned {pins.get(canonicalize_name(requirement.name))}"
        for who, requirement in wanted
        if canonicalize_name(requirement.name) not in pins
        or not requirement.specifier.contains(
            pins[canonicalize_name(requirement.name)], prereleases=True
        )
    ]
    assert not unmet, unmet


def test_every_package_required_with_extras_is_pinned_with_them():
    """Catches: the lock file without `botocore[crt]==...` (pip freeze drops extras). pip then
    treated aws-sam-cli's `boto3[crt]` and boto3's `botocore[crt]` as requirements of their
    own, downloaded the newest botocore, then the next, and printed "pip is looking at
    multiple versions of botocore[crt]"; with the extras pinned, a dry run resolves without
    a single backtrack."""
    # Given what the installed distributions ask for with extras
    asked = lock_extras.required_with_extras(_pins())

    # Then the lock file has a line for each, at the version pinned for the package
    pins = _pins()
    pinned_with = {
        (canonicalize_name(r.name), frozenset(r.extras), str(r.specifier))
        for r in (Requirement(line) for line in _lines() if "==" in line)
    }
    missing = [
        f"{name}[{','.join(sorted(extras))}]=={pins[name]}"
        for name, sets in asked.items()
        for extras in sets
        if (name, extras, f"=={pins[name]}") not in pinned_with
    ]
    assert {"boto3", "botocore", "boto3-stubs"} <= set(asked)
    assert not missing, missing


def test_an_extras_line_pins_the_same_package_and_is_counted_once():
    assert pinned_count(ROOT / "requirements" / "dev.txt") == len(_pins())
