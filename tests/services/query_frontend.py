"""A Thanos / Mimir query-frontend double on 127.0.0.1, in front of a real Prometheus or a table.

It speaks the Prometheus HTTP API (``/api/v1/query_range``, ``/api/v1/query``)
and answers as the frontends do when one Prometheus is not enough:

* ``warnings``: a successful answer with ``warnings`` (a Thanos querier with
  ``partial_response`` whose store could not be reached says
  ``"receive ...: store unreachable"``), and Prometheus 2.x/3.x ``infos``;
* ``max_query_length``: Mimir's 422 for a range longer than the limit
  ("the query time range exceeds the limit (query length: ..., limit: ...)");
* ``max_series``: Mimir's 422 when a query would fetch too many series;
* ``throttle``: the first N requests get 429 (``Retry-After: 0``);
* ``fail_status``: every request gets this 5xx from the frontend.

The data comes from ``upstream`` (a real Prometheus URL; the request is
forwarded unchanged) or else from ``table`` (PromQL -> matrix result).  Every
request is logged (``asked``) with its parameters; the double stops with
``close()`` (or ``with``).  Loopback only.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

THANOS_STORE_UNREACHABLE = (
    "receive 127.0.0.1:10901: rpc error: code = Unavailable desc = store unreachable"
)


@dataclass
class FrontendBehaviour:
    """What the double does to an answer (see the module docstring)."""

    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()
    max_query_length: float | None = None  # seconds
    max_series: int | None = None
    throttle: int = 0
    fail_status: int | None = None


@dataclass(frozen=True)
class FrontendRequest:
    path: str
    params: dict[str, str]


@dataclass
class QueryFrontend:
    """The double; ``url`` is its base (``/api/v1/...`` below it)."""

    behaviour: FrontendBehaviour = field(default_factory=FrontendBehaviour)
    upstream: str | None = None
    table: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    asked: list[FrontendRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> QueryFrontend:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(split.query))
                status, body, headers = owner.answer(split.path, params)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

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

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON body and headers for one request."""
        rule = self.behaviour
        with self._lock:
            self.asked.append(FrontendRequest(path=path, params=params))
            throttled = len(self.asked) <= rule.throttle
        if throttled:
            return 429, _error("too many outstanding requests"), {"Retry-After": "0"}
        if rule.fail_status is not None:
            return rule.fail_status, _error("frontend: upstream connect error"), {}
        if not path.endswith(("/query", "/query_range")):
            return self._forwarded(path, params)
        length = float(params.get("end", 0)) - float(params.get("start", 0))
        limit = rule.max_query_length
        if path.endswith("query_range") and limit is not None and length > limit:
            return 422, _error(_too_long(length, limit)), {}
        data = self._data(path, params)
        if rule.max_series is not None and len(data.get("result", [])) > rule.max_series:
            message = (
                f"the query exceeded the maximum number of series (limit: {rule.max_series} "
                "series) (err-mimir-max-series-per-query)"
            )
            return 422, _error(message), {}
        body: dict[str, Any] = {"status": "success", "data": data}
        if rule.warnings:
            body["warnings"] = list(rule.warnings)
        if rule.infos:
            body["infos"] = list(rule.infos)
        return 200, body, {}

    def _forwarded(self, path: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Anything but a query (metadata, build info) passes through unchanged."""
        if self.upstream is None:
            return 404, _error(f"{path} not served by this double"), {}
        answer = requests.get(self.upstream + path, params=params, timeout=30)
        return answer.status_code, answer.content, {}

    def _data(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self.upstream is not None:
            answer = requests.get(self.upstream + path, params=params, timeout=30)
            data: dict[str, Any] = answer.json()["data"]
            return data
        result = self.table.get(params.get("query", ""), [])
        start, end = float(params.get("start", 0)), float(params.get("end", 0))
        kept = [
            {**item, "values": [v for v in item["values"] if start <= float(v[0]) <= end]}
            for item in result
        ]
        return {"resultType": "matrix", "result": [item for item in kept if item["values"]]}


def _error(message: str) -> dict[str, str]:
    return {"status": "error", "errorType": "execution", "error": message}


def _go_duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}h{whole % 3600 // 60}m{whole % 60}s"


def _too_long(length: float, limit: float) -> str:
    return (
        f"the query time range exceeds the limit (query length: {_go_duration(length)}, "
        f"limit: {_go_duration(limit)}) (err-mimir-max-query-length)"
    )
