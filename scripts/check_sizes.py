"""Small rooms: modules under ~500 lines, functions under ~60 (``make lint``).

A module over MAX_MODULE lines, or a function over MAX_FUNCTION lines, fails the
check unless the line that opens it carries ``# size: <the reason>`` (a reason a
reviewer reads, not a blanket pass).  Prints one line per offender.

    python scripts/check_sizes.py [ROOT ...]      # default: operator/diagnosis_operator
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE = 500
MAX_FUNCTION = 60
MARK = "# size:"


def offenders(root: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE and not any(MARK in line for line in lines[:5]):
            found.append(f"{path}: module has {len(lines)} lines (max {MAX_MODULE})")
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            head = lines[node.lineno - 1]
            if length > MAX_FUNCTION and MARK not in head:
                found.append(
                    f"{path}:{node.lineno}: {node.name} has {length} lines "
                    f"(max {MAX_FUNCTION}; split it or say why with '{MARK}')"
                )
    return found


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path("operator/diagnosis_operator")]
    found = [line for root in roots for line in offenders(root)]
    print("\n".join(found) if found else "sizes: every module and function is small")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
