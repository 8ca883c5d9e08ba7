"""Load an incident bundle folder: ``incident.yaml``, ``metrics.om``, ``logs.jsonl``.

``load_bundle`` reads the files (format v1, see ``docs/incident-bundle.md``),
validates them and fails with a ``BundleError`` whose message starts with
``file:line:``.  Large bundles parse their two signal files on two cores.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from diagnosis_operator.adapters import promql
from diagnosis_operator.adapters.bundle import background
from diagnosis_operator.adapters.bundle.errors import BundleError, ProgressCallback
from diagnosis_operator.adapters.bundle.incident import YamlLines, read_incident
from diagnosis_operator.adapters.bundle.logs_jsonl import parse_log_entries
from diagnosis_operator.adapters.bundle.openmetrics import parse_openmetrics
from diagnosis_operator.models.bundle import (
    INCIDENT_FILE,
    LOGS_FILE,
    METRICS_FILE,
    Bundle,
    LoadProgress,
    StoredSeries,
    StoredStream,
)
from diagnosis_operator.models.signals import MetricType, isoformat_z
from diagnosis_operator.models.timefmt import prometheus_ms, seconds_to_nanos


def load_bundle(
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Bundle:
    """Read and validate the bundle folder ``path``; raise ``BundleError`` on bad input.

    ``meanwhile``: work of the caller's (e.g. importing what comes next) run
    once ``logs.jsonl`` is read, while ``metrics.om`` may still be parsed in
    the forked child: a core that would wait does it instead.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(str(folder), None, "not a directory (an incident bundle is a folder)")
    incident_path = folder / INCIDENT_FILE
    metrics_path = folder / METRICS_FILE
    logs_path = folder / LOGS_FILE
    if not incident_path.is_file():
        raise BundleError(str(incident_path), None, f"missing: a bundle needs {INCIDENT_FILE}")
    if not metrics_path.is_file() and not logs_path.is_file():
        raise BundleError(
            str(folder), None, f"holds neither {METRICS_FILE} nor {LOGS_FILE}: no signals to read"
        )
    spec, topology, incident_lines = read_incident(incident_path)
    window = spec.window.to_window()

    series, family_types, streams, duplicates = _read_signals(
        metrics_path, logs_path, progress=progress, meanwhile=meanwhile
    )
    bundle = Bundle(
        path=str(folder),
        spec=spec,
        topology=topology,
        window=window,
        series=tuple(series),
        streams=tuple(streams),
        family_types=family_types,
        duplicate_lines=duplicates,
    )
    _check_selectors(bundle, incident_path, incident_lines)
    _check_window(bundle, incident_path, incident_lines)
    return bundle


_Signals = tuple[list[StoredSeries], dict[str, MetricType], list[StoredStream], int]


def _read_signals(
    metrics_path: Path,
    logs_path: Path,
    *,
    progress: ProgressCallback | None,
    meanwhile: Callable[[], object] | None,
) -> _Signals:
    """The series, family types, streams and dropped duplicates of the two signal files."""
    series: list[StoredSeries] = []
    family_types: dict[str, MetricType] = {}
    streams: list[StoredStream] = []
    duplicates = 0
    with _collector_paused():
        metrics_result = None
        if metrics_path.is_file():
            metrics_result = _start_metrics(metrics_path, progress)
        try:
            if logs_path.is_file():
                streams, duplicates = parse_log_entries(logs_path, progress=progress)
            if meanwhile is not None:
                meanwhile()
        except BaseException:
            if metrics_result is not None:  # reap the forked child; the first error wins
                with contextlib.suppress(Exception):
                    metrics_result()
            raise
        if metrics_result is not None:
            series, family_types = metrics_result()
    return series, family_types, streams, duplicates


# Above this size metrics.om is parsed in a forked child while logs.jsonl is
# parsed here (two files, two cores); below it a fork (a few milliseconds)
# costs more than it gains.  A one-hour bundle's metrics.om is a few MB.
FORK_METRICS_BYTES = 1 << 20


def _start_metrics(
    path: Path, progress: ProgressCallback | None
) -> Callable[[], tuple[list[StoredSeries], dict[str, MetricType]]]:
    """Start parsing ``metrics.om``; the returned call gives its result (and reports it)."""
    if path.stat().st_size < FORK_METRICS_BYTES:
        parsed = parse_openmetrics(path, progress=progress)
        return lambda: parsed
    reports: list[LoadProgress] = []

    def parse() -> tuple[list[StoredSeries], dict[str, MetricType], list[LoadProgress]]:
        series, types = parse_openmetrics(path, progress=reports.append)
        return series, types, reports[-1:]

    pending = background.start_forked(parse)

    def result() -> tuple[list[StoredSeries], dict[str, MetricType]]:
        series, types, last = pending()
        if progress is not None:
            for report in last:
                progress(report)
        return series, types

    return result


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing.

    Parsing allocates millions of containers that live on; every collection
    would walk them all again, which made loading several times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _component_location(bundle: Bundle, name: str) -> tuple[Any, ...]:
    for index, component in enumerate(bundle.spec.topology.components):
        if component.name == name:
            return ("topology", "components", index, "selector")
    return ("topology",)


def _check_selectors(bundle: Bundle, path: Path, lines: YamlLines) -> None:
    for component in bundle.topology:
        if bundle.series_of(component.selector) or bundle.streams_of(component.selector):
            continue
        raise BundleError(
            str(path),
            lines.line_of(_component_location(bundle, component.name)),
            f"component {component.name!r}: selector {promql.selector(component.selector)} "
            f"matches no series in {METRICS_FILE} and no stream in {LOGS_FILE}",
        )


def _check_window(bundle: Bundle, path: Path, lines: YamlLines) -> None:
    window = bundle.window
    start_ms, end_ms = prometheus_ms(window.start), prometheus_ms(window.end)
    start_ns, end_ns = seconds_to_nanos(window.start), seconds_to_nanos(window.end)
    first: list[float] = []
    last: list[float] = []
    timed = [(stored.timestamps_ms, 1e3, start_ms, end_ms) for stored in bundle.series]
    timed += [(stream.timestamps_ns, 1e9, start_ns, end_ns) for stream in bundle.streams]
    for stamps, per_second, start, end in timed:
        first.append(float(stamps[0]) / per_second)
        last.append(float(stamps[-1]) / per_second)
        low = int(np.searchsorted(stamps, start, side="left"))
        if low < len(stamps) and stamps[low] <= end:
            return
    span = (
        f"the data spans [{isoformat_z(min(first))}, {isoformat_z(max(last))}]"
        if first
        else "the bundle holds no data"
    )
    raise BundleError(
        str(path),
        lines.line_of(("window",)),
        f"window {window} holds no metric sample and no log line; {span}",
    )
