"""The plugin's apiserver calls: the ``Cluster`` protocol and ``KubeCluster``.

``KubeCluster`` talks to the apiserver with the user's kubeconfig (``--kubeconfig``,
``--context``) or, inside a pod, the in-cluster config, and the user's own RBAC;
every failure becomes a ``PluginError`` worded for the user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import DIAGNOSIS_PLURAL


class PluginError(Exception):
    """A failure to explain to the user (printed without a traceback)."""


class Cluster(Protocol):
    """The plugin's apiserver calls (``KubeCluster``; a fake in tests)."""

    def namespace(self) -> str: ...

    def whoami(self) -> str: ...

    def list_policies(self, *, namespace: str) -> list[dict[str, Any]]: ...

    def create_diagnosis(self, *, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_diagnoses(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def get_diagnosis(self, *, namespace: str, name: str) -> dict[str, Any] | None: ...

    def annotate_diagnosis(
        self, *, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> None: ...

    def get_configmap(self, *, namespace: str, name: str) -> dict[str, str] | None: ...

    def merge_configmap(self, *, namespace: str, name: str, data: Mapping[str, str]) -> None: ...


class KubeCluster:
    """``Cluster`` through the kubernetes client and the user's kubeconfig."""

    def __init__(self, *, kubeconfig: str | None, context: str | None) -> None:
        from kubernetes import client, config

        self._client = client
        configuration = client.Configuration()
        self._namespace = "default"
        self._context_user: str | None = None
        try:
            if kubeconfig is None and context is None and _in_cluster():
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                self._namespace = _in_cluster_namespace() or "default"
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
                _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
                if context is not None:
                    contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
                    active = next((c for c in contexts if c.get("name") == context), active)
                details = (active or {}).get("context") or {}
                self._namespace = details.get("namespace") or "default"
                self._context_user = details.get("user")
        except (config.ConfigException, OSError, TypeError) as error:
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise PluginError(f"cannot load the kubeconfig {where}: {error}") from error
        self._server = configuration.host
        api_client = client.ApiClient(configuration)
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._auth = client.AuthenticationV1Api(api_client)

    def namespace(self) -> str:
        return self._namespace

    def whoami(self) -> str:
        try:
            review = self._auth.create_self_subject_review(
                body=self._client.V1SelfSubjectReview(), _request_timeout=30
            )
        except self._client.ApiException as error:
            if error.status in (404, 403) and self._context_user:
                # An apiserver older than 1.28: fall back to the kubeconfig's user name.
                return str(self._context_user)
            raise self._error("create selfsubjectreview", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        user = review.status.user_info.username if review.status and review.status.user_info else ""
        if not user:
            raise PluginError("the apiserver did not say who you are (SelfSubjectReview)")
        return str(user)

    def list_policies(self, *, namespace: str) -> list[dict[str, Any]]:
        found = self._call(
            f"list diagnosispolicies in {namespace}",
            self._custom.list_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            "diagnosispolicies",
        )
        return list(found.get("items") or [])

    def create_diagnosis(self, *, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        created = self._call(
            f"create diagnoses in {namespace}",
            self._custom.create_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            dict(body),
        )
        return dict(created)

    def list_diagnoses(self, *, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is None:
            found = self._call(
                "list diagnoses in all namespaces",
                self._custom.list_cluster_custom_object,
                API_GROUP,
                API_VERSION,
                DIAGNOSIS_PLURAL,
            )
        else:
            found = self._call(
                f"list diagnoses in {namespace}",
                self._custom.list_namespaced_custom_object,
                API_GROUP,
                API_VERSION,
                namespace,
                DIAGNOSIS_PLURAL,
            )
        return list(found.get("items") or [])

    def get_diagnosis(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(
            f"get diagnosis {namespace}/{name}",
            self._custom.get_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            name,
        )

    def annotate_diagnosis(
        self, *, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> None:
        self._call(
            f"patch diagnosis {namespace}/{name}",
            self._custom.patch_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            name,
            {"metadata": {"annotations": dict(annotations)}},
            _content_type="application/merge-patch+json",
        )

    def get_configmap(self, *, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = self._core.read_namespaced_config_map(name, namespace, _request_timeout=30)
        except self._client.ApiException as error:
            if error.status == 404:
                return None
            raise self._error(f"get configmap {namespace}/{name}", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        return dict(found.data or {})

    def merge_configmap(self, *, namespace: str, name: str, data: Mapping[str, str]) -> None:
        what = f"configmap {namespace}/{name}"
        try:
            self._core.patch_namespaced_config_map(
                name,
                namespace,
                {"data": dict(data)},
                _content_type="application/merge-patch+json",
                _request_timeout=30,
            )
            return
        except self._client.ApiException as error:
            if error.status != 404:
                raise self._error(f"patch {what}", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        body = self._client.V1ConfigMap(
            metadata=self._client.V1ObjectMeta(name=name, namespace=namespace),
            data=dict(data),
        )
        self._call(f"create {what}", self._core.create_namespaced_config_map, namespace, body)

    def _get(self, what: str, method: Any, *positional: Any) -> dict[str, Any] | None:
        try:
            found = method(*positional, _request_timeout=30)
        except self._client.ApiException as error:
            if error.status == 404 and "could not find the requested resource" not in str(
                error.body or ""
            ):
                return None
            raise self._error(what, error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        return dict(found) if isinstance(found, Mapping) else None

    def _call(self, what: str, method: Any, *positional: Any, **keywords: Any) -> Any:
        try:
            return method(*positional, _request_timeout=30, **keywords)
        except self._client.ApiException as error:
            raise self._error(what, error) from error
        except OSError as error:
            raise self._unreachable(error) from error

    def _error(self, what: str, error: Any) -> PluginError:
        # Imported here, as kubernetes itself is (see __init__).
        from diagnosis_operator.adapters.kubernetes.errors import from_api_exception

        failure = from_api_exception(error, what=what)
        status, message = failure.status, failure.body[:500]
        if status == 401:
            return PluginError(f"{what}: not authenticated (HTTP 401); check your kubeconfig")
        if status == 403:
            return PluginError(f"{what}: forbidden (HTTP 403): {message}")
        if status == 404 and "could not find the requested resource" in message:
            return PluginError(
                f"{what}: the Diagnosis CRDs are not installed on {self._server} (HTTP 404)"
            )
        return PluginError(f"{what}: HTTP {status}: {message}")

    def _unreachable(self, error: OSError) -> PluginError:
        return PluginError(f"cannot reach the apiserver at {self._server}: {error}")


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG")


def _in_cluster_namespace() -> str | None:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
