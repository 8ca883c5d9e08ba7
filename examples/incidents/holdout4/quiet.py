"""Windows with no incident: a DNS blip that healed, a busy evening, a noisy backup."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    Pod,
    Route,
    app_side,
    edge,
    log_each,
    logrus,
    mysql8_err,
    mysql_slow,
    nginx_json_line,
    zap,
)


def coredns_blip_heals() -> Bundle:
    """At 11:23:05 a NodeLocal DNSCache config rollout restarts the per-node caches; for
    ~50 s some lookups of notes-db.data.svc.cluster.local time out and notes-api pods fail
    ~18 % of requests with "lookup notes-db.data.svc.cluster.local on 169.254.20.10:53: read
    udp ...: i/o timeout" (the MySQL itself untouched), then 36 minutes of normal traffic.
    A 50 s blip, healed by itself, ~80 errors out of ~36,000 requests: no incident."""
    b = Bundle(
        "coredns-blip-heals",
        "2029-01-09T11:00:00Z",
        description="alert: notes-api 5xx > 1 % for 1 min",
        symptom={"component": "notes-ingress"},
    )
    blip = (23 + 5 / 60, 23 + 55 / 60)
    ns, ctr = "notes", "api"
    b.component("notes-ingress", "proxy", {"job": "notes-ingress"}, ["notes-api"])
    b.component("notes-api", "app", {"namespace": ns, "container": ctr}, ["notes-db"])
    b.component("notes-db", "mysql", {"job": "notes-db"})
    pods = [
        Pod(f"10.155.{6 + i}.{80 + i}:8080", f"notes-api-58b7c6d5e-{s}", f"10.155.0.{11 + i}:10250")
        for i, s in enumerate(("nq1", "nr2", "ns3"))
    ]
    routes = [
        Route("GET", "/v1/notes/{n}", "/v1/notes/{id}", 0.6, 0.012),
        Route("PUT", "/v1/notes/{n}", "/v1/notes/{id}", 0.3, 0.02),
        Route("GET", "/v1/notes?tag=t{n}", "/v1/notes", 0.1, 0.03),
    ]
    clients = pick_clients(
        b, client_pool(b, ["10.155.100.", "10.155.101.", "fd7a:115c:a1e0::"], 80)
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if blip[0] <= m < blip[1] and b.rng.random() < 0.18:
            fail(e, 500, 2.0 + b.rng.uniform(0.0, 0.01))
            logs.append(
                (
                    e.t + 2,
                    i,
                    zap(
                        b,
                        e.t + 2,
                        "error",
                        "db/conn.go:51",
                        "open connection",
                        error="dial tcp: lookup notes-db.data.svc.cluster.local on 169.254.20.10:53: read udp 10.155.6.80:41122->169.254.20.10:53: i/o timeout",
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 10.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "notes-ingress", "instance": "10.155.0.5:10254"},
        cluster="notes-api-8080",
    )
    base = {"job": "notes-api", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr, blip=1)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stderr"})
    mysqld_exporter(
        b,
        {"job": "notes-db", "instance": "10.155.30.3:9104"},
        qps=lambda m: 640,
        connected=lambda m: 36,
        running=lambda m: 3,
        version="8.0.40",
    )
    return b


def evening_peak_busy() -> Bundle:
    """A TV ad at 20:14 sends ticket traffic to ~3.5x; the HPA adds three tickets-web pods
    (20:17, 20:19, 20:24, series begin mid-window) and a 5 % canary of 8.2.0 joins at 20:31
    and behaves like the rest; MySQL questions, threads and buffer-pool reads, Redis ops and
    memory follow load; latency +25 %; errors stay at their baseline (0.5 % 404, a few
    499 from impatient phones, one promhttp 0->1 tick).  30 s scrapes.  Busy and healthy:
    nothing to diagnose, nothing to do."""
    b = Bundle(
        "evening-peak-busy",
        "2029-01-23T20:00:00Z",
        description="traffic alert: requests x3 (informational)",
        symptom={"component": "tix-edge"},
        step=30,
    )
    load = lambda m: ramp(m, 14, 20, 1.0, 3.5) if m < 42 else ramp(m, 42, 58, 3.5, 2.0)  # noqa: E731
    b.component("tix-edge", "proxy", {"job": "tix-edge"}, ["tickets-web"])
    b.component("tickets-web", "app", {"job": "tickets-web"}, ["tickets-db", "tickets-cache"])
    b.component("tickets-db", "mysql", {"job": "tickets-db"})
    b.component("tickets-cache", "redis", {"job": "tickets-cache"})
    joins = [0, 0, 0, 17.0, 19.0, 24.0]
    pods = [
        Pod(
            f"10.66.{1 + i}.{20 + i}:8080",
            f"tickets-web-6f5e4d3c2-{s}",
            present=(lambda m, j=j: m >= j) if j else None,
        )
        for i, (s, j) in enumerate(
            zip(("ka1", "kb2", "kc3", "kd4", "ke5", "kf6"), joins, strict=True)
        )
    ]
    pods.append(
        Pod("10.66.9.90:8080", "tickets-web-canary-8b7c6d5e4-zz9", present=lambda m: m >= 31.0)
    )
    routes = [
        Route("GET", "/events/{n}", "/events/{id}", 0.5, 0.04, 30000),
        Route("GET", "/events/{n}/seats", "/events/{id}/seats", 0.3, 0.06),
        Route("POST", "/orders", "/orders", 0.1, 0.12),
        Route("GET", "/static/app.{n}.js", "/static", 0.1, 0.002, 90000),
    ]
    clients = pick_clients(
        b,
        client_pool(
            b,
            [
                "2a02:8070:a2::",
                "2a01:5c0:e08f::",
                "77.21.33.",
                "89.244.81.",
                "176.199.210.",
                "92.117.4.",
            ],
            2500,
        ),
    )

    def choose(m: float, live: list[int]) -> int:
        if 6 in live and b.rng.random() < 0.05:
            return 6
        rest = [i for i in live if i != 6]
        return b.rng.choice(rest)

    def outcome(e: Event, m: float, i: int) -> None:
        e.duration = e.extra["app_dur"] = e.duration * (1 + 0.25 * (load(m) - 1) / 2.5)
        r = b.rng.random()
        if r < 0.005:
            fail(e, 404, 0.004)
        elif r < 0.007:
            e.status, e.upstream_status = 499, "-"

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 9.0 * load(m),
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "tix-edge", "instance": "10.66.0.10:9113"},
        fmt=lambda e: nginx_json_line(b, e, "tickets.example.at"),
        choose=choose,
        active=lambda m: 90 * load(m),
    )
    app_side(
        b, pods, events, {"job": "tickets-web"}, cpu=lambda m, i: 0.3 * load(m) * 3 / 4, blip=2
    )
    for pod in pods:
        b.gauge(
            "app_build_info",
            {
                "job": "tickets-web",
                "instance": pod.addr,
                "pod": pod.pod,
                "version": "8.2.0" if "canary" in pod.pod else "8.1.4",
            },
            lambda m, p=pod: 1 if p.up(m) else None,
        )
    mysqld_exporter(
        b,
        {"job": "tickets-db", "instance": "10.66.20.4:9104"},
        qps=lambda m: 1100 * load(m),
        connected=lambda m: 50 + 20 * load(m),
        running=lambda m: 3 * load(m),
        version="8.0.40",
    )
    redis_exporter(
        b,
        {"job": "tickets-cache", "instance": "10.66.20.8:9121"},
        ops=lambda m: 5200 * load(m),
        used=lambda m: 1.9e9 + 1.5e8 * load(m),
        maxmemory=8e9,
        clients=lambda m: 60 + 25 * load(m),
    )
    sl = {"job": "tickets-db", "instance": "10.66.20.4:9104", "filename": "/var/log/mysql/slow.log"}
    t = b.t(33.4)
    b.log(
        t,
        sl,
        mysql_slow(
            b,
            t,
            user="reporting",
            host="10.66.50.2",
            thread=9912331,
            qt=1.41,
            lt=0.0001,
            sent=412,
            examined=88011,
            sql="SELECT event_id, COUNT(*) FROM orders WHERE created_at > NOW() - INTERVAL 1 HOUR GROUP BY event_id",
            db="tickets",
        ),
    )
    return b


def nightly_backup_noise() -> Bundle:
    """The nightly logical backup (mysqldump --single-transaction from 10.41.0.200) runs
    02:05-02:41 against the orders-db primary: full-table SELECTs in the slow log (up to
    410 s, 48 M rows examined), buffer-pool reads and disk reads up, history list length
    grows, one aborted-connection warning when the dump closes.  The night's few users
    see latency +8 % and no errors.  Noisy but healthy: no incident, and certainly no
    query to kill."""
    b = Bundle(
        "nightly-backup-noise",
        "2029-02-06T02:00:00Z",
        description="alert: orders-db slow queries > 10/h",
        symptom={"component": "orders-db"},
    )
    start, end = 5.0, 41.0
    dump = lambda m: start <= m < end  # noqa: E731
    b.component("night-edge", "proxy", {"job": "night-edge"}, ["orders-api"])
    b.component("orders-api", "app", {"job": "orders-api"}, ["orders-db"])
    b.component("orders-db", "mysql", {"job": "orders-db"})
    vms = [Pod(f"10.41.2.{15 + i}:8080") for i in range(2)]
    routes = [
        Route("GET", "/orders/{n}", "/orders/{id}", 0.7, 0.02),
        Route("POST", "/orders", "/orders", 0.3, 0.05),
    ]
    clients = pick_clients(b, client_pool(b, ["81.10.140.", "2a00:1398:4::"], 70))

    def outcome(e: Event, m: float, i: int) -> None:
        if dump(m):
            e.duration = e.extra["app_dur"] = e.duration * 1.08

    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 1.2,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "night-edge", "instance": "10.41.2.5:9113"},
    )
    app_side(b, vms, events, {"job": "orders-api"}, go=False)
    db = {"job": "orders-db", "instance": "10.41.3.7:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 70 + (900 if dump(m) else 0),
        connected=lambda m: 18 + (1 if dump(m) else 0),
        running=lambda m: 2 + (1 if dump(m) else 0),
        sending=lambda m: 1 if dump(m) else 0,
        slow=lambda m: 0.01 if dump(m) else 0.0,
        scan_rows=lambda m: 6e5 if dump(m) else 0.0,
        version="8.0.40",
    )
    b.gauge(
        "mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len",
        db,
        lambda m: (
            int(ramp(m, start, end, 900, 2_400_000)) if dump(m) else 900 + b.rng.randint(0, 300)
        ),
    )
    node_exporter(
        b,
        {"job": "orders-db", "instance": "10.41.3.7:9100"},
        busy=lambda m: 0.35 if dump(m) else 0.05,
        avail=lambda m: 20e9,
        iowait=lambda m: 0.08 if dump(m) else 0.01,
    )
    b.counter(
        "node_disk_read_bytes_total",
        {"job": "orders-db", "instance": "10.41.3.7:9100", "device": "nvme0n1"},
        lambda m: 2.4e8 if dump(m) else 2e6,
        start=8.8e14,
    )
    sl = {"job": "orders-db", "instance": "10.41.3.7:9104", "filename": "/var/log/mysql/slow.log"}
    el = {"job": "orders-db", "instance": "10.41.3.7:9104", "filename": "/var/log/mysql/error.log"}
    t = b.t(start)
    for table, secs, rows in (
        ("customers", 38.2, 2_100_331),
        ("order_lines", 410.6, 48_220_117),
        ("orders", 301.9, 19_004_882),
        ("payments", 190.4, 17_550_090),
        ("shipments", 122.7, 9_911_004),
        ("stock_moves", 771.3, 61_200_876),
    ):
        t += secs
        b.log(
            t,
            sl,
            mysql_slow(
                b,
                t,
                user="backup",
                host="10.41.0.200",
                thread=7712001,
                qt=secs,
                lt=0.0,
                sent=rows,
                examined=rows,
                sql=f"SELECT /*!40001 SQL_NO_CACHE */ * FROM `{table}`",
                db="orders",
            ),
        )
    b.log(
        b.t(end),
        el,
        mysql8_err(
            b,
            b.t(end),
            7712001,
            "Note",
            "MY-010914",
            "Aborted connection 7712001 to db: 'orders' user: 'backup' host: '10.41.0.200' (Got an error reading communication packets).",
        ),
    )
    b.log(
        b.t(end + 0.1),
        {"job": "orders-api", "instance": vms[0].addr, "stream": "stdout"},
        logrus(b, b.t(end + 0.1), "info", "nightly stats", orders_last_hour=211),
    )
    return b
