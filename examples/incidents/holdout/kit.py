"""A small, independent bundle writer for the held-out scenarios.

Written separately from ``examples/incidents/sim.py`` on purpose: scrape
timestamps carry per-target millisecond jitter, targets can start late or
restart (counter resets), histograms and summaries are written with their real
sample names, and the request-level traffic model is separate from the log
formats so each scenario picks its own.  Everything is driven by one
``random.Random(seed)``: the same scenario always writes the same bytes.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

Labels = tuple[tuple[str, str], ...]
DEFAULT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso_ms(seconds: float) -> str:
    moment = utc(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_us(seconds: float) -> str:
    return utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ramp(t: float, start: float, full: float) -> float:
    if t <= start:
        return 0.0
    if t >= full:
        return 1.0
    return (t - start) / (full - start)


def window(t: float, start: float, full: float, fade: float, gone: float) -> float:
    return ramp(t, start, full) * (1.0 - ramp(t, fade, gone))


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value)}"
    return f"{value:.6g}" if abs(value) < 1e-3 else f"{round(value, 6)}"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), chr(92) + "n")}"'
        for k, v in labels
    )
    return "{" + body + "}"


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class Component:
    name: str
    kind: str
    selector: Mapping[str, str]
    depends_on: Sequence[str] = ()


@dataclass
class _Family:
    kind: str
    help: str
    series: dict[tuple[str, Labels], list[tuple[float, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One request as the edge saw it; proxies, apps and logs are derived from these."""

    ts: float
    client: str
    method: str
    path: str
    status: int
    duration: float
    upstream: str | None
    agent: str
    size: int
    upstream_status: int | None = None
    flags: str = "-"
    request_id: str = ""


