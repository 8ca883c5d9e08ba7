# size: scenario builders are long linear scripts, one story each (as in rounds 3-4)
"""Redis: noeviction at maxmemory, big DELs, a replica resync loop, maxclients (and a
database host whose clock runs nine minutes ahead)."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    mysql8_err,
    mysql_slow,
    nginx_timed_line,
    redis_log,
    zap,
)
from examples.incidents.holdout5.common import Pod, Route, Site, node_timex, py_log, redis_more


def cart_redis_noeviction_oom() -> Bundle:  # size: one linear scenario script
    """cart-redis (Redis 7.2, maxmemory 4 GB, maxmemory-policy noeviction because it also
    holds checkout sessions) fills up: since a cart-svc release at 17:10 abandoned carts are
    written without a TTL (keys grow, keys with an expiry do not, expired_keys falls).  At
    18:17 used memory reaches maxmemory and Redis refuses every write: ioredis "ReplyError:
    OOM command not allowed when used memory > 'maxmemory'." on add-to-cart and
    checkout-session writes in all cart-svc pods (500); reads still work.  No evictions
    (noeviction).  Root: the Redis (out of memory); nothing to drain or kill."""
    b = Bundle(
        "cart-redis-noeviction-oom",
        "2029-05-29T18:00:00Z",
        description="add to cart fails with 500",
        symptom={"component": "cart-edge", "route": "/api/cart/items"},
    )
    full = 17.0

    def used(m: float) -> float:
        return min(4.0e9, ramp(m, 0, full, 3.72e9, 4.0e9))

    ns, ctr = "cart", "cart-svc"
    b.component("cart-edge", "proxy", {"job": "cart-edge"}, ["cart-svc"])
    b.component("cart-svc", "app", {"namespace": ns, "container": ctr}, ["cart-redis"])
    b.component("cart-redis", "redis", {"job": "cart-redis"})
    pods = [
        Pod(f"10.118.{4 + i}.{200 + i}:3000", f"cart-svc-69d8f7b5c-{s}", f"10.118.0.{31 + i}:10250")
        for i, s in enumerate(("q2w9e", "z7x4c", "m5n8b", "k1j6h"))
    ]
    routes = [
        Route("POST", "/api/cart/items", "/api/cart/items", 0.35, 0.012),
        Route("GET", "/api/cart", "/api/cart", 0.5, 0.006),
        Route("POST", "/api/checkout/session", "/api/checkout/session", 0.15, 0.02),
    ]
    pool = client_pool(b, ["2a02:a03f:6b1::", "94.224.81.", "81.164.12.", "178.116.203."], 900)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and e.method == "POST":
            fail(e, 500, b.rng.uniform(0.002, 0.008), size=88)
            cmd = "set" if "items" in e.path else "hset"
            site.say(
                e.t,
                i,
                json.dumps(
                    {
                        "level": 50,
                        "time": int(e.t * 1000),
                        "pid": 1,
                        "hostname": pods[i].pod,
                        "reqId": f"req-{b.rng.getrandbits(24):x}",
                        "err": {
                            "type": "ReplyError",
                            "message": "OOM command not allowed when used memory > 'maxmemory'.",
                            "command": {
                                "name": cmd,
                                "args": [f"cart:{b.rng.getrandbits(40):x}", "[...]"],
                            },
                        },
                        "msg": "cart write failed",
                    },
                    separators=(",", ":"),
                ),
            )

    site.run(
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="nginx",
        labels={"job": "cart-edge", "instance": "10.118.0.10:9113"},
        fmt=lambda e: nginx_timed_line(b, e),
    )
    site.apps(
        {"job": "cart-svc", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stdout"},
        namespace=ns,
        container=ctr,
        go=False,
        mem=lambda m, i: 180e6,
    )
    rl = {"job": "cart-redis", "instance": "10.118.40.3:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 2400 if m < full else 1500,
        used=lambda m: used(m) - b.rng.uniform(0, 3e5),
        maxmemory=4e9,
        clients=lambda m: 96,
        cpu=lambda m: 0.09,
    )
    redis_more(b, rl, rdb_changes=lambda m: 0)
    b.gauge("redis_config_maxmemory", rl, lambda m: 4_000_000_000)
    b.gauge("redis_db_keys", {**rl, "db": "db0"}, lambda m: int(ramp(m, 0, full, 8.1e6, 8.74e6)))
    b.gauge("redis_db_keys_expiring", {**rl, "db": "db0"}, lambda m: int(2.2e6 - m * 900))
    b.gauge("redis_mem_fragmentation_ratio", rl, lambda m: round(b.rng.uniform(1.04, 1.07), 2))
    ll = {"job": "cart-redis", "instance": "10.118.40.3:9121", "container": "redis"}
    b.log(
        b.t(0.3),
        ll,
        redis_log(
            b,
            b.t(0.3),
            1,
            "M",
            "#",
            "WARNING: 94% of maxmemory used; maxmemory-policy is noeviction",
        ),
    )
    return b


def tiles_redis_big_del() -> Bundle:  # size: one linear scenario script
    """A cleanup cron on a batch host (10.131.9.4, not in the topology) removes yesterday's
    rendered-tile hashes with DEL instead of UNLINK, one every ~1.5 min from 03:10 to 03:52;
    each hash holds 3-9 M fields and Redis' single thread frees it for 3.5-8 s.  During each
    block every go-redis call of all tiles-api pods times out ("redis: i/o timeout" after
    its 1 s read timeout) and tile requests answer 503; between blocks all is normal.  The
    slowlog fills with DEL, redis_commands_duration_seconds_total{cmd="del"} jumps,
    connected clients spike after each block.  Root: the Redis (slow commands)."""
    b = Bundle(
        "tiles-redis-big-del",
        "2029-06-19T03:00:00Z",
        description="map tiles fail in bursts every few minutes",
        symptom={"component": "tiles-ingress"},
    )
    rng = b.rng
    blocks = []
    m = 10.0
    while m < 52:
        blocks.append((m, m + rng.uniform(3.5, 8.0) / 60))
        m += rng.uniform(1.3, 1.8)

    def blocked(m: float) -> bool:
        return any(s <= m < e for s, e in blocks)

    ns, ctr = "maps", "tiles-api"
    b.component("tiles-ingress", "proxy", {"job": "tiles-ingress"}, ["tiles-api"])
    b.component("tiles-api", "app", {"namespace": ns, "container": ctr}, ["tiles-redis"])
    b.component("tiles-redis", "redis", {"job": "tiles-redis"})
    pods = [
        Pod(
            f"100.72.{3 + i}.{9 + i * 4}:8080",
            f"tiles-api-5f6e7d8c9-{s}",
            f"100.72.0.{8 + i}:10250",
        )
        for i, s in enumerate(("p1", "p2", "p3", "p4", "p5", "p6"))
    ]
    pods = [Pod(p.addr, p.pod.replace("-p", "-z9"), p.node) for p in pods]
    routes = [
        Route("GET", "/tiles/14/{n}/5521.png", "/tiles/{z}/{x}/{y}", 0.8, 0.004, 14000),
        Route("GET", "/tiles/16/{n}/22087.png", "/tiles/{z}/{x}/{y}", 0.2, 0.006, 9000),
    ]
    pool = client_pool(
        b, ["2600:1700:5e0::", "73.162.44.", "2405:6580:88::", "49.98.151.", "200.148.17."], 1400
    )
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if blocked(m):
            fail(e, 503, 1.0 + rng.uniform(0.0, 0.02), size=0)
            site.say(
                e.t + 1.0,
                i,
                zap(
                    b,
                    e.t + 1.0,
                    "error",
                    "cache/redis.go:88",
                    "tile cache get",
                    key=f"t:14:{rng.randint(1000, 98000)}:5521",
                    error="redis: i/o timeout",
                    addr="100.72.40.7:6379",
                ),
            )

    site.run(
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="ingress",
        labels={"job": "tiles-ingress", "instance": "100.72.0.50:10254"},
        cluster="maps-tiles-api-8080",
        agents=(
            "MapLibre Native/6.8 (iOS)",
            "okhttp/4.12.0",
            "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
        ),
    )
    site.apps(
        {"job": "tiles-api", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        goroutines=lambda m, i: 70 + (400 if blocked(m) else 0),
    )
    rl = {"job": "tiles-redis", "instance": "100.72.40.7:9121"}
    dels = [s for s, _ in blocks]
    redis_exporter(
        b,
        rl,
        ops=lambda m: 5200 if not blocked(m) else 900,
        used=lambda m: 11.2e9 - sum(0.3e9 for s in dels if s <= m),
        maxmemory=24e9,
        clients=lambda m: 140 + (380 if blocked(m) else 0),
        slowlog=lambda m: min(128, 3 + sum(1 for s in dels if s <= m)),
        cmd_usec={
            "get": lambda m: 0.06,
            "del": lambda m: 0.0001 + (0.55 if blocked(m) else 0.0),
        },
        cpu=lambda m: 0.2 + (0.8 if blocked(m) else 0),
    )
    redis_more(b, rl, connections=lambda m: 2.0 + (40 if blocked(m) else 0), maxclients=20000)
    b.gauge("redis_slowlog_last_id", rl, lambda m: 4410 + sum(1 for s in dels if s <= m))
    b.gauge(
        "redis_last_slow_execution_duration_seconds", rl, lambda m: 0.012 if m < dels[0] else 4.2
    )
    b.counter("redis_commands_total", {**rl, "cmd": "del"}, lambda m: 0.2, start=91_220)
    return b


def chat_redis_replica_resync_loop() -> Bundle:  # size: one linear scenario script
    """chat-api writes to chat-redis and reads history from its replica chat-history
    (10.96.30.12).  From 16:12 a new read-receipt feature multiplies the write stream; the
    replica's output buffer passes ``client-output-buffer-limit replica 256mb 64mb 60`` and
    the master drops it.  The 1 MB backlog cannot serve a partial resync, so every cycle is
    a full resync: BGSAVE (fork 0.9 s, ~40 s), transfer, then ~30 s of LOADING on the
    replica, and ~2 min later the buffer overflows again.  While the replica loads, history
    reads fail with "LOADING Redis is loading the dataset in memory" (Python redis-py) on all
    pods (503); the replica's master_link_up flaps.  Root: the replica (full resync loop);
    nothing to drain or kill."""
    b = Bundle(
        "chat-redis-replica-resync-loop",
        "2029-07-10T16:00:00Z",
        description="chat history fails to load every few minutes",
        symptom={"component": "chat-edge", "route": "/v1/rooms/{id}/history"},
    )
    rng = b.rng
    cycles = []
    m = 12.0
    while m < 58:
        drop = m
        load_start = drop + rng.uniform(0.75, 0.95)
        load_end = load_start + rng.uniform(0.45, 0.6)
        cycles.append((drop, load_start, load_end))
        m = load_end + rng.uniform(1.8, 2.4)

    def loading(m: float) -> bool:
        return any(s <= m < e for _, s, e in cycles)

    def linked(m: float) -> bool:
        return not any(d <= m < e for d, _, e in cycles)

    b.component("chat-edge", "proxy", {"job": "chat-edge"}, ["chat-api"])
    b.component("chat-api", "app", {"job": "chat-api"}, ["chat-redis", "chat-history"])
    b.component("chat-redis", "redis", {"job": "chat-redis"})
    b.component("chat-history", "redis", {"job": "chat-history"})
    pods = [
        Pod(f"10.96.{10 + i}.{51 + 3 * i}:8000", f"chat-api-7b8c9d0e1-{s}")
        for i, s in enumerate(("ga1", "gb2", "gc3", "gd4"))
    ]
    routes = [
        Route("GET", "/v1/rooms/{n}/history?before=0", "/v1/rooms/{id}/history", 0.45, 0.008),
        Route("POST", "/v1/rooms/{n}/messages", "/v1/rooms/{id}/messages", 0.35, 0.006),
        Route("POST", "/v1/rooms/{n}/receipts", "/v1/rooms/{id}/receipts", 0.2, 0.003),
    ]
    pool = client_pool(b, ["10.96.100.", "10.96.101.", "fd10:96:1::"], 300)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if loading(m) and "history" in e.path:
            fail(e, 503, rng.uniform(0.002, 0.006), size=70)
            site.say(
                e.t,
                i,
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "chat.history",
                    f"read failed room={e.path.split('/')[3]}: redis.exceptions.BusyLoadingError: Redis is loading the dataset in memory",
                ),
            )

    site.run(
        rate=lambda m: 10.0 if m < 12 else 11.5,
        outcome=outcome,
        kind="envoy",
        labels={"job": "chat-edge", "instance": "10.96.0.7:9901"},
        cluster="chat-api",
    )
    site.apps({"job": "chat-api"}, {"job": "chat-api", "stream": "stderr"}, go=False)

    def feature(m: float) -> bool:
        return m >= 12

    ml = {"job": "chat-redis", "instance": "10.96.30.11:9121"}
    fork_at = [d + 2 / 60 for d, _, _ in cycles]
    redis_exporter(
        b,
        ml,
        ops=lambda m: 3100 if not feature(m) else 9800,
        used=lambda m: 3.1e9 + (1.2e9 if any(f <= m < f + 0.7 for f in fork_at) else 0),
        maxmemory=12e9,
        clients=lambda m: 88,
        cpu=lambda m: 0.3 if not feature(m) else 0.62,
    )
    redis_more(b, ml, fork_seconds=lambda m: 0.021 if m < 12 else 0.93, rdb_changes=lambda m: 0)
    b.gauge(
        "redis_rdb_bgsave_in_progress",
        ml,
        lambda m: 1 if any(f <= m < f + 0.7 for f in fork_at) else 0,
    )
    b.counter_steps("redis_sync_full_total", ml, [b.t(f) for f in fork_at], start=2)
    b.counter_steps("redis_sync_partial_err_total", ml, [b.t(f) for f in fork_at], start=1)
    rl = {"job": "chat-history", "instance": "10.96.30.12:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 0 if loading(m) else 2400,
        used=lambda m: 3.1e9 if not loading(m) else 1.4e9,
        maxmemory=12e9,
        clients=lambda m: 80,
        role=lambda m: "slave",
        cpu=lambda m: 0.9 if loading(m) else 0.1,
    )
    redis_more(
        b, rl, link_up=lambda m: 1 if linked(m) else 0, loading=lambda m: 1 if loading(m) else 0
    )
    mlog = {"job": "chat-redis", "instance": "10.96.30.11:9121", "container": "redis"}
    rlog = {"job": "chat-history", "instance": "10.96.30.12:9121", "container": "redis"}
    for k, (d, s, e) in enumerate(cycles):
        t = b.t(d)
        cid = 1_880_412 + k * 3
        mm = [
            (
                0.0,
                "#",
                f"Client id={cid} addr=10.96.30.12:41220 laddr=10.96.30.11:6379 fd=31 name= age={rng.randint(60, 190)} idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll={rng.randint(9000, 12000)} omem=268{rng.randint(100000, 999999)} tot-mem=268{rng.randint(100000, 999999)} events=rw cmd=replconf user=default redir=-1 resp=2 lib-name= lib-ver= scheduled to be closed ASAP for overcoming of output buffer limits.",
            ),
            (0.05, "#", "Connection with replica 10.96.30.12:6379 lost."),
            (1.9, "*", "Replica 10.96.30.12:6379 asks for synchronization"),
            (
                1.9,
                "*",
                f"Unable to partial resync with replica 10.96.30.12:6379 for lack of backlog (Replica request was: {9_120_443_118 + k * 77_000_000}).",
            ),
            (1.91, "*", "Starting BGSAVE for SYNC with target: disk"),
            (2.8, "*", f"Background saving started by pid {40_100 + k}"),
            ((s - d) * 60 - 8, "*", "Background saving terminated with success"),
            ((s - d) * 60 - 1, "*", "Synchronization with replica 10.96.30.12:6379 succeeded"),
        ]
        for dt_, mark, msg in mm:
            b.log(t + dt_, mlog, redis_log(b, t + dt_, 1, "M", mark, msg))
        rr = [
            (0.06, "#", "Connection with master lost."),
            (0.06, "*", "Caching the disconnected master state."),
            (1.0, "*", "Connecting to MASTER 10.96.30.11:6379"),
            (1.0, "*", "MASTER <-> REPLICA sync started"),
            (1.9, "*", "Partial resynchronization not possible (no cached master)"),
            (
                1.92,
                "*",
                f"Full resync from master: 5d1c7a9e0b3f4e8a9c2d6b1f0e7a3c5d9b8e4f2a:{9_120_443_118 + k * 77_000_000}",
            ),
            ((s - d) * 60, "*", "MASTER <-> REPLICA sync: Flushing old data"),
            ((s - d) * 60 + 0.4, "*", "MASTER <-> REPLICA sync: Loading DB in memory"),
            ((e - d) * 60, "*", "MASTER <-> REPLICA sync: Finished with success"),
        ]
        for dt_, mark, msg in rr:
            b.log(t + dt_, rlog, redis_log(b, t + dt_, 1, "S", mark, msg))
    return b


def promo_redis_maxclients_skewed_db() -> Bundle:  # size: one linear scenario script
    """A promo-worker release (another namespace, not in the topology) leaks a Redis
    connection per job; promo-redis' connected_clients climbs from ~9,000 and reaches
    maxclients 10,000 at 15:20: rejected_connections rises and new connections of promo-api
    pods fail with "ERR max number of clients reached" (redis-py ConnectionError, 503 on
    /v1/promos).  promo-api falls back to promo-db for lookups, so the DB's questions and
    threads triple from 15:20 (Prometheus time) and its error log shows aborted connections
    and slow lookups.  The DB host's clock is nine minutes slow (chrony stopped days ago:
    node_timex_sync_status 0, maxerror 16 s, node_time_seconds 540 s behind the scrape
    time), so those log lines are stamped from 15:11, before the Redis trouble.
    Root: the Redis (connection exhaustion); the DB only follows the fallback."""
    b = Bundle(
        "promo-redis-maxclients-skewed-db",
        "2029-07-31T15:00:00Z",
        description="promotions fail to load (503)",
        symptom={"component": "promo-edge"},
    )
    rng = b.rng
    full = 20.0
    skew = 540.0

    def bad(m: float) -> bool:
        return m >= full

    b.component("promo-edge", "proxy", {"job": "promo-edge"}, ["promo-api"])
    b.component("promo-api", "app", {"job": "promo-api"}, ["promo-redis", "promo-db"])
    b.component("promo-redis", "redis", {"job": "promo-redis"})
    b.component("promo-db", "mysql", {"job": "promo-db"})
    pods = [
        Pod(f"172.27.{5 + i}.{70 + i}:8000", f"promo-api-84b5c6d7e-{s}")
        for i, s in enumerate(("na1", "nb2", "nc3", "nd4"))
    ]
    routes = [
        Route("GET", "/v1/promos?sku={n}", "/v1/promos", 0.7, 0.006),
        Route("POST", "/v1/promos/redeem", "/v1/promos/redeem", 0.3, 0.02),
    ]
    pool = client_pool(b, ["172.27.100.", "172.27.101."], 60)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if not bad(m):
            return
        if rng.random() < 0.38:
            fail(e, 503, rng.uniform(0.003, 0.01), size=64)
            site.say(
                e.t,
                i,
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "promo.cache",
                    "redis unavailable: redis.exceptions.ConnectionError: max number of clients reached",
                ),
            )
        else:
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.02, 0.3)

    site.run(
        rate=lambda m: 13.0,
        outcome=outcome,
        kind="nginx",
        labels={"job": "promo-edge", "instance": "172.27.0.3:9113"},
        agents=("storefront-ssr/12.4", "node-fetch/3.3"),
    )
    site.apps({"job": "promo-api"}, {"job": "promo-api", "stream": "stderr"}, go=False)
    rl = {"job": "promo-redis", "instance": "172.27.40.2:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 6000 if not bad(m) else 3800,
        used=lambda m: 1.6e9 + ramp(m, 0, full, 0, 3e8),
        maxmemory=8e9,
        clients=lambda m: min(10000.0, ramp(m, 0, full, 9050, 10000)),
        rejected=lambda m: 0.0 if not bad(m) else 5.0,
        cpu=lambda m: 0.18,
    )
    redis_more(b, rl, connections=lambda m: 1.6 + (5.0 if bad(m) else 0))
    db = {"job": "promo-db", "instance": "172.27.41.9:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 300 if not bad(m) else 950,
        connected=lambda m: 40 if not bad(m) else 118,
        running=lambda m: 2 if not bad(m) else 9,
        slow=lambda m: 0.0 if not bad(m) else 0.08,
        aborted_connects=lambda m: 0.0 if not bad(m) else 0.05,
        version="8.0.39",
    )
    node = {"job": "promo-db", "instance": "172.27.41.9:9100"}
    node_exporter(
        b, node, busy=lambda m: 0.08 if not bad(m) else 0.3, avail=lambda m: 11e9, mem_total=16e9
    )
    node_timex(b, node, offset=lambda m: 0.0008, synced=lambda m: False, behind=skew)
    el = {"job": "promo-db", "instance": "172.27.41.9:9104", "log": "error"}
    sl = {"job": "promo-db", "instance": "172.27.41.9:9104", "log": "slow"}
    t = b.t(full + 0.05)
    while t < b.t(60):
        ts = t - skew
        if rng.random() < 0.5:
            b.log(
                ts,
                el,
                mysql8_err(
                    b,
                    ts,
                    rng.randint(900_000, 990_000),
                    "Note",
                    "MY-010914",
                    f"Aborted connection {rng.randint(900_000, 990_000)} to db: 'promo' user: 'promo' host: '172.27.{rng.randint(5, 8)}.{rng.randint(70, 73)}' (Got timeout reading communication packets).",
                ),
            )
        else:
            b.log(
                ts,
                sl,
                mysql_slow(
                    b,
                    ts,
                    user="promo",
                    host=f"172.27.{rng.randint(5, 8)}.{rng.randint(70, 73)}",
                    thread=rng.randint(900_000, 990_000),
                    qt=rng.uniform(1.0, 1.6),
                    lt=0.00002,
                    sent=12,
                    examined=48_210,
                    sql=f"SELECT id, rule FROM promo_rules WHERE sku = {rng.randint(10000, 99999)} AND active = 1",
                    db="promo",
                ),
            )
        t += rng.uniform(4, 14)
    for mm in (9.5, 14.0, 26.0, 38.0):
        ts = b.t(mm) - skew
        b.log(
            ts,
            el,
            mysql8_err(
                b,
                ts,
                0,
                "Warning",
                "MY-013360",
                "Plugin mysql_native_password reported: ''mysql_native_password' is deprecated and will be removed in a future release. Please use caching_sha2_password instead'",
            ),
        )
    return b
