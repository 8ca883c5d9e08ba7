"""A small, independent incident-bundle writer for the third held-out set.

Everything is driven by minutes since the window start (``m``, a float).  Requests are
simulated as events first; access logs, proxy counters and app RED metrics are all
derived from the same events so the three sources agree the way they do in a cluster.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

Labels = dict[str, str]
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _labels(labels: Labels) -> str:
    parts = []
    for key, value in labels.items():
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{escaped}"')
    return "{" + ",".join(parts) + "}" if parts else ""


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def ramp(m: float, start: float, end: float, low: float, high: float) -> float:
    """``low`` before ``start``, ``high`` after ``end``, linear in between."""
    if m <= start:
        return low
    if m >= end:
        return high
    return low + (high - low) * (m - start) / (end - start)


def window(m: float, start: float, end: float) -> bool:
    return start <= m < end


@dataclass
class Event:
    """One HTTP request as the edge saw it."""

    t: float  # epoch seconds
    client: str
    method: str
    path: str
    status: int
    duration: float
    upstream: str  # upstream address ("-" when none was picked)
    upstream_status: str
    agent: str
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Bundle:
    def __init__(
        self,
        name: str,
        start: str,
        *,
        description: str,
        symptom: dict[str, str],
        step: int = 15,
        minutes: int = 60,
    ) -> None:
        self.name = name
        self.description = description
        self.symptom = symptom
        self.rng = random.Random(zlib.crc32(name.encode()))
        self.start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        self.t0 = self.start.timestamp()
        self.step = step
        self.minutes = minutes
        self.steps = minutes * 60 // step
        self.families: dict[str, tuple[str, str, dict[str, list[tuple[float, float]]]]] = {}
        self.logs: list[tuple[float, Labels, str]] = []
        self.components: list[dict[str, Any]] = []

    # ---- time -------------------------------------------------------------------------
    def t(self, m: float) -> float:
        return self.t0 + m * 60.0

    def m(self, t: float) -> float:
        return (t - self.t0) / 60.0

    def dt(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    def scrape_times(self, labels: Labels) -> list[tuple[float, float]]:
        """(minute, timestamp) of every scrape of a target; each target has its own offset."""
        key = labels.get("instance", "") + labels.get("job", "")
        offset = (zlib.crc32(key.encode()) % 9000) / 10000.0 + 0.05
        return [
            (k * self.step / 60.0, round(self.t0 + k * self.step + offset, 3))
            for k in range(self.steps + 1)
        ]

    # ---- topology ---------------------------------------------------------------------
    def component(
        self, name: str, kind: str, selector: Labels, depends: Iterable[str] = ()
    ) -> None:
        entry: dict[str, Any] = {"name": name, "kind": kind, "selector": dict(selector)}
        if depends:
            entry["dependsOn"] = list(depends)
        self.components.append(entry)

    # ---- metrics ----------------------------------------------------------------------
    def _family(
        self, family: str, kind: str, help_text: str
    ) -> dict[str, list[tuple[float, float]]]:
        if family not in self.families:
            self.families[family] = (kind, help_text, {})
        known_kind = self.families[family][0]
        assert known_kind == kind, (family, known_kind, kind)
        return self.families[family][2]

    def _put(
        self,
        family: str,
        kind: str,
        help_text: str,
        sample: str,
        labels: Labels,
        points: list[tuple[float, float]],
    ) -> None:
        series = self._family(family, kind, help_text)
        key = sample + _labels({k: v for k, v in labels.items() if v != ""})
        assert key not in series, key
        series[key] = points

    def gauge(
        self,
        name: str,
        labels: Labels,
        fn: Callable[[float], float | None],
        help_text: str = "",
        kind: str = "gauge",
    ) -> None:
        points = []
        for m, ts in self.scrape_times(labels):
            value = fn(m)
            if value is not None:
                points.append((ts, float(value)))
        self._put(name, kind, help_text, name, labels, points)

    def untyped(
        self,
        name: str,
        labels: Labels,
        rate: Callable[[float], float | None],
        start: float = 0.0,
        help_text: str = "",
    ) -> None:
        """A counter the exporter exposes untyped (mysqld_exporter's generic global status)."""
        self._integrate(name, name, "unknown", labels, rate, start, help_text, integer=True)

    def counter(
        self,
        sample: str,
        labels: Labels,
        rate: Callable[[float], float | None],
        start: float = 0.0,
        help_text: str = "",
        integer: bool = True,
    ) -> None:
        """``rate`` is per second; ``None`` means the target was not scraped at that minute."""
        family = sample[: -len("_total")] if sample.endswith("_total") else sample
        self._integrate(family, sample, "counter", labels, rate, start, help_text, integer)

    def _integrate(
        self,
        family: str,
        sample: str,
        kind: str,
        labels: Labels,
        rate: Callable[[float], float | None],
        start: float,
        help_text: str,
        integer: bool,
    ) -> None:
        total, points, last = start, [], None
        for m, ts in self.scrape_times(labels):
            value = rate(m)
            if value is None:
                last = None
                continue
            if last is not None:
                total += max(0.0, value) * (ts - last) * self.rng.uniform(0.93, 1.07)
            last = ts
            points.append((ts, float(math.floor(total)) if integer else round(total, 6)))
        self._put(family, kind, help_text, sample, labels, points)

    def counter_steps(
        self,
        sample: str,
        labels: Labels,
        times: Iterable[float],
        start: float = 0.0,
        present: Callable[[float], bool] | None = None,
        weights: Iterable[float] | None = None,
        help_text: str = "",
        kind: str = "counter",
    ) -> None:
        """A counter that counts discrete events at epoch ``times`` (optionally weighted)."""
        family = sample[: -len("_total")] if sample.endswith("_total") else sample
        events = sorted(zip(times, weights or itertools.repeat(1.0), strict=False))
        points, total, i = [], start, 0
        for m, ts in self.scrape_times(labels):
            while i < len(events) and events[i][0] <= ts:
                total += events[i][1]
                i += 1
            if present is None or present(m):
                points.append((ts, round(total, 6)))
        self._put(family, kind, help_text, sample, labels, points)

    def histogram(
        self,
        family: str,
        labels: Labels,
        events: list[tuple[float, float]],
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
        present: Callable[[float], bool] | None = None,
        help_text: str = "",
    ) -> None:
        """Cumulative buckets from ``events`` = [(epoch, seconds)]."""
        events = sorted(events)
        cols: dict[str, list[tuple[float, float]]] = {str(le): [] for le in buckets}
        cols["+Inf"], sums, counts = [], [], []
        acc = [0] * (len(buckets) + 1)
        total_s, n, i = 0.0, 0, 0
        for m, ts in self.scrape_times(labels):
            while i < len(events) and events[i][0] <= ts:
                d = events[i][1]
                for j, le in enumerate(buckets):
                    if d <= le:
                        acc[j] += 1
                acc[-1] += 1
                total_s += d
                n += 1
                i += 1
            if present is not None and not present(m):
                continue
            for j, le in enumerate(buckets):
                cols[str(le)].append((ts, acc[j]))
            cols["+Inf"].append((ts, acc[-1]))
            sums.append((ts, round(total_s, 6)))
            counts.append((ts, n))
        for le, points in cols.items():
            self._put(
                family, "histogram", help_text, family + "_bucket", {**labels, "le": le}, points
            )
        self._put(family, "histogram", help_text, family + "_sum", labels, sums)
        self._put(family, "histogram", help_text, family + "_count", labels, counts)

    def summary_gc(
        self,
        labels: Labels,
        pause: Callable[[float], float],
        present: Callable[[float], bool] | None = None,
    ) -> None:
        """go_gc_duration_seconds as the Go client publishes it (a summary)."""
        family = "go_gc_duration_seconds"
        help_text = "A summary of the pause duration of garbage collection cycles."
        qs = {"0": 0.3, "0.25": 0.6, "0.5": 1.0, "0.75": 1.5, "1": 4.0}
        times = self.scrape_times(labels)
        keep = [(m, ts) for m, ts in times if present is None or present(m)]
        count, total = 0, 0.0
        sums, counts = [], []
        for m, ts in keep:
            cycles = self.rng.randint(3, 9)
            count += cycles
            total += cycles * pause(m)
            sums.append((ts, round(total, 6)))
            counts.append((ts, count))
        for q, factor in qs.items():
            points = [
                (ts, round(pause(m) * factor * self.rng.uniform(0.9, 1.1), 9)) for m, ts in keep
            ]
            self._put(family, "summary", help_text, family, {**labels, "quantile": q}, points)
        self._put(family, "summary", help_text, family + "_sum", labels, sums)
        self._put(family, "summary", help_text, family + "_count", labels, counts)

    # ---- common exporter noise ----------------------------------------------------------
    def runtime(
        self,
        labels: Labels,
        *,
        cpu: Callable[[float], float],
        rss: Callable[[float], float],
        goroutines: Callable[[float], float] | None = None,
        gc_pause: Callable[[float], float] | None = None,
        present: Callable[[float], bool] | None = None,
        go: bool = True,
    ) -> None:
        """process_* and go_* series of one target (cpu in cores, rss in bytes)."""
        rng = self.rng

        def gated(fn: Callable[[float], float]) -> Callable[[float], float | None]:
            return lambda m: fn(m) if present is None or present(m) else None

        self.counter(
            "process_cpu_seconds_total",
            labels,
            gated(cpu),
            help_text="Total user and system CPU time spent in seconds.",
            integer=False,
        )
        self.gauge(
            "process_resident_memory_bytes",
            labels,
            gated(lambda m: int(rss(m) * rng.uniform(0.995, 1.005))),
            "Resident memory size in bytes.",
        )
        self.gauge(
            "process_open_fds",
            labels,
            gated(lambda m: rng.randint(38, 61)),
            "Number of open file descriptors.",
        )
        if go:
            g = goroutines or (lambda m: 40.0)
            self.gauge(
                "go_goroutines",
                labels,
                gated(lambda m: int(g(m) + rng.randint(-3, 3))),
                "Number of goroutines that currently exist.",
            )
            self.summary_gc(labels, gc_pause or (lambda m: 0.00021), present)
            self.gauge(
                "go_memstats_heap_inuse_bytes",
                labels,
                gated(lambda m: int(rss(m) * 0.62 * rng.uniform(0.97, 1.03))),
                "Number of bytes in use by the heap.",
            )

    def promhttp_noise(self, labels: Labels, blip_at: float | None = None) -> None:
        """promhttp's own scrape counters; the code=500 one steps 0 -> 1 once."""
        self.counter(
            "promhttp_metric_handler_requests_total",
            {**labels, "code": "200"},
            lambda m: 1.0 / self.step,
            help_text="Total number of scrapes by HTTP status code.",
        )
        if blip_at is not None:
            self.counter_steps(
                "promhttp_metric_handler_requests_total",
                {**labels, "code": "500"},
                [self.t(blip_at)],
            )

    # ---- logs -------------------------------------------------------------------------
    def log(self, t: float, labels: Labels, line: str) -> None:
        self.logs.append((t, dict(labels), line))

    def arrivals(
        self, rate: Callable[[float], float], start: float = 0.0, end: float | None = None
    ) -> list[float]:
        """Poisson arrival epochs between minutes ``start`` and ``end`` at ``rate(m)`` per s."""
        end = self.minutes if end is None else end
        t, stop, out = self.t(start), self.t(end), []
        while True:
            r = max(rate(self.m(t)), 1e-3)
            t += self.rng.expovariate(r)
            if t >= stop:
                return out
            if rate(self.m(t)) > 0:
                out.append(t)

    # ---- output -----------------------------------------------------------------------
    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        end = self.start + timedelta(minutes=self.minutes)
        incident = {
            "format": "incident-bundle/v1",
            "name": self.name,
            "description": self.description,
            "window": {
                "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "symptom": self.symptom,
            "topology": {"components": self.components},
        }
        (folder / "incident.yaml").write_text(
            yaml.safe_dump(incident, sort_keys=False), encoding="utf-8"
        )
        out: list[str] = []
        for family, (kind, help_text, series) in self.families.items():
            out.append(f"# TYPE {family} {kind}")
            if help_text:
                out.append(f"# HELP {family} {help_text}")
            for key, points in series.items():
                out.extend(f"{key} {_fmt(v)} {ts:.3f}" for ts, v in points)
        out.append("# EOF")
        (folder / "metrics.om").write_text("\n".join(out) + "\n", encoding="utf-8")
        rows = []
        for t, labels, line in sorted(self.logs, key=lambda e: (e[0], sorted(e[1].items()), e[2])):
            stamp = self.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows.append(
                json.dumps(
                    {"ts": stamp, "labels": labels, "line": line},
                    separators=(",", ":"),
                    ensure_ascii=False,
                )
            )
        (folder / "logs.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        return folder


# ---- log line formats ------------------------------------------------------------------
def clf_time(b: Bundle, t: float) -> str:
    return b.dt(t).strftime("%d/%b/%Y:%H:%M:%S +0000")


def nginx_line(b: Bundle, e: Event) -> str:
    """nginx combined plus timings, as many shops configure it."""
    return (
        f'{e.client} - - [{clf_time(b, e.t)}] "{e.method} {e.path} HTTP/1.1" {e.status} '
        f'{e.size} "-" "{e.agent}" rt={e.duration:.3f} uct="-" '
        f'urt="{e.extra.get("urt", "-")}" ua="{e.upstream}" us="{e.upstream_status}"'
    )


def ingress_line(b: Bundle, e: Event, upstream_name: str) -> str:
    """ingress-nginx's default log-format-upstream."""
    rid = f"{b.rng.getrandbits(128):032x}"
    urt = e.extra.get("urt", "-")
    return (
        f'{e.client} - - [{clf_time(b, e.t)}] "{e.method} {e.path} HTTP/2.0" {e.status} '
        f'{e.size} "-" "{e.agent}" {b.rng.randint(40, 420)} {e.duration:.3f} '
        f"[{upstream_name}] [] {e.upstream} {e.size if e.upstream != '-' else '-'} {urt} "
        f"{e.upstream_status} {rid}"
    )


def envoy_line(b: Bundle, e: Event, host: str) -> str:
    """Envoy's default access log format."""
    stamp = b.dt(e.t).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(e.t * 1000) % 1000:03d}Z"
    flags = e.extra.get("flags", "-")
    up_ms = "-" if e.upstream == "-" else str(int(e.duration * 1000))
    a, b2, c, d, e5 = (b.rng.getrandbits(n) for n in (32, 16, 12, 12, 48))
    rid = f"{a:08x}-{b2:04x}-4{c:03x}-a{d:03x}-{e5:012x}"
    return (
        f'[{stamp}] "{e.method} {e.path} HTTP/1.1" {e.status} {flags} 0 {e.size} '
        f'{int(e.duration * 1000)} {up_ms} "{e.client}" "{e.agent}" "{rid}" "{host}" '
        f'"{e.upstream}"'
    )


def json_access_line(b: Bundle, e: Event) -> str:
    """A Traefik-like JSON access log."""
    return json.dumps(
        {
            "ClientHost": e.client,
            "RequestMethod": e.method,
            "RequestPath": e.path,
            "DownstreamStatus": e.status,
            "Duration": int(e.duration * 1e9),
            "OriginStatus": int(e.upstream_status) if e.upstream_status.isdigit() else 0,
            "ServiceAddr": e.upstream if e.upstream != "-" else "",
            "request_User-Agent": e.agent,
            "time": b.dt(e.t).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        separators=(",", ":"),
    )


USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "okhttp/4.12.0",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A)",
)


def client_pool(b: Bundle, prefixes: list[str], n: int) -> list[str]:
    """``n`` ordinary client addresses spread over the given prefixes ("a.b.c." or "2001:db8::")."""
    out = set()
    while len(out) < n:
        p = b.rng.choice(prefixes)
        if ":" in p:
            out.add(f"{p}{b.rng.randint(1, 0xFFFF):x}:{b.rng.randint(1, 0xFFFF):x}")
        else:
            out.add(f"{p}{b.rng.randint(2, 253)}")
    return sorted(out)


def pick_clients(b: Bundle, pool: list[str]) -> Callable[[], str]:
    """Zipf-ish choice: a few busy users, a long tail."""
    cum = list(itertools.accumulate(1.0 / (i + 3) for i in range(len(pool))))
    order = pool[:]
    b.rng.shuffle(order)
    return lambda: b.rng.choices(order, cum_weights=cum)[0]


def lognormal(b: Bundle, median: float, sigma: float = 0.45) -> float:
    return median * math.exp(b.rng.gauss(0.0, sigma))
