"""``python -m examples.incidents.holdout11 NAME|all --out DIR``."""

from __future__ import annotations

import argparse
import sys

from examples.incidents.holdout11 import SCENARIOS, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.incidents.holdout11")
    parser.add_argument("name", help=f"one of {', '.join(SCENARIOS)}, or 'all'")
    parser.add_argument("--out", required=True, help="parent folder; the bundle goes to OUT/NAME")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.name == "all" else [args.name]
    for name in names:
        try:
            print(generate(name, args.out))
        except ValueError as error:
            print(f"holdout11: error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
