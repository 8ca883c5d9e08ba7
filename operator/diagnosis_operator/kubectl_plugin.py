"""``kubectl-diagnose``: a kubectl plugin (``kubectl diagnose ...``).  Not built yet."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("kubectl-diagnose: not built yet", file=sys.stderr)
    return 2
