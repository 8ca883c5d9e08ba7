"""Failure modes of an edge proxy in its own path: its route to the upstream, its certificate.

Pure data (see ``mode_types``).  Both fail at the proxy while everything
behind it is healthy:

* a stale upstream: nginx resolves a host name written in ``proxy_pass`` (or
  an ``upstream`` block's ``server``) once, when it loads its configuration;
  after a DNS switch it keeps connecting to the old address.  Every request
  fails at connect time (``connect() failed (113: No route to host)`` / ``(111:
  Connection refused)`` ``while connecting to upstream``, ``no live
  upstreams``), Envoy's ``UF`` / ``connection failure``, HAProxy's ``SC``,
  while the upstream's instances serve their other callers as before
  (``UPSTREAM_UNREACHABLE``: the lines ``core.diagnosis.edge_faults`` reads);
* an expired certificate: clients abort the TLS handshake, so requests never
  reach the access log: traffic falls, nothing answers 5xx, and the proxy's
  error log says ``SSL_do_handshake() failed ... alert bad certificate`` or
  ``certificate expired``; a blackbox probe fails
  (``probe_ssl_earliest_cert_expiry`` reaches now); ``HANDSHAKE_REFUSED``;
* its own timeout set below the upstream's answer time: nginx's
  ``proxy_read_timeout`` (``proxy_connect_timeout``, Envoy's route ``timeout``,
  HAProxy's ``timeout server``) shorter than the upstream takes to answer.  The
  proxy gives up (``upstream timed out (110: Connection timed out) while
  reading response header from upstream``, Envoy's ``UT``, HAProxy's ``sH``)
  and answers 504, while the upstream, its answers as fast and as successful
  as before, writes its 200s to a closed connection (``READ_TIMED_OUT``: the
  lines ``core.diagnosis.edge_timeouts`` reads, with the upstream unharmed);
* no server left to send to: its own health checks took every server of a backend
  out (a wrong check path or expected status) while they serve as before; it answers
  503 by itself (HAProxy's ``<NOSRV>``, Envoy's ``UH``: ``NO_UPSTREAM_LEFT``);
* its own rate limit refusing a large, lasting share of ordinary users (429 by
  itself: a per-address limit meeting a NAT): the ``429 ratio`` of its requests;
* a routing or rewrite change: routes it served to every client answered 404 (405,
  400...) to all of them since, often right after it took a new configuration (a
  ``proxy_pass`` with a URI part replacing the matched prefix): ``catalog.routes``;
* its own access rules (``deny``, RBAC, an allow list) refusing 403 most of the clients
  it served (a CIDR typo): ``catalog.routes.RULE_REFUSAL_LINES``.
"""

from __future__ import annotations

from diagnosis_operator.catalog.gate import RATE_LIMIT_LINES
from diagnosis_operator.catalog.mode_types import PROXY, FailureMode, mode
from diagnosis_operator.catalog.routes import (
    CONFIG_RELOAD_LINES,
    ENVOY_PREFIX_REWRITE,
    ENVOY_RBAC,
    HAPROXY_DENY,
    NGINX_ACCESS,
    NGINX_CONTROL,
    NGINX_REWRITE,
    NGINX_URI_REPLACEMENT,
    RFC_9110_4XX,
    ROUTE_REFUSAL_METRIC,
    RULE_REFUSAL_LINES,
    RULE_REFUSAL_METRIC,
    TRAEFIK_IPALLOWLIST,
    TRAEFIK_STRIPPREFIX,
)

NGINX_PROXY_MODULE = "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass"
NGINX_RESOLVER = "https://nginx.org/en/docs/http/ngx_http_core_module.html#resolver"
NGINX_UPSTREAM = "https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server"
NGINX_DNS_BLOG = "https://www.nginx.com/blog/dns-service-discovery-nginx-plus/"
ENVOY_RESPONSE_FLAGS = (
    "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage"
    "#config-access-log-format-response-flags"
)
HAPROXY_TERMINATION = "https://docs.haproxy.org/2.8/configuration.html#8.5"
LINUX_ERRNO = "https://man7.org/linux/man-pages/man3/errno.3.html"
NGINX_SSL = "https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_certificate"
OPENSSL_ALERTS = "https://www.rfc-editor.org/rfc/rfc8446#section-6.2"
BLACKBOX_EXPORTER = "https://github.com/prometheus/blackbox_exporter"
LETSENCRYPT_EXPIRY = "https://letsencrypt.org/docs/expiration-emails/"

