"""A configurable proxy -> app -> (MySQL, Redis) stack for the non-reference scenarios.

A scenario fills a ``Stack`` with names, addresses, formats and time profiles;
``build_stack`` simulates the traffic and writes consistent metrics and logs.
Profiles are functions of time returning 0..1 "how bad" levels, so each
scenario only says *what* goes wrong and *when*.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from examples.incidents.sim import (
    BROWSER_AGENTS,
    BundleWriter,
    ComponentDecl,
    Outcome,
    Request,
    app_metrics,
    baseline_latency,
    clock,
    ingress_nginx,
    json_line,
    nginx_combined,
    nginx_json,
    noisy,
    poisson,
    proxy_metrics_ingress,
    proxy_metrics_nginx,
    sample_times,
    simulate_traffic,
)

Level = Callable[[float], float]
ZERO: Level = lambda t: 0.0  # noqa: E731


@dataclass
class Stack:
    name: str
    bundle_name: str
    description: str
    seed: int
    data_start: float
    window: tuple[str, str]
    data_end: float
    # Component names and selectors.
    proxy: tuple[str, Mapping[str, str]]
    app: tuple[str, Mapping[str, str]]
    mysql: tuple[str, Mapping[str, str]]
    redis: tuple[str, Mapping[str, str]]
    proxy_instance: str
    proxy_format: str  # combined | json | ingress | timing
    app_instances: Mapping[str, Mapping[str, str]]  # upstream -> extra labels
    mysql_instance: str
    redis_instance: str
    mysql_flavor: str  # mariadb | mysql8
    client_prefixes: Sequence[str]
    routes: Sequence[tuple[str, str, float, int]]
    rate: Callable[[float], float]
    symptom: Mapping[str, str] | None = None
    # Per-upstream trouble (0..1) that turns into 5xx and latency.
    app_trouble: Callable[[str, float], float] = lambda upstream, t: 0.0
    app_error: Callable[[random.Random, str, float], str] | None = None
    cpu: Callable[[str, float], float] | None = None
    memory: Callable[[str, float], float] | None = None
    db_trouble: Level = ZERO
    cache_trouble: Level = ZERO
    cache_down: Callable[[float], bool] = lambda t: False
    extra_requests: Callable[[random.Random], list[Request]] = lambda rng: []
    extra_logs: Callable[[BundleWriter, random.Random], None] = lambda writer, rng: None
    failure_share: float = 0.35
    slowdown: float = 12.0
    error_status: int = 500
    sort_logs: bool = True
    notes: list[str] = field(default_factory=list)


def build_stack(stack: Stack) -> BundleWriter:
    rng = random.Random(stack.seed)
    proxy_name, proxy_selector = stack.proxy
    app_name, app_selector = stack.app
    mysql_name, mysql_selector = stack.mysql
    redis_name, redis_selector = stack.redis
    writer = BundleWriter(
        name=stack.bundle_name,
        description=stack.description,
        window=stack.window,
        symptom=stack.symptom,
        components=(
            ComponentDecl(proxy_name, "proxy", proxy_selector, (app_name,)),
            ComponentDecl(app_name, "app", app_selector, (mysql_name, redis_name)),
            ComponentDecl(mysql_name, "mysql", mysql_selector),
            ComponentDecl(redis_name, "redis", redis_selector),
        ),
    )
    times = sample_times(stack.data_start, stack.data_end)
    clients = client_pool(rng, stack.client_prefixes)

    def behaviour(rng: random.Random, upstream: str, t: float, path: str) -> Outcome:
        trouble = max(
            stack.app_trouble(upstream, t),
            stack.db_trouble(t) * 0.8,
            stack.cache_trouble(t) * 0.9,
        )
        latency = baseline_latency(rng, 0.04 * (1 + stack.slowdown * trouble))
        if rng.random() < 0.001 + stack.failure_share * trouble:
            return Outcome(stack.error_status, round(latency * rng.uniform(0.4, 1.2), 3))
        return Outcome(200, latency)

    requests = simulate_traffic(
        rng,
        start=stack.data_start - 30,
        end=stack.data_end,
        rate=stack.rate,
        clients=clients,
        routes=stack.routes,
        upstreams=list(stack.app_instances),
        behaviour=behaviour,
    )
    requests.extend(stack.extra_requests(rng))
    requests.sort(key=lambda request: request.ts)
    requests = [request for request in requests if request.ts >= stack.data_start - 15]

    _proxy(stack, writer, rng, requests, times)
    _app(stack, writer, rng, requests, times)
    _mysql(stack, writer, rng, times)
    _redis(stack, writer, rng, times)
    stack.extra_logs(writer, rng)
    return writer


def client_pool(rng: random.Random, prefixes: Sequence[str]) -> list[str]:
    pool: set[str] = set()
    while len(pool) < 180:
        pool.add(f"{rng.choice(prefixes)}.{rng.randint(2, 254)}")
    return sorted(pool)


def _proxy(
    stack: Stack,
    writer: BundleWriter,
    rng: random.Random,
    requests: list[Request],
    times: list[float],
) -> None:
    labels = {**stack.proxy[1], "instance": stack.proxy_instance}
    access = {**labels, "stream": "access"}
    for request in requests:
        if request.ts < stack.data_start:
            continue
        if stack.proxy_format == "json":
            line = nginx_json(request)
        elif stack.proxy_format == "ingress":
            line = ingress_nginx(request, namespace="shop", service=stack.app[0], rng=rng)
        elif stack.proxy_format == "timing":
            local = clock(request.ts, "%d/%b/%Y:%H:%M:%S +0000")
            upstream_time = f"{request.request_time:.3f}" if request.upstream else "-"
            line = (
                f'{request.client} - - [{local}] "{request.method} {request.path} HTTP/2.0" '
                f'{request.status} {request.size} "-" "{request.user_agent}" '
                f"{request.request_time:.3f} {upstream_time}"
            )
        else:
            line = nginx_combined(request)
        writer.log(request.ts, access, line)
    if stack.proxy_format == "ingress":
        proxy_metrics_ingress(writer, requests, labels, times)
    else:
        proxy_metrics_nginx(writer, requests, labels, times)


def _app(
    stack: Stack,
    writer: BundleWriter,
    rng: random.Random,
    requests: list[Request],
    times: list[float],
) -> None:
    labels_of = {
        upstream: {**stack.app[1], "instance": upstream, **extra}
        for upstream, extra in stack.app_instances.items()
    }

    def cpu(instance: str, t: float) -> float:
        if stack.cpu is not None:
            return noisy(rng, stack.cpu(instance, t), 0.05)
        return noisy(rng, 0.2 + 0.15 * max(stack.db_trouble(t), stack.cache_trouble(t)), 0.06)

    app_metrics(writer, requests, labels_of, times, job=stack.app[0], cpu=cpu, memory=stack.memory)
    for request in requests:
        if request.ts < stack.data_start or request.upstream is None:
            continue
        stream = {**labels_of[request.upstream], "stream": "stdout"}
        stream = {
            key: value
            for key, value in stream.items()
            if key in ("instance", "stream", "pod", "namespace", *stack.app[1])
        }
        if request.upstream_status.startswith("5") and stack.app_error is not None:
            writer.log(request.ts, stream, stack.app_error(rng, request.upstream, request.ts))
        elif rng.random() < 0.03:
            writer.log(
                request.ts,
                stream,
                json_line(
                    level="info",
                    ts=round(request.ts, 3),
                    msg="request served",
                    method=request.method,
                    path=request.path,
                    status=200,
                    duration_ms=int(request.request_time * 1000),
                ),
            )
    for labels in labels_of.values():
        stream = {
            key: value
            for key, value in {**labels, "stream": "stdout"}.items()
            if key in ("instance", "stream", "pod", "namespace", *stack.app[1])
        }
        for index in range(8):
            t = stack.data_start + index * 520 + rng.uniform(0, 400)
            writer.log(
                t,
                stream,
                json_line(
                    level="info",
                    ts=round(t, 3),
                    msg=rng.choice(
                        (
                            "refreshed feature flags",
                            "connection pool stats: idle=8 busy=2",
                            "scheduled job cleanup_sessions finished",
                        )
                    ),
                ),
            )
        t = rng.uniform(stack.data_start, stack.data_end)
        writer.log(
            t,
            stream,
            json_line(
                level="warn", ts=round(t, 3), msg="slow request", path="/export", duration_ms=1830
            ),
        )


def mysql8_time(t: float) -> str:
    return clock(t, "%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1_000_000) % 1_000_000:06d}Z"


def mariadb_time(t: float) -> str:
    return clock(t, "%Y-%m-%d ") + f"{int(clock(t, '%H')):2d}" + clock(t, ":%M:%S")


def mysql_log_line(stack: Stack, t: float, thread: int, level: str, code: str, message: str) -> str:
    if stack.mysql_flavor == "mysql8":
        subsystem = "InnoDB" if message.startswith("InnoDB: ") else "Server"
        return f"{mysql8_time(t)} {thread} [{level}] [{code}] [{subsystem}] {message.removeprefix('InnoDB: ')}"
    return f"{mariadb_time(t)} {thread} [{level}] {message}"


def _mysql(stack: Stack, writer: BundleWriter, rng: random.Random, times: list[float]) -> None:
    labels = {**stack.mysql[1], "instance": stack.mysql_instance}
    error = {**labels, "stream": "error"}
    for index in range(4):
        t = stack.data_start + 400 + index * 900 + rng.uniform(0, 300)
        writer.log(
            t,
            error,
            mysql_log_line(
                stack,
                t,
                3100 + index,
                "Warning",
                "MY-010055",
                f"Aborted connection {3100 + index} to db: 'reports' user: 'bi' host: '10.99.0.4' "
                "(Got timeout reading communication packets)",
            ),
        )
    trouble = stack.db_trouble
    writer.gauge("mysql_up", "Whether the MySQL server is up.", labels, times, lambda t: 1)
    writer.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        labels,
        times,
        lambda t: min(500, round(noisy(rng, 30 + 420 * trouble(t), 0.05))),
    )
    writer.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        labels,
        times,
        lambda t: round(noisy(rng, 3 + 80 * trouble(t), 0.2)),
    )
    writer.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        labels,
        times,
        lambda t: 500,
    )
    _untyped(
        writer,
        "mysql_global_status_queries",
        labels,
        times,
        lambda t: noisy(rng, 250 * 15 * (1 + 0.1 * stack.cache_trouble(t)), 0.05),
        41_200_331,
    )
    _untyped(
        writer,
        "mysql_global_status_innodb_row_lock_waits",
        labels,
        times,
        lambda t: poisson(rng, 0.4 + 60 * trouble(t)),
        9_114,
    )
    _untyped(
        writer,
        "mysql_global_status_slow_queries",
        labels,
        times,
        lambda t: poisson(rng, 0.01 + 2 * trouble(t)),
        57,
    )
    _untyped(
        writer,
        "mysql_global_status_connection_errors_total",
        {**labels, "error": "max_connections"},
        times,
        lambda t: poisson(rng, 8 * max(0.0, trouble(t) - 0.9) * 10),
    )


def _untyped(
    writer: BundleWriter,
    name: str,
    labels: Mapping[str, str],
    times: list[float],
    increment: Callable[[float], float],
    start: float = 0.0,
) -> None:
    writer.family(name, "unknown", "Generic metric from SHOW GLOBAL STATUS.")
    total = start
    points = []
    for t in times:
        total += max(0.0, increment(t))
        points.append((t, total))
    writer.add_series(name, labels, points)


def redis_time(t: float) -> str:
    return f"{clock(t, '%d %b %Y %H:%M:%S')}.{int(t * 1000) % 1000:03d}"


def _redis(stack: Stack, writer: BundleWriter, rng: random.Random, times: list[float]) -> None:
    labels = {**stack.redis[1], "instance": stack.redis_instance}
    server = {**labels, "stream": "server"}
    for index in range(12):
        t = stack.data_start + 90 + index * 300 + rng.uniform(0, 2)
        if stack.cache_down(t):
            continue
        writer.log(t, server, f"1:M {redis_time(t)} * 100 changes in 300 seconds. Saving...")
        writer.log(t + 0.6, server, f"{900 + index}:C {redis_time(t + 0.6)} * DB saved on disk")
    trouble = stack.cache_trouble
    up = lambda t: 0.0 if stack.cache_down(t) else 1.0  # noqa: E731
    writer.gauge("redis_up", "Information about the Redis instance", labels, times, up)
    writer.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        labels,
        times,
        lambda t: 0 if stack.cache_down(t) else round(noisy(rng, 40 + 50 * trouble(t), 0.06)),
    )
    writer.gauge(
        "redis_memory_used_bytes",
        "memory_used_bytes metric",
        labels,
        times,
        lambda t: (
            0 if stack.cache_down(t) else round(noisy(rng, 6.0e8 + 4.7e8 * trouble(t), 0.004))
        ),
    )
    writer.gauge(
        "redis_memory_max_bytes", "memory_max_bytes metric", labels, times, lambda t: 1073741824
    )
    writer.gauge(
        "redis_slowlog_length",
        "Total slowlog",
        labels,
        times,
        lambda t: 0 if stack.cache_down(t) else 1 + round(20 * trouble(t)),
    )
    writer.counter(
        "redis_commands_total",
        "Total number of calls per command",
        {**labels, "cmd": "get"},
        times,
        lambda t: 0.0 if stack.cache_down(t) else noisy(rng, 90 * 15, 0.05),
        start=4_000_000,
    )
    writer.counter(
        "redis_commands_duration_seconds_total",
        "Total amount of time in seconds spent per command",
        {**labels, "cmd": "get"},
        times,
        lambda t: (
            0.0 if stack.cache_down(t) else noisy(rng, 90 * 15 * (5e-6 + 4e-3 * trouble(t)), 0.1)
        ),
        start=20.0,
    )
    writer.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        labels,
        times,
        lambda t: (
            0.0 if stack.cache_down(t) else noisy(rng, 85 * 15 * (1 - 0.6 * trouble(t)), 0.05)
        ),
        start=3_300_000,
    )
    writer.counter(
        "redis_keyspace_misses_total",
        "keyspace_misses_total metric",
        labels,
        times,
        lambda t: 0.0 if stack.cache_down(t) else noisy(rng, 5 * 15 * (1 + 9 * trouble(t)), 0.08),
        start=120_000,
    )
    writer.counter(
        "redis_evicted_keys_total",
        "evicted_keys_total metric",
        labels,
        times,
        lambda t: 0.0 if stack.cache_down(t) else poisson(rng, 400 * trouble(t)),
        start=0,
    )


def browser(rng: random.Random) -> str:
    return rng.choice(BROWSER_AGENTS)
