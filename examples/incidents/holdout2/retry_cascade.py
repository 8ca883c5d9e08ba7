"""two-tier-cascade-with-retry-amplification: a slow inventory service, a retrying gateway.

2025-08-29, window 09:30-10:30 UTC.  ingress-nginx (namespace ``ingress-public``, two
controllers, the controller's default log format with ``[upstream]`` fields) routes to
four ``gateway`` pods (Go, zap JSON logs, namespace ``storefront``, 10.42.1.x:8080); the
gateway calls three ``inventory`` pods (Spring Boot, Micrometer, Tomcat access log,
namespace ``stock``, 10.42.7.x:8080) for every stock, product and basket call.

At 09:51:30 a config push enables ``stock.realtime-reservations`` on inventory: every
lookup now recomputes reservations synchronously and inventory's own service time goes
from ~30 ms to ~0.75 s, worsening to ~1.1 s as load grows.  The gateway gives each
attempt 800 ms and makes up to three attempts (50/100 ms backoff), so inventory receives
up to three times the calls and its CPU pegs on all three pods; inventory itself answers
almost everything with 200 (late), while the gateway answers 504 after ~2.6 s for the
calls whose three attempts all timed out (10 % rising to ~40 %).  The ingress only sees
the gateway's 504s.  Inventory's access log is full of the gateway pods' addresses,
repeated three times per user request: internal callers, not clients.

Expected: root ``inventory-svc`` (the deepest failing component); gateway and ingress are
symptoms; nothing affected alone (all pods of both tiers alike); no client (the
amplifying callers are our own gateway pods); no remediation the project offers fits:
draining one of identical pods or rate-limiting the gateway would only add errors (the
fix is turning the flag off and capping retries).
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, ramp, utc
from examples.incidents.holdout2.common import Req, process_metrics, red_metrics, traffic

CONTROLLERS = ("ingress-nginx-controller-5b8d9-f7k2x", "ingress-nginx-controller-5b8d9-q4m8s")
GATEWAYS = {
    "10.42.1.23:8080": "gateway-7f9c6d5b8-2mzqk",
    "10.42.2.41:8080": "gateway-7f9c6d5b8-8hxtw",
    "10.42.3.12:8080": "gateway-7f9c6d5b8-kq9vd",
    "10.42.4.30:8080": "gateway-7f9c6d5b8-zr5lp",
}
INVENTORY = {
    "10.42.7.15:8080": "inventory-64d7b9f8c-4wq2n",
    "10.42.8.22:8080": "inventory-64d7b9f8c-bx7rt",
    "10.42.9.9:8080": "inventory-64d7b9f8c-sd8kj",
}
ROUTES = (
    ("GET", "/api/products/:id", 6.0),
    ("GET", "/api/stock/:sku", 3.0),
    ("POST", "/api/basket", 1.0),
    ("GET", "/api/content/:slug", 3.0),
    ("GET", "/api/search", 2.0),
)
NEEDS_INVENTORY = {"/api/products/:id", "/api/stock/:sku", "/api/basket"}
ATTEMPT_TIMEOUT = 0.8
MICROMETER_LE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def build() -> Bundle:
    b = Bundle(
        name="storefront-504-2025-08-29",
        description="Product pages and basket time out with 504",
        start="2025-08-29T09:30:00Z",
        end="2025-08-29T10:30:00Z",
        seed=250829,
        symptom={"component": "public-ingress", "route": "/api/products"},
        components=[
            Component("public-ingress", "proxy", {"namespace": "ingress-public"}, ["gateway"]),
            Component(
                "gateway",
                "app",
                {"namespace": "storefront", "container": "gateway"},
                ["inventory-svc"],
            ),
            Component("inventory-svc", "app", {"namespace": "stock", "container": "inventory"}),
        ],
    )
    rng = b.rng
    flag = b.at("09:51:30")

    def service_median(t: float) -> float:
        return 0.03 + 0.72 * ramp(t, flag, flag + 90) + 0.35 * ramp(t, flag + 90, flag + 900)

    pool = client_pool(
        rng,
        [
            lambda r: f"62.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"151.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2003:e{r.randint(0, 15):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
        ],
        560,
    )
    attempts: list[
        tuple[float, str, str, str, str, float, bool]
    ] = []  # ts, gw, inv, method, path, dur, aborted
    gateway_logs: list[tuple[float, str, dict[str, object]]] = []

    def fill(route: str) -> str:
        return (
            route.replace(":id", str(rng.randint(1000, 99999)))
            .replace(":sku", f"SKU-{rng.randint(10000, 99999)}")
            .replace(":slug", rng.choice(("summer-sale", "about", "shipping", "returns")))
        )

    def shape(req: Req) -> Req:
        own = req.duration
        if req.route not in NEEDS_INVENTORY:
            return req
        t = req.ts + 0.002
        inv_path = (
            "/v2/stock/batch" if req.method == "POST" else f"/v2/stock/{rng.randint(10000, 99999)}"
        )
        inv_method = "POST" if req.method == "POST" else "GET"
        for attempt in range(3):
            target = rng.choice(list(INVENTORY))
            served = rng.lognormvariate(0.0, 0.5) * service_median(t)
            if served <= ATTEMPT_TIMEOUT:
                attempts.append((t, req.instance, target, inv_method, inv_path, served, False))
                return Req(**{**req.__dict__, "duration": t + served - req.ts + own})
            attempts.append((t, req.instance, target, inv_method, inv_path, served, True))
            gateway_logs.append(
                (
                    t + ATTEMPT_TIMEOUT,
                    req.instance,
                    {
                        "level": "warn",
                        "caller": "upstream/retry.go:112",
                        "msg": "upstream attempt failed",
                        "upstream": "inventory.stock.svc.cluster.local:8080",
                        "path": inv_path,
                        "attempt": attempt + 1,
                        "error": "context deadline exceeded",
                    },
                )
            )
            t += ATTEMPT_TIMEOUT + 0.05 * (2**attempt)
        gateway_logs.append(
            (
                t,
                req.instance,
                {
                    "level": "error",
                    "caller": "handler/stock.go:64",
                    "msg": "retries exhausted",
                    "upstream": "inventory.stock.svc.cluster.local:8080",
                    "route": req.route,
                    "attempts": 3,
                    "error": "upstream request timeout",
                },
            )
        )
        return Req(**{**req.__dict__, "status": 504, "duration": t - req.ts})

    requests = traffic(
        b,
        rate=lambda t: 12.0,
        pool=pool,
        routes=ROUTES,
        instances=list(GATEWAYS),
        fill=fill,
        median=0.012,
        shape=shape,
        edges=list(CONTROLLERS),
    )

    # --- ingress-nginx -------------------------------------------------------------------
    for controller in CONTROLLERS:
        mine = [r for r in requests if r.edge == controller]
        labels = {
            "namespace": "ingress-public",
            "pod": controller,
            "controller_class": "k8s.io/ingress-nginx",
            "instance": controller,
        }
        times = b.scrapes(controller)
        scope = {"exported_namespace": "storefront", "ingress": "storefront", "service": "gateway"}
        b.counter_from_events(
            "nginx_ingress_controller_requests_total",
            "The total number of client requests",
            times,
            (
                (
                    r.done,
                    {
                        **labels,
                        **scope,
                        "method": r.method,
                        "status": str(r.status),
                        "path": "/api",
                    },
                    1,
                )
                for r in mine
            ),
        )
        b.histogram_from_events(
            "nginx_ingress_controller_request_duration_seconds",
            "The request processing time in milliseconds",
            times,
            ((r.done, {**labels, **scope}, r.duration + 0.001) for r in mine),
        )
        log_labels = {
            "namespace": "ingress-public",
            "pod": controller,
            "container": "controller",
            "stream": "stdout",
        }
        for r in mine:
            stamp = utc(r.done).strftime("%d/%b/%Y:%H:%M:%S +0000")
            size = 0 if r.status == 504 else r.size
            b.log(
                r.done + 0.001,
                log_labels,
                f'{r.ip} - - [{stamp}] "{r.method} {r.path} HTTP/2.0" {r.status} {size} "https://shop.example.net/" "{r.agent}" '
                f"{rng.randint(40, 700)} {r.duration + 0.001:.3f} [storefront-gateway-8080] [] {r.instance} {size + 24} {r.duration:.3f} {r.status} {b.request_id()}",
            )

    # --- gateway pods: prometheus client_golang, zap JSON ---------------------------------
    gw_calls: dict[str, list[tuple[float, str, float, bool]]] = {g: [] for g in GATEWAYS}
    for ts, gw, _inv, _m, _p, dur, aborted in attempts:
        gw_calls[gw].append(
            (ts, "timeout" if aborted else "ok", min(dur, ATTEMPT_TIMEOUT), aborted)
        )
    for inst, pod in GATEWAYS.items():
        mine = [r for r in requests if r.instance == inst]
        labels = {
            "namespace": "storefront",
            "container": "gateway",
            "pod": pod,
            "job": "gateway",
            "instance": inst,
        }
        times = b.scrapes(inst)
        red_metrics(b, labels=labels, times=times, requests=mine)
        b.counter_from_events(
            "gateway_upstream_requests_total",
            "Upstream attempts by result",
            times,
            (
                (ts + d, {**labels, "upstream": "inventory", "result": res}, 1)
                for ts, res, d, _ in gw_calls[inst]
            ),
            always=[{**labels, "upstream": "inventory", "result": "ok"}],
        )
        b.counter_from_events(
            "gateway_upstream_retries_total",
            "Retries issued to an upstream",
            times,
            (
                (ts + d, {**labels, "upstream": "inventory"}, 1)
                for ts, _res, d, aborted in gw_calls[inst]
                if aborted
            ),
            always=[{**labels, "upstream": "inventory"}],
        )
        process_metrics(
            b,
            labels=labels,
            times=times,
            cpu=lambda t: 0.18 + 0.05 * ramp(t, flag, flag + 300),
            rss=lambda t: 61e6 + 25e6 * ramp(t, flag, flag + 600),
            started=b.data_start - rng.uniform(40000, 300000),
        )
        b.gauge(
            "go_goroutines",
            "Number of goroutines that currently exist.",
            labels,
            times,
            lambda t: 38 + 160 * ramp(t, flag, flag + 600),
            noise=0.1,
            integer=True,
        )
        log_labels = {
            "namespace": "storefront",
            "container": "gateway",
            "pod": pod,
            "app": "gateway",
            "stream": "stderr",
        }
        for ts, gw, entry in gateway_logs:
            if gw == inst:
                b.log(
                    ts,
                    log_labels,
                    json.dumps(
                        {
                            "level": entry["level"],
                            "ts": round(ts, 3),
                            **{k: v for k, v in entry.items() if k != "level"},
                        }
                    ),
                )
        t = b.data_start + rng.uniform(0, 30)
        while t < b.end:
            b.log(
                t,
                log_labels,
                json.dumps(
                    {
                        "level": "info",
                        "ts": round(t, 3),
                        "caller": "discovery/watch.go:77",
                        "msg": "endpoints refreshed",
                        "service": "inventory",
                        "ready": 3,
                    }
                ),
            )
            t += 30 + rng.uniform(-0.5, 0.5)

    # --- inventory pods: Micrometer, cAdvisor, Tomcat access log, Spring logs ------------------
    for inst, pod in INVENTORY.items():
        mine = [a for a in attempts if a[2] == inst]
        labels = {
            "namespace": "stock",
            "container": "inventory",
            "pod": pod,
            "job": "inventory",
            "instance": inst,
        }
        times = b.scrapes(inst)
        b.histogram_from_events(
            "http_server_requests_seconds",
            "Duration of HTTP server request handling",
            times,
            (
                (
                    ts + d,
                    {
                        **labels,
                        "exception": "None",
                        "method": m,
                        "outcome": "SUCCESS",
                        "status": "200",
                        "uri": "/v2/stock/batch" if m == "POST" else "/v2/stock/{sku}",
                    },
                    d,
                )
                for ts, _g, _i, m, _p, d, _a in mine
            ),
            buckets=MICROMETER_LE,
        )
        b.gauge(
            "tomcat_threads_busy_threads",
            "The number of busy worker threads",
            {**labels, "name": "http-nio-8080"},
            times,
            lambda t: 3 + 140 * ramp(t, flag, flag + 600),
            noise=0.08,
            integer=True,
        )
        b.gauge(
            "process_cpu_usage",
            "The recent cpu usage for the JVM process",
            labels,
            times,
            lambda t: 0.22 + 0.74 * ramp(t, flag, flag + 300),
            noise=0.04,
        )
        node_ip = f"10.42.{inst.split('.')[2]}.1"
        cad = {
            "namespace": "stock",
            "container": "inventory",
            "pod": pod,
            "node": f"aks-pool1-{inst.split('.')[2]}",
            "instance": f"{node_ip}:10250",
            "job": "kubelet",
        }
        b.counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            cad,
            b.scrapes(f"{node_ip}:10250", step=30.0),
            lambda t: 0.45 + 1.5 * ramp(t, flag, flag + 300),
            integer=False,
            noise=0.05,
            initial=rng.uniform(20000, 80000),
        )
        log_labels = {
            "namespace": "stock",
            "container": "inventory",
            "pod": pod,
            "app": "inventory",
            "stream": "stdout",
        }
        for ts, gw, _i, method, path, dur, aborted in mine:
            stamp = utc(ts + dur).strftime("%d/%b/%Y:%H:%M:%S +0000")
            b.log(
                ts + dur,
                log_labels,
                f'{gw.split(":")[0]} - - [{stamp}] "{method} {path} HTTP/1.1" 200 {rng.randint(60, 900)} {int(dur * 1000)}',
            )
            if aborted and rng.random() < 0.3:
                b.log(
                    ts + dur + 0.001,
                    log_labels,
                    f"{utc(ts + dur).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  WARN 1 --- [nio-8080-exec-{rng.randint(1, 200)}] o.s.w.s.m.s.DefaultHandlerExceptionResolver : "
                    "Resolved [org.springframework.web.context.request.async.AsyncRequestNotUsableException: ServletOutputStream failed to flush: java.io.IOException: Broken pipe]",
                )
        b.log(
            flag + rng.uniform(0.1, 0.6),
            log_labels,
            f"{utc(flag).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [pool-3-thread-1] c.e.s.inventory.config.FeatureFlags       : "
            "flag stock.realtime-reservations changed false -> true (source: configmap inventory-flags)",
        )
        t = b.data_start + rng.uniform(0, 120)
        while t < b.end:
            b.log(
                t,
                log_labels,
                f"{utc(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  INFO 1 --- [   scheduling-1] c.e.s.inventory.sync.WarehouseSync       : synced {rng.randint(20, 400)} stock levels from wms in {rng.randint(40, 190)} ms",
            )
            t += 120 + rng.uniform(-1, 1)
    return b