# A proxy's own lines saying it could not even connect to the address it holds
# for its upstream (never a timeout while reading: that is a slow upstream).
UPSTREAM_UNREACHABLE: tuple[str, ...] = (
    r"connect\(\) (to \S+ )?failed \((101|111|113): [^)]*\) while connecting to upstream",
    r"no live upstreams while connecting to upstream",
    r"host not found in upstream|could not be resolved \(\d+: ",
    r"upstream connect error or disconnect/reset before headers\. reset reason: "
    r"(connection failure|remote connection failure)",
)

# A proxy's own lines saying its clients refused its certificate (TLS alerts 42
# bad_certificate, 45 certificate_expired, sent by the client) or that it
# expired: the handshake fails before any request, let alone an upstream.
HANDSHAKE_REFUSED: tuple[str, ...] = (
    r"ssl_do_handshake\(\) failed.{0,200}alert (bad certificate|certificate expired)",
    r"ssl alert number (42|45)\b",
    r"certificate (has )?expired|cert_has_expired",
)

NGINX_READ_TIMEOUT = "https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout"
ENVOY_ROUTE_TIMEOUT = (
    "https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts#route-timeouts"
)
HAPROXY_TIMEOUT_SERVER = "https://docs.haproxy.org/2.8/configuration.html#4.2-timeout%20server"

# A proxy's own lines saying it stopped waiting for its upstream's answer.
READ_TIMED_OUT: tuple[str, ...] = (
    r"upstream timed out \(110: [^)]*\) while reading (response header|upstream)",
    r"upstream request timeout",
)

HAPROXY_MAXCONN = "https://docs.haproxy.org/2.8/configuration.html#3.2-maxconn"
HAPROXY_FRONTEND_MAXCONN = "https://docs.haproxy.org/2.8/configuration.html#4.2-maxconn"

# A proxy's own lines saying it reached its own admission limit (HAProxy's global or
# a frontend's ``maxconn``): it stops accepting, whatever its backends could take.
OWN_LIMIT_REACHED: tuple[str, ...] = (
    r"reached (process|global) maxconn",
    r"reached the configured maximum connection limit",
)

# A proxy's 5xx answers saying it gave up waiting itself, in its access line: Envoy's
# response flag ``UT`` (upstream request timeout, its route ``timeout``, 15 s unless
# set) and its response code details ``upstream_response_timeout``, in JSON or in the
# default text format (``"%REQ(:METHOD)% ... %PROTOCOL%" %RESPONSE_CODE%
# %RESPONSE_FLAGS%``); HAProxy's termination state ``sH``/``sD`` (its ``timeout
# server`` struck while waiting for the response's headers or data).
OWN_TIMEOUT_ANSWERS: tuple[str, ...] = (
    r"\"response_flags\"\s*:\s*\"([A-Z]+,)*UT(,[A-Z]+)*\"",
    r"\bupstream_response_timeout\b",
    r"\" 5\d\d ([A-Z]+,)*UT(,[A-Z]+)* ",
    r"\s5\d\d \d+ \S+ \S+ s[HD][-A-Za-z]{2}\s",
)

# An upstream's lines saying its client went away before the answer was written: the
# caller gave up (its own timeout), the upstream did its work.  Node/gunicorn's EPIPE
# on a closed socket, Tomcat's ``ClientAbortException``, Go's ``broken pipe`` on
# write, an "aborted" request.
CALLER_GAVE_UP: tuple[str, ...] = (
    r"\bEPIPE\b",
    r"\bbroken pipe\b",
    r"\bclient (closed|aborted|disconnected|went away|has gone away)\b",
    r"\bClientAbortException\b",
    r"\brequest aborted\b",
)
GUNICORN_EPIPE = "https://github.com/benoitc/gunicorn/blob/master/gunicorn/workers/base_async.py"
TOMCAT_CLIENT_ABORT = (
    "https://tomcat.apache.org/tomcat-9.0-doc/api/org/apache/catalina/connector/"
    "ClientAbortException.html"
)

