"""Building blocks for the incident-bundle generators.

Everything is driven by one ``random.Random(seed)`` so a scenario always writes
the same bytes.  A scenario simulates requests through a proxy to app
instances, derives the proxy's and the app's metrics from those same requests
(so log-derived and metric-derived signals agree), adds database and cache
exporter metrics from time profiles, and writes the three bundle files.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import yaml

STEP = 15.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def epoch(text: str) -> float:
    """``2025-12-11T08:30:00Z`` -> epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rfc3339(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def clock(seconds: float, pattern: str) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(pattern)


def ramp(t: float, start: float, full: float) -> float:
    """0 before ``start``, rising linearly to 1 at ``full``, 1 after."""
    if t <= start:
        return 0.0
    if t >= full:
        return 1.0
    return (t - start) / (full - start)


def bump(t: float, start: float, full: float, fade_from: float, gone: float) -> float:
    """0 -> 1 between start and full, 1 until fade_from, back to 0 at gone."""
    return ramp(t, start, full) * (1.0 - ramp(t, fade_from, gone))


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 6))


def format_stamp(seconds: float) -> str:
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.3f}"


def label_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    parts = []
    for name, value in labels.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{name}="{escaped}"')
    return "{" + ",".join(parts) + "}"


@dataclass
class Family:
    name: str
    type: str
    help: str
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class ComponentDecl:
    name: str
    kind: str
    selector: Mapping[str, str]
    depends_on: Sequence[str] = ()


