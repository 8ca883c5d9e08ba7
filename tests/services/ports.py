"""Shared plumbing for the real-service fixtures: loopback ports, processes, logs.

Every fixture under ``tests/services`` starts a real binary as a child process
with its output going to a log file inside the test's temp dir.  Running
processes are tracked here so that, when a test fails, their logs are attached
to the failure report (pytest prints them under "service logs ...").

This module is itself a pytest plugin (registered in ``tests/conftest.py``) for
that reporting hook.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"

_LOG_TAIL_CHARS = 8000


class ServiceStartError(RuntimeError):
    """A service did not become ready; the message carries its log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_binary(name: str) -> str:
    """The full path of a binary (PATH, then the sbin dirs); a missing one fails the test.

    Failing, not skipping: a skip would let a missing install step pass CI unseen.
    """
    for candidate in (name, f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}"):
        found = shutil.which(candidate)
        if found is not None:
            return found
    pytest.fail(f"{name} is not installed (scripts/install-deps.sh installs it)")


def read_tail(path: Path, chars: int = _LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return text if len(text) <= chars else "...\n" + text[-chars:]


def run_checked(
    command: Sequence[str],
    *,
    log_path: Path,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run a one-shot setup command (install-db, promtool) with output appended to a log."""
    with log_path.open("ab") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        completed = subprocess.run(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
        )
    if completed.returncode != 0:
        raise ServiceStartError(
            f"{command[0]} exited with {completed.returncode}:\n{read_tail(log_path)}"
        )


@dataclass
class ServiceProcess:
    """A running service: its process, its log file and how to stop it."""

    name: str
    command: tuple[str, ...]
    log_path: Path
    process: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM
    extra_logs: list[Path] = field(default_factory=list)

    def logs(self) -> str:
        parts = [f"$ {' '.join(self.command)}\n{read_tail(self.log_path)}"]
        parts.extend(f"--- {extra}\n{read_tail(extra)}" for extra in self.extra_logs)
        return "\n".join(parts)

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(
        self, check: Callable[[], bool], *, timeout: float = 60.0, what: str = ""
    ) -> None:
        """Poll ``check`` until it is true; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            if not self.alive():
                raise ServiceStartError(
                    f"{self.name} exited with {self.process.returncode} before it was ready"
                    f"{' (' + what + ')' if what else ''}:\n{self.logs()}"
                )
            with contextlib.suppress(Exception):
                if check():
                    return
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{self.name} not ready after {timeout:.0f} s"
                    f"{' (' + what + ')' if what else ''}:\n{self.logs()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(timeout=timeout)
        _RUNNING.pop(id(self), None)


_RUNNING: dict[int, ServiceProcess] = {}

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when pytest dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_process(
    name: str,
    command: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> ServiceProcess:
    """Start ``command`` with stdout+stderr in ``log_path``; tracked for failure reports."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            # Own process group: a Ctrl-C on pytest does not hit the service first.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        log.close()
    service = ServiceProcess(
        name=name,
        command=tuple(command),
        log_path=log_path,
        process=process,
        stop_signal=stop_signal,
    )
    _RUNNING[id(service)] = service
    return service


@contextlib.contextmanager
def running(service: ServiceProcess) -> Generator[ServiceProcess, None, None]:
    try:
        yield service
    finally:
        service.stop()


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: no proxies (tests talk to loopback only)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(extra or {})
    return env


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _RUNNING:
        for service in list(_RUNNING.values()):
            report.sections.append((f"service logs: {service.name}", service.logs()))
    return report
