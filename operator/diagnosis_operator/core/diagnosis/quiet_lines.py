"""Error/warn lines that are no harm by themselves: clients' refused credentials, a slow log.  Pure.

A rise of a component's error/warn lines made (``SHED_SHARE``) of requests refused for
their credentials (``catalog.gate.AUTH_REFUSAL_LINES``: a bearer token expired, revoked or
signed by a retired key, RFC 6750's ``invalid_token``) is its clients' own 4xx, not the
service failing: the client refreshes its token and retries.  ``clients_refused`` tells
the incident gate to leave it out when the refusals come from several instances alike
(none holding more than ``catalog.gate.AUTH_SPREAD_SHARE``) or were over by the window's
end (the clients refreshed): one instance refusing to the end what its siblings accept
(its node's clock jumped, a stale key set of its own) is that instance failing.  What users
felt otherwise (5xx, latency, other error lines) still counts.

A data store's rise of error/warn lines made of its own slow-log entries
(``slow_log_category``) is what its slow log recorded, which a threshold decides
(``long_query_time = 0`` records every statement: "The Slow Query Log",
https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html; Redis ``slowlog-log-slower-than
0`` likewise, https://redis.io/docs/latest/commands/slowlog/): the gate judges it as it
judges the slow log's new category, an incident only when the store's callers felt it.
That holds when the statements it recorded were fast (their median time under
``FAST_STATEMENT_SECONDS``): the threshold was lowered to sample them.  Statements that
were slow themselves (a full scan's seconds) are the store's own trouble, judged as any
error line of its own.
"""

from __future__ import annotations

import math
from collections import Counter

from diagnosis_operator.catalog.gate import AUTH_REFUSAL_LINES, AUTH_SPREAD_SHARE, STATELESS_KINDS
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.shedding import SHED_MIN_LINES, SHED_SHARE, events_since
from diagnosis_operator.core.diagnosis.signal_types import Detection, SignalKind
from diagnosis_operator.core.diagnosis.vocabulary import search_any

SLOW_LOG_CATEGORIES = (LogCategory.SLOW_QUERY, LogCategory.SLOW_COMMAND)
# A statement faster than this is no slow statement, whatever the log's threshold: the
# thresholds stores ship with are 10 s (MySQL ``long_query_time``) and 10 ms (Redis
# ``slowlog-log-slower-than``); logs of faster ones were sampled on purpose.
FAST_STATEMENT_SECONDS = 0.01


def is_auth_refusal(line: str) -> bool:
    """Pure: whether a line is a request refused for its credentials (the module docstring)."""
    return search_any(AUTH_REFUSAL_LINES, line)


def clients_refused(ev: ComponentEvidence, detection: Detection) -> bool:
    """Pure: whether a rise of error/warn lines is mostly clients' refused credentials,
    refused alike by the component's instances (the module docstring)."""
    if detection.signal.kind is not SignalKind.LOG_SIGNIFICANT or ev.logs is None:
        return False
    lines = [
        e
        for e in events_since(ev, onset=detection.onset, instance=detection.signal.instance)
        if e.severity > 0
    ]
    refused = sum(1 for e in lines if is_auth_refusal(e.line))
    if refused < SHED_MIN_LINES or refused < SHED_SHARE * len(lines):
        return False
    return refusals_spread(events_since(ev, onset=detection.onset, instance=None)) or _healed(
        detection
    )


def refusals_spread(events: list[LogEvent]) -> bool:
    """Pure: whether the refusals among ``events`` come from several instances, none
    holding more than ``AUTH_SPREAD_SHARE`` of them."""
    by_instance = Counter(e.instance for e in events if is_auth_refusal(e.line))
    total = sum(by_instance.values())
    return len(by_instance) >= 2 and max(by_instance.values()) <= AUTH_SPREAD_SHARE * total


def _healed(detection: Detection) -> bool:
    """Pure: whether a rise was over at its signal's last point (below half way from its
    baseline to its anomalous level): the clients refreshed their credentials."""
    values = [v for v in detection.signal.values if math.isfinite(v)]
    anomaly = detection.anomaly
    return bool(values) and values[-1] < anomaly.baseline + 0.5 * (anomaly.value - anomaly.baseline)


def store_error_lines(ev: ComponentEvidence, detection: Detection) -> list[LogEvent] | None:
    """Pure: a data store's error/warn lines from a rise's onset, on the rise's instance
    (``None``: the rise is no error-line rise, or the component is no store)."""
    if (
        detection.signal.kind is not SignalKind.LOG_SIGNIFICANT
        or ev.component.kind in STATELESS_KINDS
        or ev.logs is None
    ):
        return None
    return [
        e
        for e in events_since(ev, onset=detection.onset, instance=detection.signal.instance)
        if e.severity > 0
    ]


def slow_log_category(ev: ComponentEvidence, detection: Detection) -> LogCategory | None:
    """Pure: the slow-log category a data store's rise of error/warn lines is mostly made of
    (``None``: it is not, or the component is no store)."""
    lines = store_error_lines(ev, detection)
    if lines is None:
        return None
    counts = Counter(e.category for e in lines if e.category in SLOW_LOG_CATEGORIES)
    if not counts:
        return None
    category = counts.most_common(1)[0][0]
    slow = sum(counts.values())
    if slow < SHED_MIN_LINES or slow < SHED_SHARE * len(lines) or not _fast(lines):
        return None
    return category


def _fast(lines: list[LogEvent]) -> bool:
    """Pure: whether the slow-log entries among ``lines`` timed statements mostly faster
    than ``FAST_STATEMENT_SECONDS`` (entries without a time tell nothing: not fast)."""
    times = [
        t
        for e in lines
        for t in (
            e.slow_query.query_time if e.slow_query else None,
            e.slow_command.duration if e.slow_command else None,
        )
        if t is not None
    ]
    if not times:
        return False
    times.sort()
    return times[len(times) // 2] < FAST_STATEMENT_SECONDS
