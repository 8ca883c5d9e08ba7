"""oom-crashloop-pod: one pod leaks heap, is OOM-killed, restarts, and leaks again.

2025-12-02, window 02:00-03:00 UTC.  HAProxy 2.8 (syslog ``httplog`` lines, built-in
Prometheus exporter, health checks every 2 s) balances over four ``reports`` pods
(Spring Boot, namespace ``analytics``, 10.44.x.x:8080).  Three run image 3.7.4; the canary
``reports-5d8f7c9b6-qm2zt`` (10.44.2.17:8080) runs 3.8.0-rc1, whose PDF renderer keeps every
page in a static list.  From 02:14 its working set climbs to the 1 GiB limit: heap-space
``OutOfMemoryError`` stack traces, 500s and slow answers, then the kernel OOM-kills it.
Kubernetes restarts it with a growing CrashLoopBackOff delay; each new JVM leaks again,
faster, because the retried render jobs come straight back.  kube-state-metrics (its own
address as ``instance``) shows the restarts and ``OOMKilled``; cAdvisor (the kubelet as
``instance``) the saw-tooth; HAProxy marks the server DOWN and UP again each time.
The three other pods and ``report-cache`` (Redis) stay healthy.

Expected: root ``reports``; affected only 10.44.2.17:8080; drain that pod; no client.
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, utc
from examples.incidents.holdout2.common import Req, periodic, with_outcome

PODS = {
    "10.44.1.8:8080": ("reports-5d8f7c9b6-4kdnx", "10.44.1.1", "3.7.4", "reports-1"),
    "10.44.2.17:8080": ("reports-5d8f7c9b6-qm2zt", "10.44.2.1", "3.8.0-rc1", "reports-2"),
    "10.44.3.25:8080": ("reports-5d8f7c9b6-t8wbc", "10.44.3.1", "3.7.4", "reports-3"),
    "10.44.4.11:8080": ("reports-5d8f7c9b6-x2vfj", "10.44.4.1", "3.7.4", "reports-4"),
}
BAD = "10.44.2.17:8080"
KSM = "10.44.0.7:8080"
LIMIT = 1073741824.0
ROUTES = (
    ("GET", "/api/reports/{id}", 6.0),
    ("GET", "/api/reports/{id}/pdf", 1.5),
    ("POST", "/api/reports", 0.8),
    ("GET", "/api/dashboards/{id}", 3.0),
    ("GET", "/actuator/health", 0.3),
)
MICROMETER_LE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STACK = (
    "java.lang.OutOfMemoryError: Java heap space\n"
    "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3541)\n"
    "\tat java.base/java.io.ByteArrayOutputStream.ensureCapacity(ByteArrayOutputStream.java:100)\n"
    "\tat java.base/java.io.ByteArrayOutputStream.write(ByteArrayOutputStream.java:132)\n"
    "\tat org.apache.pdfbox.pdfwriter.COSWriter.doWriteObject(COSWriter.java:522)\n"
    "\tat com.example.reports.render.PdfRenderer.renderPage(PdfRenderer.java:214)\n"
    "\tat com.example.reports.render.PdfRenderer.render(PdfRenderer.java:131)\n"
    "\tat com.example.reports.api.ReportController.pdf(ReportController.java:88)\n"
    "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n"
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)\n"
    "\t... 48 common frames omitted"
)


def _lifetimes(start: float, end: float, leak_from: float) -> list[tuple[float, float, float]]:
    """(up, leak start, killed) per container run of the bad pod, until the window end."""
    runs = []
    up, backoff, life = start, 10.0, 330.0
    while up < end:
        leak = max(up, leak_from)
        killed = leak + life
        runs.append((up, leak, killed))
        if killed >= end:
            break
        up = killed + backoff + 24.0  # CrashLoopBackOff delay, then the JVM's boot
        backoff, life = min(backoff * 2, 300.0), 150.0
    return runs


def build() -> Bundle:
    b = Bundle(
        name="reports-5xx-2025-12-02",
        description="Intermittent 502/503 on reports, nightly batch",
        start="2025-12-02T02:00:00Z",
        end="2025-12-02T03:00:00Z",
        seed=251202,
        symptom={"component": "reports-lb"},
        components=[
            Component("reports-lb", "proxy", {"job": "reports-lb"}, ["reports"]),
            Component(
                "reports",
                "app",
                {"namespace": "analytics", "container": "reports"},
                ["report-cache"],
            ),
            Component("report-cache", "redis", {"namespace": "analytics", "app": "report-cache"}),
        ],
    )
    rng = b.rng
    leak_from = b.at("02:14:00")
    runs = _lifetimes(b.data_start, b.end + 1, leak_from)

    def run_at(t: float) -> tuple[float, float, float] | None:
        for run in runs:
            if run[0] <= t < run[2]:
                return run
        return None

    def memory(t: float) -> float:
        run = run_at(t)
        if run is None:
            return 0.0
        up, leak, killed = run
        base = 560e6 + 80e6 * min(1.0, (t - up) / 60.0)
        if t < leak:
            return base
        return base + (LIMIT - 640e6) * (t - leak) / (killed - leak)

    def checks_down(t: float) -> bool:
        """HAProxy's view: DOWN 6 s after a kill (3 failed checks), UP 4 s after boot."""
        for i, (_up, _leak, killed) in enumerate(runs):
            back = runs[i + 1][0] + 4.0 if i + 1 < len(runs) else b.end + 1
            if killed + 6.0 <= t < back:
                return True
        return False

    pool = client_pool(
        rng,
        [
            lambda r: f"10.90.{r.randint(0, 63)}.{r.randint(1, 254)}",
            lambda r: f"193.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"37.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        300,
    )
    servers = list(PODS)
    requests: list[Req] = []
    errors: list[tuple[float, str]] = []
    weights = [w for *_, w in ROUTES]
    for ts in b.arrivals(lambda t: 7.0):
        ip, agent = pick_client(rng, pool)
        method, route, _ = rng.choices(ROUTES, weights=weights)[0]
        path = route.replace("{id}", str(rng.randint(1, 60000)))
        live = [s for s in servers if s != BAD or not checks_down(ts)]
        inst = rng.choice(live)
        dur = rng.lognormvariate(0.0, 0.5) * (0.9 if route.endswith("/pdf") else 0.06)
        status = 500 if rng.random() < 0.001 else 200
        req = Req(ts, ip, agent, method, path, route, inst, status, dur, rng.randint(400, 60000))
        if inst == BAD:
            run = run_at(ts)
            if run is None:
                # killed, HAProxy has not noticed yet: the connection is refused or reset
                req = with_outcome(req, status=503, duration=rng.uniform(0.001, 0.004))
            else:
                up, leak, killed = run
                pressure = 0.0 if ts < leak else (ts - leak) / (killed - leak)
                slow = 1.0 + 25.0 * pressure**3
                req = with_outcome(req, duration=min(req.duration * slow, killed - ts))
                if pressure > 0.8 and rng.random() < 0.5 * pressure:
                    req = with_outcome(req, status=500)
                    errors.append((req.done, route))
                elif req.done >= killed - 0.01:
                    req = with_outcome(req, status=502, duration=killed - ts)
        requests.append(req)

    # --- HAProxy ---------------------------------------------------------------------------
    lb = {"job": "reports-lb", "instance": "10.44.0.2:8405"}
    times = b.scrapes(lb["instance"])
    b.counter_from_events(
        "haproxy_server_http_responses_total",
        "Total number of HTTP responses.",
        times,
        (
            (
                r.done,
                {
                    **lb,
                    "proxy": "reports_be",
                    "server": PODS[r.instance][3],
                    "code": f"{r.status // 100}xx",
                },
                1,
            )
            for r in requests
        ),
        always=[{**lb, "proxy": "reports_be", "server": PODS[s][3], "code": "5xx"} for s in PODS],
    )
    b.counter_from_events(
        "haproxy_frontend_http_responses_total",
        "Total number of HTTP responses.",
        times,
        (
            (r.done, {**lb, "proxy": "reports_fe", "code": f"{r.status // 100}xx"}, 1)
            for r in requests
        ),
        always=[{**lb, "proxy": "reports_fe", "code": "5xx"}],
    )
    for inst, (_pod, _node, _img, server) in PODS.items():
        b.gauge(
            "haproxy_server_status",
            "Current status of the service.",
            {**lb, "proxy": "reports_be", "server": server},
            times,
            (lambda t, bad=inst == BAD: 0 if bad and checks_down(t) else 1),
        )
    syslog = {"job": "reports-lb", "host": "lb-1", "app": "haproxy"}
    for r in requests:
        stamp = utc(r.ts).strftime("%d/%b/%Y:%H:%M:%S.%f")[:-3]
        head = utc(r.done).strftime("%b %e %H:%M:%S")
        tr = int(r.duration * 1000)
        state = "----" if r.status < 502 else ("SH--" if r.status == 502 else "SC--")
        b.log(
            r.done,
            syslog,
            f"{head} lb-1 haproxy[2211]: {r.ip}:{rng.randint(1024, 65535)} [{stamp}] reports_fe~ reports_be/{PODS[r.instance][3]} "
            f"0/0/{0 if r.status == 503 else 1}/{-1 if r.status >= 502 else tr}/{tr + 1} {r.status} {0 if r.status >= 502 else r.size} - - {state} "
            f'{rng.randint(20, 80)}/{rng.randint(20, 80)}/{rng.randint(1, 9)}/{rng.randint(0, 4)}/0 0/0 "{r.method} {r.path} HTTP/1.1"',
        )
    for i, (_up, _leak, killed) in enumerate(runs):
        if killed >= b.end:
            break
        t = killed + 6.0
        b.log(
            t,
            syslog,
            f"{utc(t).strftime('%b %e %H:%M:%S')} lb-1 haproxy[2211]: [WARNING]  (2211) : Server reports_be/reports-2 is DOWN, reason: Layer4 connection problem, "
            'info: "Connection refused", check duration: 0ms. 3 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
        )
        if i + 1 < len(runs):
            t = runs[i + 1][0] + 4.0
            b.log(
                t,
                syslog,
                f"{utc(t).strftime('%b %e %H:%M:%S')} lb-1 haproxy[2211]: [WARNING]  (2211) : Server reports_be/reports-2 is UP, reason: Layer7 check passed, "
                "code: 200, check duration: 3ms. 4 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
            )

    # --- reports pods ---------------------------------------------------------------------
    restarts = [killed for _u, _l, killed in runs if killed < b.end]
    for inst, (pod, node_ip, image, _server) in PODS.items():
        bad = inst == BAD
        base = {"namespace": "analytics", "container": "reports", "pod": pod}
        app = {**base, "job": "reports", "instance": inst}
        mine = [r for r in requests if r.instance == inst and r.status != 503]
        scrape = b.scrapes(inst)
        segments = [(r[0], r[2]) for r in runs] if bad else [(b.data_start, b.end + 1)]
        for begin, stop in segments:
            times = [
                t for t in scrape if begin + 20.0 <= t < stop
            ]  # the endpoint answers once booted
            b.histogram_from_events(
                "http_server_requests_seconds",
                "Duration of HTTP server request handling",
                times,
                (
                    (
                        r.done,
                        {
                            **app,
                            "exception": "OutOfMemoryError" if r.status == 500 and bad else "None",
                            "method": r.method,
                            "outcome": "SUCCESS" if r.status < 400 else "SERVER_ERROR",
                            "status": str(r.status),
                            "uri": r.route,
                        },
                        r.duration,
                    )
                    for r in mine
                    if begin <= r.ts < stop
                ),
                buckets=MICROMETER_LE,
            )
            b.gauge(
                "jvm_memory_used_bytes",
                "The amount of used memory",
                {**app, "area": "heap", "id": "G1 Old Gen"},
                times,
                (lambda t: max(0.0, memory(t) - 220e6)) if bad else (lambda t: 330e6),
                noise=0.0 if bad else 0.04,
                integer=True,
            )
            b.gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch.",
                app,
                times,
                lambda t, s=begin: s,
            )
        b.gauge(
            "up",
            "Whether the target answered the scrape",
            app,
            scrape,
            (lambda t: 1 if any(up + 20.0 <= t < killed for up, _l, killed in runs) else 0)
            if bad
            else (lambda t: 1),
        )
        cad = {
            **base,
            "image": f"registry.example.com/analytics/reports:{image}",
            "node": f"node-{node_ip.split('.')[2]}",
            "instance": f"{node_ip}:10250",
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
        }
        ctimes = b.scrapes(f"{node_ip}:10250", step=30.0)
        running = (
            [t for t in ctimes if run_at(t) is not None] if bad else ctimes
        )  # no container, no series
        b.gauge(
            "container_memory_working_set_bytes",
            "Current working set in bytes.",
            cad,
            running,
            memory if bad else (lambda t: 640e6),
            noise=0.0 if bad else 0.01,
            integer=True,
        )
        b.gauge(
            "container_spec_memory_limit_bytes",
            "Memory limit for the container.",
            cad,
            ctimes,
            lambda t: LIMIT,
        )
        b.counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            {**cad, "cpu": "total"},
            ctimes,
            lambda t: 0.35,
            integer=False,
            noise=0.06,
            initial=rng.uniform(1000, 30000),
        )
        ksm = {
            **base,
            "job": "kube-state-metrics",
            "instance": KSM,
            "uid": f"{rng.getrandbits(32):08x}-5c1e-4f0b-9a4e-{rng.getrandbits(48):012x}",
        }
        ktimes = b.scrapes(KSM)
        b.gauge(
            "kube_pod_container_status_restarts_total",
            "The number of container restarts per container.",
            ksm,
            ktimes,
            (lambda t: sum(1 for k in restarts if k + 1.0 <= t)) if bad else (lambda t: 0),
        )
        b.gauge(
            "kube_pod_container_status_last_terminated_reason",
            "Describes the last reason the container was in terminated state.",
            {**ksm, "reason": "OOMKilled"},
            ktimes,
            (lambda t: 1 if any(k + 1.0 <= t for k in restarts) else 0) if bad else (lambda t: 0),
        )
        b.gauge(
            "kube_pod_container_status_waiting_reason",
            "Describes the reason the container is currently in waiting state.",
            {**ksm, "reason": "CrashLoopBackOff"},
            ktimes,
            (lambda t, bad=bad: 1 if bad and run_at(t) is None and t > leak_from else 0),
        )
        logl = {
            "namespace": "analytics",
            "container": "reports",
            "pod": pod,
            "app": "reports",
            "stream": "stdout",
        }
        for t in periodic(b, every=60, jitter=3):
            if not bad or run_at(t) is not None:
                b.log(
                    t,
                    logl,
                    f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [   scheduling-1] c.e.reports.jobs.ScheduleRunner          : {rng.randint(0, 5)} scheduled reports queued",
                )
        if bad:
            for up, _leak, _killed in runs[1:]:
                t = up + 19.0
                b.log(
                    t,
                    logl,
                    f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [           main] c.e.reports.ReportsApplication           : Started ReportsApplication in 18.7 seconds (process running for 19.4)",
                )
            for t, _route in errors:
                b.log(
                    t,
                    logl,
                    f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} ERROR 1 --- [nio-8080-exec-{rng.randint(1, 200)}] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : "
                    "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Handler dispatch failed: java.lang.OutOfMemoryError: Java heap space] with root cause\n\n"
                    + STACK,
                )
            for _up, leak, killed in runs:
                if leak < killed - 40 and killed < b.end:
                    t = killed - rng.uniform(5, 15)
                    b.log(
                        t,
                        logl,
                        f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  WARN 1 --- [      Thread-12] c.e.reports.render.RenderQueue           : render queue retrying job rj-{rng.randint(10**5, 10**6)} after worker failure",
                    )
    # --- report-cache: healthy Redis --------------------------------------------------------
    rl = {
        "namespace": "analytics",
        "app": "report-cache",
        "instance": "10.44.5.3:9121",
        "pod": "report-cache-0",
    }
    rt = b.scrapes(rl["instance"])
    b.gauge("redis_up", "Information about the Redis instance", rl, rt, lambda t: 1)
    b.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        rl,
        rt,
        lambda t: 18,
        noise=0.05,
        integer=True,
    )
    b.counter(
        "redis_commands_processed_total",
        "commands_processed_total metric",
        rl,
        rt,
        lambda t: 21.0,
        initial=4.4e7,
    )
    b.gauge(
        "redis_memory_used_bytes",
        "memory_used_bytes metric",
        rl,
        rt,
        lambda t: 210e6,
        noise=0.004,
        integer=True,
    )
    return b
