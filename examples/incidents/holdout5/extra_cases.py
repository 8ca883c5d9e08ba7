# size: scenario builders are long linear scripts, one story each (as in rounds 3-4)
"""A single KEYS * that healed by itself, and an expired certificate outside the topology."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import zap
from examples.incidents.holdout5.common import Pod, Route, Site, redis_more


def geo_redis_keys_once() -> Bundle:  # size: one linear scenario script
    """At 14:27 a support engineer runs ``KEYS *`` with redis-cli on geo-cache (38 M keys):
    Redis' single thread is busy for 13.6 s.  Every geo-api pod's go-redis calls time out
    in those seconds (503, ~130 requests), the exporter's scrape that falls inside the stall
    fails (redis_up 0 once), the slowlog gains one KEYS entry and the pods reconnect right
    after.  Then 32 minutes of normal traffic.  A 14 s stall that healed by itself: no
    incident (tell the engineer about SCAN)."""
    b = Bundle(
        "geo-redis-keys-once",
        "2030-02-19T14:00:00Z",
        description="alert: geo-api 5xx > 1 % for 1 min",
        symptom={"component": "geo-gw"},
    )
    rng = b.rng
    rl = {"job": "geo-cache", "instance": "10.166.40.9:9121"}
    scrape = b.scrape_times(rl)[109][1]
    start = (scrape - 5.2 - b.t0) / 60.0
    end = start + 13.6 / 60.0

    def stalled(m: float) -> bool:
        return start <= m < end

    ns, ctr = "geo", "geo-api"
    b.component("geo-gw", "proxy", {"job": "geo-gw"}, ["geo-api"])
    b.component("geo-api", "app", {"namespace": ns, "container": ctr}, ["geo-cache"])
    b.component("geo-cache", "redis", {"job": "geo-cache"})
    pods = [
        Pod(
            f"10.166.{3 + i}.{44 + 2 * i}:8080",
            f"geo-api-6a7b8c9d0-{s}",
            f"10.166.0.{12 + i}:10250",
        )
        for i, s in enumerate(("wq1", "er2", "ty3", "ui4"))
    ]
    routes = [
        Route("GET", "/v1/reverse?lat=48.2{n}&lon=16.3", "/v1/reverse", 0.6, 0.004),
        Route("GET", "/v1/geocode?q=addr{n}", "/v1/geocode", 0.4, 0.008),
    ]
    pool = client_pool(b, ["10.166.100.", "10.166.101.", "fd66:166::"], 90)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if stalled(m):
            fail(e, 503, 0.5 + rng.uniform(0.0, 0.01), size=60)
            site.say(
                e.t + 0.5,
                i,
                zap(
                    b,
                    e.t + 0.5,
                    "error",
                    "cache/cache.go:61",
                    "geo cache get",
                    error="context deadline exceeded",
                    addr="10.166.40.9:6379",
                ),
            )

    site.run(
        rate=lambda m: 10.0,
        outcome=outcome,
        kind="envoy",
        labels={"job": "geo-gw", "instance": "10.166.0.5:9901"},
        cluster="geo-api",
    )
    site.apps(
        {"job": "geo-api", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        blip=2,
    )

    def after(m: float) -> bool:
        return m >= end

    redis_exporter(
        b,
        rl,
        ops=lambda m: 7800,
        used=lambda m: 9.4e9 + m * 1e6,
        maxmemory=16e9,
        clients=lambda m: 64 + (40 if end <= m < end + 0.5 else 0),
        slowlog=lambda m: 11 + (1 if after(m) else 0),
        cmd_usec={
            "get": lambda m: 0.09,
            "keys": lambda m: 13.6 / b.step if stalled(m) else 0.0,
        },
        up=lambda m: not stalled(m),
    )
    redis_more(
        b,
        rl,
        connections=lambda m: 1.1 + (8.0 if end <= m < end + 0.5 else 0.0),
        up=lambda m: not stalled(m),
    )
    b.gauge("redis_slowlog_last_id", rl, lambda m: None if stalled(m) else 911 + int(after(m)))
    b.gauge(
        "redis_last_slow_execution_duration_seconds",
        rl,
        lambda m: None if stalled(m) else (13.6 if after(m) else 0.018),
    )
    return b


def notify_external_tls_expired() -> Bundle:  # size: one linear scenario script
    """notify-svc (Go) sends push notifications through an outside provider,
    api.push.beamly.example.  At 09:14 the certificate chain the provider serves expires:
    every send fails with "x509: certificate has expired or is not yet valid" on all pods;
    synchronous sends answer 502, asynchronous ones go to a retry list in notify-redis,
    which grows (memory +, a few MB a minute -- harmless).  notify-db is healthy.  Root:
    notify-svc's external dependency (outside the topology); nothing to drain, kill or
    rate-limit."""
    b = Bundle(
        "notify-external-tls-expired",
        "2030-03-12T09:00:00Z",
        description="push notifications fail since 09:14",
        symptom={"component": "notify-edge", "route": "/v1/notifications"},
    )
    rng = b.rng
    expiry = 14.0

    def bad(m: float) -> bool:
        return m >= expiry

    ns, ctr = "messaging", "notify-svc"
    b.component("notify-edge", "proxy", {"job": "notify-edge"}, ["notify-svc"])
    b.component(
        "notify-svc", "app", {"namespace": ns, "container": ctr}, ["notify-db", "notify-redis"]
    )
    b.component("notify-db", "mysql", {"job": "notify-db"})
    b.component("notify-redis", "redis", {"job": "notify-redis"})
    pods = [
        Pod(
            f"172.31.{20 + i}.{5 + 3 * i}:8080",
            f"notify-svc-54f6e7d8c-{s}",
            f"172.31.0.{40 + i}:10250",
        )
        for i, s in enumerate(("vb1", "nm2", "lk3"))
    ]
    routes = [
        Route("POST", "/v1/notifications", "/v1/notifications", 0.55, 0.12),
        Route("POST", "/v1/notifications:batch", "/v1/notifications:batch", 0.1, 0.02),
        Route("GET", "/v1/notifications/{n}", "/v1/notifications/{id}", 0.35, 0.006),
    ]
    pool = client_pool(b, ["172.31.100.", "172.31.101."], 40)
    site = Site(b, pods, routes, pool)
    sent: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(pods))}

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method != "POST":
            return
        if not bad(m):
            sent[i].append((e.t, "ok"))
            return
        sent[i].append((e.t, "tls_error"))
        stamp = b.dt(e.t).strftime("%Y-%m-%dT%H:%M:%SZ")
        err = (
            'Post "https://api.push.beamly.example/v3/send": tls: failed to verify '
            "certificate: x509: certificate has expired or is not yet valid: current time "
            f"{stamp} is after 2030-03-12T09:14:00Z"
        )
        if ":batch" in e.path:
            err_msg = "queued for retry"
        else:
            fail(e, 502, rng.uniform(0.01, 0.03), size=110)
            err_msg = "send failed"
        site.say(e.t, i, zap(b, e.t, "error", "push/beamly.go:118", err_msg, error=err))

    site.run(
        rate=lambda m: 7.0,
        outcome=outcome,
        kind="ingress",
        labels={"job": "notify-edge", "instance": "172.31.0.9:10254"},
        cluster="messaging-notify-svc-8080",
        agents=("orders-svc/8.2", "marketing-scheduler/3.1", "Go-http-client/2.0"),
    )
    site.apps(
        {"job": "notify-svc", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
    )
    for i, pod in enumerate(pods):
        for outcome_label in ("ok", "tls_error"):
            b.counter_steps(
                "notify_provider_requests_total",
                {
                    "job": "notify-svc",
                    "namespace": ns,
                    "container": ctr,
                    "instance": pod.addr,
                    "pod": pod.pod,
                    "provider": "beamly",
                    "outcome": outcome_label,
                },
                [t for t, r in sent[i] if r == outcome_label],
            )
    mysqld_exporter(
        b,
        {"job": "notify-db", "instance": "172.31.40.3:9104"},
        qps=lambda m: 160,
        connected=lambda m: 18,
        running=lambda m: 2,
        version="8.0.41",
    )
    rl = {"job": "notify-redis", "instance": "172.31.40.7:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 600 + (150 if bad(m) else 0),
        used=lambda m: 3.1e8 + max(0.0, m - expiry) * 4e6,
        maxmemory=2e9,
        clients=lambda m: 24,
    )
    b.gauge(
        "redis_key_size",
        {**rl, "db": "db0", "key": "notify:retry"},
        lambda m: int(ramp(m, expiry, 60, 0, 46 * 60 * 0.65)) + rng.randint(0, 3),
    )
    return b
