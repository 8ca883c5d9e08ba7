"""Round-4 helpers on top of the round-3 kit: more log formats, more exporters, and one
``edge()`` / ``app_side()`` pair that wires ordinary traffic through a proxy to app pods.

Everything reuses ``holdout3.kit`` (seeded ``Bundle``, scrape offsets, counters from
events) and ``holdout3.stack`` (``serve``, ``fail``, ``app_red``, ``cadvisor``...), so the
access logs, proxy counters and app RED metrics of a scenario come from the same events.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from examples.incidents.holdout3.kit import (
    USER_AGENTS,
    Bundle,
    Event,
    clf_time,
    envoy_line,
    ingress_line,
    nginx_line,
)
from examples.incidents.holdout3.stack import (
    Outcome,
    Pod,
    Route,
    app_red,
    cadvisor,
    ingress_metrics,
    nginx_exporter,
    serve,
)

Labels = dict[str, str]
F = Callable[[float], float]

__all__ = ["Pod", "Route"]


# ---- time stamps ------------------------------------------------------------------------
def iso_ms(b: Bundle, t: float) -> str:
    return b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def iso_us(b: Bundle, t: float) -> str:
    return b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- edge access-log formats ------------------------------------------------------------
def nginx_json_line(b: Bundle, e: Event, host: str) -> str:
    """nginx ``log_format json escape=json`` as many shops write it."""
    return json.dumps(
        {
            "time": b.dt(e.t).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "remote_addr": e.client,
            "request": f"{e.method} {e.path} HTTP/1.1",
            "status": str(e.status),
            "body_bytes_sent": str(e.size),
            "request_time": f"{e.duration:.3f}",
            "upstream_addr": e.upstream,
            "upstream_status": e.upstream_status,
            "upstream_response_time": e.extra.get("urt", "-") if e.upstream != "-" else "-",
            "http_user_agent": e.agent,
            "host": host,
        },
        separators=(",", ":"),
    )


def nginx_timed_line(b: Bundle, e: Event) -> str:
    """A custom nginx format: request time first, upstream fields as key=value."""
    return (
        f'{e.client} [{clf_time(b, e.t)}] {e.duration:.3f} "{e.method} {e.path}" {e.status} '
        f"{e.size} upstream={e.upstream} ustatus={e.upstream_status} "
        f'urt={e.extra.get("urt", "-") if e.upstream != "-" else "-"} ua="{e.agent}"'
    )


def envoy_json_line(b: Bundle, e: Event, cluster: str, authority: str) -> str:
    """Envoy/Istio JSON access log (``json_format``)."""
    rid = f"{b.rng.getrandbits(64):016x}-{b.rng.getrandbits(32):08x}"
    up_ms = None if e.upstream == "-" else int(e.extra.get("app_dur", e.duration) * 1000)
    return json.dumps(
        {
            "start_time": iso_ms(b, e.t),
            "method": e.method,
            "path": e.path,
            "protocol": "HTTP/1.1",
            "response_code": e.status,
            "response_flags": e.extra.get("flags", "-"),
            "response_code_details": e.extra.get(
                "details", "via_upstream" if e.upstream != "-" else "-"
            ),
            "bytes_received": 0,
            "bytes_sent": e.size,
            "duration": int(e.duration * 1000),
            "upstream_service_time": str(up_ms) if up_ms is not None else None,
            "x_forwarded_for": e.client,
            "user_agent": e.agent,
            "request_id": rid,
            "authority": authority,
            "upstream_host": None if e.upstream == "-" else e.upstream,
            "upstream_cluster": cluster,
        },
        separators=(",", ":"),
    )


# ---- app log formats --------------------------------------------------------------------
def zap(b: Bundle, t: float, level: str, caller: str, msg: str, **fields: Any) -> str:
    return json.dumps(
        {"level": level, "ts": round(t, 6), "caller": caller, "msg": msg, **fields},
        separators=(",", ":"),
    )


def logrus(b: Bundle, t: float, level: str, msg: str, **fields: Any) -> str:
    return json.dumps(
        {**fields, "level": level, "msg": msg, "time": b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ")},
        separators=(",", ":"),
    )


def logfmt(b: Bundle, t: float, level: str, msg: str, **fields: Any) -> str:
    parts = [f"ts={iso_ms(b, t)}", f"level={level}", f'msg="{msg}"']
    for key, value in fields.items():
        text = str(value)
        parts.append(f'{key}="{text}"' if (" " in text or "=" in text) else f"{key}={text}")
    return " ".join(parts)


def spring(
    b: Bundle,
    t: float,
    level: str,
    thread: str,
    logger: str,
    msg: str,
    trace: list[str] | None = None,
) -> str:
    """Spring Boot's default console pattern; a stack trace follows on its own lines."""
    head = (
        b.dt(t).strftime("%Y-%m-%d %H:%M:%S.")
        + f"{int(t * 1000) % 1000:03d} {level:>5} 1 --- [{thread:>15}] {logger:<40} : {msg}"
    )
    return "\n".join([head, *(trace or [])])


