"""How a release's new instances read worse than the old ones, and what a caller blames on
an upstream.  Pure data.

A rolling update replaces a component's instances by new ones running the new
version (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
#rolling-update-deployment): for a while both serve, behind the same Service,
the same clients and the same requests.  A new version that is broken in
itself shows on its own instances only, from their first requests, whatever
the load: (``DEGRADATION_UP``, besides latency and the 5xx share)

* an event loop that a synchronous task blocks: prom-client's
  ``nodejs_eventloop_lag_seconds`` (and its percentiles) rises from
  milliseconds to seconds (Node.js, "Don't Block the Event Loop");
* a CPU limit too low for the process: cAdvisor's
  ``container_cpu_cfs_throttled_periods_total`` (and ``..._seconds_total``)
  counts the CFS periods in which the container used up its quota and was
  stopped (Kubernetes, "Resource Management for Pods and Containers": a
  container above its CPU limit is throttled);

A proxy in front of such instances reports their failures as its own 5xx;
its access log says which upstream answered (or failed to): ingress-nginx's
``$upstream_addr``/``$upstream_status`` (a 502/504 carrying an upstream
address: "upstream timed out", "upstream prematurely closed connection"),
Envoy's ``%UPSTREAM_HOST%`` with ``%RESPONSE_FLAGS%`` ``UC`` (upstream
connection termination), ``UF``, ``URX``, ``UT``.  Such a 5xx is the
upstream's failure seen by its caller.  Only the flags that say the proxy
itself refused the request (``EDGE_OWN_FLAGS``: circuit breaking ``UO``, no
route ``NR``, local rate limit ``RL``, its overload manager ``OM``, the
client's own reset ``DC``...) leave it the proxy's.
"""

from __future__ import annotations

NODE_EVENT_LOOP = "https://nodejs.org/en/learn/asynchronous-work/dont-block-the-event-loop"
PROM_CLIENT = "https://github.com/siimon/prom-client#default-metrics"
K8S_CPU_LIMITS = (
    "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
    "#how-pods-with-resource-limits-are-run"
)
CADVISOR_CFS = "https://github.com/google/cadvisor/blob/master/docs/storage/prometheus.md"
K8S_ROLLING_UPDATE = "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment"
ENVOY_RESPONSE_FLAGS = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage"
    "#config-access-log-format-response-flags"
)
NGINX_UPSTREAM_VARIABLES = "https://nginx.org/en/docs/http/ngx_http_upstream_module.html#variables"
INGRESS_NGINX_LOG_FORMAT = (
    "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/"
)

SOURCES: tuple[str, ...] = (
    K8S_ROLLING_UPDATE,
    NODE_EVENT_LOOP,
    PROM_CLIENT,
    K8S_CPU_LIMITS,
    CADVISOR_CFS,
    ENVOY_RESPONSE_FLAGS,
    NGINX_UPSTREAM_VARIABLES,
    INGRESS_NGINX_LOG_FORMAT,
)

# Per-instance metrics that read worse the higher they go, whatever the load
# (matched against the start of a series name, rates without their " rate").
DEGRADATION_UP: tuple[str, ...] = (
    r"^nodejs_eventloop_lag(_p\d+)?_seconds$",
    r"^container_cpu_cfs_throttled_(periods|seconds)_total$",
)

# Envoy response flags that make a 5xx the proxy's own doing, not its upstream's
# (circuit breaking, no route or cluster, local rate limit or auth, overload,
# the downstream's reset, invalid headers, a stream idle or duration timeout).
EDGE_OWN_FLAGS: frozenset[str] = frozenset(
    {"UO", "NR", "NC", "RL", "RLSE", "UAEX", "OM", "DC", "LR", "IH", "SI", "DPE", "DT", "DF", "DO"}
)

# Where an access line carries Envoy's response flags: a JSON/logfmt field, or
# the default text format's field after the status ("... HTTP/1.1" 503 UC ...).
RESPONSE_FLAGS: tuple[str, ...] = (
    r"response_flags\W{1,4}([A-Z]{2,5}(?:,[A-Z]{2,5})*)\b",
    r"\"\s[1-5]\d\d\s([A-Z]{2,5}(?:,[A-Z]{2,5})*)\s",
)
