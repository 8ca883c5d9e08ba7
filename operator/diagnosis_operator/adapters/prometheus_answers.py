"""What a Prometheus-API answer says beyond its data: warnings, infos, a frontend's limits.

When one Prometheus is not enough, a Thanos querier or a Mimir (Cortex)
query frontend answers the same HTTP API, with more ways to answer:

* ``warnings`` in a successful answer: a Thanos querier with
  ``partial_response`` whose store could not be reached (the data of the
  stores it reached is there), Prometheus when evaluation ran into trouble,
  a frontend that lost part of a split query.  The adapter raises
  ``PartialAnswer`` with the data and the warnings: never a complete answer.
* ``infos`` (Prometheus 2.x/3.x): info-level annotations that "may or may
  not be false positives" by Prometheus' own documentation; logged only.
* a window longer than the frontend's ``max_query_length``: Mimir answers
  422 "the query time range exceeds the limit (query length: 745h0m0s,
  limit: 720h0m0s)"; the adapter asks again in pieces within the limit.
* other limits (422 too many series, 429 rate limited, 5xx of the
  frontend) are ``SignalError``s with the status and the frontend's words.

https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview
"""

from __future__ import annotations

import json
import logging
import re
from typing import Final

import requests

from diagnosis_operator.ports import SignalError

log = logging.getLogger(__name__)

# "the query time range exceeds the limit" (also "the total query time range ...").
_LENGTH_LIMIT: Final = re.compile(
    r"time range exceeds the limit \(query length: [^,]*, limit: ([^)]+)\)"
)
_GO_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_QUOTED: Final = 300


def annotations_of(content: bytes) -> tuple[list[str], list[str]]:
    """Pure: the top-level ``warnings`` and ``infos`` of an API answer's body."""
    # Most answers have neither: skip decoding a large body a second time.
    if b'"warnings"' not in content and b'"infos"' not in content:
        return [], []
    try:
        decoded = json.loads(content)
    except ValueError:
        return [], []
    if not isinstance(decoded, dict):
        return [], []
    found: list[list[str]] = []
    for key in ("warnings", "infos"):
        values = decoded.get(key)
        found.append([str(v) for v in values] if isinstance(values, list) else [])
    return found[0], found[1]


def warnings_of(response: requests.Response | None, *, source: str, query: str) -> list[str]:
    """The ``warnings`` of ``response`` (logged); its ``infos`` are logged only."""
    if response is None:
        return []
    warnings, infos = annotations_of(response.content)
    for info in infos:
        log.info("%s answered %s with an info: %s", source, query, info[:_QUOTED])
    for warning in warnings:
        log.warning("%s answered %s with a warning: %s", source, query, warning[:_QUOTED])
    return warnings


def query_length_limit(error: SignalError) -> float | None:
    """Pure: the ``max_query_length`` (seconds) a frontend's refusal names, if it is one."""
    if error.status not in (400, 422):
        return None
    found = _LENGTH_LIMIT.search(error.body or error.reason)
    if found is None:
        return None
    parts = _GO_DURATION.findall(found.group(1))
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return seconds if seconds > 0 else None
