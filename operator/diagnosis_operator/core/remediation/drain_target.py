"""Which pod a drain names: by name, or by the address of the instance.  Pure.

A diagnosis names a degraded instance the way the metrics do, often
``192.0.2.17:8080`` (Prometheus' ``instance`` label) with no ``pod`` label.  In a
cluster that instance is a pod whose ``status.podIP`` is the host part; the
executor looks it up among the pods of the policy's namespace (and only there)
and drains it only when exactly one live pod has that address.  No pod, or
several (host-network pods share their node's address), is a refusal: the
executor never guesses which pod to take out of service.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from diagnosis_operator.models.actions import DenialCode, Denied
from diagnosis_operator.models.cluster import PodInfo

_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})  # their addresses may be reused


def _port_ok(text: str) -> bool:
    return text.isdigit() and 0 < int(text) < 65536


def instance_address(target: str) -> str | None:
    """The IP address an instance target names, in normal form, or None.  Pure.

    ``192.0.2.17:8080``, ``192.0.2.17``, ``[fd00::7]:8080`` and ``fd00::7`` name an
    address; anything else (a pod name, a host name) names none.
    """
    text = target.strip()
    host = text
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and _port_ok(rest[1:]))):
            return None
        host = text[1:end]
    elif text.count(":") == 1:
        host, port = text.split(":")
        if not _port_ok(port):
            return None
    if "%" in host:  # a zone index never names a pod
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def pick_by_address(
    *, target: str, address: str, namespace: str, pods: Sequence[PodInfo]
) -> PodInfo | Denied:
    """The one live pod of ``namespace`` whose IP is ``address``, or why not.  Pure.

    ``pods`` are what the cluster answered for that address (it may answer more:
    only pods of ``namespace`` with exactly this address, not finished, count).
    """
    live = sorted(
        (
            pod
            for pod in pods
            if pod.namespace == namespace
            and pod.pod_ip is not None
            and instance_address(pod.pod_ip) == address
            and pod.phase not in _FINISHED_PHASES
        ),
        key=lambda pod: pod.name,
    )
    if not live:
        return Denied(
            DenialCode.TARGET_NOT_FOUND,
            f"instance {target} names no pod: no live pod in namespace {namespace} has "
            f"status.podIP {address} (and the diagnosis gave no pod label)",
        )
    if len(live) > 1:
        names = ", ".join(pod.name for pod in live)
        return Denied(
            DenialCode.AMBIGUOUS_TARGET,
            f"instance {target} is ambiguous: {len(live)} pods in namespace {namespace} have "
            f"status.podIP {address} ({names}); not guessing which one to drain",
        )
    return live[0]
