"""An application's own telemetry failing to leave it is not its service failing."""

from __future__ import annotations

import pytest

from diagnosis_operator.core.diagnosis.shedding import (
    SHED_MIN_LINES,
    is_telemetry_export,
    telemetry_lines,
)

TELEMETRY = [
    # Go SDK's global error handler
    "2031/03/04 10:00:01 traces export: context deadline exceeded: rpc error: code = "
    "Unavailable desc = connection error",
    # Python OTLP gRPC exporter
    "WARNING:opentelemetry.exporter.otlp.proto.grpc.exporter:Transient error "
    "StatusCode.UNAVAILABLE encountered while exporting traces to collector:4317, retrying",
    # Python BatchSpanProcessor
    'ERROR opentelemetry.sdk._shared_internal "Failed to export batch code: 503, reason: '
    'Service Unavailable"',
    # Node's OTLP exporter
    '{"level":50,"msg":"OTLPExporterError: connect ECONNREFUSED 10.1.2.3:4318"}',
    # a Jaeger reporter
    "ERROR jaeger-client: reporter failed to flush spans: dial udp: connection refused",
]

SERVICE = [
    "ERROR OperationalError: (2003, \"Can't connect to MySQL server on '10.0.0.5' (111)\")",
    "2024/01/01 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "
    "connecting to upstream",
    'level=error msg="export job 42 failed: invoice service unavailable"',  # the app's own export
    "redis.exceptions.ConnectionError: Error 111 connecting to cache:6379. Connection refused.",
]


@pytest.mark.parametrize("line", TELEMETRY)
def test_telemetry_exporter_failures_are_read_as_telemetry(line: str) -> None:
    assert is_telemetry_export(line)


@pytest.mark.parametrize("line", SERVICE)
def test_the_service_own_errors_are_not_telemetry(line: str) -> None:
    assert not is_telemetry_export(line)


def test_a_rise_mostly_of_telemetry_lines_is_no_symptom() -> None:
    assert telemetry_lines(TELEMETRY * 2)
    assert not telemetry_lines(TELEMETRY[: SHED_MIN_LINES - 1])  # too few to tell
    # the service's own errors among them: a symptom stays a symptom
    assert not telemetry_lines(TELEMETRY + SERVICE)


MONITORING = [
    # mysqld_exporter, a collector its user lacks the grants for
    'ts=2031-03-04T10:00:01.000Z level=error msg="Error from scraper" '
    'scraper=info_schema.processlist target=10.0.0.5:3306 err="Error 1142 (42000): SELECT '
    "command denied to user 'exporter'@'10.0.0.9' for table 'PROCESSLIST'\"",
    # the database's own log of the agent's user refused
    "2031-03-04T10:00:01.000000Z 12 [Note] Access denied for user 'datadog'@'10.0.0.9' "
    "(using password: YES)",
    # postgres_exporter
    'ts=2031-03-04T10:00:01Z level=error msg="collector failed" name=stat_statements '
    'err="pq: permission denied for view pg_stat_statements"',
]

APPLICATION_DENIED = [
    # the application's own user refused: its requests fail
    "ERROR 1142 (42000): SELECT command denied to user 'app'@'10.0.0.7' for table 'orders'",
    "2031-03-04T10:00:01.000000Z 12 [Note] Access denied for user 'shop'@'10.0.0.7' "
    "(using password: YES)",
]


@pytest.mark.parametrize("line", MONITORING)
def test_a_monitoring_agents_own_errors_are_read_as_telemetry(line: str) -> None:
    assert is_telemetry_export(line)


@pytest.mark.parametrize("line", APPLICATION_DENIED)
def test_the_applications_own_user_denied_is_not_telemetry(line: str) -> None:
    assert not is_telemetry_export(line)


def test_a_rise_of_exporter_scrape_errors_is_no_symptom() -> None:
    assert telemetry_lines(MONITORING * 2)
    assert not telemetry_lines(MONITORING + APPLICATION_DENIED * 2)
