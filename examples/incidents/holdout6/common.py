"""Round-6 helpers on top of rounds 3-5 (``holdout3.kit``, ``holdout4.common``,
``holdout5.common``): HAProxy's httplog format and exporter series, PgBouncer and Galera
exporter series, log lines stamped in local time zones, and ``web()``, which wires an edge,
app pods and their RED metrics in one call so that a scenario only writes its story.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients
from examples.incidents.holdout3.stack import Outcome
from examples.incidents.holdout4.common import Pod, Route
from examples.incidents.holdout5.common import Site

Labels = dict[str, str]
F = Callable[[float], float]

__all__ = ["Pod", "Route", "Site"]


# ---- time stamps in local zones -----------------------------------------------------------
def local_iso(b: Bundle, t: float, hours: float) -> str:
    """ISO 8601 in a fixed local offset, e.g. ``2031-02-03T16:04:05.123+05:30``."""
    zone = timezone(timedelta(hours=hours))
    d = b.dt(t).astimezone(zone)
    return (
        d.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(t * 1000) % 1000:03d}"
        + d.strftime("%z")[:3]
        + ":"
        + d.strftime("%z")[3:]
    )


def local_plain(b: Bundle, t: float, hours: float) -> str:
    """``yyyy-mm-dd hh:mm:ss,mmm`` in local time without a zone (log4j's default)."""
    d = b.dt(t).astimezone(timezone(timedelta(hours=hours)))
    return d.strftime("%Y-%m-%d %H:%M:%S") + f",{int(t * 1000) % 1000:03d}"


def structlog(b: Bundle, t: float, hours: float, level: str, event: str, **kw: Any) -> str:
    """Python structlog JSON with a local-offset timestamp."""
    return json.dumps(
        {"timestamp": local_iso(b, t, hours), "level": level, "event": event, **kw},
        separators=(",", ":"),
    )


def pg_local(b: Bundle, t: float, zone: str, hours: float, pid: int, level: str, msg: str) -> str:
    """PostgreSQL ``log_line_prefix = '%m [%p] %q%u@%d '`` with log_timezone set."""
    d = b.dt(t).astimezone(timezone(timedelta(hours=hours)))
    stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(t * 1000) % 1000:03d} {zone}"
    return f"{stamp} [{pid}] {level}:  {msg}"


# ---- HAProxy ------------------------------------------------------------------------------
def haproxy_line(b: Bundle, e: Event, frontend: str, backend: str) -> str:
    """``option httplog`` line as syslog delivers it (with ``haproxy[pid]:``)."""
    d = b.dt(e.t - e.duration)
    accept = d.strftime("%d/%b/%Y:%H:%M:%S.") + f"{int((e.t - e.duration) * 1000) % 1000:03d}"
    server = e.extra.get("server", "<NOSRV>")
    tw = int(e.extra.get("tw", 0) * 1000)
    tr = int(e.extra.get("app_dur", e.duration) * 1000) if server != "<NOSRV>" else -1
    ta = int(e.duration * 1000)
    term = e.extra.get("term", "----")
    port = 1024 + b.rng.randint(0, 60000)
    q = e.extra.get("queue", 0)
    return (
        f"haproxy[{e.extra.get('pid', 2871)}]: {e.client}:{port} [{accept}] {frontend} "
        f"{backend}/{server} 0/{tw}/1/{tr}/{ta} {e.status} {e.size} - - {term} "
        f"{b.rng.randint(80, 140)}/{b.rng.randint(80, 140)}/{b.rng.randint(3, 30)}/"
        f'{b.rng.randint(0, 9)}/0 {q}/0 "{e.method} {e.path} HTTP/1.1"'
    )


def haproxy_exporter(
    b: Bundle,
    labels: Labels,
    backend: str,
    servers: dict[str, str],
    events: list[Event],
    *,
    queue: Callable[[float, str], float] | None = None,
) -> None:
    """HAProxy's built-in Prometheus exporter: per-server responses, queue, state."""
    per: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in events:
        name = e.extra.get("server")
        if name:
            per[(name, f"{str(e.status)[0]}xx")].append(e.t)
    for name, addr in servers.items():
        sl = {**labels, "proxy": backend, "server": name}
        for code in ("1xx", "2xx", "3xx", "4xx", "5xx", "other"):
            b.counter_steps(
                "haproxy_server_http_responses_total",
                {**sl, "code": code},
                per.get((name, code), []),
            )
        b.gauge("haproxy_server_status", {**sl, "state": "UP"}, lambda m: 1)
        b.gauge(
            "haproxy_server_current_queue", sl, lambda m, n=name: int(queue(m, n)) if queue else 0
        )
        b.gauge("haproxy_server_max_queue", sl, lambda m: 0)
        b.gauge("haproxy_server_check_status", sl, lambda m: 6)  # L7OK
        b.gauge("haproxy_server_weight", sl, lambda m: 1)
        b.counter("haproxy_server_bytes_out_total", sl, lambda m: 41_000.0, start=9.1e10)
        _ = addr
    fl = {**labels, "proxy": "fe_https"}
    b.counter_steps("haproxy_frontend_http_requests_total", fl, [e.t for e in events])
    b.gauge("haproxy_process_current_connections", labels, lambda m: b.rng.randint(90, 160))


