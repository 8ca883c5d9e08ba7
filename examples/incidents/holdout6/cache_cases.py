# size: scenario builders are long linear scripts, one story each (as in rounds 3-5)
"""Caches: fork stalls amplified by client retries, a hot key on one cluster shard, a cold
cache after a reboot stampeding the database, and a connection storm that heals."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    hikari,
    mysql8_err,
    mysql_slow,
    redis_log,
    spring,
)
from examples.incidents.holdout5.common import ecs, redis_more, within
from examples.incidents.holdout6.common import Pod, Route, every, web


def sessions_redis_fork_retries() -> Bundle:  # size: one linear scenario script
    """sessions-redis holds 26 GB with ``save 300 10000`` and transparent huge pages on:
    every ~5 minutes BGSAVE forks and the fork blocks Redis 1.9-2.6 s (``latest_fork_usec``).
    web-api's Jedis client (timeout 400 ms) retries five times without backoff and opens a new
    connection per retry: each stall turns into a connection storm (connected clients 300 ->
    3,800, rejected connections at maxclients 4000) that keeps Redis busy ~40 s more; web-api
    answers 503 in bursts all window long.  Root: sessions-redis (fork latency); aggravating:
    web-api's retry policy.  Sources: Redis docs "Diagnosing latency issues" (fork, THP);
    redis/redis issue #1154 ("increased latency during rdb save": latest_fork_usec ~1 s
    matches the stall); redis/redis PR #7381 (THP latency spikes after fork)."""
    b = Bundle(
        "sessions-redis-fork-retries",
        "2031-08-19T16:00:00Z",
        description="bursts of 503 on login and cart",
        symptom={"component": "web-lb"},
        step=10,
        minutes=40,
    )
    rng = b.rng
    forks = [3.4 + 5.0 * k + rng.uniform(-0.2, 0.2) for k in range(8)]

    def stalled(m: float) -> bool:
        return any(f <= m < f + 0.75 for f in forks)

    b.component("web-lb", "proxy", {"job": "web-lb"}, ["web-api"])
    b.component("web-api", "app", {"job": "web-api"}, ["sessions-redis"])
    b.component("sessions-redis", "redis", {"job": "sessions-redis"})
    pods = [
        Pod(f"10.9.{i}.{77 + i}:8080", f"web-api-84c6d-{s}", f"10.9.{i}.1:10250")
        for i, s in enumerate(("vv1", "ww2", "xx3", "yy4", "zz5"))
    ]
    routes = [
        Route("POST", "/login", "/login", 0.2, 0.05),
        Route("GET", "/cart", "/cart", 0.5, 0.015),
        Route("POST", "/cart/items", "/cart/items", 0.3, 0.02),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if stalled(m) and rng.random() < 0.7:
            fail(e, 503, 2.0 + rng.uniform(0, 0.2), size=180)
            e.extra["jedis"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.70.1.", "100.70.2.", "100.70.3.", "100.71.8.", "100.72.9."],
        clients=900,
        rate=lambda m: 22.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "web-lb", "instance": "10.9.100.4:10254", "ingress": "web"},
        cluster="shop-web-api-8080",
    )
    for e in site.events:
        if e.extra.get("jedis") and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                spring(
                    b,
                    e.t,
                    "WARN",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "c.s.session.RedisSessionStore",
                    f"session read failed, retrying (attempt {rng.randint(2, 5)}/5)",
                    [
                        "redis.clients.jedis.exceptions.JedisConnectionException: "
                        "java.net.SocketTimeoutException: Read timed out",
                        "\tat redis.clients.jedis.util.RedisInputStream.ensureFill(RedisInputStream.java:205)",
                    ],
                ),
            )
    site.apps(
        {"job": "web-api"},
        {"job": "web-api", "namespace": "shop"},
        go=False,
        namespace="shop",
        container="web-api",
        cpu=lambda m, i: 0.8,
        mem=lambda m, i: 1.1e9,
    )
    rl = {"job": "sessions-redis", "instance": "10.9.50.10:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 9000.0 if not stalled(m) else 21000.0,
        used=lambda m: 26.1e9,
        maxmemory=30e9,
        clients=lambda m: 3800 if stalled(m) else rng.randint(280, 330),
        rejected=lambda m: 40.0 if stalled(m) else 0.0,
        blocked=lambda m: 0,
        cpu=lambda m: 0.9 if stalled(m) else 0.35,
    )
    redis_more(
        b,
        rl,
        maxclients=4000,
        connections=lambda m: 260.0 if stalled(m) else 2.0,
        fork_seconds=lambda m: round(rng.uniform(1.9, 2.6), 3),
        rdb_changes=lambda m: int(((m - max([f for f in forks if f <= m] or [0])) * 60) * 40),
    )
    b.gauge("redis_latest_fork_usec", rl, lambda m: int(rng.uniform(1.9e6, 2.6e6)))
    node_exporter(
        b,
        {"job": "sessions-redis", "instance": "10.9.50.10:9100"},
        busy=lambda m: 0.3,
        avail=lambda m: 2.5e9,
        mem_total=32e9,
    )
    log = {"job": "sessions-redis", "instance": "10.9.50.10:6379"}
    for f in forks:
        t = b.t(f)
        b.log(t, log, redis_log(b, t, 1, "M", "*", "10000 changes in 300 seconds. Saving..."))
        b.log(
            t + 2.3,
            log,
            redis_log(
                b,
                t + 2.3,
                1,
                "M",
                "*",
                f"Background saving started by pid {rng.randint(20000, 90000)}",
            ),
        )
        b.log(t + 95, log, redis_log(b, t + 95, 1, "M", "*", "DB saved on disk"))
        b.log(
            t + 95.1,
            log,
            redis_log(b, t + 95.1, 1, "M", "*", "Fork CoW for RDB: current 2140 MB, peak 2140 MB"),
        )
    b.log(
        b.t(0.2),
        log,
        redis_log(
            b,
            b.t(0.2),
            1,
            "M",
            "#",
            "WARNING you have Transparent "
            "Huge Pages (THP) support enabled in your kernel. This will create latency and memory "
            "usage issues with Redis.",
        ),
    )
    return b


