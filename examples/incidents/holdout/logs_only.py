"""logs-only: the database has no metrics at all; only its error log shows the deadlocks.

2026-05-19, window 04:15-05:15 UTC.  ``inv-db`` (MariaDB 10.11, kind mysql)
has no exporter: its selector matches log streams only.  From 04:37 a nightly
restock batch (10.77.9.3) updates ``stock`` rows in descending SKU order in
one long transaction while checkout reservations update them ascending:
InnoDB deadlocks every ~30 s, printed with ``innodb_print_all_deadlocks``
(MariaDB's space-padded hour, one Loki line per dump line, as promtail ships
them without a multiline stage), plus lock-wait warnings.  The two
``inventory`` pods (Spring Boot logback text, OpenTelemetry
``http_server_duration_milliseconds`` histogram in ms) answer ~20 % of
``POST /reservations`` with 409/500 from 04:37, alike.  No proxy in the
topology: the symptom is at the app.

Expected: root ``inv-db``; nothing affected alone; no client;
``kill-mysql-queries`` on ``inv-db`` (the batch transaction, ACTIVE for minutes).
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, ramp, utc

PODS = {
    "10.77.2.14:8080": "inventory-5d8b9f7c6-qm2hx",
    "10.77.3.9:8080": "inventory-5d8b9f7c6-t4kzn",
}
LE_MS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)


def build() -> Bundle:
    b = Bundle(
        name="reservations-failing-2026-05-19",
        description="reservations fail intermittently",
        start="2026-05-19T04:15:00Z",
        end="2026-05-19T05:15:00Z",
        seed=519415,
        symptom={"component": "inventory", "route": "/reservations"},
        lead=0.0,
        components=[
            Component("inventory", "app", {"app": "inventory"}, ["inv-db"]),
            Component("inv-db", "mysql", {"app": "inv-db"}),
        ],
    )
    rng = b.rng
    onset = b.at("04:37:00")

    def batch(t: float) -> float:
        return ramp(t, onset, onset + 30)

    def mariadb_stamp(t: float) -> str:
        moment = utc(t)
        return moment.strftime("%Y-%m-%d ") + f"{moment.hour:2d}" + moment.strftime(":%M:%S")

    dbl = {"app": "inv-db", "namespace": "inventory", "pod": "inv-db-0", "container": "mariadb"}
    # deadlock dumps, one stream line per dump line
    t = onset + rng.uniform(5, 20)
    trx = 8_812_000
    thread = 1900
    batch_started = onset - 4
    while t < b.end:
        trx += rng.randint(50, 400)
        thread += rng.randint(1, 6)
        sku_a, sku_b = rng.randint(10000, 10999), rng.randint(20000, 20999)
        wh = rng.randint(1, 6)
        active_batch = int(t - batch_started)
        dump = [
            f"{mariadb_stamp(t)} {thread} [Note] InnoDB: Transactions deadlock detected, dumping detailed information.",
            f"{mariadb_stamp(t)} {thread} [Note] InnoDB: ",
            "*** (1) TRANSACTION:",
            f"TRANSACTION {trx}, ACTIVE 1 sec starting index read",
            "mysql tables in use 1, locked 1",
            "LOCK WAIT 3 lock struct(s), heap size 1128, 2 row lock(s)",
            f"MariaDB thread id {thread}, OS thread handle 1397{rng.randint(10**8, 10**9 - 1)}, query id {rng.randint(10**6, 10**7)} {rng.choice(list(PODS)).split(':')[0]} inventory Updating",
            f"UPDATE stock SET reserved = reserved + 1 WHERE sku = 'SKU-{sku_a}' AND warehouse_id = {wh}",
            "*** WAITING FOR THIS LOCK TO BE GRANTED:",
            f"RECORD LOCKS space id 88 page no {rng.randint(900, 2000)} n bits 120 index PRIMARY of table `inventory`.`stock` trx id {trx} lock_mode X locks rec but not gap waiting",
            "*** CONFLICTING WITH:",
            f"RECORD LOCKS space id 88 page no {rng.randint(900, 2000)} n bits 120 index PRIMARY of table `inventory`.`stock` trx id {trx - 97} lock_mode X locks rec but not gap",
            "*** (2) TRANSACTION:",
            f"TRANSACTION {trx - 97}, ACTIVE {active_batch} sec fetching rows",
            "mysql tables in use 1, locked 1",
            f"LOCK WAIT {rng.randint(900, 3000)} lock struct(s), heap size 376952, {rng.randint(40000, 90000)} row lock(s), undo log entries {rng.randint(30000, 80000)}",
            f"MariaDB thread id 1877, OS thread handle 139755011, query id {rng.randint(10**6, 10**7)} 10.77.9.3 restock Updating",
            "UPDATE stock s JOIN restock_lines r ON r.sku = s.sku AND r.warehouse_id = s.warehouse_id SET s.qty = s.qty + r.qty WHERE r.batch_id = 20260519 ORDER BY s.sku DESC",
            "*** WAITING FOR THIS LOCK TO BE GRANTED:",
            f"RECORD LOCKS space id 88 page no {rng.randint(900, 2000)} n bits 120 index PRIMARY of table `inventory`.`stock` trx id {trx - 97} lock_mode X locks rec but not gap waiting",
            "*** WE ROLL BACK TRANSACTION (1)",
        ]
        for i, line in enumerate(dump):
            b.log(t + i * 0.000_05, dbl, line)
        t += rng.expovariate(1 / 30.0)
        del sku_b
    t = b.data_start + 90
    while t < b.end:
        b.log(
            t,
            dbl,
            f"{mariadb_stamp(t)} {rng.randint(1000, 1900)} [Warning] Aborted connection {rng.randint(1000, 1900)} to db: 'inventory' user: 'inventory' host: '{rng.choice(list(PODS)).split(':')[0]}' (Got timeout reading communication packets)",
        )
        t += rng.expovariate(1 / 800.0)
    b.log(
        b.data_start + 30,
        dbl,
        f"{mariadb_stamp(b.data_start + 30)} 0 [Note] InnoDB: Buffer pool(s) load completed at {utc(b.data_start + 30).strftime('%y%m%d %H:%M:%S')}",
    )

    # --- inventory pods ---------------------------------------------------------------------
    for inst, pod in PODS.items():
        labels = {"app": "inventory", "namespace": "inventory", "pod": pod, "instance": inst}
        times = b.scrapes(inst)
        events = []
        ll = {"app": "inventory", "namespace": "inventory", "pod": pod, "container": "app"}
        for ts in b.arrivals(lambda t: 1.6):
            post = rng.random() < 0.5
            route = "/reservations" if post else "/stock/{sku}"
            dur_ms = rng.lognormvariate(2.9, 0.45) * (
                1 + (6 * batch(ts) * rng.random() if post else 0.0)
            )
            status = 201 if post else 200
            if post and rng.random() < 0.2 * batch(ts):
                status = 409 if rng.random() < 0.6 else 500
                when = ts + dur_ms / 1000
                stamp = utc(when).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                thread = f"nio-8080-exec-{rng.randint(1, 200)}"
                if status == 409:
                    b.log(
                        when,
                        ll,
                        f"{stamp}  WARN 1 --- [{thread}] c.e.inventory.ReservationService       : reservation conflict, giving up after 3 attempts: Deadlock found when trying to get lock; try restarting transaction",
                    )
                else:
                    b.log(
                        when,
                        ll,
                        f"{stamp} ERROR 1 --- [{thread}] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception org.springframework.dao.CannotAcquireLockException: PreparedStatementCallback; SQL [UPDATE stock SET reserved = reserved + 1 WHERE sku = ? AND warehouse_id = ?]; (conn=1934) Deadlock found when trying to get lock; try restarting transaction",
                    )
                    b.log(
                        when,
                        ll,
                        "\tat org.springframework.jdbc.support.SQLErrorCodeSQLExceptionTranslator.doTranslate(SQLErrorCodeSQLExceptionTranslator.java:263)",
                    )
            elif rng.random() < 0.003:
                when = ts + dur_ms / 1000
                b.log(
                    when,
                    ll,
                    f"{utc(when).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [nio-8080-exec-{rng.randint(1, 200)}] c.e.inventory.StockController           : stock lookup served in {dur_ms:.0f} ms",
                )
            events.append(
                (
                    ts + dur_ms / 1000,
                    {
                        **labels,
                        "http_method": "POST" if post else "GET",
                        "http_route": route,
                        "http_status_code": str(status),
                    },
                    dur_ms,
                )
            )
        b.histogram_from_events(
            "http_server_duration_milliseconds",
            "Measures the duration of inbound HTTP requests.",
            times,
            events,
            buckets=LE_MS,
            le_format=lambda le: f"{le:g}",
        )
        b.counter(
            "jvm_cpu_time_seconds_total",
            "CPU time used by the process as reported by the JVM.",
            labels,
            times,
            lambda t: 0.15,
            integer=False,
            initial=22000.0,
        )
        b.gauge(
            "hikaricp_connections_pending",
            "Pending threads",
            {**labels, "pool": "HikariPool-1"},
            times,
            lambda t: 0.0 + 3 * batch(t) * rng.random(),
            integer=True,
        )
    return b
