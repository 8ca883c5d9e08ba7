"""A fault-injecting HTTP proxy on 127.0.0.1 in front of a real backend (Prometheus, Loki).

Every request is forwarded to ``upstream`` unless the current ``mode`` says
otherwise:

* ``Mode.PASS``: forward as is;
* ``Mode.ERROR``: answer ``status`` with ``body`` (an upstream error, e.g. 500);
* ``Mode.SLOW``: wait ``delay`` seconds, then forward;
* ``Mode.HANG``: answer the probe paths (``/``, ``/ready``, ``/-/ready``) and
  then hold every other request without answering until the proxy closes (a
  backend that took the connection and never replied).

Only the query paths are faulted: the probe paths are always forwarded (or
answered, when hanging), as a backend that is up but sick answers them.
Loopback only; ``close()`` (or ``with``) releases every held request.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROBE_PATHS = frozenset({"/", "/ready", "/-/ready", "/-/healthy"})
FORWARD_TIMEOUT = 30.0


class Mode(StrEnum):
    PASS = "pass"
    ERROR = "error"
    SLOW = "slow"
    HANG = "hang"


@dataclass
class FaultProxy:
    upstream: str
    mode: Mode = Mode.PASS
    status: int = 500
    body: str = '{"status":"error","errorType":"internal","error":"injected upstream failure"}'
    delay: float = 0.0
    faulted: int = 0  # query requests the proxy answered with its fault
    _closing: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FaultProxy:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                owner._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner._handle(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler, payload: bytes) -> None:
        path = handler.path.split("?", 1)[0]
        probe = path in PROBE_PATHS
        if not probe and self.mode is not Mode.PASS:
            with self._lock:
                self.faulted += 1
        if self.mode is Mode.HANG and probe:
            self._send(handler, 200, b"ready\n", "text/plain")
            return
        if self.mode is Mode.HANG:
            self._closing.wait()
            return
        if self.mode is Mode.ERROR and not probe:
            self._send(handler, self.status, self.body.encode(), "application/json")
            return
        if self.mode is Mode.SLOW and not probe:
            self._closing.wait(self.delay)
        self._forward(handler, payload)

    def _forward(self, handler: BaseHTTPRequestHandler, payload: bytes) -> None:
        headers = {
            name: value
            for name, value in handler.headers.items()
            if name.lower() not in ("host", "content-length", "connection")
        }
        request = urllib.request.Request(
            self.upstream + handler.path,
            data=payload if handler.command == "POST" else None,
            headers=headers,
            method=handler.command,
        )
        try:
            with urllib.request.urlopen(request, timeout=FORWARD_TIMEOUT) as answer:
                status, data = int(answer.status), answer.read()
                kind = answer.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
            kind = error.headers.get("Content-Type", "application/json")
        self._send(handler, status, data, kind)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes, kind: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            return  # the client gave up (its timeout, or the deadline)
