"""Round-11 helpers on top of rounds 3-10: log formats earlier rounds did not write (Caddy's
JSON access log, Kong's file-log JSON, uWSGI's request log and messages, Node bunyan, Go
zerolog, ``journalctl -o json`` export, the PHP-FPM slow log and error log) and one call
that wires an edge, an app and its pods (``stack``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from examples.incidents.holdout3.kit import Bundle, Event, clf_time
from examples.incidents.holdout4.common import Pod, Route, iso_ms
from examples.incidents.holdout5.common import Site, within
from examples.incidents.holdout6.common import every
from examples.incidents.holdout9.common import pods
from examples.incidents.holdout10.common import finish, periodic, tier

Labels = dict[str, str]
F = Callable[[float], float]
Outcome = Callable[[Event, float, int], None]

__all__ = ["Pod", "Route", "Site", "every", "finish", "periodic", "pods", "within"]


def _j(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"))


def stack(
    b: Bundle,
    *,
    edge_name: str,
    app: str,
    ns: str,
    deps: Sequence[str],
    ps: list[Pod],
    routes: list[Route],
    prefixes: Sequence[str],
    outcome: Outcome | None,
    kind: str,
    edge: Labels,
    rate: F,
    clients: int = 300,
    **kwargs: Any,
) -> Site:
    """Declare ``edge_name`` (proxy, selected by its ``job``) in front of ``app`` (selected
    by namespace and app) depending on ``deps``, and serve ordinary traffic through them."""
    b.component(edge_name, "proxy", {"job": edge["job"]}, [app])
    b.component(app, "app", {"namespace": ns, "app": app}, list(deps))
    return tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=valid_prefixes(b, prefixes),
        outcome=outcome,
        kind=kind,
        edge=edge,
        rate=rate,
        clients=clients,
        **kwargs,
    )


def valid_prefixes(b: Bundle, prefixes: Sequence[str]) -> list[str]:
    """Prefixes the round-3 ``client_pool`` turns into valid addresses: an IPv4 "a.b."
    becomes four "a.b.c." networks, an IPv6 prefix without "::" gets one."""
    out: list[str] = []
    for p in prefixes:
        if ":" in p:
            out.append(p if "::" in p else p.rstrip(":") + "::")
        elif p.count(".") == 2:
            out.extend(f"{p}{c}." for c in b.rng.sample(range(1, 255), 4))
        else:
            out.append(p)
    return out


# ---- access logs ------------------------------------------------------------------------
def caddy_json(b: Bundle, e: Event, host: str) -> str:
    """Caddy 2's ``log`` directive, JSON encoder, ``http.log.access`` logger."""
    up = e.upstream if e.upstream != "-" else ""
    return _j(
        {
            "level": "error" if e.status >= 500 else "info",
            "ts": round(e.t, 6),
            "logger": "http.log.access.log0",
            "msg": "handled request",
            "request": {
                "remote_ip": e.client,
                "remote_port": str(30000 + int(e.t * 1000) % 30000),
                "client_ip": e.client,
                "proto": "HTTP/2.0",
                "method": e.method,
                "host": host,
                "uri": e.path,
                "headers": {"User-Agent": [e.agent]},
            },
            "bytes_read": 0,
            "user_id": "",
            "duration": round(e.duration, 6),
            "size": e.size,
            "status": e.status,
            "resp_headers": {"Server": ["Caddy"], "X-Upstream": [up] if up else []},
        }
    )


def kong_json(b: Bundle, e: Event, service: str, route: str) -> str:
    """Kong's file-log plugin (one JSON object per request, trimmed)."""
    up_ms = -1 if e.upstream == "-" else int(e.extra.get("app_dur", e.duration) * 1000)
    return _j(
        {
            "client_ip": e.client,
            "started_at": int((e.t - e.duration) * 1000),
            "request": {
                "method": e.method,
                "uri": e.path,
                "url": f"https://api.example.com{e.path}",
                "headers": {"user-agent": e.agent},
            },
            "response": {"status": e.status, "size": e.size},
            "latencies": {
                "request": int(e.duration * 1000),
                "proxy": up_ms,
                "kong": 1,
            },
            "upstream_uri": e.path if e.upstream != "-" else "",
            "service": {"name": service, "host": service + ".svc"},
            "route": {"name": route},
            "upstream_status": e.upstream_status,
            "tries": [{"ip": e.upstream.split(":")[0], "port": 8080}] if e.upstream != "-" else [],
        }
    )


def uwsgi_req(b: Bundle, e: Event, pid: int, worker: int, n: int) -> str:
    """uWSGI's default request log line."""
    stamp = b.dt(e.t).strftime("%a %b %d %H:%M:%S %Y")
    ms = int(e.extra.get("app_dur", e.duration) * 1000)
    return (
        f"[pid: {pid}|app: 0|req: {n}/{n * 3}] {e.client} () {{42 vars in 810 bytes}} [{stamp}] "
        f"{e.method} {e.path} => generated {e.size} bytes in {ms} msecs (HTTP/1.1 {e.status}) "
        f"4 headers in 132 bytes (1 switches on core {worker % 2})"
    )


def uwsgi_msg(b: Bundle, t: float, msg: str) -> str:
    """uWSGI's own messages: ``Mon Jan  2 15:04:05 2006 - message``."""
    return f"{b.dt(t).strftime('%a %b %d %H:%M:%S %Y')} - {msg}"


