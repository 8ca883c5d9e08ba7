"""Round-7 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout7.lab_faults record NAME \
        [--out examples/incidents/holdout7/lab] [--workdir out/rt7-lab]

Same procedure as rounds 5 and 6 (``holdout5.lab_faults.recorder``: a fresh lab, 30 s
warm-up, 90 s baseline, the fault for 90 s, the window closing while it still runs,
``bundle record`` and the ``expected.yaml`` the injection calls for, written before any
diagnosis; nothing is diagnosed here).  Faults, each bounded in time and always undone:

* ``mysql-read-only``: ``SET GLOBAL read_only = ON`` on the primary (what a switchover
  script does to the demoted server, here left on the only one): MariaDB refuses every
  write of accounts without READ ONLY ADMIN with error 1290 "The MariaDB server is running
  with the --read-only option so it cannot execute this statement"; the API's view counter
  (an UPDATE on each item request) fails, item requests end 500 on every instance; reads
  work.  Sources: MariaDB docs "Server System Variables: read_only"; orchestrator docs
  "Topology recovery" (the promoted server's read_only must be cleared).
* ``mysql-frozen``: the MariaDB process stopped (SIGSTOP, SIGCONT at the end), as when its
  VM is stunned by a hypervisor snapshot or a filesystem freeze that does not thaw: the
  port accepts connections (the kernel still completes handshakes into the backlog) but
  nothing answers; every query of the API hangs until its timeout and mysqld_exporter's
  scrapes fail.  Sources: VMware docs on snapshot "stun" (the VM is paused while a
  snapshot is taken or consolidated); util-linux fsfreeze(8) (writers block until thaw).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import pymysql
from tests.lab import fault as lab_fault
from tests.lab import scenarios
from tests.lab.config import root_connection
from tests.lab.stack import Lab
from tests.services.loki import REPO_ROOT

from examples.incidents.holdout5.lab_faults import Inject, recorder


def mysql_read_only(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Turn read_only on for the fault, then off again."""
    connection = root_connection(lab.state)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET GLOBAL read_only = ON")
            try:
                stop.wait(min(seconds, lab_fault.MAX_SECONDS))
            finally:
                cursor.execute("SET GLOBAL read_only = OFF")
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            connection.close()


def mysql_frozen(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Stop the MariaDB process for the fault, then let it run again."""
    pid = lab.mariadb.process.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stop.wait(min(seconds, lab_fault.MAX_SECONDS))
    finally:
        os.kill(pid, signal.SIGCONT)


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "mysql-read-only": (
        mysql_read_only,
        scenarios.Scenario(
            "mysql-read-only",
            "mysql-read-only",
            "the primary left read_only after a switchover: every write refused (1290), item "
            "requests end 500 on every API instance, reads work",
            scenarios._expect("mysql", "read only"),
        ),
    ),
    "mysql-frozen": (
        mysql_frozen,
        scenarios.Scenario(
            "mysql-frozen",
            "mysql-frozen",
            "the MariaDB process frozen (VM stunned): connections open but nothing answers, "
            "every database call of the API hangs until its timeout on every instance",
            scenarios._expect("mysql", None),
        ),
    ),
}


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-7",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt7-lab",
        width=18,
    )


if __name__ == "__main__":
    raise SystemExit(main())
