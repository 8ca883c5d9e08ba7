"""unknown-exporter: a job queue with home-grown metrics fails, and its callers follow.

2025-09-30, window 13:20-14:20 UTC.  ``jobq`` (kind ``other``) exposes only
``acme_*`` families (queue depth and capacity, busy workers, completed and
failed jobs, a job-duration summary) and logs in a log4j pattern.  From 13:38
its storage backend times out: failed jobs rise from ~0 to ~4/s, job duration
from ~2 s to ~30 s, all 16 workers stay busy and the queue grows from ~40 to
its 5,000 capacity at 13:46, after which enqueues are rejected.  The three
``render-api`` VMs (192.168.40.11-13:9000, GCP-style JSON logs with
``severity``) answer 503 to most ``POST /render`` from 13:46, alike; the
gateway (nginx, JSON log format, nginx-vts metrics with ``code="5xx"``
classes) passes the 503s through.

Expected: root ``jobq``; nothing affected alone; no client; no remediation.
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, ramp, utc

VMS = ("192.168.40.11:9000", "192.168.40.12:9000", "192.168.40.13:9000")


def build() -> Bundle:
    b = Bundle(
        name="render-503-2025-09-30",
        description="render requests rejected",
        start="2025-09-30T13:20:00Z",
        end="2025-09-30T14:20:00Z",
        seed=93013,
        symptom={"component": "api-gw", "route": "/render"},
        components=[
            Component("api-gw", "proxy", {"service": "api-gw"}, ["render-api"]),
            Component("render-api", "app", {"service": "render-api"}, ["jobq"]),
            Component("jobq", "other", {"service": "jobq"}),
        ],
    )
    rng = b.rng
    storage_bad, full = b.at("13:38:00"), b.at("13:46:00")

    def failing(t: float) -> float:
        return ramp(t, storage_bad, storage_bad + 90)

    def rejecting(t: float) -> float:
        return ramp(t, full - 15, full + 45)

    pool = client_pool(
        rng,
        [
            lambda r: f"192.168.{r.randint(100, 140)}.{r.randint(2, 250)}",
            lambda r: f"10.{r.randint(100, 120)}.{r.randint(0, 255)}.{r.randint(2, 250)}",
        ],
        120,
    )
    requests = []
    for ts in b.arrivals(lambda t: 3.2):
        ip, agent = pick_client(rng, pool)
        agent = rng.choice(("render-client/1.4 (go1.22)", "python-httpx/0.27.0", "acme-portal/3.2"))
        post = rng.random() < 0.45
        vm = rng.choice(VMS)
        if post:
            path = "/render"
            dur = rng.lognormvariate(-4.0, 0.4) * (1 + 4 * failing(ts))
            status = 202
            if rng.random() < 0.62 * rejecting(ts):
                status, dur = 503, rng.uniform(0.004, 0.02)
        else:
            path = f"/render/{rng.randint(10**6, 9 * 10**6)}"
            dur = rng.lognormvariate(-4.4, 0.4)
            status = 200 if rng.random() > 0.05 else 404
        requests.append((ts, ip, agent, "POST" if post else "GET", path, vm, status, dur))

    # --- api-gw -------------------------------------------------------------------------
    gl = {"service": "api-gw", "instance": "gw-a:9913"}
    gt = b.scrapes("gw-a:9913")

    def klass(status: int) -> str:
        return f"{str(status)[0]}xx"

    b.counter_from_events(
        "nginx_vts_server_requests_total",
        "The requests counter",
        gt,
        [
            *(
                (ts + d, {**gl, "host": "render.corp.internal", "code": klass(st)}, 1)
                for ts, *_, st, d in requests
            ),
            *(
                (ts + d, {**gl, "host": "render.corp.internal", "code": "total"}, 1)
                for ts, *_, d in requests
            ),
        ],
        always=[
            {**gl, "host": "render.corp.internal", "code": c}
            for c in ("1xx", "2xx", "3xx", "4xx", "5xx", "total")
        ],
    )
    b.counter_from_events(
        "nginx_vts_server_request_seconds_total",
        "The request processing time in seconds",
        gt,
        ((ts + d, {**gl, "host": "render.corp.internal"}, round(d, 6)) for ts, *_, d in requests),
    )
    for ts, ip, agent, method, path, vm, status, dur in requests:
        b.log(
            ts + dur,
            {"service": "api-gw", "host": "gw-a", "log_type": "access"},
            json.dumps(
                {
                    "time_iso8601": utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                    "remote_addr": ip,
                    "request_method": method,
                    "request_uri": path,
                    "status": str(status),
                    "body_bytes_sent": str(rng.randint(60, 400)),
                    "request_time": f"{dur:.3f}",
                    "upstream_addr": vm,
                    "upstream_status": str(status),
                    "upstream_response_time": f"{dur * 0.98:.3f}",
                    "http_user_agent": agent,
                },
                separators=(",", ":"),
            ),
        )

    # --- render-api -----------------------------------------------------------------------
    for vm in VMS:
        labels = {"service": "render-api", "instance": vm}
        times = b.scrapes(vm)
        mine = [r for r in requests if r[5] == vm]
        b.counter_from_events(
            "http_requests_total",
            "Requests",
            times,
            (
                (
                    ts + d,
                    {
                        **labels,
                        "method": m,
                        "handler": "/render" if m == "POST" else "/render/{id}",
                        "status": str(st),
                    },
                    1,
                )
                for ts, _, _, m, _, _, st, d in mine
            ),
        )
        b.histogram_from_events(
            "http_request_duration_seconds",
            "Latency",
            times,
            (
                (ts + d, {**labels, "handler": "/render" if m == "POST" else "/render/{id}"}, d)
                for ts, _, _, m, _, _, _, d in mine
            ),
        )
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t: 0.07,
            integer=False,
            initial=1800.0,
        )
        host = f"render-api-{vm.split('.')[-1].split(':')[0]}"
        ll = {"service": "render-api", "instance": vm, "host": host}
        for ts, _ip, _a, method, path, _v, status, dur in mine:
            if status == 503:
                msg, sev = (
                    "enqueue failed: jobq answered 503: queue 'render' is full (5000/5000)",
                    "ERROR",
                )
            elif method == "POST" and dur > 0.05 and rng.random() < 0.2:
                msg, sev = f"enqueue to jobq took {int(dur * 1000)} ms", "WARNING"
            elif rng.random() < 0.01:
                msg, sev = f"{method} {path} {status}", "INFO"
            else:
                continue
            b.log(
                ts + dur,
                ll,
                json.dumps(
                    {
                        "severity": sev,
                        "message": msg,
                        "time": utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "logging.googleapis.com/sourceLocation": {
                            "file": "render/queue.py",
                            "line": "88",
                            "function": "enqueue",
                        },
                        "httpRequest": {
                            "requestMethod": method,
                            "requestUrl": path,
                            "status": status,
                        },
                    }
                ),
            )

    # --- jobq: acme_* only -----------------------------------------------------------------
    ql = {"service": "jobq", "instance": "jobq-1.corp.internal:7071", "queue": "render"}
    qt = b.scrapes("jobq-1:7071")
    depth_state = {"v": 40.0}

    def depth(t: float) -> float:
        if t < storage_bad:
            return 40 + 15 * rng.random()
        depth_state["v"] = min(5000.0, depth_state["v"] + 15 * 10.5 * failing(t))
        return depth_state["v"]

    b.gauge("acme_queue_depth", "Jobs waiting in the queue", ql, qt, depth, integer=True)
    b.gauge("acme_queue_capacity", "Queue capacity", ql, qt, lambda t: 5000)
    b.gauge(
        "acme_workers_busy",
        "Workers running a job",
        ql,
        qt,
        lambda t: min(16.0, 5 + 11 * failing(t) + rng.random()),
        integer=True,
    )
    b.counter(
        "acme_jobs_completed_total",
        "Jobs completed",
        ql,
        qt,
        lambda t: 1.45 * (1 - 0.9 * failing(t)),
        initial=3.3e6,
    )
    b.counter(
        "acme_jobs_failed_total",
        "Jobs failed",
        {**ql, "reason": "storage_timeout"},
        qt,
        lambda t: 0.01 + 4.0 * failing(t) * (0.3 if t > full else 1.0),
        initial=812,
    )
    b.counter(
        "acme_jobs_failed_total",
        "Jobs failed",
        {**ql, "reason": "bad_input"},
        qt,
        lambda t: 0.02,
        initial=4410,
    )
    b.counter(
        "acme_enqueue_rejected_total",
        "Enqueue requests rejected",
        ql,
        qt,
        lambda t: 0.85 * rejecting(t),
        initial=0,
    )
    b.summary(
        "acme_job_duration_seconds",
        "Job run time",
        ql,
        qt,
        lambda t: 1.45,
        lambda t: 2.0 + 28.0 * failing(t),
        sigma=0.35,
    )
    jl = {"service": "jobq", "host": "jobq-1", "file": "broker.log"}
    stamp = lambda t: utc(t).strftime("%Y-%m-%d %H:%M:%S,") + f"{int(t * 1000) % 1000:03d}"  # noqa: E731
    t = b.data_start + 12
    job = 8_811_000
    while t < b.end:
        job += rng.randint(60, 110)
        b.log(
            t,
            jl,
            f"{stamp(t)} INFO  [scheduler] acme.broker.Stats - render: depth={int(depth_state['v']) if t > storage_bad else rng.randint(35, 60)} busy={16 if failing(t) > 0.5 else rng.randint(3, 8)}/16 done/min={int(87 * (1 - 0.9 * failing(t)))}",
        )
        t += 60
    t = storage_bad + 20
    while t < b.end:
        job += 1
        worker = rng.randint(1, 16)
        b.log(
            t,
            jl,
            f"{stamp(t)} ERROR [worker-{worker}] acme.broker.Worker - job {job} failed: StorageTimeout: PUT objstore://renders/{job}.png timed out after 30000 ms (attempt 3/3)",
        )
        t += rng.expovariate(1 / (0.9 if t < full else 3.0))
    t = full
    while t < b.end:
        b.log(
            t,
            jl,
            f"{stamp(t)} WARN  [http-nio-7070-exec-{rng.randint(1, 40)}] acme.broker.Api - rejecting enqueue: queue render is full (5000/5000)",
        )
        t += rng.expovariate(1 / 1.5)
    t = b.data_start + 300
    while t < b.end:
        b.log(
            t,
            jl,
            f"{stamp(t)} WARN  [worker-{rng.randint(1, 16)}] acme.broker.Worker - job {rng.randint(8_000_000, 8_900_000)} rejected: bad_input (unsupported page size A2)",
        )
        t += rng.expovariate(1 / 60.0)
    return b
