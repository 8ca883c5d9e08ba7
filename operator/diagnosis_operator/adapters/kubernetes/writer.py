"""Diagnosis objects and DiagnosisPolicies through the Kubernetes custom objects API.

The webhook's ``DiagnosisWriter`` (service/webhook.py) and ``PolicyReader``: create a
Diagnosis if absent (409 AlreadyExists means another notification got there first:
deduplicated, not an error) and read the DiagnosisPolicy an alert is routed by.
Calls are blocking; the webhook runs them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from diagnosis_operator import API_GROUP as GROUP
from diagnosis_operator import API_VERSION as VERSION
from diagnosis_operator.adapters.kubernetes.errors import from_api_exception, from_os_error
from diagnosis_operator.api import DIAGNOSIS_PLURAL as DIAGNOSES
from diagnosis_operator.api import POLICY_PLURAL as POLICIES

_CONFLICT = 409
_NOT_FOUND = 404


class KubernetesDiagnosisWriter:
    """Creates Diagnoses and reads DiagnosisPolicies with an authenticated ``ApiClient``."""

    def __init__(self, *, api_client: client.ApiClient, request_timeout: float = 10.0) -> None:
        self._api = client.CustomObjectsApi(api_client)
        self._timeout = request_timeout

    def create_if_absent(self, *, namespace: str, body: Mapping[str, Any]) -> bool:
        """Create the Diagnosis; ``False`` when one of that name already exists."""
        name = str(body.get("metadata", {}).get("name", ""))
        try:
            self._api.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                DIAGNOSES,
                dict(body),
                _request_timeout=self._timeout,
            )
        except client.ApiException as error:
            failure = from_api_exception(error, what=f"create Diagnosis {namespace}/{name}")
            if failure.status == _CONFLICT and failure.reason == "AlreadyExists":
                return False
            raise failure from error
        except OSError as error:  # connection refused, DNS, TLS
            raise from_os_error(error, what=f"create Diagnosis {namespace}/{name}") from error
        return True

    def get_policy(self, *, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The DiagnosisPolicy object, or ``None`` when there is none of that name."""
        try:
            found = self._api.get_namespaced_custom_object(
                GROUP, VERSION, namespace, POLICIES, name, _request_timeout=self._timeout
            )
        except client.ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise from_api_exception(
                error, what=f"get DiagnosisPolicy {namespace}/{name}"
            ) from error
        except OSError as error:
            raise from_os_error(error, what=f"get DiagnosisPolicy {namespace}/{name}") from error
        return dict(found) if isinstance(found, Mapping) else None