# A proxy saying it has no server left to send a request to: every server of the backend
# (cluster) is out of its load balancing, by its own health checks or passive ejection.
# HAProxy logs "backend <name> has no server available!" when the last server goes DOWN
# and then answers 503 with the server field ``<NOSRV>`` (no server was picked) and a
# termination state starting ``SC`` in its HTTP log (configuration manual, 8.2.3 "HTTP log
# format" and 8.5 "Session state at disconnection"); Envoy answers 503 "no healthy
# upstream" with the response flag ``UH`` (response code details ``no_healthy_upstream``).
# When the servers behind it are healthy and idle (nothing reaches them), the proxy's own
# health checking (a wrong ``option httpchk`` path, a wrong expected status, a wrong port)
# took them all out: the proxy is the root, nothing behind it is to drain.
NO_UPSTREAM_LEFT: tuple[str, ...] = (
    r"backend \S+ has no server available",
    r"/<NOSRV> [-+0-9/]+ 5\d\d ",
    r"\bno healthy upstream\b",
    r"\bno_healthy_upstream\b",
    r"\"response_flags\"\s*:\s*\"([A-Z]+,)*UH(,[A-Z]+)*\"",
    r"\" 503 ([A-Z]+,)*UH(,[A-Z]+)* ",
)
HAPROXY_HTTP_LOG = "https://docs.haproxy.org/2.8/configuration.html#8.2.3"
HAPROXY_HTTPCHK = "https://docs.haproxy.org/2.8/configuration.html#4.2-option%20httpchk"
HAPROXY_PROMEX = "https://github.com/haproxy/haproxy/blob/master/addons/promex/README"
ENVOY_HEALTH_CHECKING = (
    "https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking"
)

# A proxy's own rate limit answering 429 to a large, lasting share of its requests: a limit
# keyed on the source address meets many users behind one address (an office NAT, a
# carrier's CGNAT), or a limit set far below the traffic.  Traefik's RateLimit middleware
# (average/burst per source, ``sourceCriterion`` the remote address unless set) answers
# 429 itself, its access log saying so with an empty ``ServiceURL``; nginx's ``limit_req``
# and Envoy's local rate limit (response flag ``RL``) do the same.  The share is the
# ``<family> 429 ratio`` of a status-labelled request counter (``core.diagnosis.derived``).
RATE_LIMIT_RATIO = r"^\S+ 429 ratio$"
# Its access lines of such an answer: Traefik's 429 that no service gave (``OriginStatus``
# 0), Envoy's local rate limit (flag ``RL``, details ``local_rate_limited``); nginx's
# error-log line of ``limit_req`` (``catalog.gate.RATE_LIMIT_LINES``).
OWN_RATE_LIMIT_ANSWERS: tuple[str, ...] = (
    r"\"DownstreamStatus\"\s*:\s*429\b.*\"OriginStatus\"\s*:\s*0\b",
    r"\blocal_rate_limited\b",
    r"\"response_flags\"\s*:\s*\"([A-Z]+,)*RL(,[A-Z]+)*\"",
    r"\" 429 ([A-Z]+,)*RL(,[A-Z]+)* ",
    *RATE_LIMIT_LINES,
)
TRAEFIK_RATELIMIT = "https://doc.traefik.io/traefik/middlewares/http/ratelimit/"
TRAEFIK_ACCESS_LOG = "https://doc.traefik.io/traefik/observability/access-logs/"
TRAEFIK_METRICS = "https://doc.traefik.io/traefik/observability/metrics/overview/"
NGINX_LIMIT_REQ = "https://nginx.org/en/docs/http/ngx_http_limit_req_module.html"
RFC_6585_429 = "https://www.rfc-editor.org/rfc/rfc6585#section-4"

