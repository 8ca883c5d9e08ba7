"""noisy-but-healthy: ERROR lines every second everywhere, one 20 s GC blip, no incident.

2026-02-03, window 10:00-11:00 UTC.  nginx (default ``main`` log format: no timings) fronts
four ``billing`` pods (Spring Boot, Logback default pattern, namespace ``finance``,
10.77.x.x:8080) on ``billing-db`` (MySQL 8).  Since last week's release every billing pod
logs ``ERROR ... deprecated config key 'billing.retry.max'`` once a second (a config
bridge that re-reads its properties every second): ~14,000 ERROR lines an hour, exactly as
many before the window as in it, and ``logback_events_total{level="error"}`` grows at a
constant 1/s on every pod.  At 10:37:20 one pod (10.77.2.14:8080) goes through G1
``To-space exhausted`` young pauses and one 2.8 s full GC: for ~20 s its requests take up
to ~3 s, none fail, and it is back to normal at once.

Expected: root ``none``; nothing affected; no client; no remediation.
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, client_pool, utc
from examples.incidents.holdout2.common import Req, periodic, traffic, with_outcome

PODS = {
    "10.77.1.31:8080": "billing-85c9d7f6b-6tqxn",
    "10.77.2.14:8080": "billing-85c9d7f6b-9jzwm",
    "10.77.3.8:8080": "billing-85c9d7f6b-kd4rv",
    "10.77.4.22:8080": "billing-85c9d7f6b-wp2hs",
}
GC_POD = "10.77.2.14:8080"
ROUTES = (
    ("GET", "/api/invoices/{id}", 5.0),
    ("GET", "/api/invoices", 2.0),
    ("POST", "/api/payments", 0.8),
    ("GET", "/api/customers/{id}/balance", 2.5),
    ("GET", "/actuator/health/liveness", 0.4),
)
MICROMETER_LE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def build() -> Bundle:
    b = Bundle(
        name="billing-error-logs-2026-02-03",
        description="Alert: billing ERROR log rate above 10/min",
        start="2026-02-03T10:00:00Z",
        end="2026-02-03T11:00:00Z",
        seed=260203,
        symptom={"component": "billing"},
        components=[
            Component("billing-nginx", "proxy", {"job": "billing-nginx"}, ["billing"]),
            Component("billing", "app", {"namespace": "finance", "app": "billing"}, ["billing-db"]),
            Component("billing-db", "mysql", {"job": "billing-db"}),
        ],
    )
    rng = b.rng
    gc_from = b.at("10:37:20")
    gc_to = gc_from + 20.0

    pool = client_pool(
        rng,
        [
            lambda r: f"10.200.{r.randint(0, 31)}.{r.randint(1, 254)}",
            lambda r: f"145.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"212.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        380,
    )

    def shape(req: Req) -> Req:
        if req.instance == GC_POD and gc_from <= req.ts < gc_to:
            return with_outcome(req, duration=req.duration + rng.uniform(0.2, 2.9))
        return req

    requests = traffic(
        b,
        rate=lambda t: 8.0,
        pool=pool,
        routes=ROUTES,
        instances=list(PODS),
        fill=lambda route: route.replace("{id}", str(rng.randint(1, 900000))),
        median=0.035,
        shape=shape,
        base_errors=0.0008,
    )

    # --- billing-nginx ------------------------------------------------------------------------
    nl = {"job": "billing-nginx", "instance": "10.77.0.5:9113"}
    times = b.scrapes(nl["instance"])
    b.counter_from_events(
        "nginx_http_requests_total",
        "Total http requests",
        times,
        ((r.done, nl, 1) for r in requests),
    )
    b.gauge(
        "nginx_connections_active",
        "Active client connections",
        nl,
        times,
        lambda t: 35,
        noise=0.15,
        integer=True,
    )
    access = {
        "job": "billing-nginx",
        "host": "billing-gw-1",
        "filename": "/var/log/nginx/access.log",
    }
    for r in requests:
        stamp = utc(r.done).strftime("%d/%b/%Y:%H:%M:%S +0000")
        b.log(
            r.done,
            access,
            f'{r.ip} - - [{stamp}] "{r.method} {r.path} HTTP/1.1" {r.status} {r.size} "-" "{r.agent}" "-"',
        )

    # --- billing pods -------------------------------------------------------------------------
    for inst, pod in PODS.items():
        mine = [r for r in requests if r.instance == inst]
        labels = {
            "namespace": "finance",
            "app": "billing",
            "pod": pod,
            "job": "billing",
            "instance": inst,
        }
        times = b.scrapes(inst)
        b.histogram_from_events(
            "http_server_requests_seconds",
            "Duration of HTTP server request handling",
            times,
            (
                (
                    r.done,
                    {
                        **labels,
                        "exception": "None",
                        "method": r.method,
                        "outcome": "SUCCESS"
                        if r.status < 400
                        else ("CLIENT_ERROR" if r.status < 500 else "SERVER_ERROR"),
                        "status": str(r.status),
                        "uri": r.route,
                    },
                    r.duration,
                )
                for r in mine
            ),
            buckets=MICROMETER_LE,
        )
        gc = inst == GC_POD
        b.counter(
            "logback_events_total",
            "Number of log events that were enabled by the effective log level",
            {**labels, "level": "error"},
            times,
            lambda t: 1.0,
            noise=0.0,
            initial=rng.randint(400000, 600000),
        )
        b.counter(
            "logback_events_total",
            "Number of log events that were enabled by the effective log level",
            {**labels, "level": "warn"},
            times,
            lambda t: 0.02,
            noise=0.3,
            initial=rng.randint(900, 3000),
        )
        b.counter(
            "logback_events_total",
            "Number of log events that were enabled by the effective log level",
            {**labels, "level": "info"},
            times,
            lambda t: 0.4,
            noise=0.2,
            initial=rng.randint(90000, 200000),
        )
        pauses = [(t, 0.012) for t in periodic(b, every=9.0, jitter=2.0)]
        if gc:
            pauses += [(gc_from + 1.5 * i, 0.3 + 0.1 * i) for i in range(6)] + [
                (gc_from + 12.0, 2.84)
            ]
        b.counter_from_events(
            "jvm_gc_pause_seconds_count",
            "Time spent in GC pause",
            times,
            (
                (
                    t,
                    {
                        **labels,
                        "action": "end of minor GC" if d < 2 else "end of major GC",
                        "cause": "G1 Evacuation Pause" if d < 2 else "G1 Compaction Pause",
                        "gc": "G1 Young Generation" if d < 2 else "G1 Old Generation",
                    },
                    1,
                )
                for t, d in pauses
            ),
            kind="unknown",
        )
        b.counter_from_events(
            "jvm_gc_pause_seconds_sum",
            "Time spent in GC pause",
            times,
            (
                (
                    t,
                    {
                        **labels,
                        "action": "end of minor GC" if d < 2 else "end of major GC",
                        "cause": "G1 Evacuation Pause" if d < 2 else "G1 Compaction Pause",
                        "gc": "G1 Young Generation" if d < 2 else "G1 Old Generation",
                    },
                    d,
                )
                for t, d in pauses
            ),
            kind="unknown",
        )
        b.gauge(
            "process_cpu_usage",
            "The recent cpu usage for the JVM process",
            labels,
            times,
            lambda t, gc=gc: 0.3 + (0.55 if gc and gc_from <= t < gc_to + 15 else 0.0),
            noise=0.05,
        )
        b.gauge(
            "jvm_memory_used_bytes",
            "The amount of used memory",
            {**labels, "area": "heap", "id": "G1 Old Gen"},
            times,
            lambda t: 760e6,
            noise=0.03,
            integer=True,
        )
        logl = {
            "namespace": "finance",
            "app": "billing",
            "pod": pod,
            "container": "billing",
            "stream": "stdout",
        }

        def line(t: float, level: str, thread: str, logger: str, msg: str) -> str:
            return f"{utc(t).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {level:>5} 1 --- [billing] [{thread:>15}] {logger:<40} : {msg}"

        t = b.data_start + rng.uniform(0, 1)
        while t < b.end:
            b.log(
                t,
                logl,
                line(
                    t,
                    "ERROR",
                    "config-watch-1",
                    "c.e.billing.config.LegacyConfigBridge",
                    "deprecated config key 'billing.retry.max' is set; use 'billing.retry.max-attempts' (value ignored)",
                ),
            )
            t += 1.0 + rng.uniform(-0.002, 0.002)
        for r in mine:
            if r.status == 500:
                b.log(
                    r.done,
                    logl,
                    line(
                        r.done,
                        "ERROR",
                        f"nio-8080-exec-{rng.randint(1, 200)}",
                        "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                        "Servlet.service() threw exception [Request processing failed: java.lang.IllegalStateException: invoice already settled]",
                    ),
                )
        for t in periodic(b, every=45, jitter=5):
            b.log(
                t,
                logl,
                line(
                    t,
                    "INFO",
                    "scheduling-1",
                    "c.e.billing.dunning.DunningJob",
                    f"dunning run: {rng.randint(0, 12)} reminders sent",
                ),
            )
        if gc:
            stamp = utc(gc_from + 12.0).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
            for i in range(6):
                s = utc(gc_from + 1.5 * i).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
                b.log(
                    gc_from + 1.5 * i,
                    logl,
                    f"[{s}][info][gc] GC({81230 + i}) Pause Young (Normal) (G1 Evacuation Pause) (Evacuation Failure: Allocation) 1790M->1812M(2048M) {300 + 100 * i}.{rng.randint(100, 999)}ms",
                )
            b.log(
                gc_from + 12.0,
                logl,
                f"[{stamp}][info][gc] GC(81236) Pause Full (G1 Compaction Pause) 2031M->684M(2048M) 2841.306ms",
            )

    # --- billing-db -----------------------------------------------------------------------------
    dl = {"job": "billing-db", "instance": "10.77.9.3:9104"}
    dt = b.scrapes(dl["instance"])
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 2,
        noise=0.3,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 40,
        noise=0.04,
        integer=True,
    )
    b.counter(
        "mysql_global_status_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 31.0,
        initial=2.2e9,
    )
    for t in periodic(b, every=900, jitter=120):
        b.log(
            t,
            {"job": "billing-db", "host": "billing-db-1"},
            f"{utc(t).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z {rng.randint(1000, 99999)} [Note] [MY-010914] [Server] Aborted connection {rng.randint(1000, 99999)} to db: 'billing' user: 'billing' host: '10.77.{rng.randint(1, 4)}.{rng.randint(2, 40)}' (Got an error reading communication packets).",
        )
    return b