# ---- PgBouncer and Galera exporters -------------------------------------------------------
def pgbouncer_exporter(
    b: Bundle, labels: Labels, *, database: str, active: F, waiting: F, maxwait: F, pool: int
) -> None:
    """prometheus-community/pgbouncer_exporter (SHOW POOLS, SHOW CONFIG)."""
    pl = {**labels, "database": database, "user": "app"}
    b.gauge("pgbouncer_up", labels, lambda m: 1)
    b.gauge("pgbouncer_pools_client_active_connections", pl, lambda m: int(active(m) * 3))
    b.gauge("pgbouncer_pools_client_waiting_connections", pl, lambda m: int(waiting(m)))
    b.gauge("pgbouncer_pools_server_active_connections", pl, lambda m: int(min(active(m), pool)))
    b.gauge("pgbouncer_pools_server_idle_connections", pl, lambda m: max(0, pool - int(active(m))))
    b.gauge("pgbouncer_pools_client_maxwait_seconds", pl, maxwait)
    b.gauge("pgbouncer_config_max_client_connections", labels, lambda m: 2000)
    b.gauge("pgbouncer_databases_pool_size", {**labels, "name": database}, lambda m: pool)
    b.counter(
        "pgbouncer_stats_queries_pooled_total",
        {**labels, "database": database},
        lambda m: 60.0 + active(m),
        start=8.8e9,
    )


def galera_status(
    b: Bundle, labels: Labels, *, paused: F, recv_queue: F, send_queue: F, size: int = 3
) -> None:
    """mysqld_exporter's wsrep_* global status (untyped counters, gauges)."""
    b.gauge("mysql_global_status_wsrep_cluster_size", labels, lambda m: size)
    b.gauge("mysql_global_status_wsrep_ready", labels, lambda m: 1)
    b.gauge("mysql_global_status_wsrep_local_state", labels, lambda m: 4)
    b.gauge("mysql_global_status_wsrep_flow_control_paused", labels, paused)
    b.gauge("mysql_global_status_wsrep_local_recv_queue", labels, lambda m: int(recv_queue(m)))
    b.gauge("mysql_global_status_wsrep_local_send_queue", labels, lambda m: int(send_queue(m)))
    b.untyped(
        "mysql_global_status_wsrep_flow_control_sent",
        labels,
        lambda m: 4.0 * paused(m) if recv_queue(m) > 50 else 0.0,
        1211,
    )
    b.untyped(
        "mysql_global_status_wsrep_flow_control_recv", labels, lambda m: 4.0 * paused(m), 8320
    )


# ---- one call for an ordinary web tier ------------------------------------------------------
def web(
    b: Bundle,
    *,
    pods: list[Pod],
    routes: list[Route],
    prefixes: list[str],
    clients: int,
    rate: F,
    outcome: Outcome | None,
    kind: str,
    edge_labels: Labels,
    **kwargs: Any,
) -> Site:
    """Edge traffic over ordinary clients; the scenario then says app lines with
    ``site.say`` and publishes the app side with ``site.apps(base, stream, ...)``."""
    site = Site(b, pods, routes, client_pool(b, prefixes, clients))
    site.run(
        rate=rate,
        outcome=outcome,
        kind=kind,
        labels=edge_labels,
        clients=kwargs.pop("pick", None) or pick_clients(b, site.pool),
        **kwargs,
    )
    return site


def every(b: Bundle, start: float, end: float, lo: float, hi: float) -> list[float]:
    """Epochs from minute ``start`` to ``end``, ``lo``-``hi`` seconds apart."""
    out, t = [], b.t(start) + b.rng.uniform(0, lo)
    while t < b.t(end):
        out.append(t)
        t += b.rng.uniform(lo, hi)
    return out
