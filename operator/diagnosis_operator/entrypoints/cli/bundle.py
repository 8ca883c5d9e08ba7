"""`diagnosis-operator bundle`: check and describe incident bundles (format v1).

``bundle validate DIR`` loads the bundle the way ``diagnose --bundle`` does and
prints what it holds per component, or the first problem as ``file:line: what``
with exit code 2.  ``bundle info DIR`` adds the metric families and log streams.  ``bundle record``
captures a live window from Prometheus and Loki (``cli/bundle_record.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from diagnosis_operator.adapters.bundle import BundleError, load_bundle
from diagnosis_operator.entrypoints.cli import bundle_record, fail
from diagnosis_operator.models.bundle import Bundle, summarize
from diagnosis_operator.models.signals import isoformat_z


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="validate, describe and record incident bundles",
        description="Validate, describe and record incident bundles (docs/incident-bundle.md).",
    )
    actions = parser.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="check a bundle and print a summary")
    validate.add_argument("path", metavar="DIR", help="the bundle folder")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=_validate)
    info = actions.add_parser("info", help="summary plus metric families and log streams")
    info.add_argument("path", metavar="DIR", help="the bundle folder")
    info.set_defaults(handler=_info)
    bundle_record.register(actions)


def _load(path: str) -> Bundle | None:
    try:
        return load_bundle(path)
    except BundleError as error:
        fail(str(error))
        return None
    except OSError as error:
        fail(f"{path}: {error.strerror or error}")
        return None


def _validate(args: argparse.Namespace) -> int:
    bundle = _load(args.path)
    if bundle is None:
        return 2
    if args.format == "json":
        json.dump(_summary_json(bundle), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(bundle)
    return 0


def _info(args: argparse.Namespace) -> int:
    bundle = _load(args.path)
    if bundle is None:
        return 2
    _print_summary(bundle)
    print("\nmetric families (series):")
    families = Counter(stored.name for stored in bundle.series)
    for name, count in sorted(families.items()):
        print(f"  {name:<60} {count:>6}")
    print("\nlog streams (lines):")
    for stream in bundle.streams:
        labels = ",".join(f"{name}={value}" for name, value in stream.labels.items())
        print(f"  {{{labels}}} {len(stream)}")
    return 0


def _print_summary(bundle: Bundle) -> None:
    spec = bundle.spec
    print(f"bundle {spec.name!r} ({bundle.path}): valid")
    if spec.description:
        print(f"  {spec.description}")
    print(f"window {bundle.window}")
    if spec.symptom is not None:
        route = f" route {spec.symptom.route}" if spec.symptom.route else ""
        print(f"symptom at {spec.symptom.component or '-'}{route}")
    total_lines = sum(len(stream) for stream in bundle.streams)
    print(f"{len(bundle.series)} series, {len(bundle.streams)} streams, {total_lines} log lines")
    if bundle.duplicate_lines:
        print(f"{bundle.duplicate_lines} duplicate log entries dropped (as Loki would)")
    header = (
        f"{'component':<16} {'kind':<6} {'series':>7} {'samples*':>9} {'streams':>8} "
        f"{'lines':>8} {'lines*':>8}  instances"
    )
    print(header)
    for summary in summarize(bundle):
        component = bundle.topology.get(summary.component)
        depends = f"  -> {', '.join(component.depends_on)}" if component.depends_on else ""
        print(
            f"{summary.component:<16} {summary.kind.value:<6} {summary.series:>7} "
            f"{summary.samples_in_window:>9} {summary.streams:>8} {summary.lines:>8} "
            f"{summary.lines_in_window:>8}  {', '.join(summary.instances) or '-'}{depends}"
        )
    print("(* inside the window)")


def _summary_json(bundle: Bundle) -> dict[str, Any]:
    return {
        "name": bundle.spec.name,
        "path": bundle.path,
        "window": {
            "start": isoformat_z(bundle.window.start),
            "end": isoformat_z(bundle.window.end),
        },
        "series": len(bundle.series),
        "streams": len(bundle.streams),
        "lines": sum(len(stream) for stream in bundle.streams),
        "duplicateLines": bundle.duplicate_lines,
        "components": [
            {
                "name": summary.component,
                "kind": summary.kind.value,
                "series": summary.series,
                "samplesInWindow": summary.samples_in_window,
                "streams": summary.streams,
                "lines": summary.lines,
                "linesInWindow": summary.lines_in_window,
                "instances": list(summary.instances),
            }
            for summary in summarize(bundle)
        ],
    }
