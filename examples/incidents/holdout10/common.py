"""Round-10 helpers on top of rounds 3-9: log formats earlier rounds did not write (Go
``log/slog`` JSON, Serilog compact JSON, log4j2's pattern, gunicorn's error log,
PostgreSQL 15 ``jsonlog``, Rust ``tracing`` fmt, Traefik's common log format, HAProxy's
JSON log-format) and one call that wires an ordinary tier (edge, pods, app metrics).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from examples.incidents.holdout3.kit import Bundle, Event, clf_time
from examples.incidents.holdout4.common import Pod, Route, iso_ms, iso_us
from examples.incidents.holdout5.common import Site
from examples.incidents.holdout6.common import every, web
from examples.incidents.holdout9.common import pods

Labels = dict[str, str]
F = Callable[[float], float]
Outcome = Callable[[Event, float, int], None]

__all__ = ["Pod", "Route", "Site", "every", "pods"]


def _j(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"))


def slog(b: Bundle, t: float, level: str, msg: str, **fields: Any) -> str:
    """Go ``log/slog`` JSONHandler: time (RFC 3339, ms, zone), level, msg, attrs."""
    stamp = b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"
    return _j({"time": stamp, "level": level, "msg": msg, **fields})


def clef(b: Bundle, t: float, level: str, template: str, **props: Any) -> str:
    """Serilog's compact JSON (CLEF): ``@t``, ``@mt``, ``@l`` (omitted for Information)."""
    head: dict[str, Any] = {"@t": b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z", "@mt": template}
    if level != "Information":
        head["@l"] = level
    return _j({**head, **props})


def log4j2(b: Bundle, t: float, level: str, thread: str, logger: str, msg: str) -> str:
    """log4j2 ``%d{ISO8601} %-5level [%t] %c{1.} - %msg``."""
    d = b.dt(t)
    stamp = d.strftime("%Y-%m-%dT%H:%M:%S,") + f"{int(t * 1000) % 1000:03d}"
    return f"{stamp} {level:<5} [{thread}] {logger} - {msg}"


def gunicorn_err(b: Bundle, t: float, pid: int, level: str, msg: str) -> str:
    """gunicorn's error log: ``[YYYY-mm-dd HH:MM:SS +0000] [pid] [LEVEL] message``."""
    return f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S')} +0000] [{pid}] [{level}] {msg}"


def pg_json(
    b: Bundle, t: float, pid: int, level: str, msg: str, *, code: str = "00000", **kw: Any
) -> str:
    """PostgreSQL 15+ ``log_destination = jsonlog``."""
    d = b.dt(t)
    stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(t * 1000) % 1000:03d} UTC"
    return _j(
        {
            "timestamp": stamp,
            "pid": pid,
            "session_id": f"{int(t) - 300:x}.{pid:x}",
            "line_num": kw.pop("line_num", 1),
            "backend_type": kw.pop("backend_type", "client backend"),
            **kw,
            "error_severity": level,
            "state_code": code,
            "message": msg,
        }
    )


def tracing(b: Bundle, t: float, level: str, target: str, msg: str, **fields: Any) -> str:
    """Rust ``tracing_subscriber::fmt`` default line (no ANSI)."""
    kv = "".join(f" {k}={v}" for k, v in fields.items())
    return f"{iso_us(b, t)} {level:>5} {target}: {msg}{kv}"


def traefik_clf(b: Bundle, e: Event, n: int, router: str) -> str:
    """Traefik's common log format (``accessLog`` default)."""
    url = f'"http://{e.upstream}"' if e.upstream != "-" else '"-"'
    return (
        f'{e.client} - - [{clf_time(b, e.t)}] "{e.method} {e.path} HTTP/1.1" {e.status} '
        f'{e.size} "-" "{e.agent}" {n} "{router}" {url} {int(e.duration * 1000)}ms'
    )


