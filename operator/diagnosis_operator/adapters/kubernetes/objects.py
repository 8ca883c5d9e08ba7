"""The traffic backends' objects and the connection Secrets on the Kubernetes API.

``KubernetesObjectStore`` implements ``ports.ObjectStore`` for the objects the
rate-limit backends write: Envoy Gateway ``SecurityPolicy`` /
``BackendTrafficPolicy``, Istio ``AuthorizationPolicy`` (custom objects) and the
nginx backend's ``ConfigMap``; and for a policy's ``PrometheusRule``
(``service.alert_rules``).  Writes use optimistic concurrency: ``put`` sends
the resourceVersion of the object as this store last read it (a backend reads
its rules with ``get`` before writing them back), so a concurrent writer makes it
fail with ``VersionConflict`` instead of being overwritten; ``delete`` carries
the same precondition.  An update is a JSON merge patch of the whole object.  An
existing object without the operator's ``app.kubernetes.io/managed-by`` label is
never patched or deleted (``ValueError``): the operator only changes what it made,
or what its owner handed over by adding the label.

``SecretReader`` reads a Secret's ``data`` (base64 values, as
``adapters.mysql.settings_from_secret_data`` takes them).

Verbs (charts/diagnosis-operator/templates/rbac.yaml): get, create, patch, delete
on the three policy kinds and on prometheusrules; get, create, patch on configmaps; get on secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.errors import from_api_exception

REQUEST_TIMEOUT = 30.0
# The label every object the operator writes carries (adapters/traffic/common.MANAGED_BY).
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "diagnosis-operator"
_MERGE_PATCH = "application/merge-patch+json"
_NOT_FOUND = 404

# The custom kinds a backend may write: kind -> (group, plural).
CUSTOM_KINDS: dict[str, tuple[str, str]] = {
    "SecurityPolicy": ("gateway.envoyproxy.io", "securitypolicies"),
    "BackendTrafficPolicy": ("gateway.envoyproxy.io", "backendtrafficpolicies"),
    "AuthorizationPolicy": ("security.istio.io", "authorizationpolicies"),
    "PrometheusRule": ("monitoring.coreos.com", "prometheusrules"),
}


def _as_dict(found: object) -> dict[str, Any]:
    return dict(found) if isinstance(found, Mapping) else {}


def _custom(api_version: str, kind: str) -> tuple[str, str, str]:
    """(group, version, plural) of a kind this store writes; ``ValueError`` for others."""
    known = CUSTOM_KINDS.get(kind)
    group, _, version = api_version.rpartition("/")
    if known is None or known[0] != group or not version:
        raise ValueError(f"object store: {api_version} {kind} is not a kind the operator writes")
    return group, version, known[1]


class KubernetesObjectStore:
    """``ports.ObjectStore`` on an authenticated ``ApiClient`` (blocking calls)."""

    def __init__(
        self, *, api_client: client.ApiClient, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self._api_client = api_client
        self._core = client.CoreV1Api(api_client)
        self._custom_api = client.CustomObjectsApi(api_client)
        self._timeout = request_timeout
        # resourceVersion of each object as last read: (kind, namespace, name) -> version
        self._versions: dict[tuple[str, str, str], str | None] = {}
        # whether an existing object carries the operator's managed-by label
        self._managed: dict[tuple[str, str, str], bool] = {}

    def _plain(self, obj: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self._api_client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return plain

    def get(
        self, *, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        what = f"get {kind} {namespace}/{name}"
        try:
            if kind == "ConfigMap" and api_version == "v1":
                found: dict[str, Any] = self._plain(
                    self._core.read_namespaced_config_map(
                        name, namespace, _request_timeout=self._timeout
                    )
                )
            else:
                group, version, plural = _custom(api_version, kind)
                found = _as_dict(
                    self._custom_api.get_namespaced_custom_object(
                        group, version, namespace, plural, name, _request_timeout=self._timeout
                    )
                )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                self._versions[(kind, namespace, name)] = None
                return None
            raise from_api_exception(error, what=what) from error
        meta = found.get("metadata") or {}
        self._versions[(kind, namespace, name)] = meta.get("resourceVersion")
        labels = meta.get("labels") or {}
        self._managed[(kind, namespace, name)] = labels.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
        return found

    def _refuse_foreign(self, key: tuple[str, str, str], verb: str) -> None:
        """Never patch or delete an object the operator did not create (fail closed)."""
        if self._managed.get(key, True):
            return
        kind, namespace, name = key
        raise ValueError(
            f"object store: {kind} {namespace}/{name} exists and is not labelled "
            f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}: the operator does not {verb} objects it "
            "did not create (add the label to hand it over)"
        )

    def _version(self, *, api_version: str, kind: str, namespace: str, name: str) -> str | None:
        key = (kind, namespace, name)
        if key not in self._versions:
            self.get(api_version=api_version, kind=kind, namespace=namespace, name=name)
        return self._versions.get(key)

    def put(self, *, obj: Mapping[str, Any]) -> None:
        body = json.loads(json.dumps(dict(obj)))
        api_version, kind = str(body["apiVersion"]), str(body["kind"])
        meta = body.setdefault("metadata", {})
        namespace, name = str(meta["namespace"]), str(meta["name"])
        version = self._version(api_version=api_version, kind=kind, namespace=namespace, name=name)
        key = (kind, namespace, name)
        if version is not None:
            self._refuse_foreign(key, "patch")
            # resourceVersion in a merge patch is a precondition: 409 if it changed.
            meta["resourceVersion"] = version
        try:
            if kind == "ConfigMap" and api_version == "v1":
                written = self._put_configmap(
                    body, namespace=namespace, name=name, create=not version
                )
            else:
                written = self._put_custom(body, namespace=namespace, name=name, create=not version)
        except client.ApiException as error:
            self._versions.pop(key, None)  # read again before the next attempt
            verb = "create" if version is None else "patch"
            raise from_api_exception(error, what=f"{verb} {kind} {namespace}/{name}") from error
        self._versions[key] = (written.get("metadata") or {}).get("resourceVersion")

    def _put_configmap(
        self, body: Any, *, namespace: str, name: str, create: bool
    ) -> dict[str, Any]:
        if create:
            return self._plain(
                self._core.create_namespaced_config_map(
                    namespace, body, _request_timeout=self._timeout
                )
            )
        return self._plain(
            self._core.patch_namespaced_config_map(
                name, namespace, body, _content_type=_MERGE_PATCH, _request_timeout=self._timeout
            )
        )

    def _put_custom(self, body: Any, *, namespace: str, name: str, create: bool) -> dict[str, Any]:
        group, version, plural = _custom(str(body["apiVersion"]), str(body["kind"]))
        if create:
            return _as_dict(
                self._custom_api.create_namespaced_custom_object(
                    group, version, namespace, plural, body, _request_timeout=self._timeout
                )
            )
        return _as_dict(
            self._custom_api.patch_namespaced_custom_object(
                group,
                version,
                namespace,
                plural,
                name,
                body,
                _content_type=_MERGE_PATCH,
                _request_timeout=self._timeout,
            )
        )

    def delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        self._refuse_foreign(key, "delete")
        version = self._versions.get(key)
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=version) if version else None
        )
        try:
            if kind == "ConfigMap" and api_version == "v1":
                raise ValueError("object store: ConfigMaps are rewritten, never deleted")
            group, version_, plural = _custom(api_version, kind)
            self._custom_api.delete_namespaced_custom_object(
                group,
                version_,
                namespace,
                plural,
                name,
                body=options,
                _request_timeout=self._timeout,
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                self._versions[key] = None
                return
            self._versions.pop(key, None)
            raise from_api_exception(error, what=f"delete {kind} {namespace}/{name}") from error
        self._versions[key] = None


class SecretReader:
    """Reads one Secret's ``data`` (values still base64-encoded)."""

    def __init__(
        self, *, api_client: client.ApiClient, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self._timeout = request_timeout

    def data(self, *, namespace: str, name: str) -> dict[str, str]:
        try:
            secret = self._core.read_namespaced_secret(
                name, namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"get secret {namespace}/{name}") from error
        return {str(key): str(value) for key, value in (secret.data or {}).items()}


class ConfigMapReader:
    """Reads one ConfigMap's ``data``; ``None`` when it does not exist."""

    def __init__(
        self, *, api_client: client.ApiClient, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self._timeout = request_timeout

    def data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = self._core.read_namespaced_config_map(
                name, namespace, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(error, what=f"get configmap {namespace}/{name}") from error
        return {str(key): str(value) for key, value in (found.data or {}).items()}
