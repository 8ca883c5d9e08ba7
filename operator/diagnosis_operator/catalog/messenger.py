"""A proxy answering its upstream's failures is their messenger.  Pure data.

An edge proxy (nginx, ingress-nginx, Envoy, HAProxy) that answers 502/503/504
because the application behind it answered 5xx, reset the connection or took
longer than the proxy's timeout writes each such answer in its access log with
the upstream it tried (nginx's ``$upstream_addr``, ``$upstream_status``,
``$upstream_response_time``; Envoy's ``%UPSTREAM_HOST%`` and
``%RESPONSE_FLAGS%``; HAProxy's server name and termination state).  It
notices the failure at its first failed request, while the upstream's own
metrics show it only once scraped and aggregated over a rate window: the
proxy's earlier onset is no evidence against the upstream when the upstream
itself shows harm (latency, errors, saturation).

Only the proxy's own refusals (``releases.EDGE_OWN_FLAGS``), its own route or
certificate (``modes_edge.UPSTREAM_UNREACHABLE``, ``HANDSHAKE_REFUSED``) and its
own timeout below the upstream's ordinary answer time (``modes_edge.
READ_TIMED_OUT`` with an unharmed upstream) leave the failure the proxy's.
"""

from __future__ import annotations

NGINX_UPSTREAM_VARIABLES = "https://nginx.org/en/docs/http/ngx_http_upstream_module.html#variables"
ENVOY_ACCESS_LOG = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage"
)
ENVOY_CLUSTER_STATS = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/"
    "cluster_stats"
)
HAPROXY_LOGGING = "https://docs.haproxy.org/2.8/configuration.html#8.2.3"
INGRESS_NGINX_LOG_FORMAT = (
    "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/"
)

SOURCES: tuple[str, ...] = (
    NGINX_UPSTREAM_VARIABLES,
    ENVOY_ACCESS_LOG,
    ENVOY_CLUSTER_STATS,
    HAPROXY_LOGGING,
    INGRESS_NGINX_LOG_FORMAT,
)

# Of a proxy's incident 5xx access lines, the share that must be its upstream's
# answers (not one of the proxy's own refusals) for the proxy to be the messenger.
RELAYED_SHARE = 0.8
# The fewest such lines that say anything.
RELAYED_MIN_LINES = 5