class Bundle:
    def __init__(
        self,
        *,
        name: str,
        description: str,
        start: str,
        end: str,
        components: Sequence[Component],
        seed: int,
        symptom: Mapping[str, str] | None = None,
        step: float = 15.0,
        lead: float = 600.0,
    ) -> None:
        self.name = name
        self.description = description
        self.start_text, self.end_text = start, end
        self.start, self.end = epoch(start), epoch(end)
        self.components = components
        self.symptom = symptom
        self.rng = random.Random(seed)
        self.step = step
        self.data_start = self.start - lead
        self._families: dict[str, _Family] = {}
        self._logs: list[tuple[float, dict[str, str], str]] = []

    # --- time ---------------------------------------------------------------------
    def at(self, clock: str) -> float:
        """``HH:MM[:SS]`` on the window's start date (or the next day if earlier)."""
        day = self.start_text[:10]
        parts = clock.split(":")
        text = f"{day}T{int(parts[0]):02d}:{int(parts[1]):02d}:{int(parts[2]) if len(parts) > 2 else 0:02d}Z"
        value = epoch(text)
        return value + 86400 if value < self.start - 43200 else value

    def scrapes(
        self,
        target: str,
        *,
        step: float | None = None,
        begin: float | None = None,
        until: float | None = None,
    ) -> list[float]:
        """Scrape times of one target: a fixed per-target phase plus a few ms of jitter."""
        every = step or self.step
        phase = (zlib.crc32(target.encode()) % int(every * 1000)) / 1000.0
        t = (begin if begin is not None else self.data_start) + phase
        stop = until if until is not None else self.end
        out = []
        while t <= stop:
            out.append(round(t + self.rng.uniform(0.0, 0.04), 3))
            t += every
        return out

    # --- metrics ------------------------------------------------------------------
    def _family(self, name: str, kind: str, help_: str) -> _Family:
        found = self._families.get(name)
        if found is None:
            found = _Family(kind=kind, help=help_)
            self._families[name] = found
        elif found.kind != kind:
            raise ValueError(f"family {name} is {found.kind}, not {kind}")
        return found

    def _put(
        self, family: _Family, sample: str, labels: Mapping[str, str], ts: float, value: float
    ) -> None:
        family.series.setdefault((sample, tuple(labels.items())), []).append((ts, value))

    def gauge(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Iterable[float],
        value: Callable[[float], float],
        *,
        noise: float = 0.0,
        integer: bool = False,
    ) -> None:
        fam = self._family(name, "gauge", help_)
        for t in times:
            v = value(t)
            if noise and not math.isnan(v):
                v *= 1.0 + self.rng.gauss(0.0, noise)
            v = max(v, 0.0) if not math.isnan(v) else v
            self._put(fam, name, labels, t, float(round(v)) if integer else v)

    def counter(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Sequence[float],
        rate: Callable[[float], float],
        *,
        noise: float = 0.08,
        integer: bool = True,
        initial: float = 0.0,
        resets: Sequence[float] = (),
    ) -> None:
        """``name`` ends in ``_total``; ``rate(t)`` is per second; ``resets`` restart it at 0."""
        if not name.endswith("_total"):
            raise ValueError(name)
        fam = self._family(name[: -len("_total")], "counter", help_)
        total = initial
        previous = times[0] if times else 0.0
        pending = sorted(resets)
        for t in times:
            if pending and t >= pending[0]:
                pending.pop(0)
                total = 0.0
            dt = t - previous
            previous = t
            inc = max(0.0, rate(t) * dt * (1.0 + self.rng.gauss(0.0, noise)))
            total += round(inc) if integer else inc
            self._put(fam, name, labels, t, total)

    def counter_from_events(
        self,
        name: str,
        help_: str,
        times: Sequence[float],
        events: Iterable[tuple[float, Mapping[str, str], float]],
        *,
        always: Sequence[Mapping[str, str]] = (),
        kind: str = "counter",
    ) -> None:
        """Cumulative counters from ``(ts, labels, amount)`` events; one series per label set.

        ``kind="unknown"`` writes a counter the way an exporter without ``_total``
        names (Envoy, HAProxy) ends up in OpenMetrics: untyped, under its own name.
        """
        fam = self._family(name[: -len("_total")] if kind == "counter" else name, kind, help_)
        grouped: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
        for labels in always:
            grouped[tuple(labels.items())]
        for ts, labels, amount in events:
            grouped[tuple(labels.items())].append((ts, amount))
        for key, items in grouped.items():
            items.sort()
            total, index = 0.0, 0
            for t in times:
                while index < len(items) and items[index][0] <= t:
                    total += items[index][1]
                    index += 1
                self._put(fam, name, dict(key), t, round(total, 6))

    def histogram_from_events(
        self,
        name: str,
        help_: str,
        times: Sequence[float],
        events: Iterable[tuple[float, Mapping[str, str], float]],
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        le_format: Callable[[float], str] = lambda le: f"{le}",
    ) -> None:
        """A histogram from ``(ts, labels, observed seconds)`` events."""
        fam = self._family(name, "histogram", help_)
        grouped: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
        for ts, labels, value in events:
            grouped[tuple(labels.items())].append((ts, value))
        for key, items in grouped.items():
            items.sort()
            counts = [0] * (len(buckets) + 1)
            total_sum, index = 0.0, 0
            rows: list[tuple[float, list[int], float]] = []
            for t in times:
                while index < len(items) and items[index][0] <= t:
                    value = items[index][1]
                    total_sum += value
                    for i, le in enumerate(buckets):
                        if value <= le:
                            counts[i] += 1
                    counts[-1] += 1
                    index += 1
                rows.append((t, list(counts), total_sum))
            base = dict(key)
            for i, le in enumerate([*buckets, math.inf]):
                le_text = "+Inf" if math.isinf(le) else le_format(le)
                for t, c, _ in rows:
                    self._put(fam, f"{name}_bucket", {**base, "le": le_text}, t, c[i])
            for t, _, s in rows:
                self._put(fam, f"{name}_sum", base, t, round(s, 6))
            for t, c, _ in rows:
                self._put(fam, f"{name}_count", base, t, c[-1])

    def histogram(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Sequence[float],
        rate: Callable[[float], float],
        median: Callable[[float], float],
        *,
        sigma: float = 0.5,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        """A log-normal latency histogram from a request rate and a median per time."""
        fam = self._family(name, "histogram", help_)
        counts = [0.0] * (len(buckets) + 1)
        total_sum = 0.0
        previous = times[0] if times else 0.0
        rows = []
        for t in times:
            n = max(0.0, round(rate(t) * (t - previous) * (1.0 + self.rng.gauss(0.0, 0.06))))
            previous = t
            m = median(t)
            for i, le in enumerate(buckets):
                counts[i] += round(n * _phi((math.log(le) - math.log(m)) / sigma))
            counts[-1] += n
            total_sum += n * m * math.exp(sigma * sigma / 2.0)
            rows.append((t, list(counts), total_sum))
        for i, le in enumerate([*buckets, math.inf]):
            le_text = "+Inf" if math.isinf(le) else f"{le}"
            for t, c, _ in rows:
                self._put(fam, f"{name}_bucket", {**labels, "le": le_text}, t, c[i])
        for t, _, s in rows:
            self._put(fam, f"{name}_sum", labels, t, round(s, 4))
        for t, c, _ in rows:
            self._put(fam, f"{name}_count", labels, t, c[-1])

    def summary(
        self,
        name: str,
        help_: str,
        labels: Mapping[str, str],
        times: Sequence[float],
        rate: Callable[[float], float],
        median: Callable[[float], float],
        *,
        sigma: float = 0.5,
    ) -> None:
        fam = self._family(name, "summary", help_)
        total_sum, total_count, previous = 0.0, 0.0, times[0] if times else 0.0
        z = {"0.5": 0.0, "0.9": 1.2816, "0.99": 2.3263}
        rows = []
        for t in times:
            n = max(0.0, round(rate(t) * (t - previous) * (1.0 + self.rng.gauss(0.0, 0.06))))
            previous = t
            m = median(t) * (1.0 + self.rng.gauss(0.0, 0.05))
            total_count += n
            total_sum += n * m * math.exp(sigma * sigma / 2.0)
            rows.append((t, m, total_sum, total_count))
        for q, zq in z.items():
            for t, m, _, _ in rows:
                self._put(
                    fam, name, {**labels, "quantile": q}, t, round(m * math.exp(sigma * zq), 5)
                )
        for t, _, s, _ in rows:
            self._put(fam, f"{name}_sum", labels, t, round(s, 4))
        for t, _, _, c in rows:
            self._put(fam, f"{name}_count", labels, t, c)

    # --- logs ---------------------------------------------------------------------
    def log(self, ts: float, labels: Mapping[str, str], line: str) -> None:
        self._logs.append((ts, dict(labels), line))

    # --- traffic ------------------------------------------------------------------
    def arrivals(
        self,
        rate: Callable[[float], float],
        *,
        begin: float | None = None,
        until: float | None = None,
    ) -> list[float]:
        """Poisson arrival times with a time-varying rate (per second), thinned per second."""
        out: list[float] = []
        t = int(begin if begin is not None else self.data_start)
        stop = until if until is not None else self.end
        while t < stop:
            lam = max(0.0, rate(t))
            n = self._poisson(lam)
            out.extend(sorted(t + self.rng.random() for _ in range(n)))
            t += 1
        return out

    def _poisson(self, lam: float) -> int:
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def request_id(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(32))

    # --- output -------------------------------------------------------------------
    def write(self, folder: str | Path, *, shuffle_logs: bool = False) -> Path:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / "incident.yaml").write_text(self._incident(), encoding="utf-8")
        with (target / "metrics.om").open("w", encoding="utf-8", newline="\n") as out:
            for name, fam in self._families.items():
                out.write(f"# TYPE {name} {fam.kind}\n")
                out.write(f"# HELP {name} {fam.help}\n")
                for (sample, labels), points in fam.series.items():
                    head = sample + _labels(labels)
                    out.writelines(f"{head} {_number(v)} {ts:.3f}\n" for ts, v in points)
            out.write("# EOF\n")
        entries = list(self._logs)
        if shuffle_logs:
            # Promtail ships per stream, so lines arrive grouped by stream, not by time.
            entries.sort(key=lambda e: (sorted(e[1].items()), e[0]))
        else:
            entries.sort(key=lambda e: e[0])
        with (target / "logs.jsonl").open("w", encoding="utf-8", newline="\n") as out:
            for ts, labels, line in entries:
                out.write(
                    json.dumps(
                        {"ts": iso_us(ts), "labels": labels, "line": line}, ensure_ascii=False
                    )
                    + "\n"
                )
        return target

    def _incident(self) -> str:
        doc: dict[str, Any] = {
            "format": "incident-bundle/v1",
            "name": self.name,
            "description": self.description,
            "window": {"start": self.start_text, "end": self.end_text},
        }
        if self.symptom:
            doc["symptom"] = dict(self.symptom)
        comps = []
        for c in self.components:
            entry: dict[str, Any] = {"name": c.name, "kind": c.kind, "selector": dict(c.selector)}
            if c.depends_on:
                entry["dependsOn"] = list(c.depends_on)
            comps.append(entry)
        doc["topology"] = {"components": comps}
        return yaml.safe_dump(doc, sort_keys=False)


# --- shared vocabulary ------------------------------------------------------------------

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "okhttp/4.12.0",
    "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)",
)


def client_pool(
    rng: random.Random, makers: Sequence[Callable[[random.Random], str]], count: int
) -> list[tuple[str, str, float]]:
    """``count`` distinct clients ``(ip, agent, weight)`` with a heavy-tailed weight."""
    seen: dict[str, tuple[str, str, float]] = {}
    while len(seen) < count:
        ip = rng.choice(makers)(rng)
        if ip not in seen:
            # heavy-tailed, capped: a busy office NAT sends a few percent of the traffic, not half
            seen[ip] = (ip, rng.choice(BROWSERS), min(rng.paretovariate(1.6), 12.0))
    return list(seen.values())


def pick_client(rng: random.Random, pool: Sequence[tuple[str, str, float]]) -> tuple[str, str]:
    ip, agent, _ = rng.choices(pool, weights=[w for _, _, w in pool])[0]
    return ip, agent
