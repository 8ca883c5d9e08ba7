"""`diagnosis-operator replay --bundle DIR`: put an incident bundle into Prometheus and Loki.

Metrics are backfilled into a Prometheus TSDB folder with promtool; logs are
pushed to a Loki.  Progress goes to stderr; the end says what to start and what
to point the operator at.  A bundle that cannot be read exits with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from diagnosis_operator.entrypoints.cli import fail
from diagnosis_operator.models.signals import isoformat_z


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay an incident bundle into a Prometheus TSDB and a Loki",
        description=(
            "Backfill the bundle's metrics.om into a Prometheus TSDB folder (promtool) and "
            "push its logs.jsonl to Loki, so the operator can diagnose it live."
        ),
    )
    parser.add_argument("--bundle", required=True, metavar="DIR", help="the incident bundle folder")
    parser.add_argument(
        "--prometheus-data",
        metavar="DIR",
        type=Path,
        help="TSDB folder to write blocks into (must be empty; default: a new temp folder)",
    )
    parser.add_argument(
        "--promtool", metavar="PATH", help="the promtool binary (default: promtool on PATH)"
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add blocks to a --prometheus-data folder that already holds some",
    )
    parser.add_argument(
        "--max-block-duration",
        metavar="DURATION",
        help="promtool's --max-block-duration (e.g. 24h; default: promtool's 2h)",
    )
    parser.add_argument("--loki-url", metavar="URL", help="push logs.jsonl to this Loki")
    parser.add_argument("--loki-tenant", metavar="ID", help="X-Scope-OrgID for the push")
    parser.add_argument(
        "--batch-lines", type=int, default=5000, metavar="N", help="log lines per push request"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from diagnosis_operator.adapters.bundle import BundleError
    from diagnosis_operator.adapters.replay import ReplayError, replay_bundle
    from diagnosis_operator.ports import SignalError

    def say(text: str) -> None:
        if not args.quiet:
            print(f"replay: {text}", file=sys.stderr, flush=True)

    if args.batch_lines < 1:
        return fail(f"--batch-lines must be at least 1, got {args.batch_lines}")
    try:
        result = replay_bundle(
            bundle_dir=Path(args.bundle),
            prometheus_data=args.prometheus_data,
            promtool=args.promtool,
            loki_url=args.loki_url,
            loki_tenant=args.loki_tenant,
            append=args.append,
            max_block_duration=args.max_block_duration,
            batch_lines=args.batch_lines,
            progress=say,
        )
    except BundleError as error:
        return fail(str(error))
    except ReplayError as error:
        return fail(str(error))
    except SignalError as error:
        return fail(f"pushing logs failed: {error}")
    except ValueError as error:
        return fail(str(error))

    window = f"{isoformat_z(result.window.start)} .. {isoformat_z(result.window.end)}"
    lines = [f"Replayed bundle {result.bundle!r}; incident window {window}."]
    command = result.prometheus_command()
    if command is not None and result.backfill is not None:
        lines += [
            f"Prometheus TSDB: {result.backfill.data_dir} "
            f"({len(result.backfill.blocks)} block(s)). Start Prometheus on it:",
            "  " + shlex.join(command),
        ]
    else:
        lines.append("No metrics were backfilled.")
    if result.loki_url:
        lines.append(
            f"Loki: {result.loki_url} ({result.lines_pushed} lines in "
            f"{result.streams_pushed} streams)"
        )
    lines += [
        "Then point the operator at them, e.g.:",
        "  diagnosis-operator run --prometheus-url http://127.0.0.1:9090"
        + (f" --loki-url {shlex.quote(result.loki_url)}" if result.loki_url else "")
        + (f" --loki-tenant {shlex.quote(args.loki_tenant)}" if args.loki_tenant else ""),
        f"and diagnose the window {window}.",
    ]
    print("\n".join(lines))
    return 0
