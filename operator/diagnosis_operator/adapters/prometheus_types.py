"""Metric types from Prometheus' metadata API (``/api/v1/metadata``).  Pure helpers.

Prometheus keeps the ``# TYPE`` its scrapes declared (per metric family, for
as long as a target exposes it); a range query does not carry it.  The live
source looks the families up once per Diagnosis and gives each series the type
its exporter declared, as the offline source does from a bundle's ``# TYPE``
lines.  Backfilled data, Thanos or Mimir frontends without metadata, or a
Prometheus that refuses the call leave the type unknown: the core then falls
back on naming conventions (``core.diagnosis.counters``).

https://prometheus.io/docs/prometheus/latest/querying/api/#querying-metric-metadata
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from diagnosis_operator.models.signals import MetricType

_TYPES = {
    "counter": MetricType.COUNTER,
    "gauge": MetricType.GAUGE,
    "histogram": MetricType.HISTOGRAM,
    "gaugehistogram": MetricType.HISTOGRAM,
    "summary": MetricType.SUMMARY,
}
# A family's samples: counter ``_total`` (and ``_created``); histogram and
# summary ``_count``, ``_sum``, ``_bucket``.
_SAMPLE_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")


def family_types(entries: Iterable[Mapping[str, object]]) -> dict[str, MetricType]:
    """Pure: ``{family: type}`` from the client's metadata entries (first entry wins)."""
    types: dict[str, MetricType] = {}
    for entry in entries:
        name = str(entry.get("metric_name") or "")
        kind = _TYPES.get(str(entry.get("type") or "").lower())
        if name and kind is not None:
            types.setdefault(name, kind)
    return types


def type_of(name: str, types: Mapping[str, MetricType]) -> MetricType:
    """Pure: the declared type of the series ``name``, or UNKNOWN.

    The series' own name first (text format declares ``foo_total``), then its
    family (OpenMetrics declares ``foo`` for the sample ``foo_total``).
    """
    if name in types:
        return types[name]
    for suffix in _SAMPLE_SUFFIXES:
        if name.endswith(suffix) and (family := name[: -len(suffix)]) in types:
            return types[family]
    return MetricType.UNKNOWN
