"""What the incident gate knows of components: availability gauges and stateless kinds.

Pure data (see ``core.diagnosis.gate``).

*Availability gauges* are the series an exporter sets to 0 when it cannot reach
the server it watches, or Prometheus sets to 0 when a scrape fails:

* Prometheus ``up`` (https://prometheus.io/docs/concepts/jobs_instances/
  "up{job, instance}: 1 if the instance is healthy, i.e. reachable, or 0 if the
  scrape failed");
* redis_exporter ``redis_up`` (https://github.com/oliver006/redis_exporter,
  "redis_up" in the exporter's metrics), mysqld_exporter ``mysql_up``
  (https://github.com/prometheus/mysqld_exporter, "mysql_up: Whether the MySQL
  server is up"), postgres_exporter ``pg_up``
  (https://github.com/prometheus-community/postgres_exporter, "pg_up: Whether the
  last scrape of metrics from PostgreSQL was able to connect to the server"),
  nginx-prometheus-exporter ``nginx_up``
  (https://github.com/nginx/nginx-prometheus-exporter, "nginx_up: Status of the
  last metric scrape").

*Stateless kinds* are the tiers whose instances are interchangeable behind a load
balancer or a Service: one of them down while its siblings serve is routine
(Kubernetes replaces pods, a proxy ejects the failing endpoint), not an incident
by itself.  The instances of a data store are not interchangeable (a primary's
writes, a cluster's slot range): one of them down is a failover to look at,
however short (Redis Cluster specification, "Failure detection" and "Replica
election": https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).
"""

from __future__ import annotations

from diagnosis_operator.models.topology import ComponentKind

AVAILABILITY_GAUGES: frozenset[str] = frozenset({"up", "redis_up", "mysql_up", "pg_up", "nginx_up"})
AVAILABILITY_SUFFIX = "_up"  # other exporters follow the same convention (``<exporter>_up``)

STATELESS_KINDS: frozenset[ComponentKind] = frozenset({ComponentKind.APP, ComponentKind.PROXY})


def is_availability_gauge(name: str) -> bool:
    """Pure: whether a metric name is an exporter's (or Prometheus') up/down gauge."""
    return name in AVAILABILITY_GAUGES or name.endswith(AVAILABILITY_SUFFIX)


# A proxy's own rate limiter turning requests away is load shedding it was
# configured for, not a failure: nginx logs each rejection at ``limit_req_log_level``
# / ``limit_conn_log_level`` (``error`` by default) as "limiting requests, excess:
# ... by zone" / "limiting connections by zone" and answers ``limit_req_status``
# (503 by default, often set to 429):
# https://nginx.org/en/docs/http/ngx_http_limit_req_module.html,
# https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html.
RATE_LIMIT_LINES: tuple[str, ...] = (
    r"limiting requests, excess: [0-9.]+ by zone",
    r"limiting connections by zone",
)


# A client asking for what is not there is the client's error, not the proxy's:
# nginx logs each request for a missing file at ``error`` level ("open() \"...\"
# failed (2: No such file or directory)", "\"...index.html\" is not found (2: ...)",
# "directory index of \"...\" is forbidden") unless ``log_not_found off``, and
# answers 404 (403): https://nginx.org/en/docs/http/ngx_http_core_module.html#log_not_found,
# https://nginx.org/en/docs/http/ngx_http_index_module.html.  A scanner walking a
# word list fills the error log with them while every other client is served.
CLIENT_MISS_LINES: tuple[str, ...] = (
    r"open\(\) \"[^\"]*\" failed \(2: No such file or directory\)",
    r"\"[^\"]*\" is not found \(2: No such file or directory\)",
    r"directory index of \"[^\"]*\" is forbidden",
)


# An application's own telemetry failing to leave it is not the service failing: the
# OpenTelemetry SDKs log an exporter's failure and drop the batch ("Failed to export
# spans", the BatchSpanProcessor / PeriodicMetricReader threads, the OTLP exporters:
# https://opentelemetry.io/docs/specs/otel/trace/sdk/#exportbatch "Export() ... MUST NOT
# block indefinitely" and its failures are the SDK's to log; opentelemetry-java's
# GrpcExporter / OkHttpExporter "Failed to export ..."), as do the Jaeger and Zipkin
# reporters (https://www.jaegertracing.io/docs/latest/client-libraries/,
# https://zipkin.io/pages/instrumenting.html).  A collector scaled to zero fills every
# pod's error log with them while every request is served.
TELEMETRY_EXPORT_LINES: tuple[str, ...] = (
    r"failed to export (spans|metrics|logs|traces|batch)",
    r"(otlp|otel|opentelemetry)\S*\s*(\S+\s+){0,3}(exporter|export)\S*\s*(\S+\s+){0,6}"
    r"(fail|error|unavailable|refused|timed? ?out)",
    r"(batchspanprocessor|periodicmetricreader|batchlogrecordprocessor|otlpexportererror)",
    # the Go SDK's global error handler ("traces export: context deadline exceeded"), the
    # Python OTLP exporters ("... encountered while exporting traces to ..., retrying")
    r"\b(traces|metrics|logs) export: ",
    r"while exporting (traces|metrics|logs|spans)",
    r"(jaeger|zipkin)\S*\s*(\S+\s+){0,4}(reporter|sender|exporter)\S*\s*(\S+\s+){0,6}"
    r"(fail|error|refused)",
)


