"""A proxy's own behaviour harming the app behind it.  Pure data.

Two ways a proxy in front of a healthy-looking app is the cause of the app's trouble
(``core.diagnosis.proxy_harm``):

* retry amplification: a retry policy with no budget multiplies every failed
  request into several upstream attempts, so a short blip of the upstream becomes
  its sustained overload, long after whatever started it is gone.  Envoy counts
  the retries it sends per cluster (``upstream_rq_retry``) next to the requests
  it received (``downstream_rq_total``): Envoy docs "Statistics: cluster manager"
  (https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/cluster_stats),
  "HTTP routing: retry semantics"
  (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_routing#retry-semantics)
  and "Circuit breaking: retry budgets"
  (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking);
  HAProxy counts ``retries`` and ``redispatches`` per backend (HAProxy
  configuration manual, "retries", "option redispatch",
  https://docs.haproxy.org/2.8/configuration.html#4.2-retries); Traefik's Retry
  middleware ``traefik_service_retries_total``
  (https://doc.traefik.io/traefik/observability/metrics/overview/); Google SRE
  book "Addressing Cascading Failures: limit retries per request, retry budgets"
  (https://sre.google/sre-book/addressing-cascading-failures/).  Retries several
  times the requests received, where there were almost none, are the proxy's.
* forwarded-header trust lost: a proxy only keeps the ``X-Forwarded-For`` of
  sources it trusts and otherwise replaces it with its peer's address (Traefik
  docs "EntryPoints: forwardedHeaders.trustedIPs",
  https://doc.traefik.io/traefik/routing/entrypoints/#forwarded-headers; nginx
  ``ngx_http_realip_module`` ``set_real_ip_from``,
  https://nginx.org/en/docs/http/ngx_http_realip_module.html; RFC 7239
  "Forwarded HTTP Extension", https://www.rfc-editor.org/rfc/rfc7239; MDN
  "X-Forwarded-For").  An app that limits per client address then sees a few
  addresses carrying everyone (RFC 6269, many users behind one address): the
  number of clients it tracks collapses right after the proxy's reload or
  restart, and its limiter refuses (429, 403) ordinary users.  The fix is the
  proxy's configuration, not the app.
"""

from __future__ import annotations

# Counters of the attempts a proxy re-sends upstream (retries, redispatches).
RETRY_COUNTERS: tuple[str, ...] = (
    r"^envoy_cluster_upstream_rq_retry$",
    r"^envoy_cluster_retry_upstream_rq$",
    r"^haproxy_backend_retry_warnings_total$",
    r"^haproxy_backend_redispatch_warnings_total$",
    r"^traefik_service_retries_total$",
)
# Counters of the requests a proxy received from its clients.
REQUEST_COUNTERS: tuple[str, ...] = (
    r"^envoy_http_downstream_rq_total$",
    r"^haproxy_frontend_http_requests_total$",
    r"^traefik_entrypoint_requests_total$",
    r"^nginx_ingress_controller_requests$",
    r"^nginx_http_requests_total$",
)
# Retries per request received: at least this many from the amplification's onset
# (every request sent upstream three times or more) ...
AMPLIFIED_RETRIES = 2.0
# ... where there were at most this many before it.
USUAL_RETRIES = 0.1

# Gauges of how many distinct clients an app's limiter (or tracker) knows.
CLIENT_COUNT_GAUGES: tuple[str, ...] = (
    r"(^|_)(tracked|distinct|unique|active)_clients$",
    r"(^|_)client_(addresses|ips)$",
)
# The distinct clients fell by at least this factor.
COLLAPSE_FACTOR = 4.0
# Gauges holding the time of a proxy's last (successful) configuration reload or start.
RELOAD_TIMESTAMPS: tuple[str, ...] = (
    r"^traefik_config_last_reload_success$",
    r"^nginx_ingress_controller_config_last_reload_successful_timestamp_seconds$",
    r"^process_start_time_seconds$",
)
# The proxy reloaded at most this long before the app's collapse began.
RELOAD_LEAD_SECONDS = 600.0
# HTTP statuses an app's own limiter answers: 429 Too Many Requests, 403 Forbidden.
REFUSAL_RATIOS: tuple[str, ...] = (r" 429 ratio$", r" 403 ratio$")
