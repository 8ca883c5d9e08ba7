"""The labels a metric series keeps when the collector aggregates it by instance.  Pure data.

A component with more series than its budget is asked for its series summed
(counters) or maxed (gauges) by these labels (``core.series_plan``): the ones
the engine reads.  Every other label (route, method, handler, le...) is
summed away.

* ``INSTANCE``: where a series comes from (``core/diagnosis/instances.py``
  and ``signal_types.INSTANCE_LABELS`` tell instances and nodes by them);
* ``STATUS``: the answer code the RED signals split errors by
  (``core/diagnosis/derived.py``);
* ``QUANTILE``: a summary's quantile, a level that must never be summed.
"""

from __future__ import annotations

INSTANCE: tuple[str, ...] = (
    "job",
    "instance",
    "pod",
    "namespace",
    "container",
    "node",
    "node_name",
    "nodename",
    "kubernetes_node",
    "kubernetes_io_hostname",
    "host",
    "hostname",
)
STATUS: tuple[str, ...] = ("code", "status", "status_code", "response_code")
QUANTILE: tuple[str, ...] = ("quantile",)
KEPT_BY_AGGREGATION: tuple[str, ...] = INSTANCE + STATUS + QUANTILE
