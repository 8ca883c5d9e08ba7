"""one-node-noisy-neighbour: one pricing pod on a contended node is CPU-throttled and slow.

2026-01-09, window 16:40-17:40 UTC.  Five ``pricing`` pods (namespace
``quotes``, 10.8.x.x:8080) behind two ingress-nginx controllers.  From 17:04
the pod on node ``ip-10-8-3-7`` shares its cores with a batch neighbour: its
``container_cpu_cfs_throttled_seconds_total`` rate goes from ~0 to ~0.9 s/s and
it runs at its 2-core limit while the others stay near 0.6; its Micrometer
latency (``http_server_requests_seconds``) rises from ~35 ms to ~0.6 s and about
4 % of its requests hit the ingress' 3 s upstream timeout (504).  There are no
process metrics; cAdvisor series carry the node as ``instance`` (kubelet, 30 s
scrapes) and the pod in ``pod``; log streams carry ``pod`` but no ``instance``.
``rates-redis`` is healthy.

Expected: root ``pricing``; affected that pod (10.8.3.14:8080); drain-pod.
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, ramp, utc

PODS = {
    "10.8.1.21:8080": (
        "pricing-6c5f8b7d9-2xkfq",
        "ip-10-8-1-4.eu-west-1.compute.internal",
        "10.8.1.4",
    ),
    "10.8.2.14:8080": (
        "pricing-6c5f8b7d9-b9wzt",
        "ip-10-8-2-11.eu-west-1.compute.internal",
        "10.8.2.11",
    ),
    "10.8.3.14:8080": (
        "pricing-6c5f8b7d9-mq7rn",
        "ip-10-8-3-7.eu-west-1.compute.internal",
        "10.8.3.7",
    ),
    "10.8.4.9:8080": (
        "pricing-6c5f8b7d9-vv4hs",
        "ip-10-8-4-2.eu-west-1.compute.internal",
        "10.8.4.2",
    ),
    "10.8.5.30:8080": (
        "pricing-6c5f8b7d9-ltc8d",
        "ip-10-8-5-19.eu-west-1.compute.internal",
        "10.8.5.19",
    ),
}
BAD = "10.8.3.14:8080"
CONTROLLERS = ("ingress-nginx-controller-7d4f9c-hk2p9", "ingress-nginx-controller-7d4f9c-rx8mw")
ROUTES = (
    ("GET", "/v1/quote", 7.0),
    ("POST", "/v1/quote/batch", 1.0),
    ("GET", "/v1/rates/{ccy}", 3.0),
    ("GET", "/actuator/health", 0.5),
)
MICROMETER_LE = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def build() -> Bundle:
    b = Bundle(
        name="quotes-latency-2026-01-09",
        description="Slow /v1/quote for part of the users",
        start="2026-01-09T16:40:00Z",
        end="2026-01-09T17:40:00Z",
        seed=90109,
        symptom={"component": "ingress", "route": "/v1/quote"},
        lead=900.0,
        components=[
            Component("ingress", "proxy", {"app_kubernetes_io_name": "ingress-nginx"}, ["pricing"]),
            Component(
                "pricing", "app", {"namespace": "quotes", "container": "pricing"}, ["rates-redis"]
            ),
            Component("rates-redis", "redis", {"namespace": "quotes", "service": "rates-redis"}),
        ],
    )
    rng = b.rng
    onset = b.at("17:04:00")

    def contention(t: float) -> float:
        return ramp(t, onset, onset + 120)

    pool = client_pool(
        rng,
        [
            lambda r: f"77.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"92.{r.randint(160, 190)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"203.0.113.{r.randint(1, 254)}",
        ],
        340,
    )
    requests = []
    for ts in b.arrivals(lambda t: 5.5):
        ip, agent = pick_client(rng, pool)
        method, path, _ = rng.choices(ROUTES, weights=[w for *_, w in ROUTES])[0]
        path = path.replace("{ccy}", rng.choice(("EUR", "USD", "GBP", "CHF", "JPY")))
        upstream = rng.choice(list(PODS))
        base = rng.lognormvariate(-3.35, 0.4) * (3.0 if "batch" in path else 1.0)
        status = 200 if rng.random() > 0.0015 else 500
        if upstream == BAD and path != "/actuator/health":
            c = contention(ts)
            base *= 1.0 + 16.0 * c * rng.uniform(0.5, 1.5)
            if rng.random() < 0.04 * c:
                base, status = 3.0 + rng.uniform(0, 0.002), 504
        requests.append(
            (
                ts,
                ip,
                agent,
                method,
                path,
                upstream,
                status,
                base,
                CONTROLLERS[int(rng.random() < 0.5)],
            )
        )

    # --- ingress-nginx controllers --------------------------------------------------
    for controller in CONTROLLERS:
        times = b.scrapes(controller)
        labels = {
            "app_kubernetes_io_name": "ingress-nginx",
            "namespace": "ingress-nginx",
            "controller_pod": controller,
            "instance": controller,
        }
        mine = [r for r in requests if r[8] == controller]
        b.counter_from_events(
            "nginx_ingress_controller_requests_total",
            "The total number of client requests",
            times,
            (
                (
                    ts + d,
                    {
                        **labels,
                        "exported_namespace": "quotes",
                        "ingress": "pricing",
                        "service": "pricing",
                        "method": m,
                        "status": str(st),
                        "path": "/v1",
                    },
                    1,
                )
                for ts, _, _, m, _, _, st, d, _ in mine
            ),
        )
        b.histogram_from_events(
            "nginx_ingress_controller_request_duration_seconds",
            "The request processing time in milliseconds",
            times,
            (
                (
                    ts + d,
                    {
                        **labels,
                        "exported_namespace": "quotes",
                        "ingress": "pricing",
                        "service": "pricing",
                    },
                    d,
                )
                for ts, *_, d, _ in mine
            ),
        )
        log_labels = {
            "app_kubernetes_io_name": "ingress-nginx",
            "namespace": "ingress-nginx",
            "pod": controller,
            "container": "controller",
            "stream": "stdout",
        }
        for ts, ip, agent, method, path, upstream, status, dur, _ in mine:
            stamp = utc(ts + dur).strftime("%d/%b/%Y:%H:%M:%S +0000")
            us = "504" if status == 504 else str(status)
            b.log(
                ts + dur,
                log_labels,
                f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {0 if status == 504 else rng.randint(300, 2400)} "-" "{agent}" '
                f"{rng.randint(180, 900)} {dur:.3f} [quotes-pricing-8080] [] {upstream} {0 if status == 504 else rng.randint(300, 2400)} {dur:.3f} {us} {b.request_id()}",
            )
            if status == 504:
                b.log(
                    ts + dur,
                    {**log_labels, "stream": "stderr"},
                    f"{utc(ts + dur).strftime('%Y/%m/%d %H:%M:%S')} [error] 41#41: *{rng.randint(10**6, 9 * 10**6)} upstream timed out (110: Operation timed out) while reading response header from upstream, "
                    f'client: {ip}, server: api.quotes.example.com, request: "{method} {path} HTTP/1.1", upstream: "http://{upstream}{path}", host: "api.quotes.example.com"',
                )

    # --- pricing pods: Micrometer RED, cAdvisor CPU, logfmt-free Spring text logs ---
    for inst, (pod, node, node_ip) in PODS.items():
        app_labels = {
            "namespace": "quotes",
            "container": "pricing",
            "pod": pod,
            "service": "pricing",
            "endpoint": "http-metrics",
            "instance": inst,
            "job": "pricing",
        }
        times = b.scrapes(inst)
        mine = [r for r in requests if r[5] == inst]
        events = []
        for ts, _ip, _a, method, path, _u, status, dur, _c in mine:
            uri = path if not path.startswith("/v1/rates/") else "/v1/rates/{ccy}"
            served = min(dur, 2.99) if status == 504 else dur
            outcome = "SUCCESS" if status < 400 else "SERVER_ERROR"
            st = "200" if status == 504 else str(status)
            events.append(
                (
                    ts + served,
                    {
                        **app_labels,
                        "exception": "None",
                        "method": method,
                        "outcome": outcome,
                        "status": st,
                        "uri": uri,
                    },
                    served,
                )
            )
        b.histogram_from_events(
            "http_server_requests_seconds",
            "Duration of HTTP server request handling",
            times,
            events,
            buckets=MICROMETER_LE,
        )
        cad = {
            "namespace": "quotes",
            "container": "pricing",
            "pod": pod,
            "image": "registry.local/quotes/pricing:2.14.1",
            "node": node,
            "instance": f"{node_ip}:10250",
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
        }
        ctimes = b.scrapes(f"{node_ip}:10250", step=30.0)
        bad = inst == BAD
        b.counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            {**cad, "cpu": "total"},
            ctimes,
            (lambda t, bad=bad: 0.62 + (1.33 * contention(t) if bad else 0.0)),
            integer=False,
            noise=0.06,
            initial=rng.uniform(30000, 90000),
        )
        b.counter(
            "container_cpu_cfs_throttled_seconds_total",
            "Total time duration the container has been throttled.",
            cad,
            ctimes,
            (lambda t, bad=bad: 0.004 + (0.9 * contention(t) if bad else 0.0)),
            integer=False,
            noise=0.1,
            initial=rng.uniform(100, 400),
        )
        b.counter(
            "container_cpu_cfs_periods_total",
            "Number of elapsed enforcement period intervals.",
            cad,
            ctimes,
            lambda t: 10.0,
            noise=0.0,
            initial=rng.randint(10**6, 4 * 10**6),
        )
        b.counter(
            "container_cpu_cfs_throttled_periods_total",
            "Number of throttled period intervals.",
            cad,
            ctimes,
            (lambda t, bad=bad: 0.05 + (8.1 * contention(t) if bad else 0.0)),
            noise=0.1,
            initial=rng.randint(1000, 9000),
        )
        b.gauge(
            "container_memory_working_set_bytes",
            "Current working set in bytes.",
            cad,
            ctimes,
            lambda t: 612e6,
            noise=0.01,
            integer=True,
        )
        b.gauge(
            "container_spec_cpu_quota", "CPU quota of the container.", cad, ctimes, lambda t: 200000
        )
        log_labels = {
            "namespace": "quotes",
            "container": "pricing",
            "pod": pod,
            "app": "pricing",
            "node_name": node,
            "stream": "stdout",
        }
        for ts, _ip, _a, method, path, _u, status, dur, _c in mine:
            if dur > 1.0 and rng.random() < 0.5:
                b.log(
                    ts + min(dur, 2.99),
                    log_labels,
                    f"{utc(ts + min(dur, 2.99)).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  WARN 1 --- [nio-8080-exec-{rng.randint(1, 200)}] c.e.q.pricing.QuoteController          : "
                    f"slow request {method} {path} took {int(min(dur, 2.99) * 1000)} ms",
                )
            elif status == 500:
                b.log(
                    ts + dur,
                    log_labels,
                    f"{utc(ts + dur).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} ERROR 1 --- [nio-8080-exec-{rng.randint(1, 200)}] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : "
                    "Servlet.service() for servlet [dispatcherServlet] threw exception java.lang.IllegalArgumentException: unknown currency pair",
                )
        t = b.data_start + rng.uniform(0, 300)
        while t < b.end:
            b.log(
                t,
                log_labels,
                f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [   scheduling-1] c.e.q.pricing.RateRefresher              : refreshed 164 rates from rates-redis in {rng.randint(3, 12)} ms",
            )
            t += 300

    # --- rates-redis: healthy ---------------------------------------------------------
    rlabels = {
        "namespace": "quotes",
        "service": "rates-redis",
        "instance": "10.8.6.40:9121",
        "pod": "rates-redis-0",
    }
    rtimes = b.scrapes("10.8.6.40:9121")
    b.gauge("redis_up", "Information about the Redis instance", rlabels, rtimes, lambda t: 1)
    b.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        rlabels,
        rtimes,
        lambda t: 26,
        noise=0.05,
        integer=True,
    )
    b.gauge(
        "redis_memory_used_bytes",
        "memory_used_bytes metric",
        rlabels,
        rtimes,
        lambda t: 41e6,
        noise=0.005,
        integer=True,
    )
    b.counter(
        "redis_commands_processed_total",
        "commands_processed_total metric",
        rlabels,
        rtimes,
        lambda t: 42.0,
        initial=8.8e7,
    )
    b.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        rlabels,
        rtimes,
        lambda t: 40.0,
        initial=7.7e7,
    )
    b.counter(
        "redis_keyspace_misses_total",
        "keyspace_misses_total metric",
        rlabels,
        rtimes,
        lambda t: 0.4,
        initial=3.1e5,
    )
    t = b.data_start + 200
    while t < b.end:
        b.log(
            t,
            {
                "namespace": "quotes",
                "service": "rates-redis",
                "pod": "rates-redis-0",
                "container": "redis",
            },
            f"1:M {utc(t).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * 10 changes in 300 seconds. Saving...",
        )
        b.log(
            t + 0.002,
            {
                "namespace": "quotes",
                "service": "rates-redis",
                "pod": "rates-redis-0",
                "container": "redis",
            },
            f"1:M {utc(t + 0.002).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * Background saving started by pid {rng.randint(1000, 9000)}",
        )
        t += 300 + rng.uniform(-5, 5)
    return b
