"""One module per ``diagnosis-operator`` subcommand; each exposes ``register``."""

from __future__ import annotations

import sys


def fail(message: str, code: int = 2) -> int:
    """Print an error for a person (no traceback) and return the exit code."""
    print(f"diagnosis-operator: error: {message}", file=sys.stderr)
    return code
