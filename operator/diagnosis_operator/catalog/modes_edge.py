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
  (``probe_ssl_earliest_cert_expiry`` reaches now); ``HANDSHAKE_REFUSED``.
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import PROXY, FailureMode, mode

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
)
