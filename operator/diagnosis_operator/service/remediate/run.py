"""One executor run over a Diagnosis' remediations: its settings, ports, status and Events.

``Run`` holds what every action of the run shares (the Diagnosis, its policy, the
ports, the ledger, ``now``, the mode, the guards' policy, the approvals) and the
remediation list it persists through ``record``; ``Slot`` is one remediation of
it, always as last saved.  Every step posts an Event (on the Diagnosis, and on
the pod it touches) and appends to ``params.executor.history`` (``with_state``).

Test hook: ``ExecutorSettings.checkpoint`` is called with ``("before-apply",
key)`` and ``("after-apply", key)`` around each side effect; the operator wires
it only when ``DIAG_TEST_CHECKPOINT_DIR`` is set (tests that kill the operator in
the middle of an action; see ``checkpoint_from_dir``).  Never set it in production.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import (
    DIAGNOSIS_KIND,
    DiagnosisPolicySpec,
    Mode,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.drain import DEFAULT_PROTECTED_NAMESPACES
from diagnosis_operator.models.actions import GuardPolicy
from diagnosis_operator.models.cluster import EventNote, PodInfo
from diagnosis_operator.models.signals import from_seconds
from diagnosis_operator.models.tenancy import GuardCaps
from diagnosis_operator.ports import Cluster, ClusterError, MySQLAdmin, TrafficPolicyBackend
from diagnosis_operator.service.remediate.ledger import ActionLedger

FINAL_STATES = frozenset(
    {
        RemediationState.SUCCEEDED,
        RemediationState.FAILED,
        RemediationState.DENIED,
        RemediationState.SKIPPED,
        RemediationState.ROLLED_BACK,
    }
)
MAX_HISTORY = 12
EXECUTOR_PARAM = "executor"  # params.executor: what the executor did and when


class DrainMethod(StrEnum):
    QUARANTINE = "quarantine"  # out of the Services' endpoints, kept for forensics
    EVICT = "evict"  # Eviction API (PodDisruptionBudgets respected)


Checkpoint = Callable[[str, str], None]


@dataclass(frozen=True)
class ExecutorSettings:
    budget: ledgers.GlobalBudget = field(default_factory=ledgers.GlobalBudget)
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    drain_method: DrainMethod = DrainMethod.QUARANTINE
    # A quarantine with no TTL in the policy is given back after this long.
    default_quarantine_ttl: float = 3600.0
    ledger_attempts: int = 50
    checkpoint: Checkpoint | None = None
    # The cluster admin's caps over every policy's guards (core.remediation.caps), and
    # the other namespaces a policy's namespace may act in (drain: only its own unless granted).
    caps: GuardCaps = field(default_factory=GuardCaps)
    write_grants: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DiagnosisRef:
    namespace: str
    name: str
    uid: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class PortUnavailable(RuntimeError):
    """An action's connection is not configured, or cannot be built; the message says which."""


@dataclass(frozen=True)
class ActionPorts:
    """Connections of the actions beyond the cluster, built on demand from the policy.

    ``mysql`` gives the ``MySQLAdmin`` of a component (kill-mysql-queries);
    ``traffic`` the policy's rate-limit backend.  Each raises ``PortUnavailable``
    saying what is missing; an absent factory means the same.
    """

    mysql: Callable[[str], MySQLAdmin] | None = None
    traffic: Callable[[], TrafficPolicyBackend] | None = None


@dataclass
class Run:
    diagnosis: DiagnosisRef
    policy: DiagnosisPolicySpec
    cluster: Cluster
    ledger: ActionLedger
    now: float
    mode: Mode
    settings: ExecutorSettings
    guard: GuardPolicy
    approvals: Mapping[str, Any]
    items: list[RemediationStatus]
    record: Callable[[list[RemediationStatus]], None]
    drains: int = 0
    ports: ActionPorts = field(default_factory=ActionPorts)

    def save(self, index: int, item: RemediationStatus) -> RemediationStatus:
        self.items[index] = item
        self.record(list(self.items))
        return item

    def checkpoint(self, step: str, key: str) -> None:
        if self.settings.checkpoint is not None:
            self.settings.checkpoint(step, key)

    def event(
        self, reason: str, message: str, *, warning: bool = False, pod: PodInfo | None = None
    ) -> None:
        post(self.cluster, diagnosis_note(self.diagnosis), reason, message, warning=warning)
        if pod is not None:
            post(
                self.cluster,
                pod_note(pod),
                reason,
                f"{message} (diagnosis {self.diagnosis.ref})",
                warning=warning,
            )


