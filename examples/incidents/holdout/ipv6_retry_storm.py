"""ipv6-retry-storm: one upstream blips, one IPv6 client never stops retrying.

2026-02-26, window 11:00-12:00 UTC.  Envoy (default access-log format, stats
from ``/stats/prometheus``: untyped counters without ``_total``, latency
histogram in milliseconds) fronts three ``items`` pods (Go, logfmt, 10.60.x.x).
Pod 10.60.2.9 is OOM-killed at 11:19:40 and back at 11:21:10 (its counters
reset); meanwhile Envoy answers ``503 UF`` for the requests it routed there.
Client ``2a05:d018:1a2:3c00:9e4f:11ab:f00d:7`` (``inventory-sync``) gets one of
those 503s at 11:19:52 and retries without backoff at ~45 req/s until 11:52,
long after the pod came back.  From 11:22 all three pods run ~3x CPU and
Envoy's circuit breaker sheds ~8 % of everybody's requests as ``503 UO``.
About 40 % of the ~300 ordinary clients are IPv6 too.

Expected: root ``client``; clients that IPv6 address; rate-limit-client for it;
no affected instance (the pod that blipped recovered 30 minutes before the end
and stayed healthy, the overload hits all three alike), no drain.
"""

from __future__ import annotations

from examples.incidents.holdout.kit import (
    Bundle,
    Component,
    client_pool,
    pick_client,
    utc,
    window,
)

