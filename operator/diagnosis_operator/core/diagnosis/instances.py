"""Which instance a series or a log stream belongs to.  Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

# Labels naming the node a series was scraped from or describes (cAdvisor, the
# kubelet, node agents): the ``instance`` of such a series is the node's scrape
# address, not the workload instance's.
NODE_LABELS = ("node", "node_name", "nodename", "kubernetes_node", "kubernetes_io_hostname")
PodKey = tuple[str, str]  # (namespace, pod)


def instance_names(label_sets: Iterable[Mapping[str, str]]) -> dict[PodKey, str]:
    """Pure: the instance name of every pod (namespace, pod) that the label sets mention.

    A pod is one instance whatever scraped its series: its own endpoint
    (``instance`` is the pod's address), the kubelet's cAdvisor (``instance``
    is the node's), an exporter describing many pods (``instance`` is the
    exporter's).  A pod goes by the ``instance`` value that belongs to it
    alone: never seen with another pod, not on a series that names a node;
    among those, the one most of its series carry.  A pod without one goes
    by its pod name, so a node or an exporter is never taken for it.
    """
    pods_of: dict[str, set[PodKey]] = defaultdict(set)
    own: dict[PodKey, dict[str, int]] = {}
    for labels in label_sets:
        pod = labels.get("pod")
        if not pod:
            continue
        key = (labels.get("namespace", ""), pod)
        counts = own.setdefault(key, {})
        address = labels.get("instance")
        if not address:
            continue
        pods_of[address].add(key)
        if not any(labels.get(name) for name in NODE_LABELS):
            counts[address] = counts.get(address, 0) + 1
    names: dict[PodKey, str] = {}
    for key, counts in own.items():
        mine = [(-n, address) for address, n in counts.items() if len(pods_of[address]) == 1]
        names[key] = min(mine)[1] if mine else key[1]
    return names


def instance_of(labels: Mapping[str, str], *, pods: Mapping[PodKey, str]) -> str | None:
    """Pure: the instance a series or stream belongs to (its pod first, see ``instance_names``)."""
    pod = labels.get("pod")
    if pod:
        return pods.get((labels.get("namespace", ""), pod), pod)
    for name in ("instance", "host", "hostname"):
        if labels.get(name):
            return labels[name]
    return None