@dataclass
class Slot:
    """One remediation of a run, as last saved (``run.items[index]``), and its key."""

    run: Run
    index: int
    key: str = ""

    @property
    def item(self) -> RemediationStatus:
        return self.run.items[self.index]

    def save(self, item: RemediationStatus) -> RemediationStatus:
        return self.run.save(self.index, item)

    def move(
        self,
        state: RemediationState,
        reason: str,
        *,
        base: RemediationStatus | None = None,
        **extra: Any,
    ) -> RemediationStatus:
        """Save the remediation (or ``base``, a changed copy) in ``state``, with its history."""
        item = self.item if base is None else base
        return self.save(with_state(item, state=state, reason=reason, now=self.run.now, **extra))


def stamp(now: float) -> datetime:
    return from_seconds(now)


def with_state(
    item: RemediationStatus,
    *,
    state: RemediationState,
    reason: str,
    now: float,
    **extra: Any,
) -> RemediationStatus:
    """``item`` in ``state`` with one more history entry.  Pure."""
    params = dict(item.params)
    executor = dict(params.get(EXECUTOR_PARAM) or {})
    history = list(executor.get("history") or [])
    history.append(
        {
            "at": stamp(now).isoformat().replace("+00:00", "Z"),
            "state": state.value,
            "reason": reason[:512],
        }
    )
    executor["history"] = history[-MAX_HISTORY:]
    executor.update({k: v for k, v in extra.items() if v is not None})
    params[EXECUTOR_PARAM] = executor
    return item.model_copy(
        update={
            "state": state,
            "reason": reason[:4096],
            "updated_at": stamp(now),
            "params": params,
        }
    )


def executor_params(item: RemediationStatus) -> Mapping[str, Any]:
    """``params.executor`` of ``item`` (empty when the executor never touched it)."""
    found: Mapping[str, Any] = item.params.get(EXECUTOR_PARAM) or {}
    return found


# --------------------------------------------------------------------- Events


def diagnosis_note(diagnosis: DiagnosisRef) -> EventNote:
    return EventNote(
        kind=DIAGNOSIS_KIND,
        api_version=f"{API_GROUP}/{API_VERSION}",
        namespace=diagnosis.namespace,
        name=diagnosis.name,
        uid=diagnosis.uid,
        reason="",
        message="",
    )


def pod_note(pod: PodInfo) -> EventNote:
    return EventNote(
        kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid, reason="", message=""
    )


def post(
    cluster: Cluster, base: EventNote, reason: str, message: str, *, warning: bool = False
) -> None:
    # An Event is a courtesy: the status holds the record.
    with contextlib.suppress(ClusterError):
        cluster.post_event(
            note=EventNote(
                kind=base.kind,
                api_version=base.api_version,
                namespace=base.namespace,
                name=base.name,
                uid=base.uid,
                reason=reason,
                message=message[:1024],
                warning=warning,
            )
        )


# --------------------------------------------------------------------- test hook


def checkpoint_from_dir(directory: Path, *, poll: float = 0.1) -> Checkpoint:
    """A checkpoint for tests: pause at a step while ``<dir>/hold-<step>`` exists.

    On reaching ``step`` for ``key`` it writes ``<dir>/reached-<step>-<key>`` and
    waits until the hold file is removed (a test SIGKILLs the process meanwhile).
    After ``after-apply`` it appends ``<key>`` to ``<dir>/applied``: one line per
    side effect really performed, whichever process performed it.
    """

    def checkpoint(step: str, key: str) -> None:
        if step == "after-apply":
            with (directory / "applied").open("a", encoding="utf-8") as audit:
                audit.write(key + "\n")
        (directory / f"reached-{step}-{key}").write_text(str(time.time()), encoding="utf-8")
        while (directory / f"hold-{step}").exists():
            time.sleep(poll)

    return checkpoint
