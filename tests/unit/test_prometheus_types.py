"""Declared metric types from Prometheus' metadata API, matched to series names."""

from __future__ import annotations

from diagnosis_operator.adapters.prometheus_types import family_types, type_of
from diagnosis_operator.models.signals import MetricType

ENTRIES = [
    {"metric_name": "redis_slowlog_length", "type": "gauge"},
    {"metric_name": "http_requests", "type": "counter"},
    {"metric_name": "rpc_seconds", "type": "histogram"},
    {"metric_name": "old_style_total", "type": "counter"},
    {"metric_name": "mysql_global_status_questions", "type": "unknown"},
    {"metric_name": "redis_slowlog_length", "type": "counter"},  # a second target: first wins
]


def test_series_get_their_familys_declared_type() -> None:
    types = family_types(ENTRIES)
    assert type_of("redis_slowlog_length", types) is MetricType.GAUGE
    assert type_of("http_requests_total", types) is MetricType.COUNTER  # OpenMetrics family
    assert type_of("old_style_total", types) is MetricType.COUNTER  # text format name
    assert type_of("rpc_seconds_bucket", types) is MetricType.HISTOGRAM
    assert type_of("rpc_seconds_count", types) is MetricType.HISTOGRAM
    # untyped (mysqld_exporter's global status) and unknown names stay unknown
    assert type_of("mysql_global_status_questions", types) is MetricType.UNKNOWN
    assert type_of("never_seen", types) is MetricType.UNKNOWN
