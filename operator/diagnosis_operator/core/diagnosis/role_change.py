"""Whether a data store changed role (failed over) rather than restarted.  Pure.

A store that went away for a moment and serves again may have been restarted in
place or failed over (``catalog.roles``: a replica promoted, a cluster's election,
Sentinel's switch).  A restart that healed is a blip; a failover is an incident
however short, because which instance holds the writes changed under its callers.
The store changed role when one of its role series moved (a detection of
``ROLE_METRICS``), its own lines say so (``ROLE_LINES``) or its callers' error lines
carry a demoted or leaderless store's refusals (``ROLE_CALLER_LINES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.roles import ROLE_CALLER_LINES, ROLE_LINES, ROLE_METRICS
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY


def changed_role(store: ComponentEvidence, callers: Iterable[ComponentEvidence]) -> bool:
    """Pure: whether ``store``'s evidence, or its callers' error lines, show a role change."""
    if any(
        _matches(ROLE_METRICS, (d.signal.family, d.signal.name)) for d in store.metric_detections
    ):
        return True
    if store.logs is not None and any(_matches(ROLE_LINES, (e.line,)) for e in store.logs.events):
        return True
    return any(
        _matches(ROLE_CALLER_LINES, (e.line,))
        for caller in callers
        if caller.logs is not None
        for e in caller.logs.events
        if SEVERITY[e.category] >= 1.0
    )


def _matches(patterns: Sequence[str], texts: Sequence[str]) -> bool:
    return any(compiled(p).search(text) for p in patterns for text in texts)