def rank_redis_hot_shard() -> Bundle:  # size: one linear scenario script
    """A game launches a weekend event at 18:00 (local 20:00 CEST): every score submission
    does ZADD and every page view ZREVRANGE on one sorted set ``lb:event:global``, which
    lives on shard 2 of a three-master Redis Cluster.  Shard 2's single thread saturates
    (CPU 1.0 core, ops 85 k/s, slowlog grows), its commands take 30-80 ms; shards 1 and 3
    are idle.  leaderboard requests time out (~12 %), others are fine.  Root: rank-redis
    (shard 2, a hot key); nothing to drain, kill or limit (players are players).  Sources:
    Redis support "Hot Key Imbalance Overloading a Shard"; Huawei Cloud DCS FAQ "Why Is the
    Capacity or Performance of a Shard of a Redis Cluster Instance Overloaded..."."""
    b = Bundle(
        "rank-redis-hot-shard",
        "2031-09-05T17:40:00Z",
        description="leaderboard slow / failing since the event started",
        symptom={"component": "game-gw"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 20.0
    hot = within(start, 99)
    b.component("game-gw", "proxy", {"job": "game-gw"}, ["rank-api"])
    b.component("rank-api", "app", {"job": "rank-api"}, ["rank-redis"])
    b.component("rank-redis", "redis", {"job": "rank-redis"})
    pods = [
        Pod(f"10.240.{i}.{9 + i}:8088", f"rank-api-5f7-{s}", f"10.240.{i}.1:10250")
        for i, s in enumerate(("b7", "c8", "d9", "f1"))
    ]
    routes = [
        Route("POST", "/v1/scores", "/v1/scores", 0.45, 0.004),
        Route("GET", "/v1/leaderboard/event?limit=100", "/v1/leaderboard/:board", 0.35, 0.006),
        Route("GET", "/v1/profile/{n}", "/v1/profile/:id", 0.2, 0.003),
    ]

    def rate(m: float) -> float:
        return 12.0 if not hot(m) else 30.0

    def outcome(e: Event, m: float, i: int) -> None:
        if not hot(m) or e.extra["route"] == "/v1/profile/:id":
            return
        if rng.random() < 0.12:
            fail(e, 504, 1.0 + rng.uniform(0, 0.01), size=120)
            e.extra["app_dur"], e.extra["app_status"] = 1.0, "504"
        else:
            e.duration = e.extra["app_dur"] = lognormal(b, 0.09)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["2a01:e0a:1f2::", "86.245.31.", "2a04:cec0:10::"],
        clients=4000,
        rate=rate,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "game-gw", "instance": "10.240.100.2:9901"},
        cluster="rank_api",
        agents=("UnityPlayer/2022.3.21f1 (UnityWebRequest/1.0, libcurl/8.5.0-DEV)",),
    )
    for e in site.events:
        if e.status == 504 and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "ERROR",
                    "g.r.LeaderboardService",
                    "leaderboard read timed out",
                    **{
                        "error.type": "io.lettuce.core.RedisCommandTimeoutException",
                        "error.message": "Command timed out after 1 second(s)",
                    },
                ),
            )
    site.apps({"job": "rank-api"}, {"job": "rank-api"}, go=False)
    for k, ip in enumerate(("10.240.60.11", "10.240.60.12", "10.240.60.13")):
        rl = {"job": "rank-redis", "instance": f"{ip}:9121"}
        is_hot = k == 1
        redis_exporter(
            b,
            rl,
            ops=lambda m, h=is_hot: 85000.0 if h and hot(m) else 6000.0,
            used=lambda m: 3.1e9,
            maxmemory=8e9,
            clients=lambda m: 410,
            slowlog=lambda m, h=is_hot: 1.5 if h and hot(m) else 0.0,
            cpu=lambda m, h=is_hot: 0.98 if h and hot(m) else 0.12,
            cmd_usec={
                "zadd": lambda m, h=is_hot: 900.0 if h and hot(m) else 4.0,
                "zrevrange": lambda m, h=is_hot: 3500.0 if h and hot(m) else 11.0,
            },
        )
        b.gauge("redis_cluster_enabled", rl, lambda m: 1)
        b.gauge("redis_cluster_slots_ok", rl, lambda m: 16384)
        b.gauge("redis_cluster_known_nodes", rl, lambda m: 6)
        if is_hot:
            log = {"job": "rank-redis", "instance": f"{ip}:6379"}
            for t in every(b, start + 2, 50, 120, 300):
                b.log(
                    t,
                    log,
                    redis_log(
                        b,
                        t,
                        7,
                        "M",
                        "#",
                        "Client id="
                        + str(rng.randint(10**5, 10**6))
                        + " addr=10.240.1.10:41822 laddr=10.240.60.12:6379 fd=211 name= age=3 "
                        "idle=0 flags=N db=0 sub=0 psub=0 multi=-1 qbuf=0 obl=0 oll=1803 "
                        "omem=37028352 cmd=zrevrange scheduled to be closed ASAP for overcoming "
                        "of output buffer limits.",
                    ),
                )
    return b