EDGE_MODES: tuple[FailureMode, ...] = (
    mode(
        PROXY,
        "stale upstream (unreachable address)",
        logs=UPSTREAM_UNREACHABLE,
        sources=(
            NGINX_PROXY_MODULE,
            NGINX_RESOLVER,
            NGINX_UPSTREAM,
            NGINX_DNS_BLOG,
            ENVOY_RESPONSE_FLAGS,
            HAPROXY_TERMINATION,
            LINUX_ERRNO,
        ),
    ),
    mode(
        PROXY,
        "certificate expired",
        metrics=(r"^probe_ssl_earliest_cert_expiry", r"^probe_success", r"^probe_http_status_code"),
        logs=HANDSHAKE_REFUSED,
        sources=(NGINX_SSL, OPENSSL_ALERTS, BLACKBOX_EXPORTER, LETSENCRYPT_EXPIRY),
    ),
    mode(
        PROXY,
        "own timeout misconfigured below the upstream's answer time",
        logs=READ_TIMED_OUT + OWN_TIMEOUT_ANSWERS,
        sources=(
            NGINX_READ_TIMEOUT,
            ENVOY_ROUTE_TIMEOUT,
            HAPROXY_TIMEOUT_SERVER,
            ENVOY_RESPONSE_FLAGS,
            HAPROXY_TERMINATION,
            LINUX_ERRNO,
            GUNICORN_EPIPE,
            TOMCAT_CLIENT_ABORT,
        ),
    ),
    mode(
        PROXY,
        "connection limit of its own (maxconn) reached",
        # the gauges at their declared maximum: ``catalog.limits.DECLARED_MAXIMA``
        metrics=(
            r"^haproxy_process_(current|max)_(ssl_)?connections$",
            r"^haproxy_frontend_(current|limit)_sessions$",
        ),
        logs=OWN_LIMIT_REACHED,
        sources=(HAPROXY_MAXCONN, HAPROXY_FRONTEND_MAXCONN),
    ),
    mode(
        PROXY,
        "health check misconfiguration (no server left in the backend)",
        # HAProxy's exporter: each server's state and last check, the backend's active servers
        metrics=(
            r"^haproxy_server_status$",
            r"^haproxy_server_check_",
            r"^haproxy_backend_active_servers$",
        ),
        logs=NO_UPSTREAM_LEFT,
        sources=(
            HAPROXY_HTTP_LOG,
            HAPROXY_TERMINATION,
            HAPROXY_HTTPCHK,
            HAPROXY_PROMEX,
            ENVOY_RESPONSE_FLAGS,
            ENVOY_HEALTH_CHECKING,
        ),
    ),
    mode(
        PROXY,
        "rate limit misconfiguration (its own 429s to ordinary users)",
        metrics=(RATE_LIMIT_RATIO,),
        logs=OWN_RATE_LIMIT_ANSWERS,
        sources=(
            TRAEFIK_RATELIMIT,
            TRAEFIK_ACCESS_LOG,
            TRAEFIK_METRICS,
            NGINX_LIMIT_REQ,
            ENVOY_RESPONSE_FLAGS,
            RFC_6585_429,
        ),
    ),
    mode(
        PROXY,
        "route misconfiguration (a rewrite or routing change: routes it served now refused)",
        metrics=(ROUTE_REFUSAL_METRIC,),
        logs=CONFIG_RELOAD_LINES,
        sources=(
            NGINX_URI_REPLACEMENT,
            NGINX_REWRITE,
            NGINX_CONTROL,
            ENVOY_PREFIX_REWRITE,
            TRAEFIK_STRIPPREFIX,
            RFC_9110_4XX,
        ),
    ),
    mode(
        PROXY,
        "access rule misconfiguration (its own deny rules refusing the clients it served)",
        metrics=(RULE_REFUSAL_METRIC,),
        logs=RULE_REFUSAL_LINES,
        sources=(NGINX_ACCESS, ENVOY_RBAC, HAPROXY_DENY, TRAEFIK_IPALLOWLIST, RFC_9110_4XX),
    ),
)
