"""The one mapping from ``kubernetes.client.ApiException`` to the project's errors."""

from __future__ import annotations

import json

from kubernetes.client import ApiException

from diagnosis_operator.adapters.kubernetes.errors import (
    KubernetesConflict,
    KubernetesError,
    from_api_exception,
    from_os_error,
)
from diagnosis_operator.ports import ClusterError, VersionConflict


def _exception(status: int, reason: str, body: str | bytes | None) -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = body  # type: ignore[assignment]  # the client sets bytes or str at run time
    return error


def test_a_status_object_gives_its_message_and_reason() -> None:
    body = json.dumps({"kind": "Status", "reason": "Forbidden", "message": "pods is forbidden"})
    error = from_api_exception(_exception(403, "Forbidden", body.encode()), what="list pods in a")
    assert isinstance(error, ClusterError)
    assert not isinstance(error, VersionConflict)
    assert (error.what, error.status, error.reason, error.body) == (
        "list pods in a",
        403,
        "Forbidden",
        "pods is forbidden",
    )
    assert str(error) == "list pods in a: HTTP 403; body: pods is forbidden"


def test_a_conflict_is_the_ports_version_conflict() -> None:
    body = json.dumps({"kind": "Status", "reason": "AlreadyExists", "message": "exists"})
    error = from_api_exception(_exception(409, "Conflict", body), what="create Diagnosis a/b")
    assert isinstance(error, KubernetesConflict)
    assert isinstance(error, VersionConflict)
    assert error.reason == "AlreadyExists"


def test_a_body_that_is_not_a_status_is_kept_and_an_empty_one_gives_the_phrase() -> None:
    plain = from_api_exception(_exception(500, "Internal Server Error", "etcd down"), what="x")
    assert (plain.body, plain.reason) == ("etcd down", "Internal Server Error")
    empty = from_api_exception(_exception(503, "Service Unavailable", None), what="x")
    assert empty.body == "Service Unavailable"


def test_no_http_answer_has_no_status() -> None:
    error = from_os_error(ConnectionRefusedError("refused"), what="get secret a/b")
    assert isinstance(error, KubernetesError)
    assert error.status is None
    assert "refused" in str(error)
