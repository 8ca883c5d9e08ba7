"""Round-5 helpers on top of the round-3 kit and the round-4 common helpers.

Only what rounds 3 and 4 lack: nginx's error-log format, Spring Boot's micrometer HTTP
and Tomcat meters, the redis_exporter series of replication, clients and persistence,
node_exporter's clock (timex) collector, extra mysqld_exporter status counters, and a
small ``Site`` that wires pods, an edge and per-pod log lines in one call.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from examples.incidents.holdout3.kit import Bundle, Event, pick_clients
from examples.incidents.holdout3.stack import Outcome, cadvisor
from examples.incidents.holdout4.common import Pod, Route, app_side, edge, iso_ms, jvm, log_each

Labels = dict[str, str]
F = Callable[[float], float]

__all__ = ["Pod", "Route"]


# ---- log formats --------------------------------------------------------------------------
def nginx_error(
    b: Bundle,
    t: float,
    level: str,
    msg: str,
    *,
    pid: int = 31,
    conn: int | None = None,
    ctx: str = "",
) -> str:
    """nginx's error log: ``yyyy/mm/dd hh:mm:ss [level] pid#tid: *conn message, ctx``."""
    head = b.dt(t).strftime("%Y/%m/%d %H:%M:%S")
    c = f"*{conn} " if conn is not None else ""
    return f"{head} [{level}] {pid}#{pid}: {c}{msg}{', ' + ctx if ctx else ''}"


def nginx_ctx(e: Event, server: str, upstream: str | None = None) -> str:
    parts = [f"client: {e.client}", f"server: {server}", f'request: "{e.method} {e.path} HTTP/1.1"']
    if upstream:
        parts.append(f'upstream: "http://{upstream}{e.path}"')
    parts.append(f'host: "{server}"')
    return ", ".join(parts)


def klog(b: Bundle, t: float, level: str, pid: int, where: str, msg: str) -> str:
    """klog/glog header as Go control-plane components write it."""
    d = b.dt(t)
    return f"{level}{d.strftime('%m%d %H:%M:%S')}.{int(t * 1e6) % 1_000_000:06d} {pid:>7} {where}] {msg}"


def py_log(b: Bundle, t: float, level: str, logger: str, msg: str) -> str:
    """Python logging's ``%(asctime)s %(levelname)s %(name)s: %(message)s``."""
    d = b.dt(t)
    return f"{d.strftime('%Y-%m-%d %H:%M:%S')},{int(t * 1000) % 1000:03d} {level} {logger}: {msg}"


