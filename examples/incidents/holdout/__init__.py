"""Held-out incident scenarios: bundles the engine was not tuned on.

``python -m examples.incidents.holdout NAME --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
The expected diagnosis of each is ``expected/NAME.yaml`` (same schema as
``examples/incidents/expected``, plus ``roles``: component -> role or list of
acceptable roles).
"""

from __future__ import annotations

import importlib
from pathlib import Path

SCENARIOS: dict[str, str] = {
    "pg-style-db-saturation": "examples.incidents.holdout.pg_style_db_saturation",
    "one-node-noisy-neighbour": "examples.incidents.holdout.noisy_neighbour",
    "redis-maxmemory-evictions": "examples.incidents.holdout.redis_evictions",
    "ipv6-retry-storm": "examples.incidents.holdout.ipv6_retry_storm",
    "daily-ramp-no-incident": "examples.incidents.holdout.daily_ramp",
    "unknown-exporter": "examples.incidents.holdout.unknown_exporter",
    "proxy-itself-broken": "examples.incidents.holdout.proxy_broken",
    "late-window-incident": "examples.incidents.holdout.late_window",
    "logs-only": "examples.incidents.holdout.logs_only",
}
HERE = Path(__file__).resolve().parent


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    module_name = SCENARIOS.get(name)
    if module_name is None:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    folder = Path(out_dir) / name
    importlib.import_module(module_name).build().write(folder)
    return folder
