"""Build what an execution environment runs, once, for this machine.

Lambda runs a function from three read-only places: its own code (/var/task), its layers
(/opt) and the runtime (/var/runtime, with the runtime interface client and the SDK).
Locally the same three are folders under `.local/build/`:

* the runtime: `awslambdaric` and the SDK, pinned in `local_stack/runtime/requirements.txt`;
* each layer: built by the layer's own build method (layers/shared/Makefile, exactly as
  `sam build` runs it), for the local interpreter and platform instead of arm64;
* each function: a copy of its folder (plus its requirements, if it ever has any).

Every build is keyed by a hash of its sources, the interpreter and the platform, and kept:
an unchanged stack starts without building anything. Builds are atomic (a folder is
renamed into place when complete) and serialised with a file lock, so parallel test
workers share them safely.
"""

import contextlib
import fcntl
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from local_stack.paths import ROOT

RUNTIME_REQUIREMENTS = Path(__file__).with_name("requirements.txt")
_IGNORED = ("__pycache__", ".pyc", ".pytest_cache", ".mypy_cache")
# pip's platform tags for the machines the RIE runs on (SAM CLI ships it for Linux only).
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}


class BuildError(RuntimeError):
    """A function, layer or the runtime could not be built; the message says why."""


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs the functions: the template's runtime when this machine has it."""

    path: Path
    version: str  # "3.13"
    runtime: str  # the template's Runtime, e.g. "python3.13"

    @property
    def exact(self) -> bool:
        return self.runtime == f"python{self.version}"


