"""MySQL/MariaDB row-lock scenarios: one idle transaction blocks hundreds of writers."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    ingress_line,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    fail,
    ingress_metrics,
    nginx_exporter,
    serve,
)


def ledger_idle_trx_blocker() -> Bundle:
    """An engineer's manual transaction from the bastion, left open (Command=Sleep), holds
    row locks on EU accounts from 09:17:40; payouts UPDATEs on those rows wait 50 s and fail
    with Go driver "Error 1205 (HY000)" on all three payouts pods alike."""
    b = Bundle(
        "ledger-idle-trx-blocker",
        "2027-01-14T09:00:00Z",
        description="POST /v1/payouts fails after ~50 s for EU accounts",
        symptom={"component": "payouts-ingress", "route": "/v1/payouts"},
    )
    onset = 17 + 40 / 60
    ns = "treasury"
    b.component("payouts-ingress", "proxy", {"job": "payouts-ingress"}, ["payouts"])
    b.component("payouts", "app", {"namespace": ns, "container": "payouts"}, ["ledger-mysql"])
    b.component("ledger-mysql", "mysql", {"job": "ledger-mysql"})
    pods = [
        Pod(f"10.31.2.{11 + i}:8080", f"payouts-7d9c6b5f4-{s}", f"10.31.1.{5 + i}:10250")
        for i, s in enumerate(("k2lqp", "w8t4n", "zr6mx"))
    ]
    routes = [
        Route("POST", "/v1/payouts", "/v1/payouts", 0.35, 0.045),
        Route("GET", "/v1/payouts/po_{n}", "/v1/payouts/:id", 0.45, 0.012),
        Route("GET", "/v1/balances", "/v1/balances", 0.2, 0.018),
    ]
    clients = pick_clients(b, client_pool(b, ["10.31.8.", "10.31.9."], 60))
    app_logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method == "POST" and m >= onset and b.rng.random() < 0.42:
            d = 50.0 + b.rng.uniform(0.004, 0.09)
            fail(e, 500, d)
            e.extra["urt"] = f"{d:.3f}"
            app_logs.append((e.t + d, i, e.path))
            e.t += 0  # the access line is written when the response leaves

    events = serve(
        b,
        rate=lambda m: 6.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("payouts-batch/2.3 (go1.22)", "treasury-ui/5.1"),
    )
    ing = {"job": "payouts-ingress", "instance": "10.31.0.40:10254"}
    for e in events:
        e.t += e.duration  # ingress logs at completion
        b.log(
            e.t,
            {"job": "payouts-ingress", "instance": "10.31.0.40:10254", "stream": "stdout"},
            ingress_line(b, e, "treasury-payouts-8080"),
        )
    ingress_metrics(b, ing, events)
    app_red(b, pods, events, {"job": "payouts", "namespace": ns, "container": "payouts"})
    for t, i, _ in app_logs:
        labels = {
            "namespace": ns,
            "container": "payouts",
            "pod": pods[i].pod,
            "instance": pods[i].addr,
        }
        b.log(
            t,
            labels,
            json.dumps(
                {
                    "level": "error",
                    "ts": b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
                    "caller": "ledger/store.go:214",
                    "msg": "debit account",
                    "payout_id": f"po_{b.rng.randint(10**9, 10**10)}",
                    "db": "10.31.4.20:3306",
                    "error": "Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction",
                    "elapsed": "50.0" + str(b.rng.randint(1, 9)) + "s",
                },
                separators=(",", ":"),
            ),
        )
    for i, pod in enumerate(pods):
        labels = {
            "job": "payouts",
            "namespace": ns,
            "container": "payouts",
            "instance": pod.addr,
            "pod": pod.pod,
        }
        b.runtime(
            labels,
            cpu=lambda m: 0.21,
            rss=lambda m: 96e6,
            goroutines=lambda m: ramp(m, onset, onset + 1, 60, 250),
        )
        b.gauge(
            "go_sql_stats_connections_in_use",
            {**labels, "db_name": "ledger"},
            lambda m: int(ramp(m, onset, onset + 1, 3, 58)) + b.rng.randint(0, 2),
        )
        b.gauge("go_sql_stats_connections_max_open", {**labels, "db_name": "ledger"}, lambda m: 64)
        b.promhttp_noise(labels, blip_at=41.2 if i == 1 else None)
    cadvisor(b, pods, ns, "payouts", cpu=lambda m, i: 0.2, mem=lambda m, i: 104e6 + i * 3e6)
    db = {"job": "ledger-mysql", "instance": "10.31.4.20:9104"}
    after = lambda m: m >= onset  # noqa: E731
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 410 - (60 if after(m) else 0),
        connected=lambda m: ramp(m, onset, onset + 1.5, 44, 196),
        running=lambda m: ramp(m, onset, onset + 1.5, 3, 152),
        lock_waits=lambda m: 0.9 if after(m) else 0.01,
        current_waits=lambda m: ramp(m, onset, onset + 1.5, 0, 148),
        updating=lambda m: ramp(m, onset, onset + 1.5, 0, 148),
        sleeping=lambda m: 41,
    )
    mysql_logs = {"job": "ledger-mysql", "instance": "10.31.4.20:9104", "stream": "stderr"}
    b.log(
        b.t(onset - 0.15),
        mysql_logs,
        b.dt(b.t(onset - 0.15)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        + " 3321907 [Warning] [MY-010055] [Server] IP address '10.31.0.5' could not be resolved: Name or service not known",
    )
    watch = {"job": "ledger-mysql", "instance": "10.31.4.20:9104", "container": "lock-watch"}
    for k in range(60):
        t = b.t(k + 0.5)
        if k + 0.5 < onset:
            b.log(t, watch, 'level=info msg="innodb lock waits" waiting=0')
            continue
        age = int((k + 0.5 - onset) * 60 + 38)
        b.log(
            t,
            watch,
            f'level=warn msg="innodb lock waits" waiting={int(ramp(k, onset, onset + 1.5, 3, 148)) + b.rng.randint(-5, 5)} '
            f"blocking_pid=3321907 blocking_user=jmarsh blocking_host=10.31.0.5 blocking_command=Sleep "
            f"blocking_trx_started={b.dt(b.t(onset) - 38).strftime('%H:%M:%S')} blocking_trx_age={age}s "
            f"blocking_trx_rows_locked=18211 blocking_query=NULL "
            f'sample_waiting_query="UPDATE accounts SET balance = balance - ?, version = version + 1 WHERE id = ?"',
        )
    return b


def forum_deadlock_pdo() -> Bundle:
    """MariaDB behind a PHP-FPM forum.  From 20:31 a moderation cron job (one PHP CLI
    process on 172.16.40.9) opens a transaction that locks every row of `topics` in the
    spam category, then sits idle in ``sleep()`` between API calls; the web tier's
    UPDATE topics SET reply_count... wait 50 s (PDO 1205) and, where two replies cross,
    deadlock (1213).  All four php-fpm VMs fail alike."""
    b = Bundle(
        "forum-deadlock-pdo",
        "2027-02-09T20:00:00Z",
        step=30,
        description="Posting replies fails or hangs on the forum",
        symptom={"component": "forum-web", "route": "/t/{id}/reply"},
    )
    onset = 31.0
    b.component("forum-web", "proxy", {"job": "forum-web"}, ["forum-php"])
    b.component("forum-php", "app", {"job": "forum-php"}, ["forum-mariadb"])
    b.component("forum-mariadb", "mysql", {"job": "forum-mariadb"})
    pods = [Pod(f"172.16.40.{21 + i}:9000") for i in range(4)]
    routes = [
        Route("POST", "/t/{n}/reply", "/t/:id/reply", 0.12, 0.09),
        Route("GET", "/t/{n}", "/t/:id", 0.7, 0.05),
        Route("GET", "/latest.json", "/latest.json", 0.18, 0.03),
    ]
    clients = pick_clients(
        b, client_pool(b, ["81.2.69.", "92.40.177.", "176.24.3.", "2a02:c7c:5b1e::"], 400)
    )
    fails: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method == "POST" and m >= onset:
            r = b.rng.random()
            if r < 0.55:
                fail(e, 500, 50.0 + b.rng.uniform(0.01, 0.3))
                fails.append((e.t + e.duration, i, "1205"))
            elif r < 0.62:
                fail(e, 500, b.rng.uniform(0.8, 12.0))
                fails.append((e.t + e.duration, i, "1213"))

    events = serve(
        b, rate=lambda m: 9.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    edge = {"job": "forum-web", "instance": "172.16.40.5:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {
                "job": "forum-web",
                "instance": "172.16.40.5:9113",
                "filename": "/var/log/nginx/access.log",
            },
            nginx_line(b, e),
        )
    nginx_exporter(b, edge, events, lambda m: ramp(m, onset, onset + 2, 60, 210))
    app_red(
        b,
        pods,
        events,
        {"job": "forum-php"},
        counter="phpfpm_app_requests_total",
        histogram="phpfpm_app_request_duration_seconds",
    )
    for pod in pods:
        labels = {"job": "forum-php", "instance": pod.addr}
        b.gauge(
            "phpfpm_active_processes",
            {**labels, "pool": "www"},
            lambda m: int(ramp(m, onset, onset + 2, 4, 28)) + b.rng.randint(0, 3),
        )
        b.gauge("phpfpm_total_processes", {**labels, "pool": "www"}, lambda m: 40)
        b.counter("phpfpm_max_children_reached", {**labels, "pool": "www"}, lambda m: 0)
        b.gauge("phpfpm_up", labels, lambda m: 1)
    for t, i, code in sorted(fails):
        stamp = b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"
        if code == "1205":
            msg = (
                "SQLSTATE[HY000]: General error: 1205 Lock wait timeout exceeded; try restarting transaction "
                "(Connection: mysql, Host: 172.16.41.10, Port: 3306, SQL: update `topics` set `reply_count` = `reply_count` + 1, "
                "`last_posted_at` = ? where `id` = ?)"
            )
        else:
            msg = (
                "SQLSTATE[40001]: Serialization failure: 1213 Deadlock found when trying to get lock; try restarting transaction "
                "(Connection: mysql, Host: 172.16.41.10, Port: 3306, SQL: update `users` set `post_count` = `post_count` + 1 where `id` = ?)"
            )
        b.log(
            t,
            {
                "job": "forum-php",
                "instance": pods[i].addr,
                "filename": "/srv/forum/storage/logs/laravel.log",
            },
            f'[{stamp}] production.ERROR: {msg} {{"exception":"[object] (Illuminate\\\\Database\\\\QueryException(code: {"HY000" if code == "1205" else "40001"}))"}}',
        )
    db = {"job": "forum-mariadb", "instance": "172.16.41.10:9104"}
    after = lambda m: m >= onset  # noqa: E731
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 900,
        version="10.11.8-MariaDB",
        connected=lambda m: ramp(m, onset, onset + 2, 30, 118),
        running=lambda m: ramp(m, onset, onset + 2, 2, 74),
        lock_waits=lambda m: 0.7 if after(m) else 0.005,
        current_waits=lambda m: ramp(m, onset, onset + 2, 0, 71),
        updating=lambda m: ramp(m, onset, onset + 2, 0, 71),
        deadlocks=lambda m: 0.08 if after(m) else 0.0,
        sleeping=lambda m: 29,
    )
    err = {
        "job": "forum-mariadb",
        "instance": "172.16.41.10:9104",
        "filename": "/var/log/mysql/error.log",
    }
    for k, t in enumerate(b.arrivals(lambda m: 0.08 if m >= onset else 0.0, onset), start=1):
        stamp = b.dt(t).strftime("%Y-%m-%d %H:%M:%S")
        thread = 880_100 + b.rng.randint(0, 900)
        b.log(
            t,
            err,
            f"{stamp} {thread} [Note] InnoDB: Transactions deadlock detected, dumping detailed information.\n"
            f"{stamp} {thread} [Note] InnoDB: \n*** (1) TRANSACTION:\n"
            f"TRANSACTION {91_882_000 + k * 17}, ACTIVE {b.rng.randint(2, 40)} sec starting index read\n"
            f"mysql tables in use 1, locked 1\nLOCK WAIT 3 lock struct(s), heap size 1128, 2 row lock(s)\n"
            f"MariaDB thread id {thread}, OS thread handle 140221, query id 77{k:05d} 172.16.40.{21 + k % 4} forum Updating\n"
            f"update `users` set `post_count` = `post_count` + 1 where `id` = {b.rng.randint(100, 90000)}\n"
            f"*** (2) TRANSACTION:\nTRANSACTION {91_882_001 + k * 17}, ACTIVE {b.rng.randint(2, 40)} sec starting index read\n"
            f"MariaDB thread id {thread + 7}, OS thread handle 140299, query id 77{k:05d} 172.16.40.{21 + (k + 1) % 4} forum Updating\n"
            f"update `topics` set `reply_count` = `reply_count` + 1, `last_posted_at` = '2027-02-09 20:{int(b.m(t)):02d}:00' where `id` = {b.rng.randint(100, 9000)}\n"
            f"*** WE ROLL BACK TRANSACTION (1)",
        )
    t = b.t(onset - 0.05)
    b.log(
        t,
        {**err, "filename": "/var/log/mysql/slow.log"},
        f"# Time: {b.dt(t).strftime('%y%m%d %H:%M:%S')}\n"
        "# User@Host: moderation[moderation] @  [172.16.40.9]\n"
        "# Thread_id: 879990  Schema: forum  QC_hit: No\n"
        "# Query_time: 2.114071  Lock_time: 0.000093  Rows_sent: 4811  Rows_examined: 48211\n"
        "# Rows_affected: 0  Bytes_sent: 57732\n"
        f"SET timestamp={int(t)};\n"
        "SELECT id, user_id FROM topics WHERE category_id = 14 AND flagged = 1 FOR UPDATE;",
    )
    return b
