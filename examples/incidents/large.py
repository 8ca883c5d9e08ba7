"""The benchmark bundle: 10,000 series x 240 points and 1,000,000 log lines.

Streams straight to the files (nothing is held per sample), so it writes in
well under a minute.  The incident inside is deliberately simple: from 40
minutes in, MySQL row-lock waits and connections climb, and one app instance
(``10.1.0.7:8080``) starts failing a third of its requests with high CPU, while
nginx logs 502s for that upstream.  ``write(folder, series=..., points=...,
lines=...)`` takes smaller sizes for tests.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path

import yaml

from examples.incidents.sim import epoch, rfc3339

SEED = 424242
START = epoch("2026-02-03T14:00:00Z")
STEP = 15.0
CODES = ("200", "201", "204", "301", "400", "401", "403", "404", "500", "503")
METHODS = ("GET", "POST")
ROUTE_COUNT = 4


def _instances(count: int) -> list[str]:
    return [f"10.1.{index // 200}.{index % 200 + 2}:8080" for index in range(count)]


def write(folder: Path, *, series: int = 10_000, points: int = 240, lines: int = 1_000_000) -> Path:
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    # Per app instance: http_requests_total (codes x methods x routes) + cpu.
    per_instance = len(CODES) * len(METHODS) * ROUTE_COUNT + 1
    fixed = 12  # mysql + redis series
    instance_count = max(2, (series - fixed) // per_instance)
    instances = _instances(instance_count)
    bad = instances[min(5, len(instances) - 1)]
    end = START + (points - 1) * STEP
    onset = START + (points - 1) * STEP * 2 / 3
    _write_incident(folder, START, end)
    _write_metrics(folder / "metrics.om", rng, instances, bad, points, onset, series)
    _write_logs(folder / "logs.jsonl", rng, instances, bad, lines, end, onset)
    return folder


def _write_incident(folder: Path, start: float, end: float) -> None:
    document = {
        "format": "incident-bundle/v1",
        "name": "benchmark-large",
        "description": "benchmark bundle: many series and lines, one failing instance",
        "window": {
            "start": rfc3339(start).replace(".000Z", "Z"),
            "end": rfc3339(end).replace(".000Z", "Z"),
        },
        "symptom": {"component": "edge"},
        "topology": {
            "components": [
                {
                    "name": "edge",
                    "kind": "proxy",
                    "selector": {"job": "edge"},
                    "dependsOn": ["shop"],
                },
                {
                    "name": "shop",
                    "kind": "app",
                    "selector": {"job": "shop"},
                    "dependsOn": ["db", "cache"],
                },
                {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
                {"name": "cache", "kind": "redis", "selector": {"job": "cache"}},
            ]
        },
    }
    (folder / "incident.yaml").write_text(
        yaml.safe_dump(document, sort_keys=False), encoding="utf-8"
    )


def _stamps(points: int) -> list[str]:
    return [str(int(START + index * STEP)) for index in range(points)]


def _write_metrics(
    path: Path,
    rng: random.Random,
    instances: list[str],
    bad: str,
    points: int,
    onset: float,
    series_wanted: int,
) -> None:
    stamps = _stamps(points)
    sick = [START + index * STEP >= onset for index in range(points)]
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(
            "# HELP http_requests Total HTTP requests handled.\n# TYPE http_requests counter\n"
        )
        for instance in instances:
            failing = instance == bad
            for route in range(ROUTE_COUNT):
                for method in METHODS:
                    for code in CODES:
                        base = 2.0 if code == "200" else 0.01
                        boost = 1.0 if code == "500" and failing else 0.0
                        total = float(rng.randint(1000, 90000))
                        head = (
                            f'http_requests_total{{job="shop",instance="{instance}",code="{code}",'
                            f'method="{method}",route="/api/r{route}"}} '
                        )
                        out = []
                        for index in range(points):
                            rate = base + (boost if sick[index] else 0.0)
                            total += max(
                                0, round(rng.gauss(rate * STEP, math.sqrt(rate * STEP + 0.01)))
                            )
                            out.append(f"{head}{int(total)} {stamps[index]}\n")
                        handle.write("".join(out))
                        written += 1
        handle.write(
            "# HELP process_cpu_seconds Total CPU time.\n# TYPE process_cpu_seconds counter\n"
        )
        for instance in instances:
            total = 5000.0
            head = f'process_cpu_seconds_total{{job="shop",instance="{instance}"}} '
            out = []
            for index in range(points):
                load = 0.9 if instance == bad and sick[index] else 0.25
                total += load * STEP * (1 + rng.gauss(0, 0.05))
                out.append(f"{head}{total:.2f} {stamps[index]}\n")
            handle.write("".join(out))
            written += 1
        gauges: dict[str, Callable[[bool], float]] = {
            "mysql_global_status_threads_connected": lambda on: 150.0 if on else 40.0,
            "mysql_global_variables_max_connections": lambda on: 151.0,
            "redis_connected_clients": lambda on: 60.0,
            "redis_slowlog_length": lambda on: 3.0,
        }
        for name, level in gauges.items():
            job = "db" if name.startswith("mysql") else "cache"
            handle.write(f"# TYPE {name} gauge\n")
            out = [
                f'{name}{{job="{job}",instance="{job}-0"}} {level(sick[index]) + rng.randint(0, 3)} '
                f"{stamps[index]}\n"
                for index in range(points)
            ]
            handle.write("".join(out))
            written += 1
        # Filler families until the series count is reached (label-heavy, like real exporters).
        filler = max(0, series_wanted - written)
        handle.write("# TYPE redis_commands counter\n")
        for number in range(filler):
            total = 0.0
            head = f'redis_commands_total{{job="cache",instance="cache-0",cmd="cmd{number}"}} '
            out = []
            for index in range(points):
                total += rng.randint(0, 30)
                out.append(f"{head}{int(total)} {stamps[index]}\n")
            handle.write("".join(out))
        handle.write("# EOF\n")


def _write_logs(
    path: Path,
    rng: random.Random,
    instances: list[str],
    bad: str,
    lines: int,
    end: float,
    onset: float,
) -> None:
    span = end - START
    clients = [f"100.64.{rng.randint(0, 63)}.{rng.randint(2, 254)}" for _ in range(2000)]
    agents = ("Mozilla/5.0 (X11; Linux x86_64)", "okhttp/4.12.0", "curl/8.5.0")
    access_labels = json.dumps({"job": "edge", "instance": "edge-0", "stream": "access"})
    app_labels = {
        instance: json.dumps({"job": "shop", "instance": instance}) for instance in instances
    }
    db_labels = json.dumps({"job": "db", "instance": "db-0", "stream": "error"})
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        batch: list[str] = []
        for number in range(lines):
            t = START + span * number / lines + rng.random() * 0.001
            stamp = rfc3339(t)
            kind = number % 10
            upstream = instances[number % len(instances)]
            if kind < 7:
                status = 200
                took = rng.random() * 0.08
                if upstream == bad and t >= onset and rng.random() < 0.35:
                    status = 502
                    took = 2 + rng.random() * 5
                local = f"03/Feb/2026:{rfc3339(t)[11:19]} +0000"
                line = (
                    f'{clients[number % 2000]} - - [{local}] "GET /api/r{number % ROUTE_COUNT} '
                    f'HTTP/1.1" {status} {rng.randint(200, 9000)} "-" "{agents[number % 3]}" '
                    f'rt={took:.3f} ua="{upstream}" us="{status}"'
                )
                labels = access_labels
            elif kind < 9:
                level = "info"
                message = "request served"
                if upstream == bad and t >= onset and rng.random() < 0.3:
                    level, message = "error", "database error: Lock wait timeout exceeded"
                line = json.dumps({"level": level, "msg": message, "route": f"/api/r{number % 4}"})
                labels = app_labels[upstream]
            else:
                if t >= onset and rng.random() < 0.2:
                    line = f"{stamp[:10]} {stamp[11:19]} 0 [Warning] InnoDB: Lock wait timeout"
                else:
                    line = f"{stamp[:10]} {stamp[11:19]} 0 [Note] InnoDB: page_cleaner: 1000ms intended loop"
                labels = db_labels
            batch.append(f'{{"ts": "{stamp}", "labels": {labels}, "line": {json.dumps(line)}}}\n')
            if len(batch) >= 10000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))
