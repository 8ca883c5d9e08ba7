"""Ninth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout9 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-8 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "crm-mysql-ftwrl-backup-stall": (
        "mysql_cases",
        "crm_mysql_ftwrl_backup_stall",
        "the nightly dump's FLUSH TABLES WITH READ LOCK waits behind a 40-minute BI query: "
        "every write waits for the global read lock, every read for the table flush",
    ),
    "forum-mariadb-table-open-cache": (
        "mysql_cases",
        "forum_mariadb_table_open_cache",
        "posts repartitioned into 512 partitions: MariaDB's table_open_cache (2000) churns, "
        "Opened_tables +900/s, threads in 'Opening tables', pages slow, ~10 % 504",
    ),
    "events-mysql-redo-sync-flush": (
        "mysql_cases",
        "events_mysql_redo_sync_flush",
        "a backfill fills MySQL's default 100 MiB redo log: sharp checkpoints stall every "
        "write in waves, event inserts time out, ~20 % 503",
    ),
    "orders-mysql-archiver-row-locks": (
        "mysql_cases",
        "orders_mysql_archiver_row_locks",
        "the archiver CronJob runs at 09:00 peak (UTC schedule) and holds 50 000-row locks "
        "40 s at a time: checkout UPDATEs wait, 1205 lock wait timeouts and 504s",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout9.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