class BundleWriter:
    """Collects families and log entries, then writes the bundle folder."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        window: tuple[str, str],
        symptom: Mapping[str, str] | None,
        components: Sequence[ComponentDecl],
    ) -> None:
        self.name = name
        self.description = description
        self.window = window
        self.symptom = symptom
        self.components = components
        self.families: dict[str, Family] = {}
        self.entries: list[tuple[float, Mapping[str, str], str]] = []

    def family(self, name: str, type_: str, help_: str) -> Family:
        found = self.families.get(name)
        if found is None:
            found = Family(name=name, type=type_, help=help_)
            self.families[name] = found
        return found

    def add_series(
        self,
        family: str,
        labels: Mapping[str, str],
        points: Iterable[tuple[float, float]],
        *,
        sample: str | None = None,
    ) -> None:
        key = (sample or family, tuple(labels.items()))
        self.families[family].series.setdefault(key, []).extend(points)

    def gauge(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Sequence[float],
        value: Callable[[float], float],
    ) -> None:
        self.family(name, "gauge", help_)
        self.add_series(name, labels, [(t, value(t)) for t in times])

    def counter(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Sequence[float],
        increment: Callable[[float], float],
        *,
        start: float = 0.0,
    ) -> None:
        """A ``_total`` counter whose increase over each step is ``increment(t)``."""
        family = name.removesuffix("_total")
        self.family(family, "counter", help_)
        total = start
        points = []
        for t in times:
            total += max(0.0, increment(t))
            points.append((t, total))
        self.add_series(family, labels, points, sample=family + "_total")

    def log(self, ts: float, labels: Mapping[str, str], line: str) -> None:
        self.entries.append((ts, labels, line))

    def write(self, folder: Path, *, sort_logs: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "incident.yaml").write_text(self._incident_yaml(), encoding="utf-8")
        with (folder / "metrics.om").open("w", encoding="utf-8", newline="\n") as handle:
            for family in self.families.values():
                handle.write(f"# HELP {family.name} {family.help}\n")
                handle.write(f"# TYPE {family.name} {family.type}\n")
                for (sample, labels), points in family.series.items():
                    head = sample + label_text(dict(labels))
                    handle.writelines(
                        f"{head} {format_value(value)} {format_stamp(ts)}\n" for ts, value in points
                    )
            handle.write("# EOF\n")
        entries = sorted(self.entries, key=lambda entry: entry[0]) if sort_logs else self.entries
        with (folder / "logs.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
            for ts, entry_labels, line in entries:
                record = {"ts": rfc3339(ts), "labels": dict(entry_labels), "line": line}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return folder

    def _incident_yaml(self) -> str:
        document: dict[str, Any] = {
            "format": "incident-bundle/v1",
            "name": self.name,
            "description": self.description,
            "window": {"start": self.window[0], "end": self.window[1]},
        }
        if self.symptom:
            document["symptom"] = dict(self.symptom)
        document["topology"] = {
            "components": [
                {
                    "name": component.name,
                    "kind": component.kind,
                    "selector": dict(component.selector),
                    **({"dependsOn": list(component.depends_on)} if component.depends_on else {}),
                }
                for component in self.components
            ]
        }
        return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def sample_times(start: float, end: float, step: float = STEP) -> list[float]:
    count = int((end - start) // step)
    return [start + index * step for index in range(count + 1)]


# ------------------------------------------------------------------- web traffic


@dataclass
class Request:
    ts: float  # when the response was logged
    client: str
    method: str
    path: str
    status: int
    size: int
    request_time: float
    upstream: str | None
    upstream_status: str
    user_agent: str
    referer: str = "-"
    route: str = ""


@dataclass(frozen=True)
class Outcome:
    status: int
    request_time: float
    upstream_status: str | None = None  # defaults to str(status)


Behaviour = Callable[[random.Random, str, float, str], Outcome]

BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "okhttp/4.12.0",
    "shop-ios/5.14.2 CFNetwork/1474 Darwin/23.0.0",
)


def client_pool(rng: random.Random, prefixes: Sequence[str], count: int) -> list[str]:
    pool: set[str] = set()
    while len(pool) < count:
        prefix = rng.choice(prefixes)
        pool.add(f"{prefix}.{rng.randint(2, 254)}")
    return sorted(pool)


def baseline_latency(rng: random.Random, median: float) -> float:
    return round(median * math.exp(rng.gauss(0.0, 0.45)), 3)


def simulate_traffic(
    rng: random.Random,
    *,
    start: float,
    end: float,
    rate: Callable[[float], float],
    clients: Sequence[str],
    routes: Sequence[tuple[str, str, float, int]],
    upstreams: Sequence[str],
    behaviour: Behaviour,
) -> list[Request]:
    """Poisson arrivals; ``routes`` holds (method, path, weight, typical size)."""
    requests: list[Request] = []
    weights = [route[2] for route in routes]
    t = start
    turn = 0
    heavy = clients[: max(1, len(clients) // 10)]
    while True:
        t += rng.expovariate(max(rate(t), 1e-6))
        if t >= end:
            break
        method, path, _, size = rng.choices(routes, weights)[0]
        upstream = upstreams[turn % len(upstreams)]
        turn += 1
        client = rng.choice(heavy) if rng.random() < 0.3 else rng.choice(clients)
        if path == "/favicon.ico" or rng.random() < 0.004:
            missing = (
                path
                if path == "/favicon.ico"
                else rng.choice(
                    ("/wp-login.php", "/.env", "/api/v1/legacy", "/robots.txt", "/admin/config.php")
                )
            )
            requests.append(
                Request(
                    ts=t,
                    client=client,
                    method="GET",
                    path=missing,
                    status=404,
                    size=153,
                    request_time=round(rng.uniform(0.0, 0.003), 3),
                    upstream=None,
                    upstream_status="-",
                    user_agent=rng.choice(BROWSER_AGENTS),
                    route="",
                )
            )
            continue
        outcome = behaviour(rng, upstream, t, path)
        status = outcome.status
        requests.append(
            Request(
                ts=t + outcome.request_time,
                client=client,
                method=method,
                path=path,
                status=status,
                size=size + rng.randint(-40, 40) if status < 400 else rng.choice((157, 166, 552)),
                request_time=outcome.request_time,
                upstream=f"{upstream}",
                upstream_status=outcome.upstream_status or str(status),
                user_agent=rng.choice(BROWSER_AGENTS),
                route=path,
            )
        )
    return requests


def nginx_combined(request: Request) -> str:
    """nginx ``log_format main`` + request_time and upstream fields."""
    local = clock(request.ts, "%d/%b/%Y:%H:%M:%S +0000")
    upstream = request.upstream or "-"
    return (
        f'{request.client} - - [{local}] "{request.method} {request.path} HTTP/1.1" '
        f'{request.status} {request.size} "{request.referer}" "{request.user_agent}" '
        f'rt={request.request_time:.3f} ua="{upstream}" us="{request.upstream_status}"'
    )


def nginx_json(request: Request) -> str:
    """nginx ``log_format json escape=json`` as many teams configure it."""
    return json.dumps(
        {
            "time": clock(request.ts, "%Y-%m-%dT%H:%M:%S+00:00"),
            "remote_addr": request.client,
            "request_method": request.method,
            "request_uri": request.path,
            "status": request.status,
            "body_bytes_sent": request.size,
            "request_time": round(request.request_time, 3),
            "upstream_addr": request.upstream or "",
            "upstream_status": request.upstream_status if request.upstream else "",
            "http_user_agent": request.user_agent,
        },
        separators=(",", ":"),
    )


def ingress_nginx(request: Request, *, namespace: str, service: str, rng: random.Random) -> str:
    """ingress-nginx's default ``log-format-upstream``."""
    local = clock(request.ts, "%d/%b/%Y:%H:%M:%S +0000")
    upstream = request.upstream or "-"
    request_id = f"{rng.getrandbits(128):032x}"
    upstream_time = f"{max(0.0, request.request_time - 0.001):.3f}" if request.upstream else "-"
    return (
        f'{request.client} - - [{local}] "{request.method} {request.path} HTTP/1.1" '
        f'{request.status} {request.size} "{request.referer}" "{request.user_agent}" '
        f"{rng.randint(300, 900)} {request.request_time:.3f} [{namespace}-{service}-80] [] "
        f"{upstream} {request.size if request.upstream else '-'} {upstream_time} "
        f"{request.upstream_status} {request_id}"
    )


