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
