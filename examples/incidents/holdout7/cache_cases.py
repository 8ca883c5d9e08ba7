# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Redis: a queue library's Lua script blocking the server (BUSY), and AOF fsync stalls on
a disk shared with a backup job."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import envoy_json_line, logfmt, redis_log
from examples.incidents.holdout5.common import json_line, redis_more
from examples.incidents.holdout6.common import Pod, Route, every, local_iso, web
from examples.incidents.holdout7.common import nodejs_runtime

BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


def notify_redis_lua_busy() -> Bundle:  # size: one linear scenario script
    """jobs-redis backs notify-api's job queue (a Node queue library).  Its stalled-job
    check is a Lua script whose cost grows with the delayed set; after a provider outage
    left 3.4 M delayed jobs, from 16:11 each run keeps Redis busy 9-22 s, every 50-90 s.
    While a script runs every other command gets "BUSY Redis is busy running a script. You
    can only call SCRIPT KILL or SHUTDOWN NOSAVE."; Redis logs "Slow script detected".  Every
    notify-api pod fails enqueues and reads alike (500), for 40 minutes.  Root: jobs-redis
    (a blocking script); no drain, no client to limit.  Sources: bee-queue/bee-queue issue
    #448 (BUSY under heavy traffic: stalled/delayed job scripts grow with the queue);
    taskforcesh/bullmq issue #265; Redis docs "EVAL" (busy scripts, SCRIPT KILL)."""
    b = Bundle(
        "notify-redis-lua-busy",
        "2033-06-21T16:00:00Z",
        description="notifications API errors in bursts",
        symptom={"component": "notify-edge"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    runs: list[tuple[float, float]] = []
    t = b.t(11.0)
    while t < b.t(55):
        d = rng.uniform(9, 22)
        runs.append((t, d))
        t += d + rng.uniform(50, 90)

    def busy_at(ts: float) -> bool:
        return any(s <= ts < s + d for s, d in runs)

    def busy_share(m: float) -> float:
        lo, hi = b.t(m) - 60, b.t(m)
        return sum(max(0.0, min(hi, s + d) - max(lo, s)) for s, d in runs) / 60.0

    b.component("notify-edge", "proxy", {"app": "notify-edge"}, ["notify-api"])
    b.component("notify-api", "app", {"app": "notify-api"}, ["jobs-redis"])
    b.component("jobs-redis", "redis", {"app": "jobs-redis"})
    pods = [
        Pod(f"10.91.{i}.{70 + i}:3000", f"notify-api-6b5f-{s}")
        for i, s in enumerate(("pq1", "rs2", "tu3"))
    ]
    routes = [
        Route("POST", "/v1/notifications", "/v1/notifications", 0.7, 0.012, 120),
        Route("GET", "/v1/notifications/{n}", "/v1/notifications/:id", 0.3, 0.006, 400),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy_at(e.t):
            fail(e, 500, lognormal(b, 0.004), size=70)
            e.extra["busy"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.91.200.", "10.91.201."],
        clients=60,
        rate=lambda m: 30.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"app": "notify-edge", "instance": "10.91.0.4:9901"},
        cluster="notify_api",
        fmt=lambda e: envoy_json_line(b, e, "notify_api", "notify.internal"),
    )
    for e in site.events:
        if e.extra.get("busy") and rng.random() < 0.25:
            site.say(
                e.t,
                e.extra["pod"],
                json_line(
                    level=50,
                    time=int(e.t * 1000),
                    pid=1,
                    hostname=site.pods[e.extra["pod"]].pod,
                    msg="enqueue failed",
                    err={"type": "ReplyError", "message": BUSY, "command": {"name": "evalsha"}},
                ),
            )
    for p in pods:
        nodejs_runtime(
            b,
            {"app": "notify-api", "instance": p.addr, "pod": p.pod},
            lag=lambda m: 0.011,
            heap=lambda m: 92e6,
            cpu=lambda m: 0.2,
        )
    site.apps({"app": "notify-api"}, {"app": "notify-api"}, go=False)
    rl = {"app": "jobs-redis", "instance": "10.91.9.3:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 5200.0 * (1 - busy_share(m)) if m >= 11 else 5200.0,
        used=lambda m: 5.6e9,
        maxmemory=12e9,
        clients=lambda m: 48,
        slowlog=lambda m: 3 if m < 11 else min(128, 3 + int((m - 11) * 0.9)),
        cmd_usec={
            "evalsha": lambda m: 0.02 + busy_share(m),
            "lpush": lambda m: 0.01,
            "get": lambda m: 0.02,
        },
        cpu=lambda m: 0.12 + 0.88 * busy_share(m),
    )
    redis_more(b, rl, connections=lambda m: 0.3)
    log = {"app": "jobs-redis", "instance": "10.91.9.3:9121"}
    for s, d in runs:
        if d > 5:
            b.log(
                s + 5,
                log,
                redis_log(
                    b,
                    s + 5,
                    1,
                    "M",
                    "#",
                    "Slow script detected: still in execution after 5000 "
                    "milliseconds. You can try killing the script using "
                    "the SCRIPT KILL command. Script name is: "
                    "moveStalledJobsToWait.",
                ),
            )
    for t in every(b, 0, 55, 280, 330):
        b.log(t, log, redis_log(b, t, 1, "M", "*", "DB saved on disk"))
    return b


def presence_redis_aof_fsync_stall() -> Bundle:  # size: one linear scenario script
    """presence-redis (appendonly yes, appendfsync everysec) shares its VM's disk with a
    nightly restic backup that, after a retention change, reads and writes the whole 900 GB
    volume.  From 02:08 iowait sits at 45 %; fsync of the AOF takes seconds; Redis logs
    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer
    without waiting for fsync to complete, this may slow down Redis." and, when an fsync is
    still pending after 2 s, blocks its write: stalls of 1-3 s every few seconds.
    presence-svc (Go, 500 ms Redis timeout) times out on all pods alike: 504s ~15 % and
    p99 3 s for 35 minutes.  Root: presence-redis (disk stall under AOF); nothing to drain
    or limit.  Sources: redis/redis issues #641 and #990 ("Asynchronous AOF fsync is taking
    too long"), Redis docs "Diagnosing latency issues" (AOF and disk I/O)."""
    b = Bundle(
        "presence-redis-aof-fsync-stall",
        "2033-07-12T01:50:00Z",
        description="online status flickers, presence API slow",
        symptom={"component": "presence-edge"},
        step=10,
        minutes=60,
    )
    rng = b.rng
    onset = 18.0
    stalls: list[tuple[float, float]] = []
    t = b.t(onset)
    while t < b.t(60):
        d = rng.uniform(0.8, 3.0)
        stalls.append((t, d))
        t += d + rng.uniform(2.0, 9.0)

    def stalled(ts: float) -> float:
        for s, d in stalls:
            if s <= ts < s + d:
                return s + d - ts
        return 0.0

    b.component("presence-edge", "proxy", {"job": "presence-edge"}, ["presence-svc"])
    b.component("presence-svc", "app", {"job": "presence-svc"}, ["presence-redis"])
    b.component("presence-redis", "redis", {"job": "presence-redis"})
    pods = [
        Pod(f"[fd7a:115c:a1e0::{10 + i:x}]:8080", f"presence-svc-8c-{s}")
        for i, s in enumerate(("v1", "w2", "x3", "y4"))
    ]
    routes = [
        Route("PUT", "/v2/presence/{n}", "/v2/presence/{user}", 0.6, 0.003, 40),
        Route("GET", "/v2/presence?ids=", "/v2/presence", 0.4, 0.004, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        left = stalled(e.t)
        if left > 0.5:
            fail(e, 504, 0.5 + lognormal(b, 0.002), size=60)
            e.extra["timeout"] = True
        elif left > 0:
            e.duration = e.extra["app_dur"] = left + e.duration

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["2a01:4f8:c17:1a2::", "2a01:4f8:c17:3b0::", "100.72.4."],
        clients=1200,
        rate=lambda m: 28.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "presence-edge", "instance": "[fd7a:115c:a1e0::2]:9113"},
    )
    for e in site.events:
        if e.extra.get("timeout") and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                logfmt(
                    b,
                    e.t,
                    "error",
                    "redis call failed",
                    op="HSET",
                    key="presence:shard:" + str(rng.randint(0, 255)),
                    err="read tcp [fd7a:115c:a1e0::10]:51122->"
                    "[fd7a:115c:a1e0::90]:6379: i/o timeout",
                ),
            )
    site.apps(
        {"job": "presence-svc"},
        {"job": "presence-svc"},
        goroutines=lambda m, i: 180 if m >= onset else 60,
    )
    rl = {"job": "presence-redis", "instance": "[fd7a:115c:a1e0::90]:9121"}

    def stall_share(m: float) -> float:
        lo, hi = b.t(m) - 10, b.t(m)
        return sum(max(0.0, min(hi, s + d) - max(lo, s)) for s, d in stalls) / 10.0

    redis_exporter(
        b,
        rl,
        ops=lambda m: 9000.0 * (1 - 0.6 * stall_share(m)),
        used=lambda m: 3.1e9,
        maxmemory=8e9,
        clients=lambda m: 260 if m < onset else 340,
        cmd_usec={"hset": lambda m: 0.09 + 0.4 * stall_share(m), "hmget": lambda m: 0.05},
    )
    redis_more(b, rl)
    b.gauge("redis_aof_enabled", rl, lambda m: 1)
    b.counter_steps("redis_aof_delayed_fsync", rl, [s for s, d in stalls if d > 2.0])
    b.gauge("redis_aof_last_write_status", rl, lambda m: 1)
    b.gauge("redis_aof_rewrite_in_progress", rl, lambda m: 0)
    log = {"job": "presence-redis", "instance": "[fd7a:115c:a1e0::90]:9121"}
    for s, _d in stalls:
        if rng.random() < 0.7:
            b.log(
                s + 0.2,
                log,
                redis_log(
                    b,
                    s + 0.2,
                    911,
                    "M",
                    "*",
                    "Asynchronous AOF fsync is taking too long (disk is "
                    "busy?). Writing the AOF buffer without waiting for fsync to complete, this may "
                    "slow down Redis.",
                ),
            )
    node = {"job": "presence-redis", "instance": "[fd7a:115c:a1e0::90]:9100"}
    node_exporter(
        b,
        node,
        busy=lambda m: 0.2,
        avail=lambda m: 11e9,
        mem_total=16e9,
        iowait=lambda m: 0.45 if m >= onset - 1 else 0.01,
        cores=4,
    )
    dl = {**node, "device": "nvme1n1"}
    b.counter(
        "node_disk_write_time_seconds_total",
        dl,
        lambda m: 3.5 if m >= onset - 1 else 0.02,
        integer=False,
        start=91_200.0,
    )
    b.counter(
        "node_disk_read_bytes_total", dl, lambda m: 310e6 if m >= onset - 1 else 2e6, start=8.8e12
    )
    b.counter(
        "node_disk_io_time_seconds_total",
        dl,
        lambda m: 0.99 if m >= onset - 1 else 0.03,
        integer=False,
        start=77_000.0,
    )
    t0 = b.t(onset - 1.2)
    b.log(
        t0,
        {
            "job": "presence-redis",
            "instance": "[fd7a:115c:a1e0::90]:9100",
            "unit": "restic-backup.service",
        },
        f"{local_iso(b, t0, 0)} restic[48211]: using parent snapshot 8e1f22a0; "
        "scanning /var/lib 902.113 GiB",
    )
    return b
