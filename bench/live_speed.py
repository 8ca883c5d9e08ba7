"""Benchmark (not a test): one live Diagnosis against a real Prometheus and the Loki-API server.

The synthetic cluster: one namespace (``bench``) of ``--pods`` pods (200)
behind ``--services`` services (10, ``job="svc-K"``), each pod exposing about
300 series (per-route and per-code request counters, a latency histogram of
11 buckets per route, a client summary, pool and queue gauges, the Go runtime
and process metrics), over one hour at a 15 s scrape: backfilled into a real
Prometheus with ``promtool tsdb create-blocks-from openmetrics`` (the TSDB is
kept in ``--cache`` and reused), and access logs of every pod (one line every
``--log-every`` seconds, error lines in the failing service) pushed to the
Loki-API test server (``tests/services/loki.py``).

A Diagnosis of one service (``svc-0``, which calls ``svc-1`` and ``svc-2``;
``svc-1`` starts answering 5xx 20 minutes before the window's end) runs in a
fresh child process per measurement, the kinds of ``--modes`` interleaved
``--repeat`` times: ``after``, the planned, aggregated series queries of this
tree (``aggregate=True``, the default); ``raw``, the raw pull of this tree
(``aggregate=False``: every series of each selector); ``before``, the
aggregated path of another source tree (``--before``, e.g. a git worktree of
main), so before and after are measured side by side on the same sources and
the same (shared) machine.  Each child reports its wall time from the start
of the Diagnosis to its result (and its own CPU seconds), when each stage
began (the collection ends where "correlating" begins), the HTTP requests it
sent, the bytes it received (per backend, the decoded bodies) and the time it
waited for answers (per backend, summed over parallel requests), and its peak
resident memory (``ru_maxrss``: overall and by the end of the collection).
The CPU seconds Prometheus and the Loki-API server spent on each Diagnosis
are read from ``/proc`` around it.  ``--windows hour,day`` adds a one-day
window at a 5-minute scrape (a second TSDB).  The one-minute load average is
recorded: the machine is shared.

    git worktree add /tmp/live-before main
    .venv/bin/python bench/live_speed.py --windows hour,day --before /tmp/live-before \
        --modes before,after --repeat 3 --out bench/results/live-speed-round-N.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A child measuring another source tree (``--before``) imports the operator from there.
CODE = Path(os.environ.get("LIVE_SPEED_CODE") or ROOT)
for entry in (ROOT, ROOT / "operator", CODE, CODE / "operator"):
    if str(entry) in sys.path:
        sys.path.remove(str(entry))
    sys.path.insert(0, str(entry))

HOUR_START = 1_796_083_200  # 2026-12-01T00:00:00Z, on a 2-hour block boundary
NAMESPACE = "bench"
ROUTES = [f"/r{i}" for i in range(10)]
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
TARGETS = [f"t{i}" for i in range(5)]
RUNTIME_GAUGES = [f"go_memstats_m{i}_bytes" for i in range(25)] + ["go_goroutines", "go_threads"]
FAILING = "svc-1"


def _labels(service: str, pod: int, **extra: str) -> str:
    ip = f"10.{pod // 250}.{pod % 250}.{int(service.split('-')[1]) + 1}"
    base = f'job="{service}",namespace="{NAMESPACE}",pod="{service}-{pod}",instance="{ip}:8080"'
    return base + "".join(f',{k}="{v}"' for k, v in extra.items())


def _families() -> Iterator[tuple[str, str, list[tuple[str, dict[str, str], float]]]]:
    """(family, type, [(sample name, extra labels, per-second rate or level)]): ~300 per pod."""
    codes = {"200": 5.0, "404": 0.2, "500": 0.05}
    yield (
        "http_requests",
        "counter",
        [
            ("http_requests_total", {"route": r, "code": c}, v)
            for r in ROUTES
            for c, v in codes.items()
        ],
    )
    samples = [
        (
            "http_request_duration_seconds_bucket",
            {"route": r, "le": le},
            5.0 * (i + 1) / len(BUCKETS),
        )
        for r in ROUTES
        for i, le in enumerate(BUCKETS)
    ]
    samples += [("http_request_duration_seconds_sum", {"route": r}, 0.4) for r in ROUTES]
    samples += [("http_request_duration_seconds_count", {"route": r}, 5.0) for r in ROUTES]
    yield "http_request_duration_seconds", "histogram", samples
    yield (
        "rpc_client_requests",
        "counter",
        [
            ("rpc_client_requests_total", {"target": t, "code": c}, 2.0 if c == "ok" else 0.01)
            for t in TARGETS
            for c in ("ok", "error")
        ],
    )
    summary = [
        ("rpc_client_duration_seconds", {"target": t, "quantile": q}, float(q))
        for t in TARGETS
        for q in ("0.5", "0.9", "0.99")
    ]
    summary += [("rpc_client_duration_seconds_sum", {"target": t}, 0.1) for t in TARGETS]
    summary += [("rpc_client_duration_seconds_count", {"target": t}, 2.0) for t in TARGETS]
    yield "rpc_client_duration_seconds", "summary", summary
    yield (
        "cache_operations",
        "counter",
        [
            ("cache_operations_total", {"cache": f"c{i}", "result": r}, 1.0)
            for i in range(5)
            for r in ("hit", "miss")
        ],
    )
    yield (
        "jobs_processed",
        "counter",
        [
            ("jobs_processed_total", {"queue": f"q{i}", "result": r}, 0.5)
            for i in range(10)
            for r in ("ok", "fail")
        ],
    )
    yield (
        "app_errors",
        "counter",
        [("app_errors_total", {"kind": f"k{i}"}, 0.01) for i in range(10)],
    )
    yield (
        "db_pool_connections",
        "gauge",
        [("db_pool_connections", {"state": s}, 4.0) for s in ("idle", "used", "waiting")],
    )
    yield "inflight_requests", "gauge", [("inflight_requests", {"route": r}, 2.0) for r in ROUTES]
    yield "queue_depth", "gauge", [("queue_depth", {"queue": f"q{i}"}, 3.0) for i in range(10)]
    gc = [
        ("go_gc_duration_seconds", {"quantile": q}, 0.001)
        for q in ("0", "0.25", "0.5", "0.75", "1")
    ]
    gc += [("go_gc_duration_seconds_sum", {}, 0.01), ("go_gc_duration_seconds_count", {}, 1.0)]
    yield "go_gc_duration_seconds", "summary", gc
    for name in RUNTIME_GAUGES:
        yield name, "gauge", [(name, {}, 1e6)]
    yield "process_cpu_seconds", "counter", [("process_cpu_seconds_total", {}, 0.2)]
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
        yield name, "gauge", [(name, {}, 1e8)]


def _values(
    name: str, extra: dict[str, str], level: float, *, service: str, points: int, scrape: float
) -> list[float]:
    """A counter grows by ``level`` per second (the failing service's 5xx twentyfold at the end)."""
    if name.endswith(("_total", "_count", "_sum", "_bucket")):
        out, total, late = [], 0.0, points - int(1200 / scrape)
        for k in range(points):
            boost = 20.0 if service == FAILING and extra.get("code") == "500" and k >= late else 1.0
            total += level * scrape * boost * (1.0 + 0.1 * ((k * 7919) % 5) / 5)
            out.append(round(total, 3))
        return out
    return [round(level * (1.0 + 0.05 * ((k * 104729) % 7) / 7), 3) for k in range(points)]


def write_openmetrics(
    path: Path, *, services: int, pods: int, start: int, points: int, scrape: float
) -> int:
    """The cluster's samples; returns the series per pod.

    Every pod of a service has the same values (only the labels differ): each
    series' `` value timestamp`` tails are formatted once and joined with its
    labels, so writing stays far cheaper than the backfill.
    """
    per_service = pods // services
    series_per_pod = 0
    tails: dict[tuple[str, str, bool], list[str]] = {}
    with path.open("w") as out:
        for family, kind, samples in _families():
            series_per_pod += len(samples)
            out.write(f"# TYPE {family} {kind}\n")
            for s in range(services):
                service = f"svc-{s}"
                for name, extra, level in samples:
                    key = (name, repr(sorted(extra.items())), service == FAILING)
                    if key not in tails:
                        values = _values(
                            name, extra, level, service=service, points=points, scrape=scrape
                        )
                        tails[key] = [
                            f" {v} {start + k * scrape:.0f}\n" for k, v in enumerate(values)
                        ]
                    for pod in range(per_service):
                        prefix = f"{name}{{{_labels(service, pod, **extra)}}}"
                        out.write(prefix + prefix.join(tails[key]))
        out.write("# EOF\n")
    return series_per_pod


def _log_streams(*, services: int, pods: int, start: int, end: int, every: float) -> Iterator[Any]:
    from diagnosis_operator.models.signals import Labels, LogLine, LogStream

    per_service = pods // services
    late = end - 1200
    for s in range(services):
        service = f"svc-{s}"
        for pod in range(per_service):
            ip = f"10.{pod // 250}.{pod % 250}.{s + 1}"
            labels = Labels(
                {
                    "job": service,
                    "namespace": NAMESPACE,
                    "pod": f"{service}-{pod}",
                    "instance": f"{ip}:8080",
                }
            )
            lines = []
            for k in range(int((end - start) / every)):
                ts = start + k * every + pod * 0.001
                failing = service == FAILING and ts >= late and k % 3 == 0
                status = 500 if failing else 200
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
                client = f"192.168.{k % 4}.{(k * 31 + pod) % 200 + 1}"
                lines.append(
                    LogLine(
                        ts=ts,
                        line=f'{client} - - [{stamp}] "GET {ROUTES[k % 10]} HTTP/1.1" '
                        f'{status} 512 "-" "bench/1.0"',
                    )
                )
                if failing:
                    lines.append(
                        LogLine(
                            ts=ts + 0.0005,
                            line="ERROR upstream db: timeout after 5s (pool exhausted)",
                        )
                    )
            yield LogStream(labels=labels, lines=tuple(lines))


def push_logs(url: str, tenant: str, **shape: Any) -> int:
    from diagnosis_operator.adapters.loki import LokiClient

    client = LokiClient(url, tenant=tenant, retries=0, timeout=60.0)
    pushed, batch = 0, []
    try:
        for stream in _log_streams(**shape):
            batch.append(stream)
            if len(batch) >= 20:
                pushed += client.push(batch)
                batch = []
        if batch:
            pushed += client.push(batch)
    finally:
        client.close()
    return pushed


def _topology() -> Any:
    from diagnosis_operator.models.signals import Labels
    from diagnosis_operator.models.topology import Component, ComponentKind, Topology

    def component(name: str, *depends: str) -> Component:
        return Component(
            name=name, kind=ComponentKind.APP, selector=Labels({"job": name}), depends_on=depends
        )

    return Topology(
        components=(component("svc-0", "svc-1", "svc-2"), component("svc-1"), component("svc-2"))
    )


def _count_http() -> dict[str, dict[str, int]]:
    """Count every request and the bytes of every answer, per host:port (patches requests)."""
    import requests.adapters

    counts: dict[str, dict[str, int]] = {}
    send = requests.adapters.HTTPAdapter.send

    def counting(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        response = send(self, request, *args, **kwargs)
        body = response.content  # read here: the decoded body (gzip undone)
        waited = time.perf_counter() - began
        host = request.url.split("/")[2]
        entry = counts.setdefault(host, {"requests": 0, "bytes": 0, "waitMs": 0})
        entry["requests"] += 1
        entry["bytes"] += len(body)
        # Until the whole answer is in (requests run in parallel: the sum may exceed the wall).
        entry["waitMs"] += round(waited * 1000)
        return response

    requests.adapters.HTTPAdapter.send = counting  # type: ignore[method-assign]
    return counts


def child(args: argparse.Namespace) -> None:
    """One Diagnosis, measured; prints one JSON object."""
    from diagnosis_operator.adapters.loki import LokiClient, LokiLogSource
    from diagnosis_operator.adapters.prometheus import PrometheusAdapter
    from diagnosis_operator.models.signals import Window
    from diagnosis_operator.service.diagnose import run_diagnosis

    counts = _count_http()
    rss_after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    window = Window(start=args.start, end=args.end)
    loki = LokiClient(args.loki, tenant=args.tenant, retries=0, timeout=300.0)
    stages: dict[str, dict[str, float]] = {}
    with PrometheusAdapter(args.prom, timeout=300.0) as prometheus:
        began, cpu = time.perf_counter(), time.process_time()

        def stage(name: str) -> None:
            stages[name] = {
                "atSeconds": round(time.perf_counter() - began, 3),
                "cpuSeconds": round(time.process_time() - cpu, 3),
                "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }

        result = run_diagnosis(
            topology=_topology(),
            window=window,
            symptom="svc-0",
            series=prometheus,
            logs=LokiLogSource(loki),
            now=window.end,
            on_stage=stage,
            aggregate=args.child == "aggregated",
        )
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    loki.close()
    out = result.to_json()
    backends = {
        "prometheus": counts.get(args.prom.split("/")[2], {}),
        "loki": counts.get(args.loki.split("/")[2], {}),
    }
    print(
        json.dumps(
            {
                "mode": args.child,
                "wallSeconds": round(wall, 3),
                "cpuSeconds": round(cpu, 3),  # this process only (not Prometheus, not Loki)
                "queries": sum(b.get("requests", 0) for b in backends.values()),
                "bytesReceived": sum(b.get("bytes", 0) for b in backends.values()),
                "backends": backends,
                "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rssAfterImportsMiB": round(rss_after_imports / 1024, 1),
                # When each stage began (the collection ends at "correlating"), with the CPU
                # seconds and the peak memory until then.
                "stages": stages,
                "rootCause": out["rootCause"]["component"],
                "outcome": out["outcome"]["state"],
                "warnings": out["warnings"][:5],
                "load1": round(os.getloadavg()[0], 2),
            }
        )
    )


def _tsdb(
    cache: Path, *, name: str, args: argparse.Namespace, start: int, points: int, scrape: float
) -> dict[str, Any]:
    """The backfilled TSDB of one window (built once, then reused from ``cache``)."""
    folder = cache / name
    ready = folder / "READY.json"
    if ready.exists():
        info: dict[str, Any] = json.loads(ready.read_text())
        return info
    folder.mkdir(parents=True, exist_ok=True)
    metrics, written = folder / "metrics.om", folder / "WRITTEN.json"
    began = time.perf_counter()
    if not written.exists():  # a run that failed at the backfill left the file complete
        per_pod = write_openmetrics(
            metrics,
            services=args.services,
            pods=args.pods,
            start=start,
            points=points,
            scrape=scrape,
        )
        seconds = round(time.perf_counter() - began, 1)
        written.write_text(json.dumps({"seriesPerPod": per_pod, "writeSeconds": seconds}))
    info = json.loads(written.read_text())
    began = time.perf_counter()
    command = ["promtool", "tsdb", "create-blocks-from", "openmetrics"]
    command += ["--max-block-duration=24h", str(metrics), str(folder / "data")]
    with (folder / "promtool.log").open("w") as log:
        subprocess.run(command, stdout=log, stderr=log, timeout=3600, check=True)
    info.update(
        series=info["seriesPerPod"] * (args.pods // args.services) * args.services,
        points=points,
        scrapeSeconds=scrape,
        openmetricsBytes=metrics.stat().st_size,
        backfillSeconds=round(time.perf_counter() - began, 1),
    )
    metrics.unlink()
    ready.write_text(json.dumps(info))
    return info


@dataclass(frozen=True)
class _Run:
    """One kind of measured Diagnosis: its label, its path and the source tree it runs."""

    label: str
    mode: str  # raw | aggregated
    code: Path


def _runs(args: argparse.Namespace) -> list[_Run]:
    """``--modes``: after (this tree, aggregated), raw (this tree), before (``--before``)."""
    known = {
        "after": _Run("after", "aggregated", ROOT),
        "raw": _Run("raw", "raw", ROOT),
    }
    if args.before is not None:
        known["before"] = _Run("before", "aggregated", args.before.resolve())
    wanted = [name.strip() for name in args.modes.split(",") if name.strip()]
    missing = [name for name in wanted if name not in known]
    if missing:
        raise SystemExit(f"--modes {','.join(missing)}: unknown (before needs --before PATH)")
    return [known[name] for name in wanted]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    args: argparse.Namespace,
    *,
    backends: dict[str, int],
    prom: str,
    loki: str,
    tenant: str,
    start: int,
    end: int,
) -> dict[str, Any]:
    """Each kind of run ``--repeat`` times, interleaved; ``backends``: name -> pid."""
    kinds = _runs(args)
    runs: dict[str, list[dict[str, Any]]] = {kind.label: [] for kind in kinds}
    for _ in range(args.repeat):
        for kind in kinds:
            command = [sys.executable, __file__, "--child", kind.mode, "--prom", prom]
            command += ["--loki", loki, "--tenant", tenant, "--start", str(start)]
            command += ["--end", str(end)]
            env = {**os.environ, "LIVE_SPEED_CODE": str(kind.code)}
            before = {name: _cpu_seconds(pid) for name, pid in backends.items()}
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=1800, check=False, env=env
            )
            if done.returncode:
                raise RuntimeError(f"{kind.label} child failed: {done.stderr[-2000:]}")
            found = json.loads(done.stdout.strip().splitlines()[-1])
            found["label"], found["code"] = kind.label, str(kind.code)
            # CPU the sources spent on this Diagnosis (they serve nothing else meanwhile).
            found["backendCpuSeconds"] = {
                name: round(_cpu_seconds(pid) - before[name], 2) for name, pid in backends.items()
            }
            runs[kind.label].append(found)
            print(json.dumps(found), flush=True)
    return {label: {"median": _median(found), "runs": found} for label, found in runs.items()}


def _describe_tree(tree: Path) -> str:
    """A source tree and the commit it is at (for the results file)."""
    done = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"{tree}: {done.stdout.strip()[:120] or 'not a git tree'}"


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda run: float(run["wallSeconds"]))
    return ordered[len(ordered) // 2]


def _window(
    args: argparse.Namespace, cache: Path, *, name: str, start: int, hours: int, scrape: float
) -> dict[str, Any]:
    from tests.services.loki import start_loki_server
    from tests.services.prometheus import start_prometheus

    end = start + hours * 3600
    points = int(hours * 3600 / scrape) + 1
    info = _tsdb(cache, name=name, args=args, start=start, points=points, scrape=scrape)
    prometheus = start_prometheus(workdir=cache / name / "run", data_dir=cache / name / "data")
    loki = start_loki_server(log_dir=cache / name / "run")
    try:
        prometheus.process.wait_ready(
            lambda: bool(prometheus.instant('count({job="svc-0"})', end)), timeout=120, what="data"
        )
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        began = time.perf_counter()
        every = args.log_every * (hours if hours > 1 else 1)
        lines = push_logs(
            loki.url,
            tenant,
            services=args.services,
            pods=args.pods,
            start=start,
            end=end,
            every=every,
        )
        info.update(
            logLines=lines, logEverySeconds=every, pushSeconds=round(time.perf_counter() - began, 1)
        )
        pids = {"prometheus": prometheus.process.process.pid, "loki": loki.process.process.pid}
        figures = _measure(
            args,
            backends=pids,
            prom=prometheus.url,
            loki=loki.url,
            tenant=tenant,
            start=start,
            end=end,
        )
    finally:
        loki.process.stop()
        prometheus.process.stop()
    return {"window": {"start": start, "end": end, "hours": hours}, "data": info, **figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=("raw", "aggregated"), help=argparse.SUPPRESS)
    for name in ("--prom", "--loki", "--tenant"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--end", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument(
        "--log-every", type=float, default=12.0, help="seconds between a pod's access lines"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--before",
        type=Path,
        help="a source tree (e.g. a git worktree of main) measured as 'before', side by side",
    )
    parser.add_argument(
        "--modes",
        default="raw,after",
        help="comma-separated runs, interleaved: after (this tree, aggregated), "
        "before (--before's tree, aggregated), raw (this tree, the raw pull)",
    )
    parser.add_argument(
        "--windows",
        default="hour",
        help="comma-separated: hour (15 s scrape), day (a one-day window at a 5-minute scrape)",
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/live-speed-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "live-speed.json")
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    report: dict[str, Any] = {
        "what": "one live Diagnosis (svc-0 -> svc-1, svc-2) on a synthetic cluster, "
        f"runs {args.modes} interleaved (before: aggregated, the code of --before; "
        "after: aggregated, this tree; raw: the raw pull of this tree)",
        "before": None if args.before is None else _describe_tree(args.before),
        "after": _describe_tree(ROOT),
        "cpus": os.cpu_count(),
        "targets": {"hourSeconds": 5, "hourQueries": 40, "daySeconds": 15, "peakRssMiB": 300},
    }
    windows = {name.strip() for name in args.windows.split(",")}
    if "hour" in windows:
        report["hour"] = _window(
            args, args.cache, name="hour", start=HOUR_START, hours=1, scrape=15.0
        )
    if "day" in windows:
        start = HOUR_START - 86400
        report["day"] = _window(args, args.cache, name="day", start=start, hours=24, scrape=300.0)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
