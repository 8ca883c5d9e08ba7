"""``diagnosis-operator``: one entry point, one module per subcommand.

Each subcommand module in ``diagnosis_operator.entrypoints.cli`` exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args) -> int``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from diagnosis_operator import __version__
from diagnosis_operator.entrypoints.cli import (
    bundle,
    diagnose,
    nginx_reloader,
    policy,
    replay,
    report,
    run,
)

SUBCOMMANDS = (run, diagnose, replay, report, bundle, policy, nginx_reloader)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diagnosis-operator",
        description="Incident diagnosis and guarded self-healing for Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler = args.handler
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
