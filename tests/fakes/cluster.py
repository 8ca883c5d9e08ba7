"""Fakes for ``adapters.ports.Cluster`` and ``DocumentStore``: pods and a ledger in memory.

They keep the semantics of the real adapter that the executor relies on: the
quarantine patch is guarded by the pod's resourceVersion, a blocked eviction
answers 429, the document store raises ``VersionConflict`` on a stale version.
Every side effect is counted so tests can assert "done once, never repeated".
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping

from diagnosis_operator.models.cluster import (
    EventNote,
    EvictionOutcome,
    EvictionResult,
    Owner,
    PodInfo,
    QuarantineRecord,
    StoredDocument,
)
from diagnosis_operator.ports import VersionConflict

WEB_RS = Owner(kind="ReplicaSet", name="web-5d8f", uid="rs-uid")


def make_pod(
    name: str,
    *,
    namespace: str = "shop",
    labels: Mapping[str, str] | None = None,
    owner: Owner | None = WEB_RS,
    ready: bool = True,
    pod_ip: str = "10.1.0.1",
) -> PodInfo:
    return PodInfo(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        resource_version="1",
        labels=dict(labels if labels is not None else {"app": "web", "tier": "front"}),
        owner=owner,
        phase="Running",
        ready=ready,
        pod_ip=pod_ip,
        node="node-a",
    )


class FakeCluster:
    def __init__(self, pods: list[PodInfo] | None = None) -> None:
        self.pods: dict[tuple[str, str], PodInfo] = {}
        self.selectors: dict[str, list[dict[str, str]]] = {}  # namespace -> Service selectors
        self.blocked: set[tuple[str, str]] = set()  # evictions answered with 429
        self.is_paused = False
        self.events: list[EventNote] = []
        self.quarantine_patches = 0
        self.unquarantine_patches = 0
        self.evictions: list[tuple[str, str, bool]] = []  # (namespace, name, dry_run)
        self.on_quarantine: Callable[[PodInfo], None] | None = None
        self.ip_lookups: list[tuple[str, str]] = []  # (namespace, ip) asked by pods_with_ip
        self._version = 1
        for pod in pods or []:
            self.add(pod)

    def add(self, pod: PodInfo) -> None:
        self.pods[(pod.namespace, pod.name)] = pod

    def _bump(self, pod: PodInfo, **changes: object) -> PodInfo:
        self._version += 1
        updated = dataclasses.replace(pod, resource_version=str(self._version), **changes)  # type: ignore[arg-type]
        self.pods[(pod.namespace, pod.name)] = updated
        return updated

    # ------------------------------------------------------------------ the port

    def get_pod(self, *, namespace: str, name: str) -> PodInfo | None:
        return self.pods.get((namespace, name))

    def list_pods(self, *, namespace: str) -> tuple[PodInfo, ...]:
        return tuple(p for (ns, _), p in sorted(self.pods.items()) if ns == namespace)

    def pods_with_ip(self, *, namespace: str, ip: str) -> tuple[PodInfo, ...]:
        self.ip_lookups.append((namespace, ip))
        return tuple(p for p in self.list_pods(namespace=namespace) if p.pod_ip == ip)

    def list_quarantined(self) -> tuple[PodInfo, ...]:
        return tuple(p for _, p in sorted(self.pods.items()) if p.quarantine is not None)

    def service_selector_keys(self, *, pod: PodInfo) -> tuple[str, ...]:
        keys: set[str] = set()
        for selector in self.selectors.get(pod.namespace, []):
            if selector and all(pod.labels.get(k) == v for k, v in selector.items()):
                keys.update(selector)
        return tuple(sorted(keys))

    def quarantine(self, *, pod: PodInfo, record: QuarantineRecord) -> PodInfo:
        current = self.pods[(pod.namespace, pod.name)]
        if current.resource_version != pod.resource_version:
            raise VersionConflict(what=f"patch pod {pod.ref}", status=409)
        self.quarantine_patches += 1
        labels = {k: v for k, v in current.labels.items() if k not in record.removed_labels}
        labels["diagnosis.dev/quarantined"] = "true"
        updated = self._bump(current, labels=labels, quarantine=record)
        if self.on_quarantine is not None:
            self.on_quarantine(updated)
        return updated

    def unquarantine(self, *, pod: PodInfo, labels: Mapping[str, str]) -> PodInfo:
        current = self.pods[(pod.namespace, pod.name)]
        if current.resource_version != pod.resource_version:
            raise VersionConflict(what=f"patch pod {pod.ref}", status=409)
        self.unquarantine_patches += 1
        restored = {k: v for k, v in current.labels.items() if k != "diagnosis.dev/quarantined"}
        restored.update(labels)
        return self._bump(current, labels=restored, quarantine=None)

    def evict(
        self, *, namespace: str, name: str, grace_period_seconds: int | None, dry_run: bool
    ) -> EvictionResult:
        self.evictions.append((namespace, name, dry_run))
        if (namespace, name) not in self.pods:
            return EvictionResult(EvictionOutcome.GONE, dry_run, 404, "not found")
        if (namespace, name) in self.blocked:
            return EvictionResult(
                EvictionOutcome.BLOCKED,
                dry_run,
                429,
                "Cannot evict pod as it would violate the pod's disruption budget.",
            )
        if not dry_run:
            pod = self.pods[(namespace, name)]
            self._bump(pod, deleting=True, ready=False)
        return EvictionResult(EvictionOutcome.EVICTED, dry_run, 201, "")

    def paused(self) -> bool:
        return self.is_paused

    def post_event(self, *, note: EventNote) -> None:
        self.events.append(note)

    def reasons(self) -> list[str]:
        return [event.reason for event in self.events]


class FakeDocumentStore:
    """A versioned document; ``conflicts`` makes the next N writes lose a race."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.version = 0
        self.writes = 0
        self.conflicts = 0
        self._lock = threading.Lock()

    def read(self) -> StoredDocument:
        with self._lock:
            return StoredDocument(self.text, str(self.version) if self.version else None)

    def write(self, *, text: str, version: str | None) -> str:
        with self._lock:
            current = str(self.version) if self.version else None
            if self.conflicts > 0:
                self.conflicts -= 1
                raise VersionConflict(what="update ledger", status=409)
            if version != current:
                raise VersionConflict(what="update ledger", status=409)
            self.version += 1
            self.writes += 1
            self.text = text
            return str(self.version)
