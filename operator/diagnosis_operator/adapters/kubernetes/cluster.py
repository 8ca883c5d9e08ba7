"""Pods, evictions, the action ledger, the pause switch and Events on the Kubernetes API.

``KubernetesCluster`` implements ``ports.Cluster`` and ``ConfigMapDocument``
``ports.DocumentStore``; both are blocking (the handlers run in threads).

Quarantine removes the pod's Service selector labels (recording them in the
``diagnosis.dev/quarantine`` annotation) rather than flipping a readiness gate:
readiness gates must be declared in the pod spec at creation and are only
folded into ``Ready`` by the kubelet, whereas a label change is honoured by the
EndpointSlice controller on any cluster, for any workload, and is undone exactly.
Side effect to know: a ReplicaSet whose selector uses a removed label releases the
pod (and starts a replacement, keeping capacity); on unquarantine it adopts the
pod back and scales to its replica count again.

Every call maps to one verb of the ClusterRole (charts/diagnosis-operator/
templates/rbac.yaml): pods get/list/patch (a drain naming an instance address
lists the pods of its namespace by ``status.podIP``), pods/eviction create, services list,
events create, and configmaps get/update (only the ledger and the control
ConfigMap, in the operator's namespace) plus create.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.errors import from_api_exception
from diagnosis_operator.models.cluster import (
    QUARANTINE_ANNOTATION,
    QUARANTINE_LABEL,
    EventNote,
    EvictionOutcome,
    EvictionResult,
    Owner,
    PodInfo,
    QuarantineRecord,
    StoredDocument,
    parse_quarantine,
)
from diagnosis_operator.models.controls import CONTROL_CONFIGMAP, paused_from

LEDGER_CONFIGMAP = "diagnosis-operator-ledger"
LEDGER_DATA_KEY = "ledger.json"
REQUEST_TIMEOUT = 30.0
COMPONENT = "diagnosis-operator"
_MERGE_PATCH = "application/merge-patch+json"
_NOT_FOUND = 404
_TOO_MANY_REQUESTS = 429


def pod_from_api(raw: Mapping[str, Any]) -> PodInfo:
    """A ``PodInfo`` from a pod as the API serves it (camelCase JSON).  Pure."""
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    owner = next(
        (
            Owner(kind=str(ref.get("kind")), name=str(ref.get("name")), uid=str(ref.get("uid")))
            for ref in meta.get("ownerReferences") or []
            if ref.get("controller")
        ),
        None,
    )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    annotations = meta.get("annotations") or {}
    record, problem = parse_quarantine(annotations)
    return PodInfo(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=dict(meta.get("labels") or {}),
        owner=owner,
        phase=str(status.get("phase") or "Pending"),
        ready=ready,
        deleting=meta.get("deletionTimestamp") is not None,
        node=spec.get("nodeName"),
        pod_ip=status.get("podIP"),
        quarantine=record,
        quarantine_error=problem,
    )


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """Does a Service's equality selector select these labels?  (Empty selects nothing.)"""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


