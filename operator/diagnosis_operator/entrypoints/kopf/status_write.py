"""Writing a Diagnosis's status: what a refused write means.

* HTTP 403 (the operator may not ``patch diagnoses/status``): retrying cannot
  help.  The handler ends for good (``StatusForbidden``, a ``kopf.PermanentError``,
  so kopf records it and never retries), with a Warning Event
  ``StatusForbidden`` and an error log naming the missing permission.
* HTTP 409, 429 and 5xx (a conflict, throttling, a busy apiserver): retried
  in place ``STATUS_WRITE_ATTEMPTS`` times with exponential back-off, then the
  pass is retried later by kopf (``kopf.TemporaryError``); a re-run resumes the
  diagnosis (same window and policy snapshot) and the action ledger keeps any
  remediation from running twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from diagnosis_operator.entrypoints.kopf.kube import Kube
from diagnosis_operator.ports import ClusterError

log = logging.getLogger(__name__)

FORBIDDEN = 403
RETRIED_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
STATUS_WRITE_ATTEMPTS = 3
STATUS_WRITE_BACKOFF = 0.5


class StatusForbidden(kopf.PermanentError):
    """The operator may not write this Diagnosis's status: stop, never retry."""


def write_status(
    kube: Kube,
    *,
    body: kopf.Body,
    namespace: str,
    name: str,
    patch: Mapping[str, Any],
    retry_delay: float,
) -> None:
    """Patch the status: a 403 ends the handler for good; 409/429/5xx are retried briefly."""
    for attempt in range(STATUS_WRITE_ATTEMPTS):
        try:
            kube.patch_diagnosis_status(namespace=namespace, name=name, status=patch)
            return
        except ClusterError as error:
            status = error.status
            if status == FORBIDDEN:
                message = (
                    f"cannot write the status of {namespace}/{name}: {error}; grant the "
                    "operator's ServiceAccount patch on diagnoses/status (the chart's ClusterRole)"
                )
                log.error("%s", message)
                kopf.warn(body, reason="StatusForbidden", message=message)
                raise StatusForbidden(message) from error
            if status not in RETRIED_STATUSES:
                raise
            if attempt + 1 == STATUS_WRITE_ATTEMPTS:
                raise kopf.TemporaryError(
                    f"status write of {namespace}/{name} failed: {error}",
                    delay=retry_delay,
                ) from error
            time.sleep(STATUS_WRITE_BACKOFF * 2**attempt)
