# size: four linear scenario scripts of one family, each telling one story
"""PostgreSQL and Redis scenarios of round 9 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter, postgres_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import pg_log, redis_log, zap
from examples.incidents.holdout5.common import within
from examples.incidents.holdout6.common import (
    every,
    haproxy_exporter,
    haproxy_line,
    pg_local,
    structlog,
    web,
)
from examples.incidents.holdout7.common import cfs
from examples.incidents.holdout9.common import chatter, pino, pods


def search_pg_plan_flip_after_analyze() -> Bundle:  # size: one linear scenario script
    """At 03:41 autovacuum's ANALYZE of listings (after a bulk import) leaves statistics
    that make the planner prefer a sequential scan for the category listing query: 8 ms
    becomes 4-9 s, sequential tuples read jump x400, PostgreSQL's CPU saturates, every
    search pod is slow and ~25 % of searches 504 at ingress-nginx.  Root: search-db (plan
    regression after a statistics refresh)."""
    b = Bundle(
        "search-pg-plan-flip-after-analyze",
        "2036-04-14T03:25:00Z",
        description="search very slow since ~03:40, timeouts",
        symptom={"component": "search-ingress"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset = 16.0
    bad = within(onset, 99)
    ns = "search"
    b.component("search-ingress", "proxy", {"job": "ingress-nginx"}, ["search-api"])
    b.component("search-api", "app", {"namespace": ns, "app": "search-api"}, ["search-db"])
    b.component("search-db", "other", {"job": "postgres", "instance": "10.33.9.2:9187"})
    ps = pods("10.33.{k}.21:8000", "search-api-7bc5", ("aq", "br", "cs"), "10.33.0.{k}:10250")
    routes = [
        Route("GET", "/v1/categories/{n}/listings", "/v1/categories/{id}/listings", 0.7, 0.03),
        Route("GET", "/v1/listings/{n}", "/v1/listings/{id}", 0.3, 0.01),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and "categories" in e.path:
            if rng.random() < 0.35:
                fail(e, 504, 10.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = rng.uniform(3.5, 9.5)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2003:e2:7f1a:", "87.178.44.", "93.211.9."],
        clients=220,
        rate=lambda m: 8.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "ingress-nginx", "instance": "10.33.0.7:10254"},
        cluster="search-search-api-8000",
    )
    chatter(
        site,
        25,
        70,
        lambda t, k: structlog(b, t, 0, "info", "request.finished", path="/v1/listings"),
    )
    site.apps(
        {"namespace": ns, "app": "search-api"},
        {"namespace": ns, "app": "search-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
    )
    dbl = {"job": "postgres", "instance": "10.33.9.2:9187"}
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 260.0 if bad(m) else 610.0,
        active=lambda m: 34.0 if bad(m) else 3.0,
        idle=lambda m: 20.0 if bad(m) else 51.0,
        datname="search",
    )
    tl = {**dbl, "datname": "search", "schemaname": "public", "relname": "listings"}
    b.counter("pg_stat_user_tables_seq_scan", tl, lambda m: 5.5 if bad(m) else 0.001, start=912)
    b.counter(
        "pg_stat_user_tables_seq_tup_read", tl, lambda m: 2.1e7 if bad(m) else 5e4, start=7.7e10
    )
    b.counter("pg_stat_user_tables_idx_scan", tl, lambda m: 40.0 if bad(m) else 900.0, start=5e9)
    b.gauge("pg_stat_user_tables_n_live_tup", tl, lambda m: 11_800_000)
    b.gauge(
        "pg_stat_user_tables_last_autoanalyze",
        tl,
        lambda m: b.t(onset - 0.4) if m >= onset - 0.4 else b.t(-1500),
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.33.9.2:9100"},
        busy=lambda m: 0.96 if bad(m) else 0.22,
        avail=lambda m: 9e9,
        iowait=lambda m: 0.03,
    )
    pl = {"job": "postgres", "instance": "10.33.9.2"}
    t = b.t(onset - 0.4)
    b.log(
        t,
        pl,
        pg_log(
            b,
            t,
            41822,
            "",
            "LOG",
            'automatic analyze of table "search.public.listings" '
            "system usage: CPU: user: 1.61 s, system: 0.09 s, elapsed: 2.93 s",
        ),
    )
    for t in every(b, onset, b.minutes, 3, 9):
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                rng.randint(50000, 59000),
                "app@search",
                "LOG",
                f"duration: {rng.uniform(3500, 9400):.3f} ms  execute <unnamed>: SELECT id, "
                "title, price FROM listings WHERE category_id = $1 AND status = 'active' "
                "ORDER BY created_at DESC LIMIT 50",
            ),
        )
    return b


def wiki_pg_subtrans_overflow() -> Bundle:  # size: one linear scenario script
    """At 14:05 a space import runs a PL/pgSQL loop with one EXCEPTION block per page in a
    single transaction: past 64 subtransactions its snapshot overflows, and every other
    backend's visibility checks go through pg_subtrans (wait event LWLock:SubtransSLRU).
    Active backends 6 -> 90, commits halve, wiki page loads take seconds, ~30 % 504 at the
    HAProxy edge.  Root: wiki-db (subtransaction overflow from the import's transaction)."""
    b = Bundle(
        "wiki-pg-subtrans-overflow",
        "2037-01-20T13:45:00Z",
        description="wiki unusable since the space import started",
        symptom={"component": "wiki-lb"},
        step=30,
        minutes=55,
    )
    rng = b.rng
    onset = 20.0
    bad = within(onset, 99)
    ns = "wiki"
    b.component("wiki-lb", "proxy", {"job": "wiki-lb"}, ["wiki-app"])
    b.component("wiki-app", "app", {"namespace": ns, "app": "wiki-app"}, ["wiki-db"])
    b.component("wiki-db", "other", {"job": "postgres", "instance": "10.140.2.8:9187"})
    ps = pods("10.140.{k}.30:3000", "wiki-app-57c9d", ("m1", "n2", "p3"), "10.140.0.{k}:10250")
    routes = [
        Route("GET", "/s/eng/p/{n}", "/s/:space/p/:id", 0.8, 0.06, 24000),
        Route("PUT", "/api/pages/{n}", "/api/pages/:id", 0.2, 0.09, 400),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"wiki{i + 1}"
        if bad(m):
            if rng.random() < 0.3:
                fail(e, 504, 20.0, size=194)
                e.extra["term"] = "sH--"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 6.0)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.9.40.", "10.9.41.", "10.9.52."],
        clients=400,
        rate=lambda m: 6.0,
        outcome=outcome,
        kind="haproxy",
        edge_labels={"job": "wiki-lb", "instance": "10.140.0.2:8405"},
        fmt=lambda e: haproxy_line(b, e, "fe_wiki", "be_wiki"),
    )
    haproxy_exporter(
        b,
        {"job": "wiki-lb", "instance": "10.140.0.2:8405"},
        "be_wiki",
        {f"wiki{k + 1}": p.addr for k, p in enumerate(ps)},
        site.events,
    )
    chatter(site, 30, 80, lambda t, k: pino(b, t, 30, ps[k].pod, "page rendered"))
    site.apps(
        {"namespace": ns, "app": "wiki-app"},
        {"namespace": ns, "app": "wiki-app", "container": "app"},
        namespace=ns,
        container="app",
        go=False,
    )
    dbl = {"job": "postgres", "instance": "10.140.2.8:9187"}
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 180.0 if bad(m) else 390.0,
        active=lambda m: ramp(m, onset, onset + 6, 6, 90),
        idle=lambda m: ramp(m, onset, onset + 6, 70, 12),
        datname="wiki",
    )
    for ev, fn in (
        ("SubtransSLRU", lambda m: ramp(m, onset + 1, onset + 6, 0, 84)),
        ("SubtransBuffer", lambda m: 3.0 if bad(m) else 0.0),
        ("ClientRead", lambda m: 2.0),
    ):
        b.gauge(
            "pg_stat_activity_wait_event_count",
            {
                **dbl,
                "datname": "wiki",
                "wait_event_type": "LWLock" if "Sub" in ev else "Client",
                "wait_event": ev,
            },
            fn,
        )
    b.gauge(
        "pg_stat_activity_max_tx_duration",
        {**dbl, "datname": "wiki", "state": "active", "usename": "importer"},
        lambda m: (m - onset) * 60 if bad(m) else 0.4,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.140.2.8:9100"},
        busy=lambda m: 0.7 if bad(m) else 0.2,
        avail=lambda m: 20e9,
    )
    pl = {"job": "postgres", "instance": "10.140.2.8"}
    for t in every(b, onset + 2, b.minutes, 6, 15):
        b.log(
            t,
            pl,
            pg_local(
                b,
                t,
                "CET",
                1.0,
                rng.randint(70000, 79000),
                "LOG",
                f"duration: {rng.uniform(1100, 6400):.3f} ms  execute <unnamed>: "
                "SELECT * FROM pages WHERE space_id = $1 AND slug = $2",
            ),
        )
    jl = {"namespace": ns, "job_name": "space-import-eng-archive", "container": "import"}
    t = b.t(onset)
    b.log(
        t,
        jl,
        structlog(
            b,
            t,
            1.0,
            "info",
            "import.started",
            space="eng-archive",
            pages=184_220,
            mode="single-transaction",
        ),
    )
    for t in every(b, onset + 1, b.minutes, 50, 70):
        b.log(t, jl, structlog(b, t, 1.0, "info", "import.progress", done=rng.randint(1, 90000)))
    return b


