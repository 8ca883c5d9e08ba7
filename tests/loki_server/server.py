"""Loki's HTTP API over the in-memory store (stdlib ``http.server``).

Endpoints: POST /loki/api/v1/push (JSON, optionally gzip; protobuf answers 415),
GET|POST /loki/api/v1/query_range, /loki/api/v1/query, /loki/api/v1/labels,
/loki/api/v1/label/<name>/values, /loki/api/v1/series, GET /ready.
Errors are HTTP 400 with a plain-text body in Loki's wording.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loki_server import engine
from tests.loki_server.logql import (
    LogExpr,
    LogQLParseError,
    parse,
    parse_duration_ns,
    parse_selector_only,
)

MAX_POINTS = 11_000
DEFAULT_LIMIT = 100
DEFAULT_TENANT = "fake"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_INSTANT_LOG_ERROR = (
    "log queries are not supported as an instant query type, "
    "please change your query to a range query type"
)
_STEP_ERROR = (
    "exceeded maximum resolution of 11,000 points per time series. "
    "Try increasing the value of the step parameter"
)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_time_ns(value: str, *, name: str) -> int:
    """Loki's timestamp parameter: ns epoch, float seconds, or RFC 3339."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        number = int(text)
        # Loki reads short integers (<= 10 digits) as seconds.
        return number * 1_000_000_000 if len(text.lstrip("-")) <= 10 else number
    if re.fullmatch(r"-?\d+\.\d*", text):
        whole, _, fraction = text.partition(".")
        fraction = (fraction + "0" * 9)[:9]
        sign = -1 if whole.startswith("-") else 1
        return int(whole) * 1_000_000_000 + sign * int(fraction)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp'
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp')
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def parse_step_ns(value: str) -> int:
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return round(float(text) * 1_000_000_000)
        return parse_duration_ns(text)
    except ValueError:
        raise BadRequest(
            f'invalid parameter "step": cannot parse "{value}" to a valid duration'
        ) from None


