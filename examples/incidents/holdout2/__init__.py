"""Second held-out set: causes and shapes the first two sets do not cover.

``python -m examples.incidents.holdout2 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
The expected diagnosis of each is ``expected/NAME.yaml`` (the schema of
``examples/incidents/holdout/expected``; a client entry may be a network,
``{network: CIDR}``, see ``tests/integration/test_holdout2_scenarios.py``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

SCENARIOS: dict[str, str] = {
    "mysql-disk-full": "examples.incidents.holdout2.mysql_disk_full",
    "two-tier-cascade-with-retry-amplification": "examples.incidents.holdout2.retry_cascade",
    "oom-crashloop-pod": "examples.incidents.holdout2.oom_crashloop",
    "credential-stuffing": "examples.incidents.holdout2.credential_stuffing",
    "redis-failover": "examples.incidents.holdout2.redis_failover",
    "noisy-but-healthy": "examples.incidents.holdout2.noisy_but_healthy",
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
