"""``run --leader-election``: stand by until this replica holds the Lease, then serve.

Why not kopf's peering alone: peers of equal priority all pause (kopf's
documented behaviour), so two replicas started from one Deployment must draw
different priorities, and a standby takes over only when the leader's peering
entry ages out; nothing stops a leader that can no longer reach the apiserver
from acting on.  A Lease gives every replica the same flags, and a fence: the
holder exits (``os._exit``) when it cannot renew within the renew deadline,
before the lease expires for the others.  The executor is built to survive such
an exit (idempotency keys, ledger, resume: see tests/e2e/test_two_replicas.py).

While standing by, the replica answers its liveness URL itself (kopf's probe
starts with kopf), so the kubelet does not restart a healthy standby.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.lease import KubernetesLeaseStore
from diagnosis_operator.ports import ClusterError
from diagnosis_operator.service.leadership import Leadership, LeaseTimings
from diagnosis_operator.settings import OperatorSettings

__all__ = ["LOST_LEASE_EXIT", "Elected", "elect", "release"]

logger = logging.getLogger(__name__)
LOST_LEASE_EXIT = 75  # EX_TEMPFAIL: the Deployment restarts the replica as a standby


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"standby": true}')

    def log_message(self, format: str, *args: Any) -> None:
        return


def _standby_probe(endpoint: str | None) -> ThreadingHTTPServer | None:
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    server = ThreadingHTTPServer((parts.hostname or "0.0.0.0", parts.port or 80), _Healthz)  # noqa: S104
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="standby-probe", daemon=True).start()
    return server


def _lost(why: str) -> None:
    # No graceful shutdown: another replica may act from now on, so stop every action here.
    logger.critical("%s: exiting to stop acting", why)
    logging.shutdown()
    os._exit(LOST_LEASE_EXIT)


@dataclass(frozen=True)
class Elected:
    """This replica leads: the lease is renewed by ``renewal`` until ``done`` is set."""

    leadership: Leadership
    done: threading.Event
    renewal: threading.Thread


def elect(settings: OperatorSettings, api_client: client.ApiClient) -> Elected | None:
    """Block until this replica leads (the lease renewed in a thread) or is stopped."""
    leadership = Leadership(
        store=KubernetesLeaseStore(
            api_client=api_client, namespace=settings.operator_namespace, name=settings.lease_name
        ),
        me=f"{socket.gethostname()}-{os.getpid()}",
        timings=LeaseTimings(
            duration=settings.lease_duration,
            renew_deadline=settings.lease_renew_deadline,
            retry_period=settings.lease_retry_period,
        ),
        wall=time.time,
        monotonic=time.monotonic,
    )
    stop = threading.Event()

    def stopping(signum: int, _: FrameType | None) -> None:
        logger.warning("signal %d while standing by: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
    probe = _standby_probe(settings.liveness_endpoint)
    try:
        leading = leadership.acquire(stop=stop)
    finally:
        if probe is not None:
            probe.shutdown()
            probe.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not leading:
        return None
    done = threading.Event()
    renewal = threading.Thread(
        target=leadership.keep,
        kwargs={"stop": done, "on_lost": _lost},
        name="lease-renewal",
        daemon=True,
    )
    renewal.start()
    return Elected(leadership=leadership, done=done, renewal=renewal)


def release(elected: Elected) -> None:
    """After a clean stop: stop renewing and give the lease up (best effort)."""
    elected.done.set()
    elected.renewal.join(timeout=elected.leadership.timings.retry_period + 10)
    try:
        elected.leadership.release()
    except ClusterError as error:
        logger.warning("lease not released: %s", error)