def proxy_metrics_nginx(
    writer: BundleWriter,
    requests: Sequence[Request],
    labels: Mapping[str, str],
    times: Sequence[float],
) -> None:
    """nginx-vts style ``nginx_http_requests_total{status}`` plus connection gauges."""
    statuses = sorted({request.status for request in requests} | {200, 404, 502})
    writer.family("nginx_http_requests", "counter", "Total HTTP requests by status code.")
    by_status = _bin_counts(requests, times, key=lambda request: str(request.status))
    for status in statuses:
        counts = by_status.get(str(status), [0] * len(times))
        writer.add_series(
            "nginx_http_requests",
            {**labels, "status": str(status)},
            _cumulate(times, counts),
            sample="nginx_http_requests_total",
        )
    in_flight = _in_flight(requests, times)
    writer.gauge(
        "nginx_connections_active",
        "Active client connections.",
        labels,
        times,
        lambda t: 40 + in_flight[times.index(t)] * 3,
    )


def proxy_metrics_ingress(
    writer: BundleWriter,
    requests: Sequence[Request],
    labels: Mapping[str, str],
    times: Sequence[float],
) -> None:
    """ingress-nginx controller metrics: requests by status and a latency histogram."""
    writer.family(
        "nginx_ingress_controller_requests", "counter", "The total number of client requests."
    )
    by_status = _bin_counts(requests, times, key=lambda request: str(request.status))
    for status in sorted(by_status):
        writer.add_series(
            "nginx_ingress_controller_requests",
            {**labels, "status": status},
            _cumulate(times, by_status[status]),
            sample="nginx_ingress_controller_requests",
        )
    _histogram(
        writer,
        "nginx_ingress_controller_request_duration_seconds",
        "The request processing time in seconds.",
        requests,
        labels,
        times,
    )


def app_metrics(
    writer: BundleWriter,
    requests: Sequence[Request],
    instances: Mapping[str, Mapping[str, str]],
    times: Sequence[float],
    *,
    job: str,
    cpu: Callable[[str, float], float],
    memory: Callable[[str, float], float] | None = None,
) -> None:
    """RED metrics per instance from the requests the proxy sent it, plus CPU.

    ``instances`` maps the proxy's upstream address to the instance's labels.
    Requests the app never answered (the proxy logged 502/504 itself) are not
    counted by the app.
    """
    writer.family("http_requests", "counter", "Total HTTP requests handled.")
    writer.family("http_request_duration_seconds", "histogram", "HTTP request latency in seconds.")
    for upstream, labels in instances.items():
        answered = [
            request
            for request in requests
            if request.upstream == upstream and request.upstream_status not in ("502", "504", "-")
        ]
        keyed = _bin_counts(
            answered,
            times,
            key=lambda request: f"{request.upstream_status}|{request.method}|{request.route}",
        )
        for key in sorted(keyed):
            code, method, route = key.split("|")
            writer.add_series(
                "http_requests",
                {**labels, "code": code, "method": method, "route": route},
                _cumulate(times, keyed[key]),
                sample="http_requests_total",
            )
        routes = sorted({request.route for request in answered})
        for route in routes:
            _histogram_into(
                writer,
                "http_request_duration_seconds",
                [request for request in answered if request.route == route],
                {**labels, "route": route},
                times,
            )
    for labels in instances.values():
        instance = labels["instance"]
        writer.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            partial(_cpu_increment, cpu, instance),
            start=1800.0,
        )
        if memory is not None:
            writer.gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                labels,
                times,
                partial(_rounded, memory, instance),
            )


