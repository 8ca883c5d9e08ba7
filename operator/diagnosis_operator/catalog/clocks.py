"""What a host says about its own clock, as data.  Pure.

A log line is stamped by the clock of the host that wrote it (the application's
logger, or the agent that ships it: both read the same system clock), while a
metric sample is stamped by Prometheus when it scrapes.  A host whose clock
drifted (its NTP daemon stopped) writes lines that look earlier or later than
what its metrics show at the same moment; ordered as they are, they put that
host first (or last) in a chain it only followed.

A few exporters publish the host's clock reading itself, gathered during the
scrape, so its distance from the scrape's own timestamp is the host's offset:

* node_exporter's ``time`` collector: ``node_time_seconds`` "System time in
  seconds since epoch (1970)" (https://github.com/prometheus/node_exporter,
  collector/time.go); the ``timex`` collector beside it says whether the kernel
  thinks the clock is synchronised (``node_timex_sync_status``), and the usual
  alert on skew compares ``node_time_seconds`` with ``timestamp(node_time_seconds)``
  (the node-mixin's ``NodeClockSkewDetected``,
  https://github.com/prometheus/node_exporter/blob/master/docs/node-mixin/alerts/alerts.libsonnet);
* windows_exporter's ``time`` collector: ``windows_time_current_timestamp_seconds``
  "OperatingSystem.LocalDateTime", in seconds since the epoch
  (https://github.com/prometheus-community/windows_exporter/blob/master/docs/collector.time.md).
"""

from __future__ import annotations

CLOCK_SERIES: frozenset[str] = frozenset(
    {"node_time_seconds", "windows_time_current_timestamp_seconds"}
)

# The labels that tell which host a series or a log stream comes from.  The
# ``instance`` label names an address (``host:port``): its host part is the host.
HOST_LABELS: tuple[str, ...] = (
    "instance",
    "node",
    "node_name",
    "nodename",
    "kubernetes_node",
    "host",
    "hostname",
)

# An offset below this is the scrape's own latency and jitter (a clock read
# during a scrape that may take seconds), not a skewed clock.  The node-mixin's
# alert fires from 0.05 s of NTP-reported offset; a log-ordering error below a
# few seconds is below what the engine's grid can see anyway.
MIN_SKEW_SECONDS = 10.0
