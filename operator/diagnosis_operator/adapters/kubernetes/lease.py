"""``ports.LeaseStore`` on a coordination.k8s.io/v1 Lease.

Times are written as the apiserver's MicroTime (RFC 3339 with microseconds, UTC)
and read back the same way; the write names the resourceVersion it replaces, so
of two replicas claiming an expired lease at once exactly one wins (409 for the
other, ``KubernetesConflict``).  RBAC: get, create, update on leases in the
operator's namespace (the chart's Role when ``leaderElection.enabled``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.errors import from_api_exception
from diagnosis_operator.models.lease import LeaseRecord

__all__ = ["KubernetesLeaseStore"]

REQUEST_TIMEOUT = 5.0
_NOT_FOUND = 404
_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _micro(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime(_MICRO)


def _seconds(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def record_from_api(raw: dict[str, Any]) -> LeaseRecord:
    """A Lease object (JSON) as a ``LeaseRecord``."""
    spec = raw.get("spec") or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        acquired=_seconds(spec.get("acquireTime")),
        renewed=_seconds(spec.get("renewTime")),
        duration=float(spec.get("leaseDurationSeconds") or 0),
        transitions=int(spec.get("leaseTransitions") or 0),
        version=(raw.get("metadata") or {}).get("resourceVersion"),
    )


class KubernetesLeaseStore:
    """``ports.LeaseStore``: one Lease, blocking calls with a short timeout."""

    def __init__(
        self,
        *,
        api_client: client.ApiClient,
        namespace: str,
        name: str,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._api = client.CoordinationV1Api(api_client)
        self._api_client = api_client
        self.namespace = namespace
        self.name = name
        self._timeout = request_timeout

    @property
    def ref(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def read(self) -> LeaseRecord | None:
        try:
            found = self._api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(error, what=f"get {self.ref}") from error
        return record_from_api(self._plain(found))

    def _plain(self, obj: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self._api_client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return plain

    def write(self, *, record: LeaseRecord) -> LeaseRecord:
        # A plain manifest: the client sends a dict unchanged (its stubs name only V1Lease).
        body: Any = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "diagnosis-operator"},
                **({"resourceVersion": record.version} if record.version else {}),
            },
            "spec": {
                "holderIdentity": record.holder,
                "leaseDurationSeconds": max(1, round(record.duration)),
                "acquireTime": _micro(record.acquired),
                "renewTime": _micro(record.renewed),
                "leaseTransitions": record.transitions,
            },
        }
        try:
            if record.version is None:
                written = self._api.create_namespaced_lease(
                    self.namespace, body, _request_timeout=self._timeout
                )
            else:
                written = self._api.replace_namespaced_lease(
                    self.name, self.namespace, body, _request_timeout=self._timeout
                )
        except client.ApiException as error:
            verb = "create" if record.version is None else "update"
            raise from_api_exception(error, what=f"{verb} {self.ref}") from error
        return record_from_api(self._plain(written))