def menu_cold_cache_stampede() -> Bundle:  # size: one linear scenario script
    """A kernel patch reboots menu-cache's VM at 11:57 (redis_up 0 for ~80 s, uptime and
    keys reset).  The empty cache sends every menu read to menu-db: hit ratio 0 -> 0.9 over
    ~14 minutes; meanwhile menu-db runs 5x its usual reads, threads_running ~70 of 300,
    the slow log fills with the usual per-restaurant menu query (1-4 s), menu-api answers
    503 (pool timeouts) for ~12 minutes, then all is back.  Root: menu-cache (restart, cold
    cache); aggravating: menu-db, overloaded by the misses.  Killing those queries would kill
    every customer's menu read.  Sources: Facebook engineering "More details on today's
    outage" (2010: a cache/DB feedback loop); Redis docs "Persistence" (a restart without a
    dump comes back empty)."""
    b = Bundle(
        "menu-cold-cache-stampede",
        "2031-10-14T11:40:00Z",
        description="menus fail to load at lunch",
        symptom={"component": "menu-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    down, back = 17.0, 18.35

    def warm(m: float) -> float:
        return 1.0 if m < down else max(0.0, min(1.0, (m - back) / 14.0))

    sick = within(back, back + 12.5)
    b.component("menu-edge", "proxy", {"job": "menu-edge"}, ["menu-api"])
    b.component("menu-api", "app", {"job": "menu-api"}, ["menu-cache", "menu-db"])
    b.component("menu-cache", "redis", {"job": "menu-cache"})
    b.component("menu-db", "mysql", {"job": "menu-db"})
    pods = [Pod(f"172.31.{20 + i}.{101 + i}:3000") for i in range(3)]
    routes = [
        Route("GET", "/restaurants/{n}/menu", "/restaurants/:id/menu", 0.8, 0.012),
        Route("GET", "/restaurants/near?lat=52.52&lng=13.40", "/restaurants/near", 0.2, 0.02),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if down <= m < back and rng.random() < 0.5:
            fail(e, 503, lognormal(b, 0.3), size=90)
        elif sick(m):
            if rng.random() < 0.3 * (1 - warm(m)):
                fail(e, 503, 5.0 + rng.uniform(0, 0.05), size=90)
            else:
                e.duration = e.extra["app_dur"] = lognormal(b, 0.8 * (1 - warm(m)) + 0.012)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["31.17.8.", "46.114.2.", "2a02:810d:4b40::"],
        clients=2200,
        rate=lambda m: 18.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "menu-edge", "instance": "172.31.0.9:9113"},
    )
    for e in site.events:
        if e.status == 503 and rng.random() < 0.3:
            msg = (
                "Redis connection lost: connect ECONNREFUSED 172.31.40.5:6379"
                if e.t < b.t(back)
                else "Knex: Timeout acquiring a connection. The pool is probably full."
            )
            site.say(
                e.t,
                e.extra["pod"],
                f'{{"level":50,"time":{int(e.t * 1000)},"pid":1,"hostname":"menu-api",'
                f'"msg":"{msg}","req":{{"url":"{e.path}"}}}}',
            )
    site.apps({"job": "menu-api"}, {"job": "menu-api"}, go=False)

    def up(m: float) -> bool:
        return not (down <= m < back)

    rl = {"job": "menu-cache", "instance": "172.31.40.5:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 2500.0,
        used=lambda m: 4.2e9 * warm(m) + 2e6,
        maxmemory=6e9,
        clients=lambda m: 60,
        hits=lambda m: 2200.0 * warm(m),
        misses=lambda m: 120.0 + 2200.0 * (1 - warm(m)),
        up=up,
    )
    b.gauge(
        "redis_uptime_in_seconds",
        rl,
        lambda m: None if not up(m) else round((m - back) * 60 if m >= back else 4e6 + m * 60),
    )
    b.gauge(
        "redis_db_keys", {**rl, "db": "db0"}, lambda m: None if not up(m) else int(310000 * warm(m))
    )
    log = {"job": "menu-cache", "instance": "172.31.40.5:6379"}
    t = b.t(back - 0.1)
    for line in ("Server initialized", "Ready to accept connections tcp"):
        b.log(t, log, redis_log(b, t, 1, "M", "*", line))
        t += 0.01
    b.log(
        b.t(down - 0.01),
        log,
        redis_log(b, b.t(down - 0.01), 1, "M", "#", "Received SIGTERM scheduling shutdown..."),
    )
    db = {"job": "menu-db", "instance": "172.31.40.20:9104"}

    def miss(m: float) -> float:
        return (1 - warm(m)) if m >= back else 0.0

    mysqld_exporter(
        b,
        db,
        qps=lambda m: 150.0 + 1400.0 * miss(m),
        connected=lambda m: 40 + 200 * miss(m),
        running=lambda m: 3 + 70 * miss(m),
        max_connections=300,
        version="8.0.37",
        slow=lambda m: 8.0 * miss(m),
        scan_rows=lambda m: 4e4 + 3e6 * miss(m),
    )
    sl = {"job": "menu-db", "instance": "172.31.40.20:3306", "log": "slow"}
    for t in every(b, back, back + 13, 0.3, 1.2):
        if rng.random() < miss(b.m(t)) + 0.05:
            rid = rng.randint(1000, 98000)
            b.log(
                t,
                sl,
                mysql_slow(
                    b,
                    t,
                    user="menu",
                    host="172.31.21.102",
                    thread=rng.randint(10**5, 10**6),
                    qt=rng.uniform(1.0, 4.0),
                    lt=0.0001,
                    sent=rng.randint(40, 300),
                    examined=rng.randint(900, 2500),
                    sql=f"SELECT i.* FROM menu_items i JOIN menu_sections s ON s.id = i.section_id "
                    f"WHERE s.restaurant_id = {rid} AND i.active = 1 ORDER BY s.pos, i.pos",
                    db="menus",
                ),
            )
    return b


def shop_connection_storm_blip() -> Bundle:  # size: one linear scenario script
    """A routine rollout at 15:21 restarts all eight shop-api pods within ~40 s; each new pod
    opens its Hikari minimumIdle=40 at once.  shop-db (max_connections 300) refuses
    connections for ~45 s ("Too many connections", Aborted_connects ticks), ~70 requests
    fail, then pools shrink to their idle size and everything is normal for 30 minutes.
    Healed by itself, shorter than any incident gate: no incident.  Sources: HikariCP wiki
    "About Pool Sizing"; MySQL reference manual "Too many connections"."""
    b = Bundle(
        "shop-connection-storm-blip",
        "2031-11-03T15:00:00Z",
        description="alert: MySQL connection errors",
        symptom={"component": "shop-db"},
        step=30,
        minutes=55,
    )
    rng = b.rng
    roll = 21.0
    b.component("shop-edge", "proxy", {"job": "shop-edge"}, ["shop-api"])
    b.component("shop-api", "app", {"job": "shop-api"}, ["shop-db"])
    b.component("shop-db", "mysql", {"job": "shop-db"})
    old = [
        Pod(
            f"10.44.{i}.{30 + i}:8080",
            f"shop-api-7d9c-{i:02d}a",
            f"10.44.{i}.1:10250",
            within(0, roll + i * 0.08),
        )
        for i in range(8)
    ]
    new = [
        Pod(
            f"10.44.{i}.{130 + i}:8080",
            f"shop-api-8e1f-{i:02d}b",
            f"10.44.{i}.1:10250",
            within(roll + i * 0.08, 99),
        )
        for i in range(8)
    ]
    pods = old + new
    routes = [
        Route("GET", "/api/products/{n}", "/api/products/{id}", 0.7, 0.015),
        Route("POST", "/api/checkout", "/api/checkout", 0.3, 0.06),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if roll + 0.1 <= m < roll + 0.85 and rng.random() < 0.12:
            fail(e, 500, lognormal(b, 0.03), size=130)
            e.extra["conn"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.44.200.", "10.44.201."],
        clients=500,
        rate=lambda m: 16.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "shop-edge", "instance": "10.44.100.3:9113"},
    )
    for e in site.events:
        if e.extra.get("conn"):
            site.say(
                e.t,
                e.extra["pod"],
                spring(
                    b,
                    e.t,
                    "ERROR",
                    "HikariPool-1 connection adder",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Exception during pool initialization.",
                    ["java.sql.SQLNonTransientConnectionException: Too many connections"],
                ),
            )
    for i, _p in enumerate(new):
        site.say(
            b.t(roll + i * 0.08 + 0.02),
            len(old) + i,
            spring(
                b,
                b.t(roll + i * 0.08 + 0.02),
                "INFO",
                "main",
                "com.shop.Application",
                "Started Application in 9.214 seconds (process running for 10.02)",
            ),
        )
    site.apps({"job": "shop-api"}, {"job": "shop-api"}, go=False)
    for p in pods:
        pl = {"job": "shop-api", "instance": p.addr, "pod": p.pod}
        fresh = p in new
        hikari(
            b,
            pl,
            active=lambda m: 3,
            pending=lambda m, f=fresh: 6 if f and roll < m < roll + 0.8 else 0,
            maximum=40,
            present=p.present,
        )
    db = {"job": "shop-db", "instance": "10.44.50.5:9104"}
    storm = within(roll, roll + 0.8)
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 220.0,
        connected=lambda m: 300 if storm(m) else 96,
        running=lambda m: 4,
        max_connections=300,
        version="8.0.36",
        aborted_connects=lambda m: 9.0 if storm(m) else 0.0,
    )
    el = {"job": "shop-db", "instance": "10.44.50.5:3306", "log": "error"}
    for t in every(b, roll, roll + 0.75, 0.5, 2):
        b.log(
            t,
            el,
            mysql8_err(
                b,
                t,
                0,
                "Warning",
                "MY-010055",
                f"IP address '10.44.{rng.randint(0, 7)}.{rng.randint(130, 137)}' could not be "
                "resolved: Too many connections",
            ),
        )
    return b
