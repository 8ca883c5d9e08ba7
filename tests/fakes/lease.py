"""A ``LeaseStore`` in memory, with the apiserver's optimistic concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from diagnosis_operator.models.lease import LeaseRecord
from diagnosis_operator.ports import ClusterError, VersionConflict


@dataclass
class FakeLeaseStore:
    """``write`` succeeds only against the stored version; ``down`` makes every call fail."""

    stored: LeaseRecord | None = None
    down: bool = False
    writes: list[LeaseRecord] = field(default_factory=list)
    _counter: int = 0

    @property
    def ref(self) -> str:
        return "lease test/operator"

    def read(self) -> LeaseRecord | None:
        if self.down:
            raise ClusterError(what=f"get {self.ref}", status=None, body="connection refused")
        return self.stored

    def write(self, *, record: LeaseRecord) -> LeaseRecord:
        if self.down:
            raise ClusterError(what=f"update {self.ref}", status=None, body="connection refused")
        current = None if self.stored is None else self.stored.version
        if record.version != current:
            raise VersionConflict(what=f"update {self.ref}", status=409, body="conflict")
        self._counter += 1
        self.stored = replace(record, version=str(self._counter))
        self.writes.append(self.stored)
        return self.stored
