"""The one mapping from the kubernetes client's ``ApiException`` to the project's errors.

Every apiserver failure becomes a ``KubernetesError`` (a ``ports.ClusterError``,
so the services catch it through the port) saying what was asked, the HTTP
status, the apiserver's ``Status`` reason (``AlreadyExists``, ``NotFound``...)
and its message; a 409 becomes ``KubernetesConflict``, which is also the port's
``VersionConflict`` (re-read and decide again).
"""

from __future__ import annotations

import json

from kubernetes.client import ApiException

from diagnosis_operator.ports import ClusterError, VersionConflict

__all__ = ["KubernetesConflict", "KubernetesError", "from_api_exception", "from_os_error"]

_CONFLICT = 409


class KubernetesError(ClusterError):
    """An apiserver call failed: what was asked, the HTTP status (if any), reason and body."""

    def __init__(self, *, what: str, status: int | None, body: str = "", reason: str = "") -> None:
        super().__init__(what=what, status=status, body=body)
        self.reason = reason


class KubernetesConflict(KubernetesError, VersionConflict):
    """HTTP 409: a write lost to a concurrent one, or the object already exists."""


def from_api_exception(error: ApiException, *, what: str) -> KubernetesError:
    """``error`` as the project's error; ``what`` says what was asked (``get pod ns/name``).

    The body is the ``Status`` object's message when the apiserver sent one,
    else the raw body, else the HTTP reason phrase; ``reason`` is the
    ``Status`` reason, else the HTTP reason phrase.
    """
    raw = error.body
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    phrase = str(error.reason or "")
    message, reason = text, phrase
    try:
        status_object = json.loads(text)
    except ValueError:
        status_object = None
    if isinstance(status_object, dict):
        message = str(status_object.get("message", text))
        reason = str(status_object.get("reason") or phrase)
    kind = KubernetesConflict if error.status == _CONFLICT else KubernetesError
    return kind(what=what, status=error.status, body=message or phrase, reason=reason)


def from_os_error(error: OSError, *, what: str) -> KubernetesError:
    """No HTTP answer at all (connection refused, DNS, TLS): status ``None``."""
    return KubernetesError(what=what, status=None, body=str(error))
