"""`diagnosis-operator bundle record`: capture a live window as an incident bundle.

    diagnosis-operator bundle record --prometheus http://prometheus:9090 \
        --loki http://loki:3100 --policy policy.yaml \
        --from 2026-01-05T10:00:00Z --to 2026-01-05T10:30:00Z --out incident-1

The policy file is a DiagnosisPolicy manifest (or its ``spec``); its components
become the bundle's topology.  Per component, the metrics are read through the
query the live diagnosis sends (the raw series of the component's selector at
the diagnosis step: ``thresholds.step`` or the automatic one, or ``--step``),
with the family types from Prometheus' metadata API, and every log line of the
component's streams (at most ``--max-lines``); ``--lookback`` adds metrics from
before the window, the history live rates read.  The bundle then diagnoses
offline with ``diagnose --bundle DIR`` and replays with ``replay``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from diagnosis_operator.adapters.bundle import BundleError, load_bundle
from diagnosis_operator.adapters.bundle.writer import (
    BundleWriteError,
    incident_document,
    write_bundle,
)
from diagnosis_operator.api.policy import DiagnosisPolicySpec
from diagnosis_operator.entrypoints.bootstrap.signals import (
    Endpoint,
    build_sources,
    prometheus_adapter,
)
from diagnosis_operator.entrypoints.cli import fail
from diagnosis_operator.models.signals import Window, utc_seconds
from diagnosis_operator.ports import SignalError
from diagnosis_operator.service.collect import choose_step
from diagnosis_operator.service.record import DEFAULT_MAX_LINES, record_window


def register(actions: Any) -> None:
    record = actions.add_parser(
        "record",
        help="capture a live window (Prometheus + Loki) as a bundle",
        description="Capture a live window from Prometheus and Loki as an incident bundle.",
    )
    record.add_argument("--prometheus", required=True, metavar="URL")
    record.add_argument("--loki", required=True, metavar="URL")
    record.add_argument("--loki-tenant", metavar="TENANT", help="X-Scope-OrgID for Loki")
    record.add_argument("--policy", required=True, metavar="FILE", help="a DiagnosisPolicy")
    record.add_argument("--from", dest="start", required=True, metavar="TIME")
    record.add_argument("--to", dest="end", required=True, metavar="TIME")
    record.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    record.add_argument("--name", help="the bundle's name (default: the folder's)")
    record.add_argument("--description", default="")
    record.add_argument("--symptom-component", metavar="NAME", help="where users saw it")
    record.add_argument("--step", type=float, metavar="SECONDS", help="override the step")
    record.add_argument("--max-lines", type=int, default=DEFAULT_MAX_LINES, metavar="N")
    record.add_argument(
        "--lookback",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also record metrics this long before --from (history for rates; default 0)",
    )
    record.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    record.set_defaults(handler=run)


def parse_time(text: str, flag: str) -> float:
    """RFC 3339 (``2026-01-05T10:00:00Z``) or epoch seconds; the flag named on error."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return utc_seconds(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is neither RFC 3339 nor epoch seconds") from None


def read_policy(path: str) -> DiagnosisPolicySpec:
    """A DiagnosisPolicy manifest or its spec; errors name the file and the field."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: {error}") from None
    if isinstance(data, dict) and "spec" in data:
        data = data["spec"]
    try:
        return DiagnosisPolicySpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        raise ValueError(f"{path}: spec.{where}: {first['msg']}") from None


def run(args: argparse.Namespace) -> int:
    try:
        window = Window(parse_time(args.start, "--from"), parse_time(args.end, "--to"))
        policy = read_policy(args.policy)
    except ValueError as error:
        return fail(str(error))
    topology = policy.to_topology()
    step = args.step or policy.thresholds.to_engine_settings().step or choose_step(window)
    prometheus = Endpoint(backend="prometheus", url=args.prometheus, timeout=args.timeout)
    loki = Endpoint(backend="loki", url=args.loki, timeout=args.timeout, tenant=args.loki_tenant)
    sources = build_sources(prometheus=prometheus, loki=loki)
    try:
        recording = record_window(
            topology=topology,
            window=window,
            step=step,
            series=sources.series,
            logs=sources.logs,
            max_lines=args.max_lines,
            lookback=args.lookback,
        )
        with prometheus_adapter(prometheus) as metadata_source:
            types = metadata_source.metadata()
    except SignalError as error:
        return fail(str(error))
    out = Path(args.out)
    symptom = {"component": args.symptom_component} if args.symptom_component else None
    incident = incident_document(
        name=args.name or out.name,
        description=args.description,
        window=window,
        topology=topology,
        symptom=symptom,
    )
    try:
        write_bundle(
            out, incident=incident, series=recording.series, types=types, streams=recording.streams
        )
    except (BundleWriteError, OSError) as error:
        return fail(str(error))
    for name in recording.truncated:
        print(f"warning: {name}: log lines cut at --max-lines {args.max_lines}", file=sys.stderr)
    try:
        bundle = load_bundle(out)
    except BundleError as error:
        return fail(f"the recorded bundle does not load: {error}")
    lines = sum(len(stream) for stream in bundle.streams)
    print(
        f"recorded {out}: {len(bundle.series)} series at step {step:g} s, "
        f"{len(bundle.streams)} streams, {lines} log lines, window {bundle.window}"
    )
    return 0
