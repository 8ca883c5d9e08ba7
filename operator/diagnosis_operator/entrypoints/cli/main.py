"""``diagnosis-operator``: one entry point, one module per subcommand.

Each subcommand module in ``diagnosis_operator.entrypoints.cli`` exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args) -> int``.  Only the
module of the subcommand asked for is imported (``run`` alone pulls kopf, the
Kubernetes client and aiohttp: seconds of start-up an offline ``diagnose`` never
needs); ``--help`` without a subcommand imports them all to list them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from diagnosis_operator import __version__

# Subcommand -> the module that registers it, in the order ``--help`` lists them.
SUBCOMMANDS = {
    "run": "run",
    "diagnose": "diagnose",
    "replay": "replay",
    "report": "report",
    "bundle": "bundle",
    "policy": "policy",
    "nginx-reloader": "nginx_reloader",
}


def _asked(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (its first word that is one), if any."""
    return next((word for word in argv if word in SUBCOMMANDS), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's (the others are not imported)."""
    parser = argparse.ArgumentParser(
        prog="diagnosis-operator",
        description="Incident diagnosis and guarded self-healing for Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        if only is None or name == only:
            module = importlib.import_module(f"diagnosis_operator.entrypoints.cli.{module_name}")
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_asked(words))
    args = parser.parse_args(words)
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
