"""Round-6 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout6.lab_faults record NAME \
        [--out examples/incidents/holdout6/lab] [--workdir out/rt6-lab]

Same procedure as round 5 (``holdout5.lab_faults.play``: a fresh lab, 30 s warm-up, 90 s
baseline, the fault for 90 s, the window closing while it still runs, ``bundle record``
and the ``expected.yaml`` the injection calls for, written before any diagnosis; nothing
is diagnosed here).  Faults, each bounded in time and always undone:

* ``mysql-global-read-lock``: a "backup" session runs ``FLUSH TABLES WITH READ LOCK`` and
  holds it (as mysqldump --lock-all-tables or a snapshot script does); every write waits
  for the global read lock, so the API's view counter (an UPDATE on each item request)
  hangs until its 15 s read timeout.  Sources: MariaDB docs "FLUSH" (FLUSH TABLES WITH
  READ LOCK blocks every write, "Waiting for global read lock"); MySQL reference manual
  "mysqldump" (--lock-all-tables takes this lock for the whole dump).
* ``redis-client-pause``: ``CLIENT PAUSE <ms> ALL`` (as a failover script or a manual
  maintenance step does, then forgotten): Redis is up but answers no command until the
  pause expires; the API's cache calls hang, its exporter's scrapes time out.  Sources:
  Redis docs "CLIENT PAUSE" (ALL mode, used around manual failovers) and "CLIENT UNPAUSE".
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pymysql
import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios
from tests.lab.config import root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT

from examples.incidents.holdout5.lab_faults import Inject, recorder


def mysql_global_read_lock(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Hold FLUSH TABLES WITH READ LOCK for the fault, then UNLOCK TABLES."""
    connection = root_connection(lab.state)
    try:
        with connection.cursor() as cursor:
            cursor.execute("FLUSH TABLES WITH READ LOCK")
            stop.wait(min(seconds, lab_fault.MAX_SECONDS))
            cursor.execute("UNLOCK TABLES")
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            connection.close()


def redis_client_pause(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Pause every Redis client for the fault; the pause expires by itself."""
    state = lab.state
    millis = int(min(seconds, lab_fault.MAX_SECONDS) * 1000)
    client = redis.Redis(
        host=state["redis"]["host"], port=int(state["redis"]["port"]), socket_timeout=10
    )
    try:
        client.execute_command("CLIENT", "PAUSE", str(millis), "ALL")
        stop.wait(millis / 1000.0)
    finally:
        with contextlib.suppress(redis.RedisError):
            client.execute_command("CLIENT", "UNPAUSE")
        client.close()


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-global-read-lock": (
        mysql_global_read_lock,
        scenarios.Scenario(
            "mysql-global-read-lock",
            "mysql-global-read-lock",
            "a backup session holds FLUSH TABLES WITH READ LOCK: every write waits, item "
            "requests hang until the API's 15 s timeout",
            scenarios._expect(
                "mysql",
                "lock contention",
                remediations=lambda state: [("kill-mysql-queries", "mysql")],
            ),
        ),
    ),
    "redis-client-pause": (
        redis_client_pause,
        scenarios.Scenario(
            "redis-client-pause",
            "redis-client-pause",
            "CLIENT PAUSE ALL on Redis: up but answering nothing, every cached read hangs",
            scenarios._expect("redis", None),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-6",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt6-lab",
        width=24,
    )


if __name__ == "__main__":
    raise SystemExit(main())
