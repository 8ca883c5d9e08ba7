"""A tiny scripted HTTP server on 127.0.0.1: plays canned answers in order, records when asked.

For tests of the real ``requests`` + urllib3 stack (retries, ``Retry-After``)
without a real backend.  Loopback only; stop it with ``close()`` (or ``with``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.metrics import Answer


@dataclass(frozen=True)
class Asked:
    """One request the server received, and when (``time.monotonic()``)."""

    method: str
    path: str
    params: dict[str, str]
    at: float


@dataclass
class ScriptedServer:
    """Answers ``script`` in order; after its end, every request gets the last answer."""

    script: list[Answer]
    asked: list[Asked] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> ScriptedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                owner._answer(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        self.asked.append(
            Asked(
                method=handler.command,
                path=split.path,
                params=dict(urllib.parse.parse_qsl(split.query)),
                at=time.monotonic(),
            )
        )
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        data = body.encode("utf-8")
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
