"""Shared pieces of the second held-out set: one request model, RED metrics, process metrics.

Built on ``examples/incidents/holdout/kit.py`` (the independent bundle writer).
Each scenario keeps its own log formats; only the plumbing is shared here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from examples.incidents.holdout.kit import Bundle, pick_client


@dataclass(frozen=True)
class Req:
    """One request: when it arrived, who sent it, where it went and how it ended."""

    ts: float
    ip: str
    agent: str
    method: str
    path: str
    route: str
    instance: str
    status: int
    duration: float
    size: int
    edge: str = ""

    @property
    def done(self) -> float:
        return self.ts + self.duration


Route = tuple[str, str, float]  # method, route template, weight
Shape = Callable[[Req], Req]  # the scenario's story: rewrites status/duration of one request


def traffic(
    b: Bundle,
    *,
    rate: Callable[[float], float],
    pool: Sequence[tuple[str, str, float]],
    routes: Sequence[Route],
    instances: Sequence[str],
    fill: Callable[[str], str],
    median: float,
    shape: Shape,
    edges: Sequence[str] = ("",),
    base_errors: float = 0.001,
) -> list[Req]:
    """Ordinary traffic from ``pool``; ``shape`` applies the incident to each request."""
    rng = b.rng
    out = []
    weights = [w for *_, w in routes]
    for ts in b.arrivals(rate):
        ip, agent = pick_client(rng, pool)
        method, route, _ = rng.choices(routes, weights=weights)[0]
        status = 500 if rng.random() < base_errors else (404 if rng.random() < 0.004 else 200)
        req = Req(
            ts=ts,
            ip=ip,
            agent=agent,
            method=method,
            path=fill(route),
            route=route,
            instance=rng.choice(instances),
            status=status,
            duration=rng.lognormvariate(0.0, 0.45) * median,
            size=rng.randint(180, 9000),
            edge=rng.choice(edges),
        )
        out.append(shape(req))
    return out


def with_outcome(req: Req, *, status: int | None = None, duration: float | None = None) -> Req:
    return replace(
        req,
        status=req.status if status is None else status,
        duration=req.duration if duration is None else duration,
    )


def red_metrics(
    b: Bundle,
    *,
    labels: Mapping[str, str],
    times: Sequence[float],
    requests: Sequence[Req],
    code_label: str = "code",
    path_label: str = "handler",
    buckets: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
) -> None:
    """Prometheus-client style ``http_requests_total`` + duration histogram of one instance."""
    b.counter_from_events(
        "http_requests_total",
        "Total number of HTTP requests",
        times,
        (
            (
                r.done,
                {**labels, "method": r.method, path_label: r.route, code_label: str(r.status)},
                1,
            )
            for r in requests
        ),
        always=[{**labels, "method": "GET", path_label: "/healthz", code_label: "200"}],
    )
    b.histogram_from_events(
        "http_request_duration_seconds",
        "HTTP request latency",
        times,
        ((r.done, {**labels, path_label: r.route}, r.duration) for r in requests),
        buckets=buckets,
    )


def process_metrics(
    b: Bundle,
    *,
    labels: Mapping[str, str],
    times: Sequence[float],
    cpu: Callable[[float], float],
    rss: Callable[[float], float],
    started: float,
    resets: Sequence[float] = (),
) -> None:
    b.counter(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        labels,
        times,
        cpu,
        integer=False,
        noise=0.05,
        initial=0.0 if resets else b.rng.uniform(2000, 60000),
        resets=resets,
    )
    b.gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        labels,
        times,
        rss,
        noise=0.01,
        integer=True,
    )
    b.gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        labels,
        times,
        lambda t: max([started, *[r for r in resets if r <= t]]),
    )


def periodic(b: Bundle, *, every: float, jitter: float, begin: float | None = None) -> list[float]:
    """Times of a periodic background job, from the data start to the window end."""
    t = (b.data_start if begin is None else begin) + b.rng.uniform(0, every)
    out = []
    while t < b.end:
        out.append(t)
        t += every + b.rng.uniform(-jitter, jitter)
    return out
