"""Round-5 faults injected into the real-software lab (``tests/lab``) and recorded.

    PYTHONPATH=operator:. python -m examples.incidents.holdout5.lab_faults record NAME \
        [--out examples/incidents/holdout5/lab] [--workdir out/rt5-lab]

Each run starts a fresh lab (``tests.lab.stack.start_lab``), lets the four lab users
browse through nginx, opens the window after the warm-up, injects the fault after the
baseline (in this process, bounded in time and always undone), closes the window while the
fault still runs and records it with ``diagnosis-operator bundle record`` through
``tests.lab.scenarios.record`` (compressed, with the ``expected.yaml`` the injection calls
for, written before any diagnosis).  Faults:

* ``redis-noeviction``: Redis switched to ``maxmemory-policy noeviction`` with maxmemory just
  above its use, then kept full by a batch writer (it takes whatever the app's expiring
  cache keys free): the app's cache SETs fail with "OOM command not allowed when used
  memory > 'maxmemory'".
* ``backend-hang``: the second API instance is frozen (SIGSTOP): nginx times out on it
  after 15 s ("upstream timed out"), its siblings answer normally; SIGCONT at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from tests.lab import fault as lab_fault
from tests.lab import scenarios, traffic
from tests.lab.stack import Lab, start_lab
from tests.services.loki import REPO_ROOT

WARMUP, BASELINE, FAULT, SETTLE = 30.0, 90.0, 90.0, 8.0
MAX_FILL = 40_000

Inject = Callable[[Lab, float, threading.Event], None]


def redis_noeviction(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """noeviction at maxmemory: writes are refused, reads keep working."""
    state = lab.state
    client = redis.Redis(
        host=state["redis"]["host"], port=int(state["redis"]["port"]), socket_timeout=10
    )
    policy = str(client.config_get("maxmemory-policy")["maxmemory-policy"])
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(used + (2 << 20)))
    deadline = time.monotonic() + min(seconds, lab_fault.MAX_SECONDS)
    blob = b"r" * 2_000
    try:
        written = 0
        while written < MAX_FILL and time.monotonic() < deadline and not stop.is_set():
            try:
                client.set(f"nightly:export:{written}", blob)
                written += 1
            except redis.ResponseError:
                stop.wait(0.02)  # full; keep taking whatever the app's expiring keys free
        stop.wait(max(0.0, deadline - time.monotonic()))
    finally:
        client.config_set("maxmemory", "0")
        client.config_set("maxmemory-policy", policy)
        for key in client.scan_iter("nightly:export:*", count=1000):
            client.delete(key)
        client.close()


def backend_hang(lab: Lab, seconds: float, stop: threading.Event) -> None:
    """Freeze one API instance (SIGSTOP) for the fault, then let it run again."""
    host = lab.backends[lab_fault.DEGRADED].split(":")[0]
    target = next(p for p in lab.processes if "tests.lab.app" in p.command and host in p.command)
    pid = target.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stop.wait(min(seconds, lab_fault.MAX_SECONDS))
    finally:
        os.kill(pid, signal.SIGCONT)


def _drain(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [("drain-pod", str(state["backends"][lab_fault.DEGRADED]))]


def _one(state: dict[str, Any]) -> list[str]:
    return [str(state["backends"][lab_fault.DEGRADED])]


FAULTS: dict[str, tuple[Inject, scenarios.Scenario]] = {
    "redis-noeviction": (
        redis_noeviction,
        scenarios.Scenario(
            "redis-noeviction",
            "redis-noeviction",
            "Redis at maxmemory with noeviction: every cache write of the API is refused (OOM)",
            scenarios._expect("redis", "out of memory"),
        ),
    ),
    "backend-hang": (
        backend_hang,
        scenarios.Scenario(
            "backend-hang",
            "backend-hang",
            "one API instance frozen: nginx times out on it after 15 s, its siblings are fine",
            scenarios._expect("api", None, affected=_one, remediations=_drain),
        ),
    ),
}


def play(lab: Lab, inject: Inject) -> tuple[float, float]:
    """Users browse; the fault runs after the baseline; returns the window (start, end)."""
    stop, done = threading.Event(), threading.Event()
    users = threading.Thread(
        target=traffic.users,
        kwargs={"url": lab.nginx.url, "seconds": WARMUP + BASELINE + FAULT + SETTLE, "stop": stop},
        daemon=True,
    )
    users.start()
    time.sleep(WARMUP)
    start = time.time()
    time.sleep(BASELINE)
    injector = threading.Thread(target=inject, args=(lab, FAULT + SETTLE, done), daemon=True)
    injector.start()
    try:
        time.sleep(FAULT)
        end = time.time()
        time.sleep(SETTLE)
    finally:
        done.set()
        stop.set()
        injector.join(timeout=60)
        users.join(timeout=60)
    return start, end


Faults = dict[str, tuple[Inject, scenarios.Scenario]]


def run(name: str, *, out: Path, workdir: Path, faults: Faults = FAULTS) -> Path:
    inject, scenario = faults[name]
    if workdir.exists():
        shutil.rmtree(workdir)
    lab = start_lab(workdir=workdir)
    try:
        window = play(lab, inject)
        return scenarios.record(lab, scenario, window, out)
    finally:
        lab.stop()


def recorder(
    argv: list[str] | None,
    *,
    faults: Faults,
    round_label: str,
    out: Path,
    workdir: Path,
    width: int,
) -> int:
    """The ``record``/``list`` command of a round's lab faults (rounds 5 and 6 share it)."""
    parser = argparse.ArgumentParser(description=f"record {round_label} lab faults into bundles")
    parser.add_argument("action", choices=("record", "list"))
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--workdir", type=Path, default=workdir)
    args = parser.parse_args(argv)
    if args.action == "list":
        for name, (_, scenario) in faults.items():
            print(f"{name:<{width}} {scenario.description}")
        return 0
    for name in args.names or list(faults):
        if name not in faults:
            parser.error(f"unknown fault {name!r} (known: {', '.join(faults)})")
        started = time.monotonic()
        path = run(name, out=args.out, workdir=args.workdir / name, faults=faults)
        print(f"{name}: recorded {path} in {time.monotonic() - started:.0f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return recorder(
        argv,
        faults=FAULTS,
        round_label="round-5",
        out=Path(__file__).with_name("lab"),
        workdir=REPO_ROOT / "out/rt5-lab",
        width=18,
    )


if __name__ == "__main__":
    raise SystemExit(main())
