# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Applications: a release that blocks Node's event loop on every pod, and one Go pod
leaking file descriptors until it can no longer accept connections."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import app_red, fail
from examples.incidents.holdout4.common import log_each, zap
from examples.incidents.holdout5.common import json_line, nginx_ctx, nginx_error, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout7.common import nodejs_runtime


def feed_node_eventloop_release() -> Bundle:  # size: one linear scenario script
    """feed-api 2.14.0 (rolled out 09:08-09:14) validates every response against a JSON
    schema compiled per request (ajv ``compile`` inside the handler): ~120 ms of synchronous
    CPU per request.  Each new pod pins one core; the event loop lags 1-3 s; requests queue
    and ingress-nginx answers 504 after 5 s for ~20 %; p50 2 s.  The old pods were fine and
    are gone.  Redis and everything else are idle.  Root: feed-api (bad release); roll back,
    no drain (every pod alike).  Sources: Node.js docs "Don't Block the Event Loop (or the
    Worker Pool)"; ajv docs "Managing schemas" (compile once, not per call)."""
    b = Bundle(
        "feed-node-eventloop-release",
        "2033-11-15T09:00:00Z",
        description="home feed very slow / 504 after this morning's release",
        symptom={"component": "feed-ingress"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    ns = "feed"
    roll = 8.0
    b.component(
        "feed-ingress", "proxy", {"namespace": "ingress-nginx", "job": "feed-ingress"}, ["feed-api"]
    )
    b.component("feed-api", "app", {"namespace": ns, "container": "feed-api"}, ["feed-cache"])
    b.component("feed-cache", "redis", {"namespace": ns, "container": "redis-exporter"})
    old = [
        Pod(
            f"10.120.{i}.{40 + i}:3000",
            f"feed-api-7b9c4-{s}",
            f"10.120.{i}.1:10250",
            within(0, roll + 2 * i + 1.5),
        )
        for i, s in enumerate(("hx2", "jk3", "lm4"))
    ]
    new = [
        Pod(
            f"10.120.{i}.{80 + i}:3000",
            f"feed-api-84d1e-{s}",
            f"10.120.{i}.1:10250",
            within(roll + 2 * i, 99),
        )
        for i, s in enumerate(("np5", "qr6", "st7"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/v3/feed?cursor={n}", "/v3/feed", 0.75, 0.03, 24000),
        Route("GET", "/v3/posts/{n}", "/v3/posts/:id", 0.25, 0.01, 3000),
    ]

    def lag(m: float, i: int) -> float:
        return rng.uniform(1.0, 3.0) if i >= 3 and pods[i].up(m) else 0.008

    def outcome(e: Event, m: float, i: int) -> None:
        if i < 3:
            return
        wait = lag(m, i)
        if wait + e.duration > 5.0 or rng.random() < 0.15:
            fail(e, 504, 5.0, size=160)
            e.upstream_status = "504"
        else:
            e.duration = e.extra["app_dur"] = wait + 0.12 + e.duration

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=[f"100.88.{k}." for k in (3, 17, 40, 41, 96, 130, 201, 230)],
        clients=1500,
        rate=lambda m: 22.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "job": "feed-ingress",
            "instance": "10.120.250.3:10254",
        },
        cluster="feed-feed-api-3000",
    )
    for k in range(3):
        t = b.t(roll + 2 * k) + 3
        site.say(
            t,
            3 + k,
            json_line(
                level=30,
                time=int(t * 1000),
                pid=1,
                hostname=new[k].pod,
                msg="feed-api 2.14.0 listening",
                port=3000,
            ),
        )
    for t in every(b, roll, 45, 2, 6):
        i = 3 + rng.randrange(3)
        if new[i - 3].up(b.m(t)):
            site.say(
                t,
                i,
                json_line(
                    level=40,
                    time=int(t * 1000),
                    pid=1,
                    hostname=new[i - 3].pod,
                    msg="event loop blocked",
                    blockedMs=int(lag(b.m(t), i) * 1000),
                ),
            )
    for i, p in enumerate(pods):
        nodejs_runtime(
            b,
            {"namespace": ns, "container": "feed-api", "instance": p.addr, "pod": p.pod},
            lag=lambda m, i=i: lag(m, i),
            heap=lambda m: 140e6,
            cpu=lambda m: 0.3,
            present=p.present,
        )
    site.apps(
        {"namespace": ns, "container": "feed-api", "job": "feed-api"},
        {"namespace": ns, "container": "feed-api"},
        go=False,
        namespace=ns,
        container="feed-api",
        cpu=lambda m, i: 0.98 if i >= 3 else 0.3,
    )
    redis_exporter(
        b,
        {"namespace": ns, "container": "redis-exporter", "instance": "10.120.9.5:9121"},
        ops=lambda m: 900.0,
        used=lambda m: 2.2e9,
        maxmemory=4e9,
        clients=lambda m: 30,
    )
    return b


def media_fd_leak_one_pod() -> Bundle:  # size: one linear scenario script
    """media-api (Go) closes the body of a thumbnail-service response only on success; on
    the 404 path the connection and its descriptor leak.  Three pods were restarted by
    yesterday's node upgrade; media-api-5c-k4 has run for 9 days and its open fds reach
    the 1024 limit at 13:17: "http: Accept error: accept tcp [::]:8080: accept4: too many
    open files; retrying in 1s" and outbound "socket: too many open files".  nginx gets
    "upstream timed out (110: Connection timed out) while connecting to upstream" for that
    address only and answers 504 for its share (25 %); the three other pods are fine (their
    fds climb slowly from a low base).  Root: media-api on 10.7.3.44:8080 (descriptor leak);
    drain/restart it (and fix the leak).  Sources: traefik/traefik issue #157 and
    fatedier/frp issue #2462 ("accept4: too many open files", a response body never
    closed)."""
    b = Bundle(
        "media-fd-leak-one-pod",
        "2033-12-02T12:55:00Z",
        description="some media requests time out (504)",
        symptom={"component": "media-edge"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    bad, full = 2, 22.0
    b.component("media-edge", "proxy", {"job": "media-edge"}, ["media-api"])
    b.component("media-api", "app", {"job": "media-api"})
    pods = [
        Pod(f"10.7.{1 + i}.44:8080", f"media-api-5c-{s}", f"10.7.{1 + i}.1:10250")
        for i, s in enumerate(("g1", "h2", "k4", "m5"))
    ]
    routes = [
        Route("GET", "/m/{n}/thumb.webp", "/m/{id}/thumb.webp", 0.7, 0.02, 18000),
        Route("GET", "/m/{n}/meta", "/m/{id}/meta", 0.3, 0.01, 600),
    ]
    err = {"job": "media-edge", "instance": "10.7.0.5:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad and m >= full:
            fail(e, 504, 10.0, size=160)
            e.upstream_status = "504"
            e.extra["urt"] = "10.001"
            t = e.t + 10.0
            b.log(
                t,
                err,
                nginx_error(
                    b,
                    t,
                    "error",
                    "upstream timed out (110: Connection timed out) while connecting to upstream",
                    pid=412,
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "media.example.net", pods[bad].addr),
                ),
            )

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["203.0.113.", "198.51.100.", "2001:db8:4400::"],
        clients=1500,
        rate=lambda m: 20.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "media-edge", "instance": "10.7.0.5:9113"},
    )
    for t in every(b, full, 50, 0.8, 1.2):
        site.say(
            t,
            bad,
            f"{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')} http: Accept error: accept "
            "tcp [::]:8080: accept4: too many open files; retrying in 1s",
        )
    for t in every(b, full - 3, 50, 5, 15):
        site.say(
            t,
            bad,
            zap(
                b,
                t,
                "error",
                "thumbs/client.go:88",
                "thumbnail fetch failed",
                error="dial tcp 10.7.20.9:9000: socket: too many open files",
            ),
        )
    for t in every(b, 0, 50, 30, 90):
        i = rng.randrange(4)
        site.say(
            t,
            i,
            zap(
                b,
                t,
                "warn",
                "thumbs/client.go:93",
                "thumbnail not found",
                status=404,
                id=rng.randint(10**6, 10**7),
            ),
        )
    app_red(b, pods, site.events, {"job": "media-api"})
    log_each(b, site.logs, pods, {"job": "media-api"})
    for i, p in enumerate(pods):
        labels = {"job": "media-api", "instance": p.addr, "pod": p.pod}
        leak = i == bad

        def fds(m: float, leak: bool = leak) -> float:
            return ramp(m, 0, full, 930, 1024) if leak else 60 + m * 0.6 + rng.randint(0, 4)

        b.gauge("process_open_fds", labels, lambda m, f=fds: int(f(m)))
        b.gauge("process_max_fds", labels, lambda m: 1024)
        b.gauge(
            "process_start_time_seconds",
            labels,
            lambda m, i=i: b.t(0) - (9 * 86400 if i == bad else 20 * 3600 + i * 600),
        )
        b.counter("process_cpu_seconds_total", labels, lambda m: 0.35, integer=False, start=9_000.0)
        b.gauge(
            "process_resident_memory_bytes",
            labels,
            lambda m, leak=leak: int((410e6 if leak else 120e6) * rng.uniform(0.99, 1.01)),
        )
        b.gauge("go_goroutines", labels, lambda m, f=fds: int(f(m) * 1.1 + 30))
        b.summary_gc(labels, lambda m: 0.00025)
    return b
