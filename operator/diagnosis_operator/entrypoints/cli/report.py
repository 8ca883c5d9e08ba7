"""`diagnosis-operator report`: render a saved diagnosis as Markdown or HTML.

The input is the JSON that ``diagnose --format json`` prints
(``DiagnosisResult.to_json()``); the output goes to stdout or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from diagnosis_operator.entrypoints.cli import fail

FORMATS = ("markdown", "html")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a saved diagnosis (JSON) as a Markdown or HTML report",
        description=(
            "Render the JSON printed by 'diagnose --format json' as a report: summary, "
            "evidence chain by layer, timeline and causal chain, root cause, recommendations. "
            "The HTML page is self-contained (inline CSS and SVG)."
        ),
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="RESULT.json",
        help="the saved diagnosis; '-' reads stdin",
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="default: markdown")
    parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    source = str(args.input)
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        return fail(f"cannot read --input {source}: {error.strerror or error}")
    except UnicodeDecodeError as error:
        return fail(f"--input {source} is not UTF-8 text: {error}")
    # imported here: every command line registers this command, few render (jinja2)
    from diagnosis_operator.report import (
        ResultFormatError,
        render_html,
        render_markdown,
        result_from_json,
    )

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return fail(
            f"--input {source} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        )
    try:
        result = result_from_json(data)
    except ResultFormatError as error:
        return fail(f"--input {source} is not a saved diagnosis: {error}")
    rendered = render_html(result) if args.format == "html" else render_markdown(result)
    if args.out:
        try:
            Path(args.out).write_text(rendered, encoding="utf-8")
        except OSError as error:
            return fail(f"cannot write --out {args.out}: {error.strerror or error}")
    else:
        sys.stdout.write(rendered)
    return 0
