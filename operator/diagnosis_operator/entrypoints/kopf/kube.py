"""The handlers' few Kubernetes calls, through one authenticated ``ApiClient``.

kopf logs in with the same credentials (``connection_info``), so the operator
never holds two identities.  Every call here maps to one verb of the ClusterRole
in charts/diagnosis-operator/templates/rbac.yaml; adding a call means adding the
verb there (the e2e suite runs the operator under exactly that role).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf
from kubernetes import client, config

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.errors import from_api_exception
from diagnosis_operator.api import DIAGNOSIS_KIND, DIAGNOSIS_PLURAL, POLICY_PLURAL
from diagnosis_operator.settings import OperatorSettings

_NOT_FOUND = 404
_CONFLICT = 409
REQUEST_TIMEOUT = 30.0


def build_configuration(settings: OperatorSettings) -> client.Configuration:
    """Client configuration: explicit server + token, a kubeconfig, or in-cluster."""
    configuration = client.Configuration()
    if settings.kube_server is not None and settings.kube_token_file is not None:
        token = settings.kube_token_file.read_text(encoding="utf-8").strip()
        configuration.host = settings.kube_server
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.verify_ssl = not settings.kube_insecure_skip_tls_verify
        if settings.kube_ca_file is not None:
            configuration.ssl_ca_cert = str(settings.kube_ca_file)
        return configuration
    if settings.kubeconfig is not None:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(settings.kubeconfig),
            context=settings.kube_context,
            client_configuration=configuration,
        )
        return configuration
    try:
        config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except config.ConfigException:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            context=settings.kube_context, client_configuration=configuration
        )
    return configuration


def connection_info(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """The same credentials for kopf's own connection."""
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    scheme: str | None = None
    token: str | None = None
    if header:
        parts = header.split(" ", 1)
        scheme, token = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


@dataclass(frozen=True)
class OwnerRef:
    """The Diagnosis a report belongs to (garbage-collected with it)."""

    name: str
    uid: str


class Kube:
    """The operator's calls to the apiserver (blocking; handlers run in threads)."""

    def __init__(self, *, api_client: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    def get_policy(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        """The DiagnosisPolicy object, or ``None`` when it does not exist."""
        try:
            found = self._custom.get_namespaced_custom_object(
                API_GROUP,
                API_VERSION,
                namespace,
                POLICY_PLURAL,
                name,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(
                error, what=f"get diagnosispolicy {namespace}/{name}"
            ) from error
        return found if isinstance(found, dict) else None

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's ``data`` (base64 values); read only through
        ``bootstrap.secrets.resolve_secret``, which applies the tenancy rules first."""
        try:
            secret = self._core.read_namespaced_secret(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"get secret {namespace}/{name}") from error
        return {str(key): str(value) for key, value in (secret.data or {}).items()}

    def patch_diagnosis_status(
        self, *, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        self._patch_status(DIAGNOSIS_PLURAL, namespace=namespace, name=name, status=status)

    def patch_policy_status(self, *, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self._patch_status(POLICY_PLURAL, namespace=namespace, name=name, status=status)

    def _patch_status(
        self, plural: str, *, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        if not status:
            return
        try:
            # A JSON merge patch (the default here): ``None`` deletes a key, lists are
            # replaced whole.
            self._custom.patch_namespaced_custom_object_status(
                API_GROUP,
                API_VERSION,
                namespace,
                plural,
                name,
                {"status": dict(status)},
                _content_type="application/merge-patch+json",
                _request_timeout=REQUEST_TIMEOUT,
            )
        except client.ApiException as error:
            raise from_api_exception(
                error, what=f"patch {plural}/status {namespace}/{name}"
            ) from error

    def write_report(
        self, *, namespace: str, name: str, owner: OwnerRef, data: Mapping[str, str]
    ) -> None:
        """Create the report ConfigMap, or replace its data if it exists."""
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=namespace,
                labels={"app.kubernetes.io/managed-by": "diagnosis-operator"},
                owner_references=[
                    client.V1OwnerReference(
                        api_version=f"{API_GROUP}/{API_VERSION}",
                        kind=DIAGNOSIS_KIND,
                        name=owner.name,
                        uid=owner.uid,
                        controller=True,
                        block_owner_deletion=False,
                    )
                ],
            ),
            data=dict(data),
        )
        try:
            self._core.create_namespaced_config_map(
                namespace, body, _request_timeout=REQUEST_TIMEOUT
            )
            return
        except client.ApiException as error:
            if error.status != _CONFLICT:
                raise from_api_exception(
                    error, what=f"create configmap {namespace}/{name}"
                ) from error
        self._patch_owned_report(namespace=namespace, name=name, owner=owner, data=data)

    def _patch_owned_report(
        self, *, namespace: str, name: str, owner: OwnerRef, data: Mapping[str, str]
    ) -> None:
        """Replace an existing report's data, only if this Diagnosis owns it.

        Ownership is an ownerReference with the Diagnosis' uid (a label can be set by
        anyone who can write the ConfigMap).  The patch carries the resourceVersion
        read, so an object swapped in between is not patched either.
        """
        what = f"configmap {namespace}/{name}"
        try:
            existing = self._core.read_namespaced_config_map(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"get {what}") from error
        meta = existing.metadata or client.V1ObjectMeta()
        if not owned_by(meta.owner_references or [], uid=owner.uid):
            raise NotOwned(
                f"ConfigMap {namespace}/{name} already exists and is not owned by Diagnosis "
                f"{owner.name} (no ownerReference with its uid): the operator does not patch "
                "objects it did not create; rename or delete that ConfigMap, or give the "
                "Diagnosis another name"
            )
        try:
            self._core.patch_namespaced_config_map(
                name,
                namespace,
                {"metadata": {"resourceVersion": meta.resource_version}, "data": dict(data)},
                _request_timeout=REQUEST_TIMEOUT,
            )
        except client.ApiException as error:
            raise from_api_exception(error, what=f"patch {what}") from error


class NotOwned(RuntimeError):
    """An object exists under the name the operator would write, and it is not the
    operator's: it is left alone and the message says so."""


def owned_by(references: list[Any], *, uid: str) -> bool:
    """Does one of these ownerReferences name the Diagnosis with ``uid``?  Pure."""
    return bool(uid) and any(
        getattr(ref, "uid", None) == uid and getattr(ref, "kind", None) == DIAGNOSIS_KIND
        for ref in references
    )
