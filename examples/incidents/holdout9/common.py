"""Round-9 helpers on top of rounds 3-8 (``holdout3.kit``/``stack``/``exporters``,
``holdout4``-``holdout8`` common helpers): pod lists, periodic info lines, pino and
Traefik JSON lines, and the mysqld_exporter families rounds 3-8 did not publish
(table cache, redo log, processlist states beyond the default ones).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout4.common import Pod, iso_ms
from examples.incidents.holdout5.common import Site
from examples.incidents.holdout6.common import every

Labels = dict[str, str]
F = Callable[[float], float]


def pods(addr: str, name: str, suffixes: Sequence[str], node: str) -> list[Pod]:
    """Pods ``{k}``-numbered from 1: ``addr`` and ``node`` are format strings over ``k``."""
    return [
        Pod(addr.format(k=k), f"{name}-{s}", node.format(k=k))
        for k, s in enumerate(suffixes, start=1)
    ]


def chatter(site: Site, lo: float, hi: float, line: Callable[[float, int], str]) -> None:
    """Ordinary info lines from random pods every ``lo``-``hi`` seconds."""
    b = site.b
    for t in every(b, 0, b.minutes, lo, hi):
        k = b.rng.randrange(len(site.pods))
        site.say(t, k, line(t, k))


def pino(b: Bundle, t: float, level: int, host: str, msg: str, **fields: object) -> str:
    """pino's default JSON line (numeric level, epoch ms)."""
    return json.dumps(
        {"level": level, "time": int(t * 1000), "pid": 1, "hostname": host, **fields, "msg": msg},
        separators=(",", ":"),
    )


def traefik_line(b: Bundle, e: Event, router: str, service: str) -> str:
    """Traefik v3 JSON access log (``accessLog.format=json``)."""
    host = f"[{e.client}]" if ":" in e.client else e.client
    return json.dumps(
        {
            "ClientAddr": f"{host}:{b.rng.randint(1024, 65000)}",
            "ClientHost": e.client,
            "DownstreamContentSize": e.size,
            "DownstreamStatus": e.status,
            "Duration": int(e.duration * 1e9),
            "OriginDuration": int(e.extra.get("app_dur", 0) * 1e9) if e.upstream != "-" else 0,
            "OriginStatus": int(e.upstream_status) if e.upstream_status.isdigit() else 0,
            "RequestMethod": e.method,
            "RequestPath": e.path,
            "RequestProtocol": "HTTP/2.0",
            "RouterName": router,
            "ServiceName": service,
            "ServiceURL": f"http://{e.upstream}" if e.upstream != "-" else "",
            "entryPointName": "websecure",
            "level": "info",
            "msg": "",
            "request_User-Agent": e.agent,
            "time": iso_ms(b, e.t),
        },
        separators=(",", ":"),
    )


def traefik_metrics(
    b: Bundle, labels: Labels, events: list[Event], service: str, *, last_reload: float
) -> None:
    """Traefik v3's Prometheus metrics: service and entrypoint request counters by code,
    config reloads, Go runtime."""
    by: dict[tuple[str, str], list[float]] = {}
    for e in events:
        by.setdefault((str(e.status), e.method), []).append(e.t)
    for (code, method), times in sorted(by.items()):
        b.counter_steps(
            "traefik_service_requests_total",
            {**labels, "service": service, "code": code, "method": method, "protocol": "http"},
            times,
        )
        b.counter_steps(
            "traefik_entrypoint_requests_total",
            {
                **labels,
                "entrypoint": "websecure",
                "code": code,
                "method": method,
                "protocol": "http",
            },
            times,
        )
    b.gauge("traefik_config_reloads_total", labels, lambda m: 17)
    b.gauge("traefik_config_last_reload_success", labels, lambda m: last_reload)
    b.runtime(labels, cpu=lambda m: 0.08, rss=lambda m: 140e6, goroutines=lambda m: 210)


def processlist(b: Bundle, labels: Labels, states: dict[tuple[str, str], F]) -> None:
    """Extra ``mysql_info_schema_processlist_threads`` rows (command, state)."""
    for (command, state), fn in states.items():
        b.gauge(
            "mysql_info_schema_processlist_threads",
            {**labels, "command": command, "state": state},
            per(lambda m, f: max(0, int(f(m))), fn),
        )


def per(fn: Callable[[float, F], float], a: F) -> F:
    def bound(m: float) -> float:
        return fn(m, a)

    return bound


def bump(fn: F, lo: float, hi: float, extra: float) -> F:
    """``fn`` plus ``extra`` between minutes ``lo`` and ``hi``."""
    return lambda m: fn(m) + (extra if lo <= m < hi else 0.0)


def flat(v: float) -> F:
    return lambda m: v


__all__ = ["Pod", "Site"]
