"""Write incident bundles: ``python examples/incidents/generate.py NAME|all --out DIR``.

Each bundle goes to ``DIR/NAME`` (``incident.yaml``, ``metrics.om``, ``logs.jsonl``).
Importable too: ``generate(name, out_dir)`` returns the bundle folder.
Every scenario is deterministic: the same name writes the same bytes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SCENARIOS: dict[str, str] = {
    "reference": "examples.incidents.reference",
    "cache-outage": "examples.incidents.cache_outage",
    "bad-pod": "examples.incidents.bad_pod",
    "client-flood": "examples.incidents.client_flood",
    "quiet": "examples.incidents.quiet",
    "db-lock-storm": "examples.incidents.db_lock_storm",
}
# Not part of "all": the benchmark bundle is large (see large.py).
EXTRA: dict[str, str] = {"large": "examples.incidents.large"}
HERE = Path(__file__).resolve().parent


def expected_path(name: str) -> Path:
    """The YAML holding a scenario's expected diagnosis."""
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    """Write scenario ``name`` into ``out_dir/name`` and return that folder."""
    module_name = SCENARIOS.get(name) or EXTRA.get(name)
    if module_name is None:
        known = ", ".join([*SCENARIOS, *EXTRA])
        raise ValueError(f"unknown scenario {name!r} (known: {known})")
    module = importlib.import_module(module_name)
    folder = Path(out_dir) / name
    if hasattr(module, "write"):
        module.write(folder)
    else:
        module.build().write(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="scenario name, or 'all' (every scenario but 'large')")
    parser.add_argument("--out", required=True, help="parent folder; the bundle goes to OUT/NAME")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.name == "all" else [args.name]
    for name in names:
        try:
            folder = generate(name, args.out)
        except ValueError as error:
            print(f"generate.py: error: {error}", file=sys.stderr)
            return 2
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
