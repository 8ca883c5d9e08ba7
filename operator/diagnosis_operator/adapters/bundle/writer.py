"""Write an incident bundle folder (format v1) from recorded series and log streams.

The inverse of ``loader``: ``incident.yaml`` (window, symptom, topology),
``metrics.om`` (OpenMetrics with a ``# TYPE`` line per family, timestamps on
every sample, ``# EOF`` last) and ``logs.jsonl`` (one entry per line, time
order, microsecond timestamps so lines a shipper stamped apart stay apart).

Families follow OpenMetrics: a counter exposed as ``x_total`` is family ``x``
(family ``x_total`` when ``x`` is another family, which the loader accepts);
``x_bucket``/``x_sum``/``x_count`` belong to histogram (or summary) ``x``.  A
series whose family type is not known is written as ``unknown``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from diagnosis_operator.models.bundle import BUNDLE_FORMAT, INCIDENT_FILE, LOGS_FILE, METRICS_FILE
from diagnosis_operator.models.signals import (
    LogStream,
    MetricType,
    Series,
    Window,
    from_seconds,
    isoformat_z,
)
from diagnosis_operator.models.topology import Topology

_SUFFIXES = {
    MetricType.HISTOGRAM: ("_bucket", "_sum", "_count"),
    MetricType.SUMMARY: ("_sum", "_count"),
}
# Series Prometheus makes itself for every scrape: gauges, never in the metadata API.
_SCRAPE_GAUGES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)


class BundleWriteError(ValueError):
    """The output folder cannot take a bundle (it exists and is not empty)."""


def family_of(name: str, types: Mapping[str, MetricType]) -> tuple[str, MetricType]:
    """The OpenMetrics family of sample ``name`` and its type.  Pure."""
    known = types.get(name)
    if known is MetricType.COUNTER:
        base = name.removesuffix("_total")
        # ``x_total`` is family ``x``, unless ``x`` is a family of its own (Go's
        # ``go_memstats_alloc_bytes`` gauge beside its ``_total`` counter).
        return (base if base != name and base not in types else name), known
    if known is not None:
        return name, known
    for family_type, suffixes in _SUFFIXES.items():
        for suffix in suffixes:
            base = name.removesuffix(suffix)
            if base != name and types.get(base) is family_type:
                return base, family_type
    if name in _SCRAPE_GAUGES:
        return name, MetricType.GAUGE
    return name, MetricType.UNKNOWN


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def _stamp(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics_lines(series: Sequence[Series], types: Mapping[str, MetricType]) -> Iterable[str]:
    """``metrics.om`` line by line: families together, each with its ``# TYPE``.  Pure."""
    families: dict[str, tuple[MetricType, list[Series]]] = {}
    for item in series:
        family, family_type = family_of(item.name, types)
        families.setdefault(family, (family_type, []))[1].append(item)
    for family in sorted(families):
        family_type, members = families[family]
        yield f"# TYPE {family} {family_type.value}"
        for item in sorted(members, key=lambda s: (s.name, tuple(s.labels.items()))):
            labels = ",".join(f'{key}="{_escape(value)}"' for key, value in item.labels.items())
            head = f"{item.name}{{{labels}}}" if labels else item.name
            for ts, value in zip(item.timestamps, item.values, strict=True):
                yield f"{head} {format_value(value)} {_stamp(ts)}"
    yield "# EOF"


def rfc3339_micro(seconds: float) -> str:
    moment = from_seconds(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def log_entries(streams: Sequence[LogStream]) -> list[str]:
    """``logs.jsonl`` lines in time order.  Pure."""
    entries = [
        (line.ts, dict(stream.labels), line.line) for stream in streams for line in stream.lines
    ]
    entries.sort(key=lambda entry: entry[0])
    return [
        json.dumps({"ts": rfc3339_micro(ts), "labels": labels, "line": text}, ensure_ascii=False)
        for ts, labels, text in entries
    ]


def incident_document(
    *,
    name: str,
    description: str,
    window: Window,
    topology: Topology,
    symptom: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``incident.yaml``.  Pure."""
    document: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "name": name,
        "description": description,
        "window": {"start": isoformat_z(window.start), "end": isoformat_z(window.end)},
    }
    if symptom:
        document["symptom"] = dict(symptom)
    document["topology"] = {
        "components": [
            {
                "name": component.name,
                "kind": component.kind.value,
                "selector": dict(component.selector),
                **({"dependsOn": list(component.depends_on)} if component.depends_on else {}),
            }
            for component in topology
        ]
    }
    document.update(extra or {})
    return document


def write_bundle(
    folder: Path,
    *,
    incident: Mapping[str, Any],
    series: Sequence[Series],
    types: Mapping[str, MetricType],
    streams: Sequence[LogStream],
) -> Path:
    """Write the three files into ``folder`` (created; an existing non-empty one is refused)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BundleWriteError(f"{folder}: exists and is not an empty folder; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INCIDENT_FILE).write_text(
        yaml.safe_dump(dict(incident), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    with (folder / METRICS_FILE).open("w", encoding="utf-8", newline="\n") as handle:
        for line in openmetrics_lines(series, types):
            handle.write(line + "\n")
    with (folder / LOGS_FILE).open("w", encoding="utf-8", newline="\n") as handle:
        for line in log_entries(streams):
            handle.write(line + "\n")
    return folder