def go_panic(goroutine: int, message: str, frames: list[tuple[str, str]]) -> str:
    lines = [f"panic: {message}", "", f"goroutine {goroutine} [running]:"]
    for func, where in frames:
        lines += [func, f"\t{where}"]
    return "\n".join(lines)


# ---- data store log formats --------------------------------------------------------------
def mysql8_err(b: Bundle, t: float, thread: int, prio: str, code: str, msg: str) -> str:
    return f"{iso_us(b, t)} {thread} [{prio}] [{code}] [Server] {msg}"


def mariadb_err(b: Bundle, t: float, thread: int, prio: str, msg: str) -> str:
    d = b.dt(t)
    return f"{d.strftime('%Y-%m-%d')} {d.hour:2d}:{d.strftime('%M:%S')} {thread} [{prio}] {msg}"


def mysql_slow(
    b: Bundle,
    t: float,
    *,
    user: str,
    host: str,
    thread: int,
    qt: float,
    lt: float,
    sent: int,
    examined: int,
    sql: str,
    db: str,
) -> str:
    start = int(t - qt)
    return "\n".join(
        [
            f"# Time: {iso_us(b, t)}",
            f"# User@Host: {user}[{user}] @  [{host}]  Id: {thread}",
            f"# Query_time: {qt:.6f}  Lock_time: {lt:.6f} Rows_sent: {sent}  Rows_examined: {examined}",
            f"use {db};",
            f"SET timestamp={start};",
            sql if sql.endswith(";") else sql + ";",
        ]
    )


def redis_log(b: Bundle, t: float, pid: int, role: str, mark: str, msg: str) -> str:
    """Redis' own format: ``pid:role dd Mon yyyy hh:mm:ss.mmm <mark> message``."""
    d = b.dt(t)
    return f"{pid}:{role} {d.strftime('%d %b %Y %H:%M:%S')}.{int(t * 1000) % 1000:03d} {mark} {msg}"


def pg_log(b: Bundle, t: float, pid: int, who: str, level: str, msg: str) -> str:
    d = b.dt(t)
    stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(t * 1000) % 1000:03d} UTC"
    return f"{stamp} [{pid}] {who} {level}:  {msg}"


