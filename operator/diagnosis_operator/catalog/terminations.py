"""Pods ended by Kubernetes for what they did, and how the events name them.  Pure data.

The kubelet evicts a pod whose containers exceed their ephemeral-storage limit
("Pod ephemeral local storage usage exceeds the total limit of containers
2Gi.") or, on a node low on a resource, the pods using most of it ("The node
was low on resource: ephemeral-storage." / "memory.");  the event's reason is
``Evicted`` and kube-state-metrics sets ``kube_pod_status_reason{reason=
"Evicted"}`` (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/,
https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage,
https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/pod-metrics.md).
A container over its memory limit is OOM-killed (``OOMKilled``, the kernel's
"Killed process"; https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/).
The events name the object: ``pod/<name>`` as ``kubectl get events`` prints
it, or the pod in its own field (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/).

When one pod after another of the same workload is ended the same way, each
replacement going the way of the one before, the fault is in what every pod
shares (its image, its limits, its spec), not in one of them: taking one out
of service only adds churn.  ``core.diagnosis.in_turn`` reads it.
"""

from __future__ import annotations

import re

SOURCES: tuple[str, ...] = (
    "https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/",
    "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
    "#local-ephemeral-storage",
    "https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/",
    "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/"
    "pod-metrics.md",
)

# A line saying a pod was ended by Kubernetes for its use of a resource, by reason.
TERMINATION_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("evicted", re.compile(r"\bevicted\b|low on resource: |exceeds the total limit of", re.I)),
    ("OOM-killed", re.compile(r"\boomkill(ed|ing)\b", re.I)),
)
# The pod such a line names: ``pod/<name>`` or a ``pod`` field.
POD_NAME = re.compile(
    r"\bpods?/([a-z0-9][a-z0-9.-]{0,252})|\"?\bpod\"?\s*[=:]\s*\"?([a-z0-9][a-z0-9.-]{0,252})", re.I
)

# At least this many distinct pods ended the same way, and at least this share
# of the instances the workload had in the window: every pod goes that way.
MIN_PODS_IN_TURN = 3
IN_TURN_SHARE = 0.5
