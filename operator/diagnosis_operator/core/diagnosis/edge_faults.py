"""A proxy failing in its own path: its route to a healthy upstream, its certificate.  Pure.

Two faults of an edge proxy that nothing behind it can explain:

* a broken route: nginx resolves the host name of a static ``proxy_pass``
  once, at start-up; after a DNS switch (a blue/green move, new VMs) it keeps
  connecting to the old address.  Its own error log fills with connect
  failures (``catalog.modes_edge.UPSTREAM_UNREACHABLE``: no route to host,
  connection refused, no live upstreams, an unresolvable name) while the
  upstream's instances show no harm of their own: whatever moved in the
  upstream (its traffic fell: nothing reached it) is the consequence.  An
  upstream that did fail (errors, slowness, scrapes down, harm in the
  catalogue's terms) still explains the proxy;
* a refused certificate: clients abort the TLS handshake
  (``HANDSHAKE_REFUSED``: alert bad certificate, certificate expired), so
  their requests never reach the proxy, let alone an upstream.  Traffic
  falls everywhere behind it, nothing answers 5xx; a late blip of an idle
  upstream explains none of it.

A senior engineer reloads the proxy or renews its certificate, and drains
nothing behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.modes_edge import HANDSHAKE_REFUSED, UPSTREAM_UNREACHABLE
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.logs import LogEvent
from diagnosis_operator.models.topology import ComponentKind

OWN_FAULT_SHARE = 0.8  # of the proxy's own (not access) lines from its onset on
OWN_FAULT_MIN_LINES = 5
BEFORE_SHARE = 0.1  # such lines before the onset, at most, per one after it


def says_mostly(evidence: ComponentEvidence, patterns: Sequence[str]) -> bool:
    """Pure: whether a proxy's own lines, from its onset on, mostly say ``patterns``.

    Its own lines (error log, not access lines): at least
    ``OWN_FAULT_MIN_LINES`` of them and ``OWN_FAULT_SHARE`` match, and such
    lines were rare before the onset (``BEFORE_SHARE``): new, not the usual.
    """
    if evidence.component.kind is not ComponentKind.PROXY or evidence.logs is None:
        return False
    # an error line naming its upstream is read with an address but no status
    own = [e for e in evidence.logs.events if e.access is None or e.access.status is None]
    return lines_mostly(own, onset=evidence.onset, patterns=patterns)


def answers_mostly(evidence: ComponentEvidence, patterns: Sequence[str]) -> bool:
    """Pure: whether a proxy's 5xx answers, from its onset on, mostly carry ``patterns``.

    Its access lines of a 5xx status (what it answered, not what it wrote in its
    error log), read as ``says_mostly`` reads its own lines: an Envoy that writes
    no error log says in each answer why it failed (its response flags).
    """
    if evidence.component.kind is not ComponentKind.PROXY or evidence.logs is None:
        return False
    failed = [
        e
        for e in evidence.logs.events
        if e.access is not None and e.access.status is not None and e.access.status >= 500
    ]
    return lines_mostly(failed, onset=evidence.onset, patterns=patterns)


def lines_mostly(
    events: Sequence[LogEvent], *, onset: float | None, patterns: Sequence[str]
) -> bool:
    """Pure: whether ``events`` from ``onset`` on mostly match ``patterns``, and rarely did
    before it (``OWN_FAULT_MIN_LINES``, ``OWN_FAULT_SHARE``, ``BEFORE_SHARE``)."""
    if onset is None:
        return False
    regexes = [compiled(p) for p in patterns]
    after = [e for e in events if e.ts >= onset]
    hits = sum(1 for e in after if any(r.search(e.line) for r in regexes))
    before = sum(1 for e in events if e.ts < onset and any(r.search(e.line) for r in regexes))
    return (
        hits >= OWN_FAULT_MIN_LINES
        and hits >= OWN_FAULT_SHARE * len(after)
        and before <= BEFORE_SHARE * hits
    )


def cannot_connect(evidence: ComponentEvidence) -> bool:
    """Pure: whether a proxy's own lines say it could not connect to its upstream."""
    return says_mostly(evidence, UPSTREAM_UNREACHABLE)


def refuses_handshakes(evidence: ComponentEvidence) -> bool:
    """Pure: whether a proxy's own lines say its clients refused its certificate."""
    return says_mostly(evidence, HANDSHAKE_REFUSED)


def own_path_fault(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether a proxy's failures lie in its own path, not in ``dependency``.

    Its clients refuse its certificate (``refuses_handshakes``), or it cannot
    connect (``cannot_connect``) to a dependency with no symptom of its own
    (``has_symptom``) that does not report itself down.
    """
    if refuses_handshakes(caller):
        return True
    return (
        cannot_connect(caller)
        and not dependency.has_symptom
        and not reports_down(dependency)
        and not _unreachable_instances_changed(caller=caller, dependency=dependency)
    )


def _unreachable_instances_changed(
    *, caller: ComponentEvidence, dependency: ComponentEvidence
) -> bool:
    """Pure: whether an address the proxy could not reach is an instance of ``dependency``
    whose own signals changed (its scrape went down, its traffic stopped).

    A stale route points at an address the upstream no longer has; a crashed
    instance among healthy siblings is an address it has, and its own series say
    so: that instance's failure, which the dependency explains.
    """
    named = named_upstreams(caller)
    if not named:
        return False
    changed = {d.signal.instance for d in dependency.detections if d.signal.instance}
    return bool(named & changed)


def named_upstreams(caller: ComponentEvidence) -> set[str]:
    """Pure: the upstream addresses a proxy's own error lines name (read with no status)."""
    if caller.logs is None:
        return set()
    return {
        e.access.upstream
        for e in caller.logs.events
        if e.access is not None and e.access.status is None and e.access.upstream
    }