# ---- edge wiring ------------------------------------------------------------------------
def edge(
    b: Bundle,
    *,
    pods: list[Pod],
    routes: list[Route],
    rate: Callable[[float], float],
    clients: Callable[[], str],
    outcome: Outcome | None,
    kind: str,
    labels: Labels,
    stream: Labels | None = None,
    fmt: Callable[[Event], str] | None = None,
    agents: tuple[str, ...] = USER_AGENTS,
    choose: Callable[[float, list[int]], int] | None = None,
    active: Callable[[float], float] | None = None,
    cluster: str = "backend",
    extra_events: list[Event] | None = None,
) -> list[Event]:
    """Serve traffic, log each request at completion, publish the proxy's own metrics.

    ``kind`` picks the exporter: ``nginx`` (nginx-prometheus-exporter), ``ingress``
    (ingress-nginx controller), ``envoy`` (admin /stats/prometheus)."""
    events = serve(
        b,
        rate=rate,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=agents,
        choose=choose,
    )
    events += extra_events or []
    events.sort(key=lambda e: e.t)
    log_labels = {**labels, **(stream or {})}
    for e in events:
        e.t += e.duration
        if fmt is not None:
            line = fmt(e)
        elif kind == "ingress":
            line = ingress_line(b, e, cluster)
        elif kind == "envoy":
            line = envoy_line(b, e, cluster)
        else:
            line = nginx_line(b, e)
        b.log(e.t, log_labels, line)
    events.sort(key=lambda e: e.t)
    if kind == "nginx":
        nginx_exporter(b, labels, events, active or (lambda m: 60.0))
    elif kind == "ingress":
        ingress_metrics(b, labels, events)
        b.runtime(labels, cpu=lambda m: 0.12, rss=lambda m: 180e6, goroutines=lambda m: 95)
    elif kind == "envoy":
        envoy_stats(b, labels, cluster, events)
    return events


def app_side(
    b: Bundle,
    pods: list[Pod],
    events: list[Event],
    base: Labels,
    *,
    cpu: Callable[[float, int], float] = lambda m, i: 0.25,
    mem: Callable[[float, int], float] = lambda m, i: 220e6,
    namespace: str | None = None,
    container: str | None = None,
    go: bool = True,
    goroutines: Callable[[float, int], float] | None = None,
    limit: float | None = None,
    blip: int | None = None,
) -> None:
    """RED metrics, process/runtime noise, promhttp counters and (for pods) cAdvisor."""
    app_red(b, pods, events, base)
    for i, pod in enumerate(pods):
        labels = {**base, "instance": pod.addr}
        if pod.pod:
            labels["pod"] = pod.pod
        b.runtime(
            labels,
            cpu=lambda m, i=i: cpu(m, i),
            rss=lambda m, i=i: mem(m, i),
            goroutines=(lambda m, i=i, g=goroutines: g(m, i)) if goroutines else None,
            present=pod.present,
            go=go,
        )
        if go:
            b.promhttp_noise(labels, blip_at=41.7 if blip == i else None)
    if namespace and container:
        cadvisor(b, pods, namespace, container, cpu=cpu, mem=mem, limit=limit)


def log_each(
    b: Bundle, items: list[tuple[float, int, str]], pods: list[Pod], labels: Labels
) -> None:
    """Log lines written by pod ``i`` with the pod's stream labels."""
    for t, i, line in items:
        extra = {"instance": pods[i].addr}
        if pods[i].pod:
            extra["pod"] = pods[i].pod
        b.log(t, {**labels, **extra}, line)


# ---- extra exporters --------------------------------------------------------------------
def mysql_replica_status(
    b: Bundle, labels: Labels, *, lag: F, master: str, sql_running: F | None = None
) -> None:
    """mysqld_exporter's slave_status collector (names kept by the exporter in MySQL 8)."""
    sl = {**labels, "channel_name": "", "connection_name": "", "master_host": master}
    sl["master_uuid"] = "3f0c2a51-7b1e-11ee-9a4c-0242ac1e0a15"
    b.gauge("mysql_slave_status_seconds_behind_master", sl, lambda m: int(lag(m)))
    b.gauge("mysql_slave_status_slave_io_running", sl, lambda m: 1)
    b.gauge("mysql_slave_status_slave_sql_running", sl, sql_running or (lambda m: 1))
    b.gauge("mysql_slave_status_sql_delay", sl, lambda m: 0)
    b.gauge(
        "mysql_slave_status_relay_log_space",
        sl,
        lambda m: int(2.1e6 + lag(m) * 5.5e5 * b.rng.uniform(0.97, 1.03)),
    )


