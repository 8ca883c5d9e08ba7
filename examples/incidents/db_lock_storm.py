"""db-lock-storm: a long ledger transaction on MySQL 8 blocks everyone; all instances alike.

2026-02-17, window 22:40-23:40 UTC.  At 23:02 a batch job opens a transaction
on ``billing``.``ledger_entries`` and holds row locks for minutes; from 23:03
``invoices`` updates wait and time out (``Lock wait timeout exceeded``), two
deadlocks follow (MySQL 8.0 error-log format with [MY-...] codes), threads
and connections pile up until 23:15.  All three ``billing-api`` instances fail
alike.  Expected: root ``billing-db``, no single affected instance, remediation
``kill-mysql-queries``.
"""

from __future__ import annotations

import random

from examples.incidents.sim import BundleWriter, bump, epoch, json_line
from examples.incidents.web_stack import Stack, build_stack, mysql8_time

NAME = "db-lock-storm"


def at(when: str) -> float:
    return epoch(f"2026-02-17T{when}Z")


STORM = (at("23:02:30"), at("23:05:00"), at("23:13:00"), at("23:16:00"))
DB = {"job": "billing-mysql", "instance": "billing-db-0"}


def storm(t: float) -> float:
    return bump(t, *STORM)


def app_error(rng: random.Random, upstream: str, t: float) -> str:
    return json_line(
        level="ERROR",
        ts=round(t, 3),
        logger="billing.repo",
        msg="java.sql.SQLTransactionRollbackException: Lock wait timeout exceeded; try restarting transaction",
        sql="UPDATE invoices SET status = ? WHERE id = ?",
        status=500,
    )


def db_events(writer: BundleWriter, rng: random.Random) -> None:
    error = {**DB, "stream": "error"}
    slow = {**DB, "stream": "slow"}
    for index, when in enumerate(("23:06:41", "23:09:12")):
        t = at(when) + rng.uniform(0, 0.9)
        writer.log(
            t,
            error,
            "\n".join(
                (
                    f"{mysql8_time(t)} 0 [Note] [MY-012468] [InnoDB] Transactions deadlock detected, dumping detailed information. (lock0lock.cc:6482)",
                    f"{mysql8_time(t)} 0 [Note] [MY-012469] [InnoDB] *** (1) TRANSACTION:",
                    f"TRANSACTION {77120031 + index}, ACTIVE 41 sec starting index read",
                    "mysql tables in use 1, locked 1",
                    f"MySQL thread id {9120 + index}, OS thread handle 140101, query id 55120 10.70.4.21 billing updating",
                    f"UPDATE invoices SET status = 'PAID' WHERE id = {88211 + index}",
                    f"{mysql8_time(t)} 0 [Note] [MY-012469] [InnoDB] *** (2) TRANSACTION:",
                    "UPDATE ledger_entries SET settled = 1 WHERE batch_id = 20260217",
                    f"{mysql8_time(t)} 0 [Note] [MY-012469] [InnoDB] *** WE ROLL BACK TRANSACTION (1)",
                )
            ),
        )
    for index in range(3):
        t = at("23:08:00") + index * 150 + rng.uniform(0, 30)
        seconds = 38.5 + index * 41.2
        writer.log(
            t,
            slow,
            "\n".join(
                (
                    f"# Time: {mysql8_time(t)}",
                    "# User@Host: billing_batch[billing_batch] @  [10.70.9.3]  Id: 9001",
                    f"# Query_time: {seconds:.6f}  Lock_time: {seconds - 0.4:.6f} Rows_sent: 0  Rows_examined: 2411873",
                    "use billing;",
                    f"SET timestamp={int(t)};",
                    "UPDATE ledger_entries SET settled = 1 WHERE batch_id = 20260217;",
                )
            ),
        )
    for index in range(7):
        t = at("23:03:30") + index * 70 + rng.uniform(0, 40)
        writer.log(
            t,
            error,
            f"{mysql8_time(t)} {9200 + index} [Warning] [MY-010055] [Server] "
            "IP address '10.70.4.22' could not be resolved: Name or service not known",
        )


def build() -> BundleWriter:
    stack = Stack(
        name=NAME,
        bundle_name="billing-lock-storm",
        description="Invoices fail to update",
        seed=2026021722,
        data_start=at("22:30:00"),
        window=("2026-02-17T22:40:00Z", "2026-02-17T23:40:00Z"),
        data_end=at("23:40:00"),
        proxy=("gateway", {"job": "gateway"}),
        app=("billing-api", {"job": "billing-api"}),
        mysql=("billing-db", {"job": "billing-mysql"}),
        redis=("billing-cache", {"job": "billing-redis"}),
        proxy_instance="gateway-0",
        proxy_format="combined",
        app_instances={f"10.70.4.{n}:8080": {} for n in (21, 22, 23)},
        mysql_instance="billing-db-0",
        redis_instance="billing-redis-0",
        mysql_flavor="mysql8",
        client_prefixes=("52.14.88", "18.222.3", "3.139.47"),
        routes=(
            ("POST", "/invoices/pay", 2.0, 300),
            ("GET", "/invoices", 3.0, 5200),
            ("GET", "/favicon.ico", 0.05, 0),
        ),
        rate=lambda t: 4.5,
        symptom={"component": "gateway", "route": "/invoices/pay"},
        db_trouble=storm,
        app_error=app_error,
        failure_share=0.5,
        slowdown=30.0,
        extra_logs=db_events,
    )
    return build_stack(stack)
