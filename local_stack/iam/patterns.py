"""Wildcard patterns of IAM policies, compiled once.

* Actions (`Action`, `NotAction`): `service:Name` with `*` and `?` anywhere, matched
  case-insensitively.
* ARNs (`Resource`, `NotResource`, the `Arn*` condition operators): case-sensitive; the
  first five colon-separated parts (`arn:partition:service:region:account`) are matched one
  by one, a wildcard in them does not cross a colon unless it ends the part; in the resource
  part (everything after the fifth colon) `*` matches anything, colons and slashes included.
  (IAM User Guide, "IAM JSON policy elements: Resource", section "Including wildcard
  characters in the resource ARN"; condition operators, "Amazon Resource Name (ARN)
  condition operators".)
* `String*Like` condition values: `*` and `?` anywhere, case-sensitive.

Policy variables (`${aws:username}`, and the escapes `${*}`, `${?}`, `${$}`) are resolved by
`substitute` before a pattern is compiled.
"""

import re
from collections.abc import Callable
from functools import lru_cache

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_ESCAPES = {"*": "\x00STAR\x00", "?": "\x00QMARK\x00", "$": "$"}


class Unresolved(Exception):
    """A policy variable whose key the request context does not hold."""


def substitute(text: str, lookup: Callable[[str], str | None]) -> str:
    """Replace `${key}` by its value from the request context (IAM User Guide, "IAM policy
    elements: Variables and tags"). `${*}`, `${?}` and `${$}` stand for the literal
    characters. A key that is missing raises `Unresolved`: AWS then treats the element as
    not matching."""
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in _ESCAPES:
            return _ESCAPES[name]
        value = lookup(name)
        if value is None:
            raise Unresolved(name)
        # a value is literal text: its wildcards must not become wildcards of the pattern
        return value.replace("*", _ESCAPES["*"]).replace("?", _ESCAPES["?"])

    return _VARIABLE.sub(replace, text)


def _literal(char: str) -> str:
    return re.escape(char)


def _restore_escapes(regex: str) -> str:
    return regex.replace(re.escape(_ESCAPES["*"]), r"\*").replace(re.escape(_ESCAPES["?"]), r"\?")


@lru_cache(maxsize=8192)
def wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """`*` any run of characters, `?` any one character, everything else literal."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(_literal(char))
    regex = _restore_escapes("".join(parts))
    return re.compile(rf"\A{regex}\Z", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@lru_cache(maxsize=8192)
def arn(pattern: str) -> re.Pattern[str]:
    """An ARN pattern, part by part (see the module docstring)."""
    if pattern == "*":
        return re.compile(r"\A.*\Z", re.DOTALL)
    parts = []
    segment = 0  # colons seen, up to 5: the sixth part is the resource
    for index, char in enumerate(pattern):
        in_resource = segment >= 5
        ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
        if char == ":" and not in_resource:
            segment += 1
            parts.append(":")
        elif char == "*":
            parts.append(".*" if in_resource or ends_segment else "[^:]*")
        elif char == "?":
            parts.append("." if in_resource else "[^:]")
        else:
            parts.append(_literal(char))
    return re.compile(rf"\A{_restore_escapes(''.join(parts))}\Z", re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return wildcard(pattern, ignore_case=True).match(action) is not None


def arn_matches(pattern: str, value: str) -> bool:
    return arn(pattern).match(value) is not None
