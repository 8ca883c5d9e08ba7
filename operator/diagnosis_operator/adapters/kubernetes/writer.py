"""Diagnosis objects and DiagnosisPolicies through the Kubernetes custom objects API.

The webhook's ``DiagnosisWriter`` (service/webhook.py) and ``PolicyReader``: create a
Diagnosis if absent (409 AlreadyExists means another notification got there first:
deduplicated, not an error) and read the DiagnosisPolicy an alert is routed by.
Calls are blocking; the webhook runs them in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from diagnosis_operator import API_GROUP as GROUP
from diagnosis_operator import API_VERSION as VERSION
from diagnosis_operator.api import DIAGNOSIS_PLURAL as DIAGNOSES
from diagnosis_operator.api import POLICY_PLURAL as POLICIES

_CONFLICT = 409
_NOT_FOUND = 404


class ApiServerError(RuntimeError):
    """An apiserver call failed: what was asked, the HTTP status (if any) and the body."""

    def __init__(self, *, what: str, status: int | None, body: str) -> None:
        self.what = what
        self.status = status
        self.body = body
        shown = f"HTTP {status}" if status is not None else "no HTTP answer"
        super().__init__(f"{what}: {shown}" + (f"; body: {body[:500]}" if body else ""))


class KubernetesWriteError(ApiServerError):
    """The apiserver refused or failed a request; says what was asked and what came back."""


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
            if error.status == _CONFLICT and _reason(error) == "AlreadyExists":
                return False
            raise KubernetesWriteError(
                what=f"create Diagnosis {namespace}/{name}",
                status=error.status,
                body=_body(error),
            ) from error
        except OSError as error:  # connection refused, DNS, TLS
            raise KubernetesWriteError(
                what=f"create Diagnosis {namespace}/{name}", status=None, body=str(error)
            ) from error
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
            raise KubernetesWriteError(
                what=f"get DiagnosisPolicy {namespace}/{name}",
                status=error.status,
                body=_body(error),
            ) from error
        except OSError as error:
            raise KubernetesWriteError(
                what=f"get DiagnosisPolicy {namespace}/{name}", status=None, body=str(error)
            ) from error
        return dict(found) if isinstance(found, Mapping) else None


def _body(error: client.ApiException) -> str:
    body = error.body
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body or error.reason or "")


def _reason(error: client.ApiException) -> str:
    try:
        parsed = json.loads(_body(error))
    except ValueError:
        return ""
    return str(parsed.get("reason", "")) if isinstance(parsed, dict) else ""