def haproxy_json(b: Bundle, e: Event, frontend: str, backend: str) -> str:
    """HAProxy 2.8 ``log-format`` with ``%{+json}o`` (named fields)."""
    srv = e.extra.get("server", "<NOSRV>") if e.upstream != "-" else "<NOSRV>"
    return _j(
        {
            "timestamp": iso_ms(b, e.t),
            "client_ip": e.client,
            "frontend_name": frontend,
            "backend_name": backend,
            "server_name": srv,
            "Tt": int(e.duration * 1000),
            "status_code": e.status,
            "bytes_read": e.size,
            "termination_state": e.extra.get("term", "----"),
            "http_request": f"{e.method} {e.path} HTTP/1.1",
        }
    )


def tier(
    b: Bundle,
    *,
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
    """Ordinary clients through one edge to ``ps`` (``web`` with defaults)."""
    return web(
        b,
        pods=ps,
        routes=routes,
        prefixes=list(prefixes),
        clients=clients,
        rate=rate,
        outcome=outcome,
        kind=kind,
        edge_labels=edge,
        **kwargs,
    )


def finish(site: Site, ns: str, app: str, container: str = "app", **kwargs: Any) -> None:
    """Publish the app side of a tier (RED, runtime, cAdvisor) and its pods' log lines."""
    site.apps(
        {"namespace": ns, "app": app},
        {"namespace": ns, "app": app, "container": container},
        namespace=ns,
        container=container,
        **kwargs,
    )


def periodic(
    b: Bundle, labels: Labels, lo: float, hi: float, line: Callable[[float], str], start: float = 0
) -> None:
    """A log line every ``lo``-``hi`` seconds from ``start`` to the end of the window."""
    for t in every(b, start, b.minutes, lo, hi):
        b.log(t, labels, line(t))


def step(at: float, before: float, after: float) -> F:
    return lambda m: after if m >= at else before


def between(lo: float, hi: float, inside: float, outside: float) -> F:
    return lambda m: inside if lo <= m < hi else outside


def rollout(
    addr: str, name: str, old: Sequence[str], new: Sequence[str], node: str, at: float, gap: float
) -> list[Pod]:
    """A rolling update: old pod ``k`` leaves at ``at + k*gap``, new pod ``k`` arrives 0.3
    min before; ``addr``/``node`` format over ``k`` (new pods get ``k + 10``)."""
    out: list[Pod] = []
    for k, s in enumerate(old):
        leave = at + k * gap

        def gone(m: float, leave: float = leave) -> bool:
            return m < leave

        out.append(Pod(addr.format(k=k + 1), f"{name}-{s}", node.format(k=k + 1), gone))
    for k, s in enumerate(new):
        come = at + k * gap - 0.3

        def here(m: float, come: float = come) -> bool:
            return m >= come

        out.append(Pod(addr.format(k=k + 11), f"{name}-{s}", node.format(k=k + 1), here))
    return out


def is_new(pods_: Sequence[Pod], i: int) -> bool:
    return i >= len(pods_) // 2


def pg_csv(b: Bundle, t: float, pid: int, level: str, code: str, msg: str, **kw: str) -> str:
    """PostgreSQL ``log_destination = csvlog`` (PostgreSQL 16 columns)."""
    d = b.dt(t)
    stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(t * 1000) % 1000:03d} UTC"

    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"' if s else ""

    cols = [
        stamp,
        kw.get("user", ""),
        kw.get("db", ""),
        str(pid),
        kw.get("host", ""),
        f"{int(t) - 86400:x}.{pid:x}",
        kw.get("line", "1"),
        kw.get("tag", ""),
        d.strftime("%Y-%m-%d 00:00:01 UTC"),
        "",
        "0",
        level,
        code,
        q(msg),
        q(kw.get("detail", "")),
        q(kw.get("hint", "")),
        "",
        "",
        "",
        "",
        "",
        "",
        q(kw.get("app", "")),
        q(kw.get("backend", "client backend")),
        "",
        "0",
    ]
    return ",".join(cols)