def ksm_node_conditions(
    b: Bundle, ksm_addr: str, node: str, conditions: dict[str, Callable[[float], bool]]
) -> None:
    """kube_node_status_condition for one node (true/false/unknown series each)."""
    base = {"job": "kube-state-metrics", "instance": ksm_addr, "node": node}
    for cond in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        fn = conditions.get(cond)
        for status in ("true", "false", "unknown"):

            def value(
                m: float,
                fn: Callable[[float], bool] | None = fn,
                s: str = status,
                c: str = cond,
            ) -> int:
                on = fn(m) if fn is not None else c == "Ready"
                return int((s == "true" and on) or (s == "false" and not on))

            b.gauge(
                "kube_node_status_condition",
                {**base, "condition": cond, "status": status},
                value,
            )


def hikari(
    b: Bundle,
    labels: Labels,
    *,
    active: F,
    pending: F,
    maximum: int,
    timeouts: F | None = None,
    pool: str = "HikariPool-1",
    present: Callable[[float], bool] | None = None,
) -> None:
    """Micrometer's HikariCP meters as the Prometheus registry names them."""
    pl = {**labels, "pool": pool}

    def gate(fn: Callable[[float], float]) -> Callable[[float], float | None]:
        return lambda m: fn(m) if present is None or present(m) else None

    b.gauge("hikaricp_connections_active", pl, gate(lambda m: int(active(m))))
    b.gauge(
        "hikaricp_connections_idle",
        pl,
        gate(lambda m: max(0, maximum - int(active(m)))),
    )
    b.gauge("hikaricp_connections_pending", pl, gate(lambda m: int(pending(m))))
    b.gauge("hikaricp_connections_max", pl, gate(lambda m: maximum))
    b.counter(
        "hikaricp_connections_timeout_total",
        pl,
        gate(timeouts or (lambda m: 0.0)),
        help_text="Connection timeout total count",
    )


def jvm(
    b: Bundle,
    labels: Labels,
    *,
    heap: F,
    heap_max: float,
    gc_rate: F,
    gc_pause: F,
    present: Callable[[float], bool] | None = None,
    threads: F | None = None,
) -> None:
    """Micrometer JVM meters (heap by pool, G1 pauses, live threads)."""

    def gate(fn: Callable[[float], float]) -> Callable[[float], float | None]:
        return lambda m: fn(m) if present is None or present(m) else None

    for pool, share in (("G1 Eden Space", 0.25), ("G1 Old Gen", 0.7), ("G1 Survivor Space", 0.05)):
        b.gauge(
            "jvm_memory_used_bytes",
            {**labels, "area": "heap", "id": pool},
            gate(lambda m, s=share: int(heap(m) * s * b.rng.uniform(0.95, 1.05))),
        )
    b.gauge(
        "jvm_memory_max_bytes",
        {**labels, "area": "heap", "id": "G1 Old Gen"},
        gate(lambda m: int(heap_max * 0.7)),
    )
    b.gauge(
        "jvm_memory_used_bytes",
        {**labels, "area": "nonheap", "id": "Metaspace"},
        gate(lambda m: int(118e6 * b.rng.uniform(0.999, 1.001))),
    )
    gl = {
        **labels,
        "action": "end of minor GC",
        "cause": "G1 Evacuation Pause",
        "gc": "G1 Young Generation",
    }
    b.counter("jvm_gc_pause_seconds_count", gl, gate(gc_rate))
    b.counter(
        "jvm_gc_pause_seconds_sum",
        gl,
        gate(lambda m: gc_rate(m) * gc_pause(m)),
        integer=False,
    )
    b.gauge("jvm_threads_live_threads", labels, gate(lambda m: int((threads or (lambda m: 64))(m))))


