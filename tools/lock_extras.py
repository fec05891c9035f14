"""`make lock`'s last step: pin, extras included, every package that is required with extras.

    .venv-lock/bin/python -m tools.lock_extras requirements/dev.txt

`pip freeze` writes `botocore==1.43.127`, but aws-sam-cli requires `boto3[crt]`, boto3
`botocore[crt]`, and aws-sam-cli `boto3-stubs[apigateway,...]`; pip's resolver treats a
package with extras as a requirement of its own, so without `botocore[crt]==1.43.127` in the
lock file it tried the newest botocore first, downloaded version after version (17 MB each)
and printed "pip is looking at multiple versions of botocore[crt]". This adds one line per
such requirement, `name[extras]==<the version pinned for name>`, next to the plain pin, from
the metadata of the distributions installed in the environment that made the lock.
"""

import argparse
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def pins(lines: Iterable[str]) -> dict[str, str]:
    """Canonical name -> version of every `name==version` line (extras ignored)."""
    found: dict[str, str] = {}
    for line in lines:
        if "==" in line and not line.lstrip().startswith("#"):
            requirement = Requirement(line.strip())
            found[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return found


def required_with_extras(names: Iterable[str]) -> dict[str, set[frozenset[str]]]:
    """For each distribution, the sets of extras asked of it by the installed ones, including
    what an extra itself requires (boto3[crt] asks for botocore[crt])."""
    asked: dict[str, set[frozenset[str]]] = {}
    pending: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in names]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for line in metadata.distribution(name).requires or ():
            requirement = Requirement(line)
            if not requirement.extras or not _needed(requirement, extras):
                continue
            key = canonicalize_name(requirement.name)
            wanted = frozenset(requirement.extras)
            asked.setdefault(key, set()).add(wanted)
            pending.append((key, wanted))
    return asked


def _needed(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether installing a distribution with `extras` installs `requirement`."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**default_environment(), "extra": extra})
        for extra in {"", *extras}
    )


def with_extras(lines: list[str]) -> list[str]:
    """The lock file's lines with a `name[extras]==version` line after each plain pin that
    is required with extras (existing extras lines are recomputed)."""
    plain = [line for line in lines if "[" not in line.split("==", 1)[0]]
    pinned = pins(plain)
    asked = required_with_extras(pinned)
    out = []
    for line in plain:
        out.append(line)
        if "==" not in line:
            continue
        name = canonicalize_name(Requirement(line.strip()).name)
        for extras in sorted(asked.get(name, ()), key=sorted):
            out.append(f"{line.split('==', 1)[0]}[{','.join(sorted(extras))}]=={pinned[name]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirements", type=Path)
    args = parser.parse_args(argv)
    lines = args.requirements.read_text().splitlines()
    args.requirements.write_text("\n".join(with_extras(lines)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
