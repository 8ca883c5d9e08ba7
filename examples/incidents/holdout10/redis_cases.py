# size: two linear scenario scripts of one family, each telling one story
"""Redis scenarios of round 10 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Pod, Route, fail, ksm_restarts
from examples.incidents.holdout4.common import redis_log
from examples.incidents.holdout5.common import redis_more, within
from examples.incidents.holdout9.common import pino
from examples.incidents.holdout10.common import every, finish, pods, slog, tier


def games_redis_hgetall_big_hash() -> Bundle:  # size: one linear scenario script
    """The seasonal event's rewards hash (``event:rewards:s14``), one field per player who
    claimed, passes 1.6 M fields during the evening; the lobby calls HGETALL on it at
    every login.  From 20:07 each HGETALL takes ~250 ms of Redis's single thread: Redis CPU
    at 100 %, every other command queues, the slowlog fills with HGETALL, lobby calls
    time out and ~40 % of requests 502.  Root: games-cache (a big key)."""
    b = Bundle(
        "games-redis-hgetall-big-hash",
        "2037-05-22T19:50:00Z",
        description="lobby and login failing during the season event",
        symptom={"component": "games-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 17.0
    bad = within(onset, 99)
    ns = "games"
    b.component("games-edge", "proxy", {"job": "games-nginx"}, ["lobby-api"])
    b.component("lobby-api", "app", {"namespace": ns, "app": "lobby-api"}, ["games-cache"])
    b.component("games-cache", "other", {"job": "redis", "instance": "redis-games-0.redis:9121"})
    ps = pods(
        "10.44.{k}.30:3000", "lobby-api-6fd54", ("pq1", "pq2", "pq3", "pq4"), "10.44.0.{k}:10250"
    )
    routes = [
        Route("POST", "/v1/login", "/v1/login", 0.3, 0.03, 700),
        Route("GET", "/v1/lobby", "/v1/lobby", 0.5, 0.015, 4200),
        Route("GET", "/v1/profile/{n}", "/v1/profile/:id", 0.2, 0.01, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m):
            if rng.random() < 0.4:
                fail(e, 502, 3.0 + rng.uniform(0, 0.1), size=150)
                e.extra["redis"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.3, 2.5)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a02:908:", "2003:ca:", "84.155.", "91.65.", "178.6."],
        clients=900,
        outcome=outcome,
        kind="nginx",
        edge={"job": "games-nginx", "instance": "10.44.0.3:9113"},
        rate=lambda m: 14.0 + m * 0.1,
    )
    for e in site.events:
        if e.extra.get("redis") and rng.random() < 0.25:
            site.say(
                e.t,
                e.extra["pod"],
                pino(
                    b,
                    e.t,
                    50,
                    ps[e.extra["pod"]].pod,
                    "redis command timed out",
                    cmd="GET",
                    timeoutMs=3000,
                ),
            )
    for t in every(b, 0, b.minutes, 20, 50):
        k = rng.randrange(4)
        site.say(t, k, pino(b, t, 30, ps[k].pod, "matchmaking tick", queues=rng.randint(40, 90)))
    finish(site, ns, "lobby-api", "api", go=False)
    rl = {"job": "redis", "instance": "redis-games-0.redis:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 3500.0 if bad(m) else 41000.0,
        used=lambda m: 6.1e9 + m * 4e6,
        maxmemory=12e9,
        clients=lambda m: 1900.0 if bad(m) else 420.0,
        slowlog=lambda m: 128.0 if bad(m) else 3.0,
        blocked=lambda m: 0.0,
        cpu=lambda m: 0.99 if bad(m) else 0.35,
        cmd_usec={
            "hgetall": lambda m: 2.4e5 if bad(m) else 9e3,
            "get": lambda m: 2.1e4,
            "set": lambda m: 8e3,
        },
    )
    redis_more(b, rl, maxclients=10000, connections=lambda m: 60.0 if bad(m) else 3.0)
    b.gauge(
        "redis_key_size",
        {**rl, "db": "db0", "key": "event:rewards:s14"},
        lambda m: int(1.2e6 + m * 11000),
    )
    b.gauge("redis_db_keys", {**rl, "db": "db0"}, lambda m: 2_114_000 + int(m * 300))
    return b


def feeds_redis_oomkilled_bgsave() -> Bundle:  # size: one linear scenario script
    """feeds-cache runs in a pod with maxmemory 3.5 GiB and a 4 GiB memory limit; during
    the morning write peak each BGSAVE's fork doubles dirty pages (copy-on-write) and the
    kernel OOM-kills the container (exit 137).  Redis restarts, loads its RDB for ~40 s
    (LOADING errors), serves again, and is killed at the next save: 06:12, 06:27, 06:41.
    ~30 % of feed requests 503 around each restart.  Root: feeds-cache (OOMKilled by its
    memory limit)."""
    b = Bundle(
        "feeds-redis-oomkilled-bgsave",
        "2036-06-18T05:55:00Z",
        description="feed intermittently failing, redis pod restarting",
        symptom={"component": "feeds-gw"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    kills = [17.0, 32.0, 46.0]
    down = [(k, k + 1.2) for k in kills]

    def restarting(m: float) -> bool:
        return any(a <= m < z for a, z in down)

    ns = "feeds"
    b.component("feeds-gw", "proxy", {"job": "feeds-gw"}, ["feeds-api"])
    b.component("feeds-api", "app", {"namespace": ns, "app": "feeds-api"}, ["feeds-cache"])
    b.component("feeds-cache", "other", {"namespace": ns, "app": "feeds-redis"})
    ps = pods("10.8.{k}.77:8080", "feeds-api-7c4f9", ("aa", "bb", "cc"), "10.8.0.{k}:10250")
    routes = [
        Route("GET", "/v3/feed?cursor={n}", "/v3/feed", 0.8, 0.02, 9000),
        Route("POST", "/v3/feed/seen", "/v3/feed/seen", 0.2, 0.01, 40),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if restarting(m) and rng.random() < 0.6:
            fail(e, 503, rng.uniform(0.01, 0.05), size=70)
            e.extra["loading"] = True

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2600:1700:", "73.162.", "2601:646:", "98.207."],
        clients=700,
        outcome=outcome,
        kind="envoy",
        edge={"job": "feeds-gw", "instance": "10.8.0.2:9901"},
        rate=lambda m: 9.0,
        cluster="feeds_api",
    )
    for e in site.events:
        if e.extra.get("loading") and rng.random() < 0.3:
            msg = (
                "LOADING Redis is loading the dataset in memory"
                if rng.random() < 0.6
                else "dial tcp 10.8.9.3:6379: connect: connection refused"
            )
            site.say(e.t, e.extra["pod"], slog(b, e.t, "ERROR", "cache read failed", err=msg))
    finish(site, ns, "feeds-api", "api")
    cache = Pod("10.8.9.3:9121", "feeds-redis-0", "10.8.0.9:10250")
    rl = {"namespace": ns, "app": "feeds-redis", "instance": cache.addr, "pod": cache.pod}

    def used(m: float) -> float:
        last = max([k for k in kills if k <= m], default=-60.0)
        return min(3.5 * 2**30, 1.2e9 + (m - last) * 2.2e8)

    redis_exporter(
        b,
        rl,
        ops=lambda m: 26000.0,
        used=used,
        maxmemory=3.5 * 2**30,
        clients=lambda m: 310.0,
        evictions=lambda m: 80.0 if used(m) >= 3.4 * 2**30 else 0.0,
        up=lambda m: not restarting(m),
    )
    redis_more(
        b,
        rl,
        loading=lambda m: 1.0 if any(k + 0.4 <= m < k + 1.2 for k in kills) else 0.0,
        fork_seconds=lambda m: 0.21,
        up=lambda m: not restarting(m),
    )
    ksm_restarts(b, "10.8.0.5:8080", ns, "redis", [cache], {0: [k + 0.3 for k in kills]})
    from examples.incidents.holdout3.stack import cadvisor

    cadvisor(
        b,
        [cache],
        ns,
        "redis",
        cpu=lambda m, i: 0.6,
        mem=lambda m, i: used(m) * 1.1,
        limit=4 * 2**30,
    )
    ll = {"namespace": ns, "app": "feeds-redis", "pod": cache.pod, "container": "redis"}
    for k in kills:
        t0 = b.t(k - 0.05)
        b.log(t0, ll, redis_log(b, t0, 1, "M", "*", "Background saving started by pid 412"))
        t1 = b.t(k + 0.35)
        for j, (mark, msg) in enumerate(
            (
                ("#", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
                (
                    "#",
                    "Redis version=7.2.5, bits=64, commit=00000000, modified=0, pid=1, just started",
                ),
                ("#", "WARNING Memory overcommit must be enabled!"),
                ("*", "Loading RDB produced by version 7.2.5"),
            )
        ):
            b.log(t1 + j * 0.01, ll, redis_log(b, t1 + j * 0.01, 1, "M", mark, msg))
        t2 = b.t(k + 1.15)
        b.log(
            t2,
            ll,
            redis_log(
                b, t2, 1, "M", "*", f"DB loaded from disk: {rng.uniform(38, 44):.3f} seconds"
            ),
        )
        b.log(
            t2 + 0.01, ll, redis_log(b, t2 + 0.01, 1, "M", "*", "Ready to accept connections tcp")
        )
    return b
