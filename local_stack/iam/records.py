"""Every authorization decision, kept in memory and (optionally) appended to a JSONL file
that `python -m local_stack.iam.report` reads."""

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DecisionRecord:
    principal: str  # the caller's ARN (an assumed-role session, or a service principal)
    action: str  # the IAM action, e.g. "sqs:SendMessage"
    resource: str
    allowed: bool
    reason: str  # evaluate.Reason, "no-local-rule", "injected-fault", ...
    function: str | None = None  # the function (logical id) whose role made the call
    service: str | None = None  # the API called, e.g. "sqs" / "SendMessageBatch"
    operation: str | None = None
    statements: tuple[str, ...] = ()  # ids of the statements that allowed (or the one that denied)
    via: str | None = None  # an implicit KMS requirement: the service that uses the key
    message: str | None = None  # what the caller was told, for a denial
    timestamp: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds")
    )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> "DecisionRecord":
        data: dict[str, Any] = json.loads(line)
        data["statements"] = tuple(data.get("statements") or ())
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


class DecisionLog:
    """Thread-safe list of decisions; with `path`, each is also appended as a JSON line."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: list[DecisionRecord] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, record: DecisionRecord) -> None:
        with self._lock:
            self._records.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(record.to_json() + "\n")

    @property
    def records(self) -> list[DecisionRecord]:
        with self._lock:
            return list(self._records)

    def denials(self) -> list[DecisionRecord]:
        return [record for record in self.records if not record.allowed]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __iter__(self) -> Iterator[DecisionRecord]:
        return iter(self.records)


def read_records(paths: Iterable[Path]) -> list[DecisionRecord]:
    found = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(DecisionRecord.from_json(line))
    return found