def status_counts(events: list[Event]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for e in events:
        out[str(e.status)] += 1
    return dict(out)


def envoy_stats(
    b: Bundle,
    labels: Labels,
    cluster: str,
    events: list[Event],
    *,
    max_pending: int = 1024,
    max_connections: int = 1024,
    pending_active: Callable[[float], float] | None = None,
    cx_active: Callable[[float], float] | None = None,
    heap: Callable[[float], float] | None = None,
) -> None:
    """Envoy admin /stats/prometheus with circuit-breaker and overflow counters."""
    down: dict[str, list[float]] = defaultdict(list)
    up: dict[str, list[float]] = defaultdict(list)
    upstream_times = []
    for e in events:
        down[str(e.status)[0]].append(e.t)
        if e.upstream != "-":
            upstream_times.append(e.t)
            up[(e.upstream_status if e.upstream_status.isdigit() else "503")[0]].append(e.t)
    hcm = {**labels, "envoy_http_conn_manager_prefix": "ingress_http"}
    for cls in ("2", "3", "4", "5"):
        b.counter_steps(
            "envoy_http_downstream_rq_xx",
            {**hcm, "envoy_response_code_class": cls},
            down.get(cls, []),
        )
    b.counter_steps("envoy_http_downstream_rq_total", hcm, [e.t for e in events], start=88_102_331)
    cl = {**labels, "envoy_cluster_name": cluster}
    b.counter_steps("envoy_cluster_upstream_rq_total", cl, upstream_times, start=88_000_102)
    for cls in ("2", "4", "5"):
        b.counter_steps(
            "envoy_cluster_upstream_rq_xx",
            {**cl, "envoy_response_code_class": cls},
            up.get(cls, []),
        )
    b.counter_steps(
        "envoy_cluster_upstream_rq_pending_overflow",
        cl,
        [e.t for e in events if e.extra.get("flags") == "UO"],
    )
    b.counter_steps(
        "envoy_cluster_upstream_cx_overflow",
        cl,
        [e.t for e in events[::4] if e.extra.get("flags") == "UO"],
    )
    b.counter_steps(
        "envoy_cluster_upstream_rq_timeout",
        cl,
        [e.t for e in events if e.extra.get("flags") == "UT"],
    )
    b.counter_steps(
        "envoy_cluster_upstream_cx_connect_fail",
        cl,
        [e.t for e in events if e.extra.get("flags") == "UF"],
    )
    b.gauge(
        "envoy_cluster_upstream_rq_pending_active",
        cl,
        pending_active or (lambda m: b.rng.randint(0, 2)),
    )
    b.gauge(
        "envoy_cluster_upstream_cx_active",
        cl,
        cx_active or (lambda m: 20 + b.rng.randint(0, 6)),
    )
    b.gauge(
        "envoy_cluster_circuit_breakers_default_rq_pending_open",
        cl,
        lambda m: int((pending_active or (lambda m: 0))(m) >= max_pending),
    )
    b.gauge(
        "envoy_cluster_circuit_breakers_default_cx_open",
        cl,
        lambda m: int((cx_active or (lambda m: 0))(m) >= max_connections),
    )
    b.gauge(
        "envoy_cluster_membership_healthy",
        cl,
        lambda m: len({e.upstream for e in events[:300] if e.upstream != "-"}),
    )
    b.gauge("envoy_server_live", labels, lambda m: 1)
    b.gauge("envoy_server_uptime", labels, lambda m: int(431_000 + m * 60))
    b.gauge(
        "envoy_server_memory_allocated",
        labels,
        lambda m: int((heap or (lambda m: 61e6))(m) * b.rng.uniform(0.99, 1.01)),
    )
    b.histogram(
        "envoy_http_downstream_rq_time",
        hcm,
        [(e.t, e.duration * 1000) for e in events],
        buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000),
    )
