"""Record each lab fault into an incident bundle, with the diagnosis its injection calls for.

    python -m tests.lab.scenarios record [NAME ...] --out examples/incidents/lab

For each scenario a fresh lab starts (``stack.start_lab``), users browse through
nginx; after ``WARMUP`` the window opens, ``BASELINE`` seconds later the fault
script runs as its own process (``python -m tests.lab.fault NAME``) for
``FAULT`` seconds, and the window closes while it still runs.  The window is
then recorded with ``diagnosis-operator bundle record`` from the lab's
Prometheus and Loki, and stored compressed: ``NAME/incident.yaml``,
``metrics.om.gz``, ``logs.jsonl.gz`` and ``expected.yaml``, the diagnosis the
injected fault calls for (written from the injection, never from what the
engine answered).  ``unpack(NAME_DIR, DEST)`` gives back a bundle folder.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.lab import fault as faults
from tests.lab import traffic
from tests.lab.stack import LOKI_TENANT, Lab, start_lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import clean_env

POLICY = Path(__file__).with_name("policy.yaml")
WARMUP = 30.0
BASELINE = 90.0
FAULT = 90.0
SETTLE = 8.0  # the last scrape and the last shipped lines reach the backends
COMPRESSED = ("metrics.om", "logs.jsonl")

Expect = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    description: str
    expect: Expect


def _degraded(state: dict[str, Any]) -> str:
    return str(state["backends"][faults.DEGRADED])


def _expect(
    root: str,
    mode: str | None,
    *,
    affected: Callable[[dict[str, Any]], list[str]] = lambda _: [],
    clients: tuple[str, ...] = (),
    remediations: Callable[[dict[str, Any]], list[tuple[str, str]]] = lambda _: [],
    aggravating: tuple[str, ...] = (),
) -> Expect:
    def build(state: dict[str, Any]) -> dict[str, Any]:
        return {
            "rootCause": {"component": root},
            "failureMode": mode,
            "affected": [{"component": "api", "instance": i} for i in affected(state)],
            "clients": [{"ip": ip} for ip in clients],
            "aggravating": list(aggravating),
            "remediations": [
                {"action": action, "target": target} for action, target in remediations(state)
            ],
        }

    return build


def _kill(_: dict[str, Any]) -> list[tuple[str, str]]:
    return [("kill-mysql-queries", "mysql")]


def _drain(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [("drain-pod", _degraded(state))]


def _one(state: dict[str, Any]) -> list[str]:
    return [_degraded(state)]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "reference",
            "reference",
            "row locks held and deadlocks in MariaDB, one API instance degraded (CPU, "
            "errors), slow Lua scripts in Redis, one client retrying failures in a tight loop",
            _expect(
                "mysql",
                "lock contention",
                affected=_one,
                clients=(faults.RETRY_CLIENT,),
                aggravating=("redis",),
                remediations=lambda s: [
                    ("kill-mysql-queries", "mysql"),
                    ("drain-pod", _degraded(s)),
                    ("rate-limit-client", faults.RETRY_CLIENT),
                ],
            ),
        ),
        Scenario(
            "mysql-locks",
            "mysql-locks",
            "a transaction holds the hot rows 20 s at a time; two writers deadlock",
            _expect("mysql", "lock contention", remediations=_kill),
        ),
        Scenario(
            "mysql-scans",
            "mysql-scans",
            "the orders index is dropped: every order lookup scans 400k rows",
            _expect("mysql", "slow queries", remediations=_kill),
        ),
        Scenario(
            "mysql-connections",
            "mysql-connections",
            "a leaking client holds every MariaDB connection",
            _expect("mysql", "connection exhaustion", remediations=_kill),
        ),
        Scenario(
            "redis-evictions",
            "redis-evictions",
            "Redis capped at its use while a batch job writes: the app's cache keys are evicted",
            _expect("redis", "memory pressure and evictions"),
        ),
        Scenario(
            "redis-slow",
            "redis-slow",
            "two clients run 100 ms Lua loops back to back: every cache read waits",
            _expect("redis", "slow command storm"),
        ),
        Scenario(
            "backend-cpu",
            "backend-cpu",
            "one API instance burns CPU and answers slowly; its siblings are fine",
            _expect("api", "CPU burn", affected=_one, remediations=_drain),
        ),
        Scenario(
            "backend-fail",
            "backend-fail",
            "one API instance fails 60% of its requests; its siblings are fine",
            _expect("api", None, affected=_one, remediations=_drain),
        ),
        Scenario(
            "nginx-connections",
            "nginx-connections",
            "nginx reloaded with 10 worker connections: requests are dropped at the edge",
            _expect("nginx", "worker exhaustion"),
        ),
        Scenario(
            "client-flood",
            "client-flood",
            "one client address fetches in a tight loop from six connections",
            _expect(
                "client",
                "request flood",
                clients=(faults.FLOOD_CLIENT,),
                remediations=lambda _: [("rate-limit-client", faults.FLOOD_CLIENT)],
            ),
        ),
    )
}


def _python_env() -> dict[str, str]:
    return clean_env({"PYTHONPATH": f"{REPO_ROOT / 'operator'}:{REPO_ROOT}"})


def play(lab: Lab, scenario: Scenario, *, baseline: float, fault: float) -> tuple[float, float]:
    """Users browse; the fault runs after ``baseline``; returns the window (start, end)."""
    stop = threading.Event()
    users = threading.Thread(
        target=traffic.users,
        kwargs={"url": lab.nginx.url, "seconds": WARMUP + baseline + fault + SETTLE, "stop": stop},
        daemon=True,
    )
    users.start()
    time.sleep(WARMUP)
    start = time.time()
    time.sleep(baseline)
    injector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.lab.fault",
            scenario.fault,
            "--workdir",
            str(lab.workdir),
            "--seconds",
            str(fault + SETTLE),
        ],
        cwd=REPO_ROOT,
        env=_python_env(),
    )
    try:
        time.sleep(fault)
        end = time.time()
        time.sleep(SETTLE)
    finally:
        stop.set()
        try:
            injector.wait(timeout=120)
        except subprocess.TimeoutExpired:
            injector.kill()
            injector.wait()
        users.join(timeout=60)
    if injector.returncode != 0:
        raise RuntimeError(f"fault {scenario.fault} exited with {injector.returncode}")
    return start, end


def record(lab: Lab, scenario: Scenario, window: tuple[float, float], out: Path) -> Path:
    """``bundle record`` into a temp folder, then the compressed copy in ``out/NAME``."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / scenario.name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "diagnosis_operator",
                "bundle",
                "record",
                "--prometheus",
                lab.prometheus.url,
                "--loki",
                lab.loki_url,
                "--loki-tenant",
                LOKI_TENANT,
                "--policy",
                str(POLICY),
                "--from",
                repr(window[0]),
                "--to",
                repr(window[1]),
                "--out",
                str(bundle),
                "--name",
                f"lab-{scenario.name}",
                "--description",
                f"lab: {scenario.description}",
                "--symptom-component",
                "nginx",
            ],
            check=True,
            cwd=REPO_ROOT,
            env=_python_env(),
            timeout=300,
        )
        target = out / scenario.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy(bundle / "incident.yaml", target / "incident.yaml")
        for name in COMPRESSED:
            with (bundle / name).open("rb") as source, gzip.open(target / f"{name}.gz", "wb") as gz:
                shutil.copyfileobj(source, gz)
    expected = {"scenario": scenario.name, **scenario.expect(lab.state)}
    (target / "expected.yaml").write_text(
        f"# What the injected fault calls for ({scenario.fault}), written before diagnosing.\n"
        + yaml.safe_dump(expected, sort_keys=False),
        encoding="utf-8",
    )
    return target


