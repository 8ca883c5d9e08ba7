"""redis-failover: the Redis master's node dies, Sentinel promotes a replica, 40 s of errors.

2025-09-18, window 17:00-18:00 UTC.  Apache httpd (mod_proxy_balancer, combined log plus
``%D`` microseconds, apache_exporter) fronts three ``feed`` pods (Go, logfmt via slog,
namespace ``social``, 10.16.3.x:9000).  ``feed-redis`` is three pods (``redis`` +
``sentinel`` + ``redis-exporter`` containers, 10.16.8.10-12) with master redis-node-0;
``posts-db`` (MariaDB) holds the posts and stays healthy.

At 17:26:05 the VM under redis-node-0 is preempted.  The feed pods' connections to the
master are refused from the first second; Sentinel (down-after-milliseconds 30000) marks
it ``+sdown`` at 17:26:35, ``+odown`` a moment later, promotes redis-node-1 and announces
``+switch-master`` at 17:26:41; the go-redis failover clients reconnect by 17:26:45.
So for 40 s every feed pod answers most timeline calls with 503; then traffic is normal
again.  redis-node-0 comes back at 17:29:40 and rejoins as a replica.

Expected: root ``feed-redis``; feed and the httpd edge symptoms; nothing affected alone
(all feed pods alike); no client; no remediation (the failover already healed it;
draining feed pods or killing DB queries would be wrong).
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, client_pool, utc
from examples.incidents.holdout2.common import (
    Req,
    periodic,
    process_metrics,
    red_metrics,
    traffic,
    with_outcome,
)

PODS = {
    "10.16.3.21:9000": "feed-6b7c8d9f5-bn4xz",
    "10.16.3.37:9000": "feed-6b7c8d9f5-hw2qp",
    "10.16.4.9:9000": "feed-6b7c8d9f5-r7tkc",
}
REDIS = {"redis-node-0": "10.16.8.10", "redis-node-1": "10.16.8.11", "redis-node-2": "10.16.8.12"}
ROUTES = (
    ("GET", "/v1/feed/home", 6.0),
    ("GET", "/v1/feed/user/{id}", 3.0),
    ("POST", "/v1/posts", 0.6),
    ("GET", "/v1/posts/{id}", 2.0),
    ("GET", "/healthz", 0.3),
)


def build() -> Bundle:
    b = Bundle(
        name="feed-errors-2025-09-18",
        description="Feed returned errors for a short while",
        start="2025-09-18T17:00:00Z",
        end="2025-09-18T18:00:00Z",
        seed=250918,
        symptom={"component": "feed-httpd"},
        components=[
            Component("feed-httpd", "proxy", {"job": "feed-httpd"}, ["feed"]),
            Component(
                "feed", "app", {"namespace": "social", "app": "feed"}, ["feed-redis", "posts-db"]
            ),
            Component("feed-redis", "redis", {"namespace": "social", "app": "feed-redis"}),
            Component("posts-db", "mysql", {"job": "posts-db"}),
        ],
    )
    rng = b.rng
    lost, sdown, switch, healed, rejoin = (
        b.at(c) for c in ("17:26:05", "17:26:35", "17:26:41", "17:26:45", "17:29:40")
    )

    def outage(t: float) -> bool:
        return lost <= t < healed

    pool = client_pool(
        rng,
        [
            lambda r: f"5.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"176.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2a01:e0a:{r.randint(0, 0xFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
        ],
        610,
    )
    redis_errors: list[tuple[float, str, str]] = []

    def shape(req: Req) -> Req:
        if outage(req.ts) and req.route != "/healthz" and rng.random() < 0.93:
            kind = "refused" if req.ts < switch else "readonly"
            redis_errors.append((req.ts + 0.003, req.instance, kind))
            return with_outcome(req, status=503, duration=rng.uniform(0.002, 0.012))
        return req

    requests = traffic(
        b,
        rate=lambda t: 14.0,
        pool=pool,
        routes=ROUTES,
        instances=list(PODS),
        fill=lambda route: route.replace("{id}", str(rng.randint(1, 2_000_000))),
        median=0.018,
        shape=shape,
    )

    # --- feed-httpd: apache_exporter + access log --------------------------------------------
    hl = {"job": "feed-httpd", "instance": "10.16.0.4:9117"}
    times = b.scrapes(hl["instance"])
    b.counter_from_events(
        "apache_accesses_total",
        "Current total apache accesses (*)",
        times,
        ((r.done, hl, 1) for r in requests),
    )
    b.gauge("apache_up", "Could the apache server be reached", hl, times, lambda t: 1)
    b.gauge(
        "apache_workers",
        "Apache worker statuses",
        {**hl, "state": "busy"},
        times,
        lambda t: 9,
        noise=0.2,
        integer=True,
    )
    b.gauge(
        "apache_workers",
        "Apache worker statuses",
        {**hl, "state": "idle"},
        times,
        lambda t: 141,
        noise=0.02,
        integer=True,
    )
    access = {"job": "feed-httpd", "host": "www-1", "filename": "/var/log/apache2/feed_access.log"}
    for r in requests:
        stamp = utc(r.done).strftime("%d/%b/%Y:%H:%M:%S +0000")
        b.log(
            r.done,
            access,
            f'{r.ip} - - [{stamp}] "{r.method} {r.path} HTTP/1.1" {r.status} {r.size if r.status < 500 else 74} "-" "{r.agent}" {int(r.duration * 1e6)}',
        )

    # --- feed pods ----------------------------------------------------------------------------
    for inst, pod in PODS.items():
        mine = [r for r in requests if r.instance == inst]
        labels = {"namespace": "social", "app": "feed", "pod": pod, "job": "feed", "instance": inst}
        times = b.scrapes(inst)
        red_metrics(b, labels=labels, times=times, requests=mine)
        process_metrics(
            b,
            labels=labels,
            times=times,
            cpu=lambda t: 0.16,
            rss=lambda t: 48e6,
            started=b.data_start - rng.uniform(3e4, 3e5),
        )
        b.counter_from_events(
            "feed_cache_errors_total",
            "Errors returned by the Redis client",
            times,
            ((ts, {**labels, "op": "get"}, 1) for ts, i, _k in redis_errors if i == inst),
            always=[{**labels, "op": "get"}],
        )
        logl = {
            "namespace": "social",
            "app": "feed",
            "pod": pod,
            "container": "feed",
            "stream": "stderr",
        }
        for ts, i, kind in redis_errors:
            if i != inst:
                continue
            err = (
                "dial tcp 10.16.8.10:6379: connect: connection refused"
                if kind == "refused"
                else "redis: all sentinels specified in configuration are unreachable"
                if rng.random() < 0.3
                else "READONLY You can't write against a read only replica."
            )
            b.log(
                ts,
                logl,
                f'time={utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z level=ERROR msg="timeline fetch failed" key=timeline:{rng.randint(1, 2_000_000)} err="{err}"',
            )
        b.log(
            switch + rng.uniform(0.5, 3.5),
            logl,
            f'time={utc(switch + 2).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z level=INFO msg="sentinel: new master" master=mymaster addr=10.16.8.11:6379',
        )
        for t in periodic(b, every=60, jitter=1):
            b.log(
                t,
                logl,
                f'time={utc(t).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z level=INFO msg="pool stats" hits={rng.randint(700, 900)} misses={rng.randint(0, 4)} timeouts=0 total_conns={rng.randint(9, 12)} idle_conns={rng.randint(4, 9)}',
            )

    # --- feed-redis: exporter per pod, redis and sentinel logs -----------------------------------
    for name, ip in REDIS.items():
        base = {"namespace": "social", "app": "feed-redis", "pod": name}
        rl = {**base, "instance": f"{ip}:9121"}
        scrape = b.scrapes(rl["instance"])
        gone = name == "redis-node-0"
        present = [t for t in scrape if not (gone and lost <= t < rejoin + 8)]
        b.gauge(
            "up",
            "Whether the target answered the scrape",
            {**rl, "job": "feed-redis"},
            scrape,
            lambda t, g=gone: 0 if g and lost <= t < rejoin + 8 else 1,
        )

        def role(t: float, n: str = name) -> str:
            if n == "redis-node-0":
                return "master" if t < lost else "slave"
            if n == "redis-node-1":
                return "master" if t >= switch else "slave"
            return "slave"

        b.gauge("redis_up", "Information about the Redis instance", rl, present, lambda t: 1)
        for r in ("master", "slave"):
            b.gauge(
                "redis_instance_info",
                "Information about the Redis instance",
                {**rl, "redis_version": "7.2.5", "redis_mode": "standalone", "role": r},
                present,
                lambda t, r=r, role=role: 1 if role(t) == r else 0,
            )
        b.gauge(
            "redis_connected_slaves",
            "connected_slaves metric",
            rl,
            present,
            lambda t, role=role, n=name: (
                (2 if t < lost else (1 if t < rejoin + 2 else 2))
                if (role(t) == "master" and n != "redis-node-0")
                or (n == "redis-node-0" and t < lost)
                else 0
            ),
        )
        b.gauge(
            "redis_master_link_up",
            "master_link_up metric",
            rl,
            present,
            lambda t, role=role: 1 if role(t) == "master" or not (lost <= t < switch + 2) else 0,
        )
        b.counter(
            "redis_commands_processed_total",
            "commands_processed_total metric",
            rl,
            present,
            lambda t, role=role: (
                (260.0 if role(t) == "master" else 4.0) * (0.05 if lost <= t < healed else 1.0)
            ),
            initial=rng.uniform(1e9, 3e9),
        )
        b.gauge(
            "redis_connected_clients",
            "connected_clients metric",
            rl,
            present,
            lambda t, role=role: 38 if role(t) == "master" else 5,
            noise=0.05,
            integer=True,
        )
        b.gauge(
            "redis_memory_used_bytes",
            "memory_used_bytes metric",
            rl,
            present,
            lambda t: 1.9e9,
            noise=0.003,
            integer=True,
        )

    def rlog(pod: str, container: str, t: float, role: str, text: str) -> None:
        pid = "1" if container == "redis" else "7"
        b.log(
            t,
            {
                "namespace": "social",
                "app": "feed-redis",
                "pod": pod,
                "container": container,
                "stream": "stdout",
            },
            f"{pid}:{role} {utc(t).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} {text}",
        )

    for t in periodic(b, every=300, jitter=10):
        if not (lost <= t < rejoin):
            rlog(
                "redis-node-0" if t < lost else "redis-node-1",
                "redis",
                t,
                "M",
                "* 100 changes in 300 seconds. Saving...",
            )
            rlog(
                "redis-node-0" if t < lost else "redis-node-1",
                "redis",
                t + 0.004,
                "M",
                f"* Background saving started by pid {rng.randint(1000, 30000)}",
            )
    old, new = REDIS["redis-node-0"], REDIS["redis-node-1"]
    for replica in ("redis-node-1", "redis-node-2"):
        rlog(replica, "redis", lost + 0.02, "S", "# Connection with master lost.")
        rlog(replica, "redis", lost + 0.021, "S", "* Caching the disconnected master state.")
        t = lost + 1.0
        while t < switch:
            rlog(replica, "redis", t, "S", f"* Connecting to MASTER {old}:6379")
            rlog(replica, "redis", t + 0.001, "S", "* MASTER <-> REPLICA sync started")
            rlog(
                replica,
                "redis",
                t + 0.002,
                "S",
                "# Error condition on socket for SYNC: Connection refused",
            )
            t += 1.0
    rlog("redis-node-1", "redis", switch - 0.3, "M", "* Discarding previously cached master state.")
    rlog(
        "redis-node-1",
        "redis",
        switch - 0.3,
        "M",
        "* Setting secondary replication ID to 4e1f3a9c2b7d8e6f0a5c1b3d9e7f2a4c6b8d0e1f, valid up to offset: 88123410092. New replication ID is 7c2e9b4a1f3d5e8c0b6a2d4f9e1c3b5a7d8e0f2c",
    )
    rlog(
        "redis-node-1",
        "redis",
        switch - 0.29,
        "M",
        f"* MASTER MODE enabled (user request from 'id=14 addr={REDIS['redis-node-2']}:43118 laddr={new}:6379 fd=12 name=sentinel-2b8d1c7a-cmd age=1812 idle=0 flags=x db=0 sub=0 psub=0 ssub=0 multi=4 qbuf=188 qbuf-free=20286 argv-mem=4 multi-mem=169 rbs=2048 rbp=1024 obl=45 oll=0 omem=0 tot-mem=23717 events=r cmd=exec user=default redir=-1 resp=2')",
    )
    rlog(
        "redis-node-1",
        "redis",
        switch + 0.5,
        "M",
        f"* Replica {REDIS['redis-node-2']}:6379 asks for synchronization",
    )
    rlog(
        "redis-node-1",
        "redis",
        switch + 0.5,
        "M",
        f"* Partial resynchronization request from {REDIS['redis-node-2']}:6379 accepted. Sending 0 bytes of backlog starting from offset 88123410093.",
    )
    rlog("redis-node-2", "redis", switch + 0.4, "S", f"* Connecting to MASTER {new}:6379")
    rlog(
        "redis-node-2",
        "redis",
        switch + 0.5,
        "S",
        "* MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
    )
    rlog("redis-node-0", "redis", rejoin, "M", "* Server initialized")
    rlog(
        "redis-node-0",
        "redis",
        rejoin + 3.2,
        "S",
        "* Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.",
    )
    rlog("redis-node-0", "redis", rejoin + 3.3, "S", f"* Connecting to MASTER {new}:6379")
    rlog(
        "redis-node-0",
        "redis",
        rejoin + 3.5,
        "S",
        "* MASTER <-> REPLICA sync: Finished with success",
    )
    for sentinel in ("redis-node-1", "redis-node-2"):
        leader = sentinel == "redis-node-2"
        s = sdown + (0.0 if leader else 0.4)
        rlog(sentinel, "sentinel", s, "X", f"# +sdown master mymaster {old} 6379")
        rlog(sentinel, "sentinel", s + 0.9, "X", f"# +odown master mymaster {old} 6379 #quorum 2/2")
        rlog(sentinel, "sentinel", s + 0.9, "X", "# +new-epoch 7")
        if leader:
            rlog(sentinel, "sentinel", s + 0.9, "X", f"# +try-failover master mymaster {old} 6379")
            rlog(sentinel, "sentinel", s + 1.0, "X", "* Sentinel new configuration saved on disk")
            rlog(
                sentinel,
                "sentinel",
                s + 1.0,
                "X",
                "# +vote-for-leader 2b8d1c7a9e4f6b3d1c0a8e7f5d4c3b2a1f0e9d8c 7",
            )
            rlog(
                sentinel, "sentinel", s + 1.1, "X", f"# +elected-leader master mymaster {old} 6379"
            )
            rlog(
                sentinel,
                "sentinel",
                s + 1.1,
                "X",
                f"# +failover-state-select-slave master mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                s + 1.2,
                "X",
                f"# +selected-slave slave {new}:6379 {new} 6379 @ mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                s + 1.2,
                "X",
                f"* +failover-state-send-slaveof-noone slave {new}:6379 {new} 6379 @ mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                s + 1.3,
                "X",
                f"* +failover-state-wait-promotion slave {new}:6379 {new} 6379 @ mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                switch - 0.2,
                "X",
                f"# +promoted-slave slave {new}:6379 {new} 6379 @ mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                switch - 0.2,
                "X",
                f"# +failover-state-reconf-slaves master mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                switch - 0.1,
                "X",
                f"* +slave-reconf-sent slave {REDIS['redis-node-2']}:6379 {REDIS['redis-node-2']} 6379 @ mymaster {old} 6379",
            )
            rlog(
                sentinel,
                "sentinel",
                switch - 0.05,
                "X",
                f"# +failover-end master mymaster {old} 6379",
            )
        else:
            rlog(
                sentinel,
                "sentinel",
                s + 1.2,
                "X",
                "# +vote-for-leader 2b8d1c7a9e4f6b3d1c0a8e7f5d4c3b2a1f0e9d8c 7",
            )
            rlog(
                sentinel,
                "sentinel",
                switch + 0.3,
                "X",
                "# +config-update-from sentinel 2b8d1c7a9e4f6b3d1c0a8e7f5d4c3b2a1f0e9d8c 10.16.8.12 26379 @ mymaster 10.16.8.10 6379",
            )
        rlog(
            sentinel,
            "sentinel",
            switch + (0.0 if leader else 0.3),
            "X",
            f"# +switch-master mymaster {old} 6379 {new} 6379",
        )
        rlog(
            sentinel,
            "sentinel",
            switch + 0.1,
            "X",
            f"* +slave slave {REDIS['redis-node-2']}:6379 {REDIS['redis-node-2']} 6379 @ mymaster {new} 6379",
        )
        rlog(
            sentinel,
            "sentinel",
            switch + 0.1,
            "X",
            f"* +slave slave {old}:6379 {old} 6379 @ mymaster {new} 6379",
        )
        rlog(
            sentinel,
            "sentinel",
            switch + 30.1,
            "X",
            f"# +sdown slave {old}:6379 {old} 6379 @ mymaster {new} 6379",
        )
        rlog(
            sentinel,
            "sentinel",
            rejoin + 1.0,
            "X",
            f"# -sdown slave {old}:6379 {old} 6379 @ mymaster {new} 6379",
        )
        if leader:
            rlog(
                sentinel,
                "sentinel",
                rejoin + 3.0,
                "X",
                f"* +convert-to-slave slave {old}:6379 {old} 6379 @ mymaster {new} 6379",
            )

    # --- posts-db: healthy MariaDB ---------------------------------------------------------------
    dl = {"job": "posts-db", "instance": "10.16.9.2:9104"}
    dt = b.scrapes(dl["instance"])
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 3,
        noise=0.3,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 22,
        noise=0.05,
        integer=True,
    )
    b.counter(
        "mysql_global_status_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 40.0,
        initial=8.1e9,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.002,
        initial=1204,
    )
    return b