def cache_line(b: Bundle, e: Event) -> str:
    """nginx combined plus ``$upstream_cache_status``, ``$request_time`` and the upstream."""
    return (
        f'{e.client} - - [{clf_time(b, e.t)}] "{e.method} {e.path} HTTP/1.1" {e.status} '
        f'{e.size} "-" "{e.agent}" cache={e.extra.get("cache", "MISS")} rt={e.duration:.3f} '
        f"upstream={e.upstream}"
    )


# ---- app logs ---------------------------------------------------------------------------
def bunyan(b: Bundle, t: float, level: int, name: str, host: str, msg: str, **kw: Any) -> str:
    """node-bunyan's JSON record (``v: 0``, numeric level, ISO time)."""
    return _j(
        {
            "name": name,
            "hostname": host,
            "pid": 1,
            "level": level,
            **kw,
            "msg": msg,
            "time": iso_ms(b, t),
            "v": 0,
        }
    )


def zerolog(b: Bundle, t: float, level: str, msg: str, **kw: Any) -> str:
    """rs/zerolog default: level, fields, time (RFC 3339), message."""
    return _j(
        {"level": level, **kw, "time": b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ"), "message": msg}
    )


def journal(b: Bundle, t: float, unit: str, ident: str, prio: int, msg: str, host: str) -> str:
    """``journalctl -o json`` (one export record per line, trimmed)."""
    return _j(
        {
            "__REALTIME_TIMESTAMP": str(int(t * 1e6)),
            "_HOSTNAME": host,
            "PRIORITY": str(prio),
            "SYSLOG_IDENTIFIER": ident,
            "_SYSTEMD_UNIT": unit,
            "_TRANSPORT": "stdout",
            "MESSAGE": msg,
        }
    )


def fpm_err(b: Bundle, t: float, level: str, msg: str) -> str:
    """php-fpm's error log: ``[02-Jan-2006 15:04:05] WARNING: [pool www] ...``."""
    return f"[{b.dt(t).strftime('%d-%b-%Y %H:%M:%S')}] {level}: {msg}"


def fpm_slow(b: Bundle, t: float, pid: int, frames: Sequence[tuple[str, str, int]]) -> str:
    """php-fpm's slow log record (``request_slowlog_timeout``): header, script, backtrace."""
    head = f"[{b.dt(t).strftime('%d-%b-%Y %H:%M:%S')}]  [pool www] pid {pid}"
    lines = [head, "script_filename = /var/www/html/public/index.php"]
    for k, (fn, path, line) in enumerate(frames):
        lines.append(f"[0x{0x7F3A1C014000 + k * 0x70:012x}] {fn}() {path}:{line}")
    return "\n".join(lines)


# ---- small exporters --------------------------------------------------------------------
def caddy_metrics(b: Bundle, labels: Labels, events: list[Event], server: str = "srv0") -> None:
    """Caddy's ``caddy_http_requests_total`` by code and the in-flight gauge."""
    by: dict[str, list[float]] = {}
    for e in events:
        by.setdefault(str(e.status), []).append(e.t)
    for code, times in sorted(by.items()):
        b.counter_steps(
            "caddy_http_requests_total",
            {**labels, "server": server, "handler": "reverse_proxy", "code": code},
            times,
        )
    b.gauge(
        "caddy_http_requests_in_flight",
        {**labels, "server": server, "handler": "reverse_proxy"},
        lambda m: b.rng.randint(3, 14),
    )
    b.gauge("caddy_config_last_reload_successful", labels, lambda m: 1)
    b.runtime(labels, cpu=lambda m: 0.05, rss=lambda m: 90e6, goroutines=lambda m: 140)


def kong_metrics(b: Bundle, labels: Labels, events: list[Event], service: str) -> None:
    """Kong's Prometheus plugin: ``kong_http_requests_total`` by service/route/code."""
    by: dict[str, list[float]] = {}
    for e in events:
        by.setdefault(str(e.status), []).append(e.t)
    for code, times in sorted(by.items()):
        b.counter_steps(
            "kong_http_requests_total",
            {**labels, "service": service, "route": service + "-route", "code": code},
            times,
        )
    for state in ("accepted", "active", "handled", "reading", "total", "waiting", "writing"):
        b.gauge(
            "kong_nginx_connections_total",
            {**labels, "node_id": "c0a8", "subsystem": "http", "state": state},
            lambda m: b.rng.randint(40, 90),
        )
    b.gauge("kong_datastore_reachable", labels, lambda m: 1)


def level(bad: Callable[[float], bool], on: float, off: float) -> F:
    return lambda m: on if bad(m) else off


def const(v: float) -> F:
    return lambda m: v


def on_pod(p: Pod, v: float) -> Callable[[float], float | None]:
    """``v`` while the pod exists, no sample otherwise."""
    return lambda m: v if p.up(m) else None


def per_pod(fn: Callable[[float, int], float], i: int) -> F:
    return lambda m: fn(m, i)


def say_some(
    site: Site, share: float, line: Callable[[Event], str], *, status: int | None = None
) -> None:
    """Log ``line`` on the pod that served a share of the failed (or ``status``) requests."""
    rng = site.b.rng
    for e in site.events:
        hit = e.status == status if status is not None else e.status >= 500
        if hit and "pod" in e.extra and rng.random() < share:
            site.say(e.t, e.extra["pod"], line(e))