PODS = {
    "10.60.1.5:8080": "items-84c7b9d6f-4gq2d",
    "10.60.2.9:8080": "items-84c7b9d6f-h7s9x",
    "10.60.3.12:8080": "items-84c7b9d6f-wc5nb",
}
BLIP = "10.60.2.9:8080"
ABUSER = "2a05:d018:1a2:3c00:9e4f:11ab:f00d:7"
ABUSER_AGENT = "inventory-sync/2.3.0 python-requests/2.31.0"
RQ_TIME_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def build() -> Bundle:
    b = Bundle(
        name="items-503-2026-02-26",
        description="503s from the public items API",
        start="2026-02-26T11:00:00Z",
        end="2026-02-26T12:00:00Z",
        seed=226110,
        symptom={"component": "envoy", "route": "/v1/items"},
        lead=300.0,
        components=[
            Component("envoy", "proxy", {"app": "envoy-edge"}, ["items"]),
            Component("items", "app", {"app": "items"}),
        ],
    )
    rng = b.rng
    down, up = b.at("11:19:40"), b.at("11:21:10")
    storm_start, storm_end = b.at("11:19:52"), b.at("11:52:00")

    def storm(t: float) -> float:
        return window(t, storm_start, storm_start + 20, storm_end, storm_end + 5)

    def overload(t: float) -> float:
        return window(t, storm_start + 60, b.at("11:22:00"), storm_end, storm_end + 30)

    pool = client_pool(
        rng,
        [
            lambda r: (
                f"2a02:{r.randint(0x1000, 0x9FFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(1, 0xFFFF):x}"
            ),
            lambda r: (
                f"2600:{r.randint(0x1700, 0x1F00):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
            lambda r: f"93.{r.randint(180, 240)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"31.{r.randint(0, 60)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"151.{r.randint(20, 90)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        300,
    )
    arrivals = [(ts, *pick_client(rng, pool)) for ts in b.arrivals(lambda t: 5.0)]
    arrivals += [(ts, ABUSER, ABUSER_AGENT) for ts in b.arrivals(lambda t: 0.2 + 45.0 * storm(t))]
    arrivals.sort()
    requests = []
    page_of_abuser = 17
    for ts, ip, agent in arrivals:
        if ip == ABUSER:
            path = f"/v1/items?page={page_of_abuser}&limit=500"
            if ts < storm_start and rng.random() < 0.3:
                page_of_abuser += 1
        else:
            path = rng.choice(
                (
                    "/v1/items",
                    "/v1/items",
                    "/v1/items/" + str(rng.randint(1, 90000)),
                    "/v1/items/search?q=" + rng.choice(("red", "bolt", "m8", "valve")),
                )
            )
        upstream = rng.choice(list(PODS))
        ov = overload(ts)
        base = rng.lognormvariate(-3.9, 0.45) * (1.0 + 7.0 * ov * rng.random())
        if upstream == BLIP and down <= ts < up:
            status, flags, dur, host, ust = 503, "UF", rng.uniform(0.0005, 0.003), upstream, None
        elif rng.random() < 0.08 * ov:
            status, flags, dur, host, ust = 503, "UO", rng.uniform(0.0001, 0.0008), None, None
        else:
            status = 200 if rng.random() > 0.001 else 500
            flags, dur, host, ust = "-", base, upstream, base * 0.97
        requests.append((ts, ip, agent, path, status, flags, dur, host, ust))

    # --- envoy ----------------------------------------------------------------------
    el = {
        "app": "envoy-edge",
        "instance": "10.60.0.20:9901",
        "pod": "envoy-edge-6d9f7-xk2lz",
        "namespace": "edge",
    }
    et = b.scrapes("10.60.0.20:9901")
    cl = {**el, "envoy_cluster_name": "items"}
    b.counter_from_events(
        "envoy_cluster_upstream_rq_total",
        "",
        et,
        ((ts + d, cl, 1) for ts, _, _, _, _, _, d, h, _ in requests if h),
        always=[cl],
    )
    b.counter_from_events(
        "envoy_cluster_upstream_rq_xx",
        "",
        et,
        (
            (ts + d, {**cl, "envoy_response_code_class": str(st)[0]}, 1)
            for ts, _, _, _, st, f, d, h, _ in requests
            if f == "-"
        ),
        kind="unknown",
    )
    b.counter_from_events(
        "envoy_cluster_upstream_cx_connect_fail",
        "",
        et,
        ((ts, cl, 1) for ts, *_, f, _d, _h, _u in requests if f == "UF"),
        always=[cl],
        kind="unknown",
    )
    b.counter_from_events(
        "envoy_cluster_upstream_rq_pending_overflow",
        "",
        et,
        ((ts, cl, 1) for ts, *_, f, _d, _h, _u in requests if f == "UO"),
        always=[cl],
        kind="unknown",
    )
    dl = {**el, "envoy_http_conn_manager_prefix": "ingress_http"}
    b.counter_from_events(
        "envoy_http_downstream_rq_xx",
        "",
        et,
        (
            (ts + d, {**dl, "envoy_response_code_class": str(st)[0]}, 1)
            for ts, _, _, _, st, _, d, _, _ in requests
        ),
        always=[{**dl, "envoy_response_code_class": "5"}],
        kind="unknown",
    )
    b.gauge(
        "envoy_cluster_upstream_rq_active",
        "",
        cl,
        et,
        lambda t: 3 + 60 * overload(t),
        noise=0.2,
        integer=True,
    )
    b.gauge(
        "envoy_cluster_membership_healthy",
        "",
        cl,
        et,
        lambda t: 2 if down + 5 <= t < up + 10 else 3,
    )
    b.histogram_from_events(
        "envoy_cluster_upstream_rq_time",
        "",
        et,
        ((ts + d, cl, round(u * 1000, 3)) for ts, *_, d, _h, u in requests if u is not None),
        buckets=RQ_TIME_MS,
        le_format=lambda le: f"{le:g}",
    )
    for ts, ip, agent, path, status, flags, dur, host, ust in requests:
        sent = (
            91
            if status == 503 and flags == "UF"
            else (81 if status == 503 else rng.randint(900, 60000))
        )
        b.log(
            ts + dur,
            {
                "app": "envoy-edge",
                "pod": "envoy-edge-6d9f7-xk2lz",
                "namespace": "edge",
                "container": "envoy",
            },
            f'[{utc(ts).strftime("%Y-%m-%dT%H:%M:%S.")}{int(ts * 1000) % 1000:03d}Z] "GET {path} HTTP/1.1" {status} {flags} 0 {sent} {max(0, round(dur * 1000))} '
            f'{round(ust * 1000) if ust is not None else "-"} "{ip}" "{agent}" "{b.request_id()[:8]}-{b.request_id()[:4]}-4{b.request_id()[:3]}-a{b.request_id()[:3]}-{b.request_id()[:12]}" '
            f'"api.items.example.net" "{host or "-"}"',
        )

    # --- items pods -------------------------------------------------------------------
    for inst, pod in PODS.items():
        labels = {"app": "items", "namespace": "catalog", "pod": pod, "instance": inst}
        if inst == BLIP:
            times = [t for t in b.scrapes(inst) if not (down <= t < up)]
            resets = [up]
        else:
            times, resets = b.scrapes(inst), []
        mine = [r for r in requests if r[7] == inst and r[5] == "-"]

        def reset_events(rows: list, *, key):  # counters restart with the process
            for r in rows:
                yield r[0] + r[6], key(r), 1

        if resets:
            before = [t for t in times if t < up]
            after = [t for t in times if t >= up]
            mine_before = [r for r in mine if r[0] < down]
            mine_after = [r for r in mine if r[0] >= up]
            segments = [(before, mine_before), (after, mine_after)]
        else:
            segments = [(times, mine)]
        for seg_times, rows in segments:
            b.counter_from_events(
                "http_requests_total",
                "Total number of HTTP requests by status code, handler and method.",
                seg_times,
                reset_events(
                    rows,
                    key=lambda r: {
                        **labels,
                        "code": str(r[4]),
                        "handler": "/v1/items",
                        "method": "get",
                    },
                ),
                always=[{**labels, "code": "200", "handler": "/v1/items", "method": "get"}],
            )
            b.histogram_from_events(
                "http_request_duration_seconds",
                "Latency of HTTP requests.",
                seg_times,
                (
                    (r[0] + r[6], {**labels, "handler": "/v1/items", "method": "get"}, r[8])
                    for r in rows
                ),
            )
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t: 0.09 + 0.22 * overload(t),
            integer=False,
            resets=resets,
            initial=2211.0 if not resets else 1904.0,
        )
        b.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            labels,
            times,
            (lambda t: up - 3.2 if t >= up else b.data_start - 86400 * 2)
            if resets
            else (lambda t: b.data_start - 86400 * 2),
        )
        b.gauge(
            "go_goroutines",
            "Number of goroutines that currently exist.",
            labels,
            times,
            lambda t: 40 + 300 * overload(t),
            noise=0.1,
            integer=True,
        )
        ll = {"app": "items", "namespace": "catalog", "pod": pod, "container": "items"}

        def slog(t: float, level: str, msg: str, **kv: object) -> str:
            rest = " ".join(f'{k}="{v}"' if " " in str(v) else f"{k}={v}" for k, v in kv.items())
            return (
                f'time={utc(t).strftime("%Y-%m-%dT%H:%M:%S.")}{int(t * 1000) % 1000:03d}Z level={level} msg="{msg}"'
                + (f" {rest}" if rest else "")
            )

        if inst == BLIP:
            b.log(
                down - 2.1,
                ll,
                slog(down - 2.1, "WARN", "heap near limit", heap_mb=1003, limit_mb=1024),
            )
            b.log(
                up - 3.0,
                ll,
                slog(up - 3.0, "INFO", "starting items service", version="1.18.2", addr=":8080"),
            )
            b.log(up - 0.4, ll, slog(up - 0.4, "INFO", "warmed cache", items=88213, took="2.1s"))
        for ts, *_rest in [r for r in mine if rng.random() < 0.01]:
            b.log(ts, ll, slog(ts, "INFO", "request served", path="/v1/items", status=200))
        for ts, *_rest in [r for r in mine if r[4] == 500]:
            b.log(ts, ll, slog(ts, "ERROR", "encode page", err="json: unsupported value: NaN"))
        t = b.data_start + rng.uniform(0, 60)
        while t < b.end:
            b.log(
                t,
                ll,
                slog(
                    t,
                    "INFO",
                    "refreshed price index",
                    entries=rng.randint(88000, 89000),
                    took=f"{rng.randint(40, 90)}ms",
                ),
            )
            t += 120
    return b
