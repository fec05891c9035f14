"""tools/venv_install.py: pip's output as a few readable lines, and pip's errors kept."""

import io

from tools.venv_install import Progress

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
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 40.0
        return self.now


def shown(interactive: bool, transcript: str = TRANSCRIPT, total: int = 3) -> str:
    out = io.StringIO()
    progress = Progress(total=total, out=out, interactive=interactive, clock=Clock())
    for line in transcript.splitlines(keepends=True):
        progress.feed(line)
    return out.getvalue()


def test_a_log_gets_one_line_per_step_and_none_of_the_noise():
    assert shown(interactive=False).splitlines() == [
        "  [1/3] collected requests==2.32.3",
        "  [2/3] collected six-1.17.0-py2.py3-none-any.whl",
        "  [3/3] collected idna==3.10",
        "  installing 3 packages (pip prints nothing until it is done)",
        "  installed 3 packages in 40 s (1 downloaded, 2 from pip's cache or local files)",
    ]


def test_a_terminal_gets_one_counter_rewritten_in_place():
    text = shown(interactive=True)

    assert text.count("\r") == 3
    assert "\r  [3/3] idna==3.10" in text
    assert text.splitlines()[-2:] == [
        "  installing 3 packages (pip prints nothing until it is done)",
        "  installed 3 packages in 40 s (1 downloaded, 2 from pip's cache or local files)",
    ]
    assert "is ignored" not in text


def test_a_long_install_is_logged_every_tenth_of_the_way():
    transcript = "".join(f"Collecting p{i}==1.0\n" for i in range(1, 101))

    lines = shown(interactive=False, transcript=transcript, total=100).splitlines()

    assert lines[0] == "  [  1/100] collected p1==1.0"
    assert lines[-1] == "  [100/100] collected p100==1.0"
    assert len(lines) == 11


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