def unpack(recorded: Path, dest: Path) -> Path:
    """A bundle folder from a stored recording (``incident.yaml`` + the ``.gz`` files)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(recorded / "incident.yaml", dest / "incident.yaml")
    for name in COMPRESSED:
        with gzip.open(recorded / f"{name}.gz", "rb") as gz, (dest / name).open("wb") as plain:
            shutil.copyfileobj(gz, plain)
    return dest


Inspect = Callable[[Lab, tuple[float, float]], None]


def run_scenario(
    name: str,
    *,
    out: Path,
    workdir: Path,
    baseline: float = BASELINE,
    fault: float = FAULT,
    inspect: Inspect | None = None,
) -> Path:
    """Play and record scenario ``name``; ``inspect(lab, window)`` runs before the lab stops."""
    scenario = SCENARIOS[name]
    if workdir.exists():
        shutil.rmtree(workdir)  # a fresh lab: a new datadir, new passwords
    lab = start_lab(workdir=workdir)
    try:
        window = play(lab, scenario, baseline=baseline, fault=fault)
        recorded = record(lab, scenario, window, out)
        if inspect is not None:
            inspect(lab, window)
        return recorded
    finally:
        lab.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="record lab scenarios into bundles")
    parser.add_argument("action", choices=("record", "list"))
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "examples/incidents/lab")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out/lab-runs")
    parser.add_argument("--baseline", type=float, default=BASELINE)
    parser.add_argument("--fault", type=float, default=FAULT)
    args = parser.parse_args(argv)
    if args.action == "list":
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:<18} {scenario.description}")
        return 0
    for name in args.names or list(SCENARIOS):
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    failed = []
    for name in args.names or list(SCENARIOS):
        started = time.monotonic()
        try:
            path = run_scenario(
                name,
                out=args.out,
                workdir=args.workdir / name,
                baseline=args.baseline,
                fault=args.fault,
            )
        except Exception as error:  # the other scenarios still run
            print(f"{name}: FAILED: {error}", flush=True)
            failed.append(name)
            continue
        print(f"{name}: recorded {path} in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