def _version_of(python: str) -> str | None:
    try:
        found = subprocess.run(  # noqa: S603 - an interpreter found on this machine
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip()


@cache
def find_interpreter(runtime: str) -> Interpreter:
    """`runtime` ("python3.13") as `make build` finds it: a pyenv install, else on PATH.

    Without it, the venv's interpreter runs the functions, with one warning that names the
    difference (the code still runs; a feature of the newer Python would fail only on AWS).
    """
    if not runtime.startswith("python"):
        raise BuildError(f"runtime {runtime!r}: the local runtime runs Python functions only")
    version = runtime.removeprefix("python")
    candidates = sorted(
        glob.glob(str(Path.home() / ".pyenv" / "versions" / f"{version}*" / "bin" / runtime))
    )
    on_path = shutil.which(runtime)
    for candidate in [*candidates, *([on_path] if on_path else [])]:
        if _version_of(candidate) == version:
            return Interpreter(Path(candidate), version, runtime)
    fallback = f"{sys.version_info.major}.{sys.version_info.minor}"
    warnings.warn(
        f"{runtime} (template.yaml's Runtime) is not installed: functions run on this venv's "
        f"Python {fallback} ({sys.executable}) instead. Install {runtime} (pyenv install "
        f"{version}, or your OS package) to run them on the runtime AWS uses.",
        RuntimeWarning,
        stacklevel=2,
    )
    return Interpreter(Path(sys.executable), fallback, runtime)


def platform_tag() -> str:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in _PLATFORMS:
        raise BuildError(
            f"the local runtime needs Linux on x86_64 or aarch64 (this is {sys.platform} on "
            f"{machine}): the Lambda Runtime Interface Emulator that SAM CLI ships is a Linux "
            "binary. Use a Linux VM, WSL2 or a dev container."
        )
    return _PLATFORMS[machine]


def tree_hash(*roots: Path, extra: str = "") -> str:
    """A hash of every file under `roots` (paths and contents), ignoring caches."""
    digest = hashlib.sha256(extra.encode())
    for root in roots:
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and not any(part.endswith(_IGNORED) for part in p.parts)
        )
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(  # noqa: S603 - fixed build commands
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise BuildError(f"building {what} failed ({' '.join(command)}):\n{output}")


class Builder:
    """Builds (or finds, by content hash) the runtime, layers and functions."""

    def __init__(self, interpreter: Interpreter, cache_dir: Path | None = None) -> None:
        self.interpreter = interpreter
        self.platform = platform_tag()
        self.cache_dir = cache_dir or Path(
            os.environ.get("LOCAL_BUILD_DIR") or ROOT / ".local" / "build"
        )

    @property
    def _target(self) -> str:
        return f"{self.interpreter.path}|{self.interpreter.version}|{self.platform}"

    def _build(
        self, kind: str, name: str, key: str, make: Callable[[Path], None], prune: bool = True
    ) -> Path:
        """The folder `kind/name-key`, made by `make` unless it exists. With `prune`, older
        builds of the same name go (their sources changed); without, they stay (several
        processes may use different ones at once) until a day old."""
        folder = self.cache_dir / kind / f"{name}-{key}"
        if folder.is_dir():
            return folder
        with _locked(self.cache_dir / kind / f"{name}.lock"):
            if folder.is_dir():  # another worker built it meanwhile
                return folder
            partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            try:
                make(partial)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            partial.rename(folder)
            for stale in folder.parent.glob(f"{name}-*"):  # older builds of the same thing
                if stale == folder or ".partial-" in stale.name:
                    continue
                if prune or time.time() - stale.stat().st_mtime > 86400:
                    shutil.rmtree(stale, ignore_errors=True)
        return folder

    def _pip_install(self, requirements: Path, target: Path, what: str) -> None:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                self.interpreter.version,
                "--platform",
                self.platform,
                "--target",
                str(target),
                "-r",
                str(requirements),
            ],
            what,
        )

    def runtime(self) -> Path:
        """The folder that stands in for /var/runtime (runtime interface client and SDK)."""
        key = tree_hash(RUNTIME_REQUIREMENTS.parent, extra=self._target)

        def make(folder: Path) -> None:
            self._pip_install(RUNTIME_REQUIREMENTS, folder, "the local Lambda runtime")

        return self._build("runtime", "python", key, make)

    def layer(self, logical_id: str, content_dir: Path, build_method: str) -> Path:
        """A layer as Lambda extracts it to /opt: the Python runtime imports from `python/`."""
        if build_method != "makefile":
            raise BuildError(f"{logical_id}: BuildMethod {build_method!r} has no local build")
        key = tree_hash(content_dir, extra=self._target)

        def make(folder: Path) -> None:
            _run(
                [
                    "make",
                    "--no-print-directory",
                    "-C",
                    str(content_dir),
                    f"build-{logical_id}",
                    f"ARTIFACTS_DIR={folder}",
                    f"LAYER_PYTHON_VERSION={self.interpreter.version}",
                    f"LAYER_PLATFORM={self.platform}",
                    f"PYTHON={sys.executable}",
                    f"COMPILE_PYTHON={self.interpreter.path}",
                ],
                f"layer {logical_id}",
            )

        return self._build("layers", logical_id, key, make)

    def trusting(self, layer_dir: Path, bundle: str, extra_pem: str) -> Path:
        """`layer_dir` with `extra_pem` appended to the CA bundle at `bundle` (relative to
        the layer's python/ folder): how the local build of a layer trusts a local server
        (the local MySQL's CA) on the very path the deployed one verifies RDS. A hard-linked
        copy of the layer with one file replaced: instant, and the layer's own build (keyed
        by its sources) is reused whatever CA the server made at start-up."""
        source = layer_dir / "python" / bundle
        if not source.exists():
            return layer_dir
        key = hashlib.sha256(f"{layer_dir.name}\0{extra_pem}".encode()).hexdigest()[:16]

        def make(folder: Path) -> None:
            shutil.copytree(layer_dir, folder, copy_function=os.link, dirs_exist_ok=True)
            target = folder / "python" / bundle
            target.unlink()  # a new file: the hard link would write through to the build
            target.write_text(source.read_text().rstrip("\n") + "\n" + extra_pem)

        return self._build("trusted", layer_dir.name.rsplit("-", 1)[0], key, make, prune=False)

    def function(self, logical_id: str, code_dir: Path) -> Path:
        """The function's folder as Lambda has it in /var/task."""
        key = tree_hash(code_dir, extra=self._target)

        def make(folder: Path) -> None:
            shutil.copytree(
                code_dir,
                folder,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
            requirements = folder / "requirements.txt"
            if requirements.exists() and any(
                line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()
            ):
                self._pip_install(requirements, folder, f"function {logical_id}")

        return self._build("functions", logical_id, key, make)