def _cpu_increment(cpu: Callable[[str, float], float], instance: str, t: float) -> float:
    """CPU seconds one instance spends in the step at ``t``."""
    return cpu(instance, t) * STEP


def _rounded(series: Callable[[str, float], float], instance: str, t: float) -> int:
    return round(series(instance, t))


def _bin_counts(
    requests: Sequence[Request], times: Sequence[float], *, key: Callable[[Request], str]
) -> dict[str, list[int]]:
    """Requests per (previous sample, sample] interval, by key."""
    first = times[0]
    counts: dict[str, list[int]] = {}
    for request in requests:
        index = math.ceil((request.ts - first) / STEP)
        if index < 0:
            index = 0
        if index >= len(times):
            continue
        counts.setdefault(key(request), [0] * len(times))[index] += 1
    return counts


def _cumulate(
    times: Sequence[float], counts: Sequence[int], start: int = 0
) -> list[tuple[float, float]]:
    total = start
    points = []
    for t, count in zip(times, counts, strict=True):
        total += count
        points.append((t, float(total)))
    return points


def _in_flight(requests: Sequence[Request], times: Sequence[float]) -> list[int]:
    busy = [0] * len(times)
    first = times[0]
    for request in requests:
        began = request.ts - request.request_time
        low = max(0, math.ceil((began - first) / STEP))
        high = min(len(times) - 1, math.floor((request.ts - first) / STEP))
        for index in range(low, high + 1):
            busy[index] += 1
    return busy


def _histogram(
    writer: BundleWriter,
    family: str,
    help_: str,
    requests: Sequence[Request],
    labels: Mapping[str, str],
    times: Sequence[float],
) -> None:
    writer.family(family, "histogram", help_)
    _histogram_into(writer, family, requests, labels, times)


def _histogram_into(
    writer: BundleWriter,
    family: str,
    requests: Sequence[Request],
    labels: Mapping[str, str],
    times: Sequence[float],
) -> None:
    first = times[0]
    steps = len(times)
    buckets = [[0] * steps for _ in range(len(LATENCY_BUCKETS) + 1)]
    sums = [0.0] * steps
    for request in requests:
        index = max(0, math.ceil((request.ts - first) / STEP))
        if index >= steps:
            continue
        sums[index] += request.request_time
        for position, bound in enumerate(LATENCY_BUCKETS):
            if request.request_time <= bound:
                buckets[position][index] += 1
        buckets[-1][index] += 1
    for position, bound in enumerate((*LATENCY_BUCKETS, math.inf)):
        le = "+Inf" if math.isinf(bound) else repr(bound)
        writer.add_series(
            family,
            {**labels, "le": le},
            _cumulate(times, buckets[position]),
            sample=family + "_bucket",
        )
    total = 0.0
    sum_points = []
    for t, value in zip(times, sums, strict=True):
        total += value
        sum_points.append((t, round(total, 3)))
    writer.add_series(family, labels, sum_points, sample=family + "_sum")
    writer.add_series(family, labels, _cumulate(times, buckets[-1]), sample=family + "_count")


def noisy(rng: random.Random, value: float, spread: float = 0.08) -> float:
    return max(0.0, value * (1.0 + rng.gauss(0.0, spread)))


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def jittered(
    rng: random.Random, fn: Callable[[float], float], spread: float = 0.08
) -> Callable[[float], float]:
    """Wrap ``fn`` with multiplicative noise drawn once per call (calls are in time order)."""
    return lambda t: noisy(rng, fn(t), spread)


def json_line(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