class KubernetesCluster:
    """``ports.Cluster`` on an authenticated ``ApiClient``.

    ``namespaces`` bounds where quarantined pods are looked for (empty: all).
    """

    def __init__(
        self,
        *,
        api_client: client.ApiClient,
        operator_namespace: str,
        namespaces: Sequence[str] = (),
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._api_client = api_client
        self._core = client.CoreV1Api(api_client)
        self._operator_namespace = operator_namespace
        self._namespaces = tuple(namespaces)
        self._timeout = request_timeout

    def _plain(self, obj: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self._api_client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return plain

    def get_pod(self, *, namespace: str, name: str) -> PodInfo | None:
        try:
            pod = self._core.read_namespaced_pod(name, namespace, _request_timeout=self._timeout)
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(error, what=f"get pod {namespace}/{name}") from error
        return pod_from_api(self._plain(pod))

    def list_pods(self, *, namespace: str) -> tuple[PodInfo, ...]:
        try:
            pods = self._core.list_namespaced_pod(namespace, _request_timeout=self._timeout)
        except client.ApiException as error:
            raise from_api_exception(error, what=f"list pods in {namespace}") from error
        return tuple(pod_from_api(self._plain(p)) for p in pods.items)

    def pods_with_ip(self, *, namespace: str, ip: str) -> tuple[PodInfo, ...]:
        # ``ip`` is an address in normal form (core/remediation/drain_target.py): it
        # cannot carry a selector's separators.
        selector = f"status.podIP={ipaddress.ip_address(ip)}"
        try:
            pods = self._core.list_namespaced_pod(
                namespace, field_selector=selector, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            raise from_api_exception(
                error, what=f"list pods in {namespace} with {selector}"
            ) from error
        return tuple(pod_from_api(self._plain(p)) for p in pods.items)

    def list_quarantined(self) -> tuple[PodInfo, ...]:
        selector = f"{QUARANTINE_LABEL}=true"
        found: list[Any] = []
        try:
            if self._namespaces:
                for namespace in self._namespaces:
                    found.extend(
                        self._core.list_namespaced_pod(
                            namespace, label_selector=selector, _request_timeout=self._timeout
                        ).items
                    )
            else:
                found.extend(
                    self._core.list_pod_for_all_namespaces(
                        label_selector=selector, _request_timeout=self._timeout
                    ).items
                )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"list pods labelled {selector}") from error
        return tuple(pod_from_api(self._plain(p)) for p in found)

    def service_selector_keys(self, *, pod: PodInfo) -> tuple[str, ...]:
        try:
            services = self._core.list_namespaced_service(
                pod.namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"list services in {pod.namespace}") from error
        keys: set[str] = set()
        for service in services.items:
            selector = (service.spec and service.spec.selector) or {}
            if selects(selector, pod.labels):
                keys.update(selector)
        return tuple(sorted(keys))

    def _patch_pod(self, pod: PodInfo, metadata: dict[str, Any], what: str) -> PodInfo:
        # resourceVersion in a merge patch is a precondition: 409 if the pod changed.
        body = {"metadata": {"resourceVersion": pod.resource_version, **metadata}}
        try:
            patched = self._core.patch_namespaced_pod(
                pod.name,
                pod.namespace,
                body,
                _content_type=_MERGE_PATCH,
                _request_timeout=self._timeout,
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"{what} pod {pod.ref}") from error
        return pod_from_api(self._plain(patched))

    def quarantine(self, *, pod: PodInfo, record: QuarantineRecord) -> PodInfo:
        labels: dict[str, str | None] = {name: None for name in record.removed_labels}
        labels[QUARANTINE_LABEL] = "true"
        return self._patch_pod(
            pod,
            {"labels": labels, "annotations": {QUARANTINE_ANNOTATION: record.to_json()}},
            "quarantine",
        )

    def unquarantine(self, *, pod: PodInfo, labels: Mapping[str, str]) -> PodInfo:
        restored: dict[str, str | None] = dict(labels)
        restored[QUARANTINE_LABEL] = None
        return self._patch_pod(
            pod,
            {"labels": restored, "annotations": {QUARANTINE_ANNOTATION: None}},
            "unquarantine",
        )

    def evict(
        self, *, namespace: str, name: str, grace_period_seconds: int | None, dry_run: bool
    ) -> EvictionResult:
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            delete_options=client.V1DeleteOptions(grace_period_seconds=grace_period_seconds),
        )
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        try:
            self._core.create_namespaced_pod_eviction(
                name, namespace, body, _request_timeout=self._timeout, **extra
            )
        except client.ApiException as error:
            message = from_api_exception(error, what="evict").body
            if error.status == _TOO_MANY_REQUESTS:
                return EvictionResult(EvictionOutcome.BLOCKED, dry_run, error.status, message)
            if error.status == _NOT_FOUND:
                return EvictionResult(EvictionOutcome.GONE, dry_run, error.status, message)
            return EvictionResult(EvictionOutcome.REFUSED, dry_run, error.status, message)
        return EvictionResult(EvictionOutcome.EVICTED, dry_run, 201, "")

    def paused(self) -> bool:
        try:
            found = self._core.read_namespaced_config_map(
                CONTROL_CONFIGMAP, self._operator_namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return False
            raise from_api_exception(
                error, what=f"get configmap {self._operator_namespace}/{CONTROL_CONFIGMAP}"
            ) from error
        return paused_from(found.data)

    def post_event(self, *, note: EventNote) -> None:
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(
                generate_name=f"{note.name[:200]}.", namespace=note.namespace
            ),
            involved_object=client.V1ObjectReference(
                api_version=note.api_version,
                kind=note.kind,
                name=note.name,
                namespace=note.namespace,
                uid=note.uid or None,
            ),
            reason=note.reason,
            message=note.message,
            type="Warning" if note.warning else "Normal",
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=COMPONENT,
        )
        try:
            self._core.create_namespaced_event(
                note.namespace, event, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            raise from_api_exception(
                error, what=f"create event on {note.kind} {note.namespace}/{note.name}"
            ) from error


class ConfigMapDocument:
    """``ports.DocumentStore``: one key of one ConfigMap, written with its resourceVersion."""

    def __init__(
        self,
        *,
        api_client: client.ApiClient,
        namespace: str,
        name: str = LEDGER_CONFIGMAP,
        key: str = LEDGER_DATA_KEY,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.key = key
        self._timeout = request_timeout

    @property
    def ref(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    def read(self) -> StoredDocument:
        try:
            found = self._core.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return StoredDocument(text=None, version=None)
            raise from_api_exception(error, what=f"get {self.ref}") from error
        return StoredDocument(
            text=(found.data or {}).get(self.key),
            version=found.metadata.resource_version if found.metadata else None,
        )

    def write(self, *, text: str, version: str | None) -> str:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=self.name,
                namespace=self.namespace,
                resource_version=version,
                labels={"app.kubernetes.io/managed-by": COMPONENT},
            ),
            data={self.key: text},
        )
        try:
            if version is None:
                written = self._core.create_namespaced_config_map(
                    self.namespace, body, _request_timeout=self._timeout
                )
            else:
                written = self._core.replace_namespaced_config_map(
                    self.name, self.namespace, body, _request_timeout=self._timeout
                )
        except client.ApiException as error:
            # 409 on create: someone created it first; on replace: someone wrote first.
            raise from_api_exception(
                error, what=f"{'create' if version is None else 'update'} {self.ref}"
            ) from error
        return str(written.metadata.resource_version if written.metadata else "")