def json_line(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


def ecs(b: Bundle, t: float, level: str, logger: str, msg: str, **extra: Any) -> str:
    """Spring Boot 3.4 structured logging (ECS) on stdout."""
    return json_line(
        **{
            "@timestamp": iso_ms(b, t),
            "log.level": level,
            "process.thread.name": extra.pop("thread", "http-nio-8080-exec-1"),
            "log.logger": logger,
            "message": msg,
            "ecs.version": "8.11",
            **extra,
        }
    )


# ---- small typed closures (lambdas with default arguments defeat mypy) -------------------
def at(fn: Callable[[float, int], float], i: int, scale: float = 1.0) -> F:
    """``fn`` of one pod ``i`` as a function of the minute."""
    return lambda m: fn(m, i) * scale


def within(lo: float, hi: float) -> Callable[[float], bool]:
    return lambda m: lo <= m < hi


def when(up: Callable[[float], bool], fn: F) -> Callable[[float], float | None]:
    """``fn`` while ``up``, no sample otherwise."""
    return lambda m: fn(m) if up(m) else None


# ---- exporters ----------------------------------------------------------------------------
def micrometer_http(
    b: Bundle, pods: list[Pod], events: list[Event], base: Labels, *, app: str
) -> None:
    """Spring Boot Actuator's ``http_server_requests_seconds`` (count and sum) per pod."""
    per: dict[tuple[int, str, str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        if e.upstream == "-" or "pod" not in e.extra:
            continue
        code = str(e.extra.get("app_status", e.upstream_status))
        code = code if code.isdigit() else "200"
        exc = str(e.extra.get("exception", "none"))
        per[(e.extra["pod"], e.method, e.extra["route"], code, exc)].append(
            (e.t, e.extra["app_dur"])
        )
    for key in sorted(per):
        i, method, uri, code, exc = key
        outcome = {"2": "SUCCESS", "4": "CLIENT_ERROR", "5": "SERVER_ERROR"}[code[0]]
        labels = {
            **base,
            "instance": pods[i].addr,
            "pod": pods[i].pod,
            "application": app,
            "method": method,
            "uri": uri,
            "status": code,
            "outcome": outcome,
            "exception": exc,
        }
        pts = per[key]
        b.counter_steps(
            "http_server_requests_seconds_count",
            labels,
            [t for t, _ in pts],
            present=pods[i].present,
            kind="unknown",
        )
        b.counter_steps(
            "http_server_requests_seconds_sum",
            labels,
            [t for t, _ in pts],
            weights=[d for _, d in pts],
            present=pods[i].present,
            kind="unknown",
        )


def tomcat_threads(
    b: Bundle,
    labels: Labels,
    busy: F,
    maximum: int = 200,
    present: Callable[[float], bool] | None = None,
) -> None:
    tl = {**labels, "name": "http-nio-8080"}

    def gate(fn: F) -> Callable[[float], float | None]:
        return lambda m: fn(m) if present is None or present(m) else None

    b.gauge("tomcat_threads_busy_threads", tl, gate(lambda m: int(busy(m))))
    b.gauge("tomcat_threads_current_threads", tl, gate(lambda m: max(10, int(busy(m)) + 10)))
    b.gauge("tomcat_threads_config_max_threads", tl, gate(lambda m: maximum))


def redis_more(
    b: Bundle,
    labels: Labels,
    *,
    maxclients: int = 10000,
    connections: F | None = None,
    link_up: Callable[[float], float] | None = None,
    loading: Callable[[float], float] | None = None,
    fork_seconds: Callable[[float], float] | None = None,
    rdb_changes: Callable[[float], float] | None = None,
    up: Callable[[float], bool] | None = None,
) -> None:
    """redis_exporter series rounds 3-4 do not publish (config, replication, persistence)."""

    def alive(fn: Callable[[float], float]) -> Callable[[float], float | None]:
        return lambda m: fn(m) if up is None or up(m) else None

    b.gauge("redis_config_maxclients", labels, alive(lambda m: maxclients))
    b.counter(
        "redis_connections_received_total",
        labels,
        alive(connections or (lambda m: 1.5)),
        start=88_412_007,
    )
    if link_up is not None:
        b.gauge("redis_master_link_up", labels, alive(link_up))
    b.gauge("redis_loading_dump_file", labels, alive(loading or (lambda m: 0)))
    b.gauge(
        "redis_latest_fork_seconds",
        labels,
        alive(fork_seconds or (lambda m: 0.018)),
    )
    b.gauge(
        "redis_rdb_changes_since_last_save",
        labels,
        alive(rdb_changes or (lambda m: int(b.rng.uniform(100, 900)))),
    )
    b.gauge("redis_rdb_last_bgsave_status", labels, alive(lambda m: 1))


def node_timex(
    b: Bundle, labels: Labels, *, offset: F, synced: Callable[[float], bool], behind: float = 0.0
) -> None:
    """node_exporter's timex collector and the host's own clock (``behind`` seconds slow)."""
    b.gauge(
        "node_timex_offset_seconds",
        labels,
        lambda m: round(offset(m) + b.rng.uniform(-0.0004, 0.0004), 6),
        "Time offset in between local system and reference clock.",
    )
    b.gauge("node_timex_sync_status", labels, lambda m: 1 if synced(m) else 0)
    b.gauge(
        "node_timex_maxerror_seconds",
        labels,
        lambda m: 0.0021 if synced(m) else 16.0,
    )
    b.gauge("node_time_seconds", labels, lambda m: round(b.t(m) - behind + 0.004, 3))


def mysql_more(
    b: Bundle,
    labels: Labels,
    *,
    wait_free: F | None = None,
    pages_free: F | None = None,
    history: F | None = None,
    trx_seconds: F | None = None,
    connection_errors: F | None = None,
) -> None:
    """mysqld_exporter series beyond round 3's (generic status is untyped)."""
    if wait_free is not None:
        b.untyped("mysql_global_status_innodb_buffer_pool_wait_free", labels, wait_free, 0)
    if pages_free is not None:
        b.gauge("mysql_global_status_innodb_buffer_pool_pages_free", labels, pages_free)
    if history is not None:
        b.gauge(
            "mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len",
            labels,
            lambda m: int(history(m) * b.rng.uniform(0.995, 1.005)),
        )
    if trx_seconds is not None:
        b.gauge(
            "mysql_info_schema_processlist_seconds",
            {**labels, "command": "Sleep", "state": ""},
            trx_seconds,
        )
    if connection_errors is not None:
        b.untyped(
            "mysql_global_status_connection_errors_total",
            {**labels, "error": "max_connections"},
            connection_errors,
            0,
        )
        b.untyped(
            "mysql_global_status_connection_errors_total",
            {**labels, "error": "internal"},
            lambda m: 0.0,
            0,
        )


# ---- one site -------------------------------------------------------------------------------
@dataclass
class Site:
    """Pods behind one edge; scenarios add log lines per pod in ``logs``."""

    b: Bundle
    pods: list[Pod]
    routes: list[Route]
    pool: list[str]
    logs: list[tuple[float, int, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def say(self, t: float, i: int, line: str) -> None:
        self.logs.append((t, i, line))

    def run(
        self,
        *,
        rate: F,
        outcome: Outcome | None,
        kind: str,
        labels: Labels,
        **kwargs: Any,
    ) -> list[Event]:
        self.events = edge(
            self.b,
            pods=self.pods,
            routes=self.routes,
            rate=rate,
            clients=kwargs.pop("clients", None) or pick_clients(self.b, self.pool),
            outcome=outcome,
            kind=kind,
            labels=labels,
            **kwargs,
        )
        return self.events

    def apps(self, base: Labels, stream: Labels, **kwargs: Any) -> None:
        app_side(self.b, self.pods, self.events, base, **kwargs)
        log_each(self.b, self.logs, self.pods, stream)


def java_side(
    b: Bundle,
    pods: list[Pod],
    events: list[Event],
    base: Labels,
    *,
    app: str,
    busy: Callable[[float, int], float] = lambda m, i: 6.0,
    heap: Callable[[float, int], float] = lambda m, i: 700e6,
    gc_rate: Callable[[float, int], float] = lambda m, i: 0.4,
    gc_pause: Callable[[float, int], float] = lambda m, i: 0.011,
    cpu: Callable[[float, int], float] = lambda m, i: 0.4,
    namespace: str | None = None,
    container: str | None = None,
) -> None:
    """A Spring Boot service: micrometer HTTP, JVM and Tomcat meters, process, cAdvisor."""
    micrometer_http(b, pods, events, base, app=app)
    for i, pod in enumerate(pods):
        labels = {**base, "instance": pod.addr, "pod": pod.pod, "application": app}
        b.runtime(
            labels,
            cpu=at(cpu, i),
            rss=at(heap, i, 1.4),
            present=pod.present,
            go=False,
        )
        jvm(
            b,
            labels,
            heap=at(heap, i),
            heap_max=2.0e9,
            gc_rate=at(gc_rate, i),
            gc_pause=at(gc_pause, i),
            present=pod.present,
        )
        tomcat_threads(b, labels, at(busy, i), present=pod.present)
    if namespace and container:
        cadvisor(
            b, pods, namespace, container, cpu=cpu, mem=lambda m, i: heap(m, i) * 1.5, limit=3e9
        )