# A monitoring agent's own errors are its observability's trouble, not its service's: the
# Prometheus exporters log each collector that failed and report it as their own
# ``*_exporter_collector_success 0`` / ``*_scrape_collector_success 0``, the service
# answering its clients as before.  mysqld_exporter logs ``msg="Error from scraper"`` for a
# collector whose statements its user may not run (the README's "Required Grants":
# PROCESS, REPLICATION CLIENT, SELECT; https://github.com/prometheus/mysqld_exporter#required-grants),
# postgres_exporter "collector failed" (https://github.com/prometheus-community/postgres_exporter),
# and the database itself logs the denial for the agent's user (MySQL error 1142
# ER_TABLEACCESS_DENIED_ERROR, 1045 ER_ACCESS_DENIED_ERROR:
# https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html) under the
# user names the agents' documentation creates (``exporter``, ``datadog``, ``telegraf``,
# ``pmm``, ``zabbix``, ``monitor``).  Its callers' symptoms, if any, still count.
MONITORING_AGENT_LINES: tuple[str, ...] = (
    r"msg=\"?error from scraper",
    r"\bcollector failed\b.{0,40}\bname=",
    r"(command|access) denied (to|for) user '?(mysqld_)?(exporter|datadog|telegraf|pmm\w*|"
    r"zabbix\w*|monitor\w*|prometheus\w*)'?@",
)

# A request refused for its credentials is the client's error, not the service failing:
# 401 "lacks valid authentication credentials" and 403 "understood the request but refuses
# to fulfill it" are client errors (RFC 9110 sections 15.5.2 and 15.5.4,
# https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2); a bearer token "expired, revoked,
# malformed, or invalid" is answered 401 ``invalid_token`` and "the client MAY request a new
# access token and retry" (RFC 6750 section 3.1,
# https://www.rfc-editor.org/rfc/rfc6750#section-3.1); a JWT past ``exp``, before ``nbf`` or
# signed by a key no longer in the key set (its ``kid``, RFC 7517 section 4.5 and RFC 7519
# section 4.1, https://www.rfc-editor.org/rfc/rfc7519#section-4.1) MUST be rejected.  A
# planned signing-key rotation (Auth0 "Rotate Signing Keys",
# https://auth0.com/docs/get-started/tenant-settings/signing-keys/rotate-signing-keys:
# tokens signed with the revoked key are invalid, clients get new ones) fills every
# instance's log with such rejections while every refreshed client is served.  The
# wording of the common JWT libraries: golang-jwt ("token is expired", "token used before
# issued", "signature is invalid"), PyJWT (ExpiredSignatureError "Signature has expired",
# InvalidSignatureError), jsonwebtoken ("jwt expired", "invalid signature"), Spring
# Security's BearerTokenAuthenticationFilter ("invalid_token", "Jwt expired at"), jjwt's
# ExpiredJwtException.
AUTH_REFUSAL_LINES: tuple[str, ...] = (
    r"\binvalid[_ ]token\b",
    r"\btoken[_. ]?(rejected|expired|revoked|invalid)\b",
    r"\b(token|jwt)\b\S*\s*(\S+\s+){0,6}(is )?(expired|not (yet )?valid|used before issued"
    r"|revoked|signature (is )?invalid|invalid signature)",
    r"\b(unknown|unrecognized|unrecognised|no matching) (kid|key id|signing key)\b",
    r"\bkid\b\S*\s*(\S+\s+){0,3}not found",
    r"\bsignature has expired\b",
    r"\b(JsonWebTokenError|TokenExpiredError|NotBeforeError|ExpiredJwtException)\b",
    r"\b(401 unauthori[sz]ed|403 forbidden|unauthenticated|permission_denied)\b",
)

# Refusals are the clients' own fault when every instance refuses them alike; an instance
# refusing what its siblings accept (a pod whose node's clock jumped, its own stale key
# set) is that instance failing.  Spread: no instance holds more than this share of them.
AUTH_SPREAD_SHARE = 0.8