def notify_redis_pubsub_output_buffer() -> Bundle:  # size: one linear scenario script
    """At 19:31 the VPA updater evicts one notify-ws pod and recreates it with a 250m CPU
    limit (its siblings keep 2 cores): the new pod (10.90.3.21) is throttled, its Redis
    pattern subscriber falls behind, Redis closes it for overcoming the pubsub output buffer
    limit every ~minute, it resubscribes and loses messages; its long-polls time out (504)
    and it lags 5-20 s.  Siblings and Redis are fine.  Root: that pod; drain it."""
    b = Bundle(
        "notify-redis-pubsub-output-buffer",
        "2036-09-30T19:15:00Z",
        description="some users get notifications late or not at all",
        symptom={"component": "notify-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 16.0
    bad_i = 2
    bad = within(onset, 99)
    ns = "notify"
    b.component("notify-edge", "proxy", {"job": "notify-edge"}, ["notify-ws"])
    b.component("notify-ws", "app", {"namespace": ns, "app": "notify-ws"}, ["notify-bus"])
    b.component("notify-bus", "redis", {"namespace": ns, "app": "notify-bus"})
    ps = pods(
        "10.90.{k}.21:8080",
        "notify-ws-6b7f",
        ("d8k2q", "f4n7w", "h2x9z", "j5c3v"),
        "10.90.0.{k}:10250",
    )
    routes = [
        Route("GET", "/v2/poll?cursor={n}", "/v2/poll", 0.8, 0.4, 300),
        Route("POST", "/v2/ack", "/v2/ack", 0.2, 0.01, 40),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad_i and bad(m):
            if e.path.startswith("/v2/poll") and rng.random() < 0.4:
                fail(e, 504, 30.0, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 8.0)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2a02:3100:5:", "2a02:3102:9:", "178.24.7.", "37.201.150."],
        clients=500,
        rate=lambda m: 16.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "notify-edge", "instance": "10.90.0.4:9113"},
    )
    closes = every(b, onset + 0.5, b.minutes, 50, 75)
    rl = {"namespace": ns, "app": "notify-bus", "pod": "notify-bus-0"}
    for t in closes:
        port = rng.randint(40000, 60000)
        b.log(
            t,
            rl,
            redis_log(
                b,
                t,
                1,
                "M",
                "#",
                f"Client id={rng.randint(90000, 99000)} addr=10.90.3.21:{port} laddr=10.90.7.5:6379 "
                "fd=31 name=notify-ws age=61 idle=0 flags=P db=0 sub=0 psub=1 ssub=0 multi=-1 "
                "watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=912 "
                "omem=33554944 tot-mem=33576192 events=rw cmd=psubscribe user=default redir=-1 "
                "resp=2 lib-name=ioredis lib-ver=5.4.1 scheduled to be closed ASAP for overcoming "
                "of output buffer limits.",
            ),
        )
        site.say(
            t + 0.3,
            bad_i,
            pino(
                b,
                t + 0.3,
                50,
                ps[bad_i].pod,
                "redis subscriber connection lost, resubscribing",
                err="Connection is closed.",
            ),
        )
        site.say(
            t + 1.1, bad_i, pino(b, t + 1.1, 30, ps[bad_i].pod, "psubscribed", pattern="user:*")
        )
    chatter(
        site,
        20,
        60,
        lambda t, k: pino(b, t, 30, ps[k].pod, "delivered batch", n=rng.randint(20, 90)),
    )
    site.apps(
        {"namespace": ns, "app": "notify-ws"},
        {"namespace": ns, "app": "notify-ws", "container": "ws"},
        namespace=ns,
        container="ws",
        go=False,
        cpu=lambda m, i: 0.25 if i == bad_i and bad(m) else 0.7,
    )
    cfs(
        b,
        [p for k, p in enumerate(ps) if k != bad_i],
        ns,
        "ws",
        throttled=lambda m, i: 0.0,
        quota_cores=2.0,
    )
    cfs(b, [ps[bad_i]], ns, "ws", throttled=lambda m, i: 0.93 if bad(m) else 0.0, quota_cores=0.25)
    t = b.t(onset) - 25
    b.log(
        t,
        {"namespace": "kube-system", "app": "vpa-updater"},
        f"I{b.dt(t).strftime('%m%d %H:%M:%S')}.114220       1 update_priority_calculator.go:"
        "146] pod accepted for update notify/notify-ws-6b7f-h2x9z with priority 9.87",
    )
    rel = {"namespace": ns, "app": "notify-bus", "instance": "10.90.7.5:9121"}
    redis_exporter(
        b,
        rel,
        ops=lambda m: 21000.0,
        used=lambda m: 1.3e9 + (3.3e7 if bad(m) else 0),
        maxmemory=4e9,
        clients=lambda m: 212,
    )
    b.gauge(
        "redis_client_recent_max_output_buffer_bytes",
        rel,
        lambda m: 33554944 if bad(m) else 20480 + rng.randint(0, 4096),
    )
    b.gauge("redis_pubsub_patterns", rel, lambda m: 4)
    b.gauge("redis_pubsub_channels", rel, lambda m: 11)
    b.counter_steps("redis_client_output_buffer_limit_disconnections_total", rel, closes, start=3)
    return b


def session_redis_mass_expiry() -> Bundle:  # size: one linear scenario script
    """Yesterday's session migration wrote 9 million keys with the same one-day TTL in a
    few minutes; at 11:02 they all expire together: Redis's active expire cycle keeps the
    single thread busy in long slices, commands queue, p99 jumps to seconds and the
    session API's 500 ms Redis timeout fails ~35 % of logins for six minutes, then
    everything recovers.  Root: session-cache (mass expiry)."""
    b = Bundle(
        "session-redis-mass-expiry",
        "2036-12-03T10:40:00Z",
        description="login and session errors spiking around 11:00",
        symptom={"component": "session-gw"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset, end = 22.0, 28.5
    bad = within(onset, end)
    ns = "identity"
    b.component("session-gw", "proxy", {"job": "session-gw"}, ["session-api"])
    b.component("session-api", "app", {"namespace": ns, "app": "session-api"}, ["session-cache"])
    b.component("session-cache", "redis", {"namespace": ns, "app": "session-cache"})
    ps = pods(
        "10.12.{k}.40:8080", "session-api-69d4", ("aa", "bb", "cc", "dd", "ee"), "10.12.0.{k}:10250"
    )
    routes = [
        Route("GET", "/v1/session", "/v1/session", 0.8, 0.004, 500),
        Route("POST", "/v1/login", "/v1/login", 0.2, 0.08, 700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m):
            if rng.random() < 0.35:
                fail(e, 500, 0.52, size=90)
                e.extra["redis_timeout"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.05, 0.45)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["172.20.4.", "172.20.5."],
        clients=60,
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "session-gw", "instance": "10.12.0.3:9901"},
        cluster="session-api",
    )
    for e in site.events:
        if e.extra.get("redis_timeout") and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "session/store.go:64",
                    "session lookup failed",
                    error="redis: i/o timeout read tcp 10.12.3.40:38810->10.12.20.6:6379",
                ),
            )
    chatter(site, 40, 100, lambda t, k: zap(b, t, "info", "session/gc.go:12", "gc tick"))
    site.apps(
        {"namespace": ns, "app": "session-api"},
        {"namespace": ns, "app": "session-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    rel = {"namespace": ns, "app": "session-cache", "instance": "10.12.20.6:9121"}

    def keys(m: float) -> float:
        return 9.4e6 if m < onset else (ramp(m, onset, end, 9.4e6, 3.9e5))

    redis_exporter(
        b,
        rel,
        ops=lambda m: 9000.0 if bad(m) else 14000.0,
        used=lambda m: keys(m) * 410,
        maxmemory=8e9,
        clients=lambda m: 160,
        cpu=lambda m: 0.99 if bad(m) else 0.18,
        expired=lambda m: 23_000.0 if bad(m) else 140.0,
    )
    b.gauge("redis_db_keys", {**rel, "db": "db0"}, lambda m: int(keys(m)))
    b.gauge("redis_db_keys_expiring", {**rel, "db": "db0"}, lambda m: int(keys(m) * 0.99))
    b.gauge("redis_expired_stale_percentage", rel, lambda m: 92.0 if bad(m) else 0.4)
    b.counter("redis_expired_time_cap_reached_count", rel, lambda m: 9.5 if bad(m) else 0.0)
    return b
