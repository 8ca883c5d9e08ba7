"""`diagnosis-operator replay`: not built yet."""

from __future__ import annotations

import argparse
from typing import Any

from diagnosis_operator.commands import fail


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="(not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace) -> int:
    return fail("'replay' is not built yet")