class LokiHandler(BaseHTTPRequestHandler):
    server: LokiHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing --

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: object) -> None:
        self._send(200, json.dumps(payload).encode("utf-8"), "application/json; charset=UTF-8")

    def _error(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError as error:
                raise BadRequest(f"gzip: {error}") from None
        return raw

    def _params(self) -> dict[str, list[str]]:
        params = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        if self.command == "POST":
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("application/x-www-form-urlencoded"):
                form = parse_qs(self._body().decode("utf-8"), keep_blank_values=True)
                for key, values in form.items():
                    params.setdefault(key, []).extend(values)
        return params

    def _tenant(self) -> str:
        tenant = self.headers.get("X-Scope-OrgID")
        if self.server.require_tenant and not tenant:
            raise BadRequest("no org id", status=401)
        return tenant or DEFAULT_TENANT

    def _authorized(self) -> bool:
        expected = self.server.auth_header
        return expected is None or self.headers.get("Authorization") == expected

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path == "/ready":
                self._send(200, b"ready\n", "text/plain; charset=utf-8")
                return
            if not self._authorized():
                self._error(401, "unauthorized")
                return
            self.server.record(self.command, path)
            failure = self.server.next_failure()
            if failure is not None:
                self._error(failure, "injected failure")
                return
            if path == "/loki/api/v1/push" and self.command == "POST":
                self._push()
            elif path == "/loki/api/v1/query_range":
                self._query_range(self._params())
            elif path == "/loki/api/v1/query":
                self._query(self._params())
            elif path == "/loki/api/v1/labels":
                self._labels(self._params(), None)
            elif (match := re.fullmatch(r"/loki/api/v1/label/([^/]+)/values", path)) is not None:
                self._labels(self._params(), match.group(1))
            elif path == "/loki/api/v1/series":
                self._series(self._params())
            else:
                self._error(404, "404 page not found")
        except BadRequest as error:
            self._error(error.status, str(error))
        except LogQLParseError as error:
            self._error(400, str(error))
        except engine.QueryError as error:
            self._error(400, str(error))

    # -- push --

    def _push(self) -> None:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        tenant = self._tenant()
        if content_type != "application/json":
            # Real Loki also takes snappy-compressed protobuf; this server does not.
            raise BadRequest(
                f"unsupported Content-Type {content_type or '(none)'}: "
                "this test server accepts application/json only",
                status=415,
            )
        try:
            payload = json.loads(self._body().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest(f"loghttp.PushRequest.Streams: {error}") from None
        streams = payload.get("streams") if isinstance(payload, dict) else None
        if not isinstance(streams, list):
            raise BadRequest("loghttp.PushRequest: expected an object with a streams array")
        parsed: list[tuple[dict[str, str], list[tuple[int, str]]]] = []
        for stream in streams:
            labels = stream.get("stream") if isinstance(stream, dict) else None
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                raise BadRequest("loghttp.PushRequest.Streams: stream labels must be strings")
            labels = {k: v for k, v in labels.items() if v != ""}
            if not labels:
                raise BadRequest("error at least one label pair is required per stream")
            for name in labels:
                if not _LABEL_NAME.match(name):
                    raise BadRequest(f'error parsing labels: invalid label name "{name}"')
            entries: list[tuple[int, str]] = []
            for value in stream.get("values") or []:
                if (
                    not isinstance(value, list)
                    or len(value) not in (2, 3)
                    or not isinstance(value[0], str)
                    or not isinstance(value[1], str)
                    or not re.fullmatch(r"\d+", value[0])
                ):
                    raise BadRequest(
                        "loghttp.PushRequest.Streams: entries must be "
                        '["<unix epoch in nanoseconds as a string>", "<log line>"]'
                    )
                entries.append((int(value[0]), value[1]))
            parsed.append((labels, entries))
        for labels, entries in parsed:
            self.server.store.push(tenant, labels, entries)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- queries --

    def _one(self, params: Mapping[str, list[str]], name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    def _limit(self, params: Mapping[str, list[str]]) -> int:
        raw = self._one(params, "limit")
        if raw is None or raw == "":
            limit = DEFAULT_LIMIT
        else:
            try:
                limit = int(raw)
            except ValueError:
                raise BadRequest(f'strconv.ParseUint: parsing "{raw}": invalid syntax') from None
            if limit <= 0:
                raise BadRequest("limit must be a positive value")
        return limit

    def _check_max_entries(self, limit: int) -> None:
        max_entries = self.server.max_entries
        if limit > max_entries:
            raise BadRequest(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({limit} > {max_entries})"
            )

    def _direction(self, params: Mapping[str, list[str]]) -> str:
        raw = (self._one(params, "direction") or "backward").lower()
        if raw not in ("forward", "backward"):
            raise BadRequest(f"invalid direction '{raw}'")
        return raw

    def _query_text(self, params: Mapping[str, list[str]]) -> str:
        query = self._one(params, "query")
        if not query:
            raise BadRequest("parse error : syntax error: unexpected $end")
        return query

    def _bounds(self, params: Mapping[str, list[str]], default_span_ns: int) -> tuple[int, int]:
        now_ns = time.time_ns()
        end_raw = self._one(params, "end")
        end_ns = parse_time_ns(end_raw, name="end") if end_raw else now_ns
        start_raw = self._one(params, "start")
        if start_raw:
            start_ns = parse_time_ns(start_raw, name="start")
        else:
            since = self._one(params, "since")
            span = parse_duration_ns(since) if since else default_span_ns
            start_ns = end_ns - span
        if end_ns < start_ns:
            raise BadRequest("end timestamp must not be before or equal to start time")
        return start_ns, end_ns

    def _stats(self, lines: int) -> dict[str, Any]:
        return {
            "summary": {
                "bytesProcessedPerSecond": 0,
                "linesProcessedPerSecond": 0,
                "totalBytesProcessed": 0,
                "totalLinesProcessed": lines,
                "execTime": 0,
                "queueTime": 0,
            }
        }

    def _query_range(self, params: Mapping[str, list[str]]) -> None:
        query = self._query_text(params)
        start_ns, end_ns = self._bounds(params, 3600 * 1_000_000_000)
        limit = self._limit(params)
        direction = self._direction(params)
        step_raw = self._one(params, "step")
        if step_raw:
            step_ns = parse_step_ns(step_raw)
        else:
            step_ns = max((end_ns - start_ns) // 1_000_000_000 // 250, 1) * 1_000_000_000
        if step_ns <= 0:
            raise BadRequest(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if (end_ns - start_ns) // step_ns > MAX_POINTS:
            raise BadRequest(_STEP_ERROR)
        expr = parse(query)
        tenant = self._tenant()
        if isinstance(expr, LogExpr):
            self._check_max_entries(limit)
            result = engine.log_query(
                self.server.store,
                tenant,
                expr,
                start_ns=start_ns,
                end_ns=end_ns,
                limit=limit,
                direction=direction,
            )
            lines = sum(len(stream["values"]) for stream in result)
            data = {"resultType": "streams", "result": result, "stats": self._stats(lines)}
        else:
            series = engine.metric_range(
                self.server.store, tenant, expr, start_ns=start_ns, end_ns=end_ns, step_ns=step_ns
            )
            data = {"resultType": "matrix", "result": series, "stats": self._stats(0)}
        self._json({"status": "success", "data": data})

    def _query(self, params: Mapping[str, list[str]]) -> None:
        query = self._query_text(params)
        time_raw = self._one(params, "time")
        time_ns = parse_time_ns(time_raw, name="time") if time_raw else time.time_ns()
        self._limit(params)
        self._direction(params)
        expr = parse(query)
        if isinstance(expr, LogExpr):
            raise BadRequest(_INSTANT_LOG_ERROR)
        result = engine.metric_instant(self.server.store, self._tenant(), expr, time_ns=time_ns)
        self._json(
            {
                "status": "success",
                "data": {"resultType": "vector", "result": result, "stats": self._stats(0)},
            }
        )

    def _labels(self, params: Mapping[str, list[str]], name: str | None) -> None:
        start_ns, end_ns = self._bounds(params, 6 * 3600 * 1_000_000_000)
        tenant = self._tenant()
        query = self._one(params, "query")
        streams = self.server.store.streams_in(tenant, start_ns, end_ns + 1)
        if query:
            matchers = parse_selector_only(query)
            streams = [
                s for s in streams if all(m.matches(s.labels.get(m.name, "")) for m in matchers)
            ]
        if name is None:
            values = sorted({label for s in streams for label in s.labels})
        else:
            values = sorted({s.labels[name] for s in streams if name in s.labels})
        self._json({"status": "success", "data": values})

    def _series(self, params: Mapping[str, list[str]]) -> None:
        selectors = params.get("match[]") or params.get("match") or []
        if not selectors:
            raise BadRequest("0 matchers provided, at least 1 matcher is required")
        start_ns, end_ns = self._bounds(params, 3600 * 1_000_000_000)
        tenant = self._tenant()
        streams = self.server.store.streams_in(tenant, start_ns, end_ns + 1)
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for selector in selectors:
            matchers = parse_selector_only(selector)
            for stream in streams:
                if all(m.matches(stream.labels.get(m.name, "")) for m in matchers):
                    found[engine.key_of(stream.labels)] = dict(stream.labels)
        self._json({"status": "success", "data": [found[key] for key in sorted(found)]})


class LokiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        max_entries: int = 5000,
        require_tenant: bool = False,
        auth_header: str | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(address, LokiHandler)
        self.store = engine.Store()
        self.max_entries = max_entries
        self.require_tenant = require_tenant
        self.auth_header = auth_header
        self.verbose = verbose
        self.requests: list[tuple[str, str]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str), host  # an AF_INET server's address is (str, int)
        return f"http://{host}:{port}"

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def fail_next(self, *statuses: int) -> None:
        """Answer the next API requests with these HTTP statuses (retry tests)."""
        with self._lock:
            self._failures.extend(statuses)

    def next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def reset(self) -> None:
        with self._lock:
            self.store = engine.Store()
            self.requests.clear()
            self._failures.clear()


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, **options: Any) -> LokiHTTPServer:
    server = LokiHTTPServer((host, port), **options)
    thread = threading.Thread(target=server.serve_forever, name="loki-test-server", daemon=True)
    thread.start()
    return server
