"""Pods and other cluster objects as the remediation executor sees them.  Pure data.

The Kubernetes adapter turns raw API objects into these values; the pure drain
guards (``core/drain.py``) and the executor (``service/execute.py``) only ever
see them.  The quarantine record is what the operator writes on a pod it took
out of load balancing (one annotation, JSON), so that any later run -- after a
restart, on another replica -- knows which labels to give back, for which
diagnosis and action, and until when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# On a quarantined pod: the record (annotation) and a label so quarantined pods can be
# listed by a label selector (annotations cannot be selected on).
QUARANTINE_ANNOTATION = "diagnosis.dev/quarantine"
QUARANTINE_LABEL = "diagnosis.dev/quarantined"

# The workload kinds whose pods may be drained; DaemonSet pods never are (one per
# node by design: draining one leaves its node without the daemon).
REPLICATED_KINDS = frozenset({"ReplicaSet", "StatefulSet"})
DAEMONSET_KIND = "DaemonSet"


@dataclass(frozen=True, slots=True)
class Owner:
    """A pod's controller (the ownerReference with ``controller: true``)."""

    kind: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """Why and how a pod was quarantined, as kept in its annotation.

    ``removed_labels`` are the labels taken off the pod (the Services' selector
    labels), with their original values, so unquarantine restores them exactly.
    """

    key: str  # the action's idempotency key
    diagnosis: str  # "<namespace>/<name>" of the Diagnosis that asked for it
    removed_labels: Mapping[str, str]
    at: float  # epoch seconds
    until: float | None  # epoch seconds; None: until the diagnosis resolves

    def to_json(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "diagnosis": self.diagnosis,
                "removedLabels": dict(sorted(self.removed_labels.items())),
                "at": self.at,
                "until": self.until,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> QuarantineRecord:
        """Parse the annotation value.  Raises ``ValueError`` saying what is wrong."""
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{QUARANTINE_ANNOTATION}: not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{QUARANTINE_ANNOTATION}: expected an object")
        labels = data.get("removedLabels")
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise ValueError(f"{QUARANTINE_ANNOTATION}: removedLabels must map strings to strings")
        try:
            until = data.get("until")
            return cls(
                key=str(data["key"]),
                diagnosis=str(data.get("diagnosis", "")),
                removed_labels=dict(labels),
                at=float(data["at"]),
                until=None if until is None else float(until),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{QUARANTINE_ANNOTATION}: {error!r}") from None


@dataclass(frozen=True, slots=True)
class PodInfo:
    """One pod, reduced to what the drain guards and the executor need."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str] = field(default_factory=dict)
    owner: Owner | None = None  # the controller; None: a bare pod
    phase: str = "Pending"
    ready: bool = False
    deleting: bool = False  # deletionTimestamp is set
    node: str | None = None
    pod_ip: str | None = None
    quarantine: QuarantineRecord | None = None
    quarantine_error: str | None = None  # an annotation that could not be read

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def serving(self) -> bool:
        """Ready, not on its way out and not quarantined: it takes traffic."""
        return self.ready and not self.deleting and self.quarantine is None


class EvictionOutcome(StrEnum):
    EVICTED = "evicted"  # the apiserver accepted the eviction (or its dry run)
    BLOCKED = "blocked"  # 429: a PodDisruptionBudget does not allow it now
    GONE = "gone"  # 404: no such pod
    REFUSED = "refused"  # any other answer (403, 500, ...)


@dataclass(frozen=True, slots=True)
class EvictionResult:
    outcome: EvictionOutcome
    dry_run: bool
    status: int | None = None  # the HTTP status
    reason: str = ""  # the apiserver's message


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A text document kept in the cluster with a version for optimistic concurrency.

    ``version`` is the object's resourceVersion; None: the object does not exist yet.
    """

    text: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class EventNote:
    """An Event to post about an object."""

    kind: str  # involvedObject kind, e.g. "Pod" or "Diagnosis"
    namespace: str
    name: str
    uid: str
    reason: str  # CamelCase
    message: str
    warning: bool = False
    api_version: str = "v1"


def parse_quarantine(
    annotations: Mapping[str, str] | None,
) -> tuple[QuarantineRecord | None, str | None]:
    """The quarantine record on an object's annotations, and a parse error if any.  Pure."""
    text = (annotations or {}).get(QUARANTINE_ANNOTATION)
    if text is None:
        return None, None
    try:
        return QuarantineRecord.from_json(text), None
    except ValueError as error:
        return None, str(error)
