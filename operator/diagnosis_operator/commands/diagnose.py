"""`diagnosis-operator diagnose --bundle DIR`: diagnose an incident bundle offline.

Progress goes to stderr (loading, collecting, analysing); the result to stdout
or ``--out`` as JSON (the contract of docs/incident-bundle.md), Markdown or HTML.
A bundle that cannot be read exits with status 2 and says what and where.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from diagnosis_operator.commands import fail
from diagnosis_operator.models.bundle import Bundle, LoadProgress
from diagnosis_operator.models.findings import DiagnosisResult

FORMATS = ("json", "markdown", "html")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="diagnose an incident bundle offline (no cluster needed)",
        description=(
            "Read an incident bundle (incident.yaml, metrics.om, logs.jsonl) and diagnose it."
        ),
    )
    parser.add_argument("--bundle", required=True, metavar="DIR", help="the incident bundle folder")
    parser.add_argument(
        "--format", choices=FORMATS, default="json", help="output format (default: json)"
    )
    parser.add_argument("--out", metavar="FILE", help="write the result to FILE instead of stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def symptom_text(bundle: Bundle) -> str | None:
    """What the user saw, as one line: ``component route`` (either may be missing)."""
    symptom = bundle.spec.symptom
    if symptom is None:
        return None
    text = " ".join(part for part in (symptom.component, symptom.route) if part)
    return text or None


def diagnose_bundle(path: str | Path, *, progress: Any = None) -> DiagnosisResult:
    """Load a bundle and diagnose it in-process (raises ``BundleError`` for bad bundles)."""
    from diagnosis_operator.adapters.bundle_files import BundleSource, load_bundle
    from diagnosis_operator.service.pipeline import run_diagnosis

    say = progress or (lambda _text: None)
    say(f"loading {path}")

    def loaded(report: LoadProgress) -> None:
        if report.done:
            say(f"  read {report.file} ({report.lines_read} lines)")

    bundle = load_bundle(path, progress=loaded)
    source = BundleSource(bundle)
    return run_diagnosis(
        topology=bundle.topology,
        window=bundle.window,
        symptom=symptom_text(bundle),
        series=source,
        logs=source,
        now=bundle.window.end,
        on_stage=lambda stage: say("analysing" if stage == "correlating" else stage),
    )


def render(result: DiagnosisResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
    from diagnosis_operator.service import report

    if fmt == "html":
        return report.render_html(result)
    return report.render_markdown(result)


def run(args: argparse.Namespace) -> int:
    from diagnosis_operator.adapters.bundle_files import BundleError

    started = time.monotonic()

    def say(text: str) -> None:
        if not args.quiet:
            print(f"diagnose: {text}", file=sys.stderr, flush=True)

    try:
        result = diagnose_bundle(args.bundle, progress=say)
    except BundleError as error:
        return fail(f"bad incident bundle: {error}")
    except OSError as error:
        return fail(f"cannot read bundle {args.bundle}: {error}")
    text = render(result, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            return fail(f"cannot write {args.out}: {error}")
        say(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    say(
        f"done in {time.monotonic() - started:.2f} s: root cause {result.root_cause.component} "
        f"(confidence {result.root_cause.confidence:.2f})"
    )
    return 0
