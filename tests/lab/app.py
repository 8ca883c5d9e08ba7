"""The lab's backend: a small threaded HTTP app that reads Redis and MariaDB.

    python -m tests.lab.app --host 127.0.0.11 --port 18080 --config lab-app.json

Routes (what nginx proxies to it):

* ``GET /api/items?id=N``   the item from Redis, else from MariaDB (then cached 20 s);
                            each also counts a view (``UPDATE item_stats``);
* ``GET /api/orders?customer=N``  the customer's orders from MariaDB (indexed);
* ``GET /metrics``          Prometheus text: ``http_requests_total{method,route,code}``,
                            ``http_request_duration_seconds`` (histogram), process metrics;
* ``GET /healthz``          200 while the process serves;
* ``POST /fault``           a JSON body ``{"cpuThreads": 2, "errorRatio": 0.5,
                            "delay": 0.2, "seconds": 90}`` makes this instance degrade by
                            itself for ``seconds`` (bounded to ``MAX_FAULT_SECONDS``).

Every request is logged as one JSON line (``ts, level, instance, route, status,
duration, error``) to ``--log``.  A database or cache failure is answered 500
with the error logged, as a real app would.  Loopback only.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pymysql
import redis
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

MAX_FAULT_SECONDS = 300.0
CACHE_SECONDS = 20
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Fault:
    """This instance's own trouble (``POST /fault``): until ``until`` (monotonic)."""

    until: float = 0.0
    error_ratio: float = 0.0
    delay: float = 0.0
    burners: list[threading.Thread] = field(default_factory=list)

    def active(self) -> bool:
        return time.monotonic() < self.until


class App:
    """The state shared by the request threads: clients, metrics, the log file."""

    def __init__(self, *, instance: str, config: dict[str, Any], log_path: Path) -> None:
        self.instance = instance
        self.mysql = dict(config["mysql"])
        self.redis = redis.Redis(
            host=config["redis"]["host"],
            port=int(config["redis"]["port"]),
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            decode_responses=True,
        )
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered",
            ("method", "route", "code"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.fault = Fault()
        self._log = log_path.open("a", encoding="utf-8", buffering=1)
        self._log_lock = threading.Lock()

    def log(self, level: str, **fields: Any) -> None:
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z",
            "level": level,
            "instance": self.instance,
            **fields,
        }
        with self._log_lock:
            self._log.write(json.dumps(record) + "\n")

    def connect(self) -> pymysql.connections.Connection[Any]:
        # One connection per request, like many small apps: MariaDB's limits show.
        return pymysql.connect(**self.mysql, connect_timeout=3, read_timeout=15, autocommit=True)

    def item(self, item_id: int) -> dict[str, Any]:
        key = f"item:{item_id}"
        cached = self.redis.get(key)
        if cached is not None:
            found: dict[str, Any] = json.loads(str(cached))
            self._count_view(item_id)
            return found
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT id, name, price FROM items WHERE id = %s", (item_id,))
            row = cursor.fetchone()
        value = {"id": item_id, "name": row[1], "price": float(row[2])} if row else {}
        self.redis.set(key, json.dumps(value), ex=CACHE_SECONDS)
        self._count_view(item_id)
        return value

    def _count_view(self, item_id: int) -> None:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE item_stats SET views = views + 1 WHERE item_id = %s", (item_id % 10,)
            )

    def orders(self, customer: int) -> list[dict[str, Any]]:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, total FROM orders WHERE customer_id = %s ORDER BY total DESC LIMIT 20",
                (customer,),
            )
            rows = cursor.fetchall()
        return [{"id": row[0], "total": float(row[1])} for row in rows]

    def start_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        seconds = min(float(spec.get("seconds", 60)), MAX_FAULT_SECONDS)
        self.fault.until = time.monotonic() + seconds
        self.fault.error_ratio = min(max(float(spec.get("errorRatio", 0.0)), 0.0), 1.0)
        self.fault.delay = min(max(float(spec.get("delay", 0.0)), 0.0), 5.0)
        for _ in range(min(int(spec.get("cpuThreads", 0)), 4)):
            burner = threading.Thread(target=self._burn, daemon=True)
            burner.start()
            self.fault.burners.append(burner)
        self.log("warn", event="fault injected", fault=spec, seconds=seconds)
        return {"instance": self.instance, "seconds": seconds}

    def _burn(self) -> None:
        total = 0
        while self.fault.active():
            total += sum(range(20_000))


class Handler(BaseHTTPRequestHandler):
    server: LabHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # the app writes its own JSON log

    def do_GET(self) -> None:
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/metrics":
            self._send(200, generate_latest(app.registry), "text/plain; version=0.0.4")
            return
        if url.path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
            return
        self._api(url)

    def do_POST(self) -> None:
        if self.path != "/fault":
            self._send(404, b"not found\n", "text/plain")
            return
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        spec = json.loads(self.rfile.read(length) or b"{}")
        answer = self.server.app.start_fault(spec)
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _api(self, url: urllib.parse.SplitResult) -> None:
        app = self.server.app
        params = urllib.parse.parse_qs(url.query)
        route = url.path
        started = time.perf_counter()
        status, body, error = 200, b"", ""
        try:
            status, body = self._route(route, params)
        except (pymysql.MySQLError, redis.RedisError, OSError) as problem:
            status, error = 500, f"{type(problem).__name__}: {problem}"
            body = b'{"error": "internal"}'
        seconds = time.perf_counter() - started
        known = route if route in ("/api/items", "/api/orders") else "other"
        app.requests.labels("GET", known, str(status)).inc()
        app.duration.labels("GET", known).observe(seconds)
        fields: dict[str, Any] = {"route": known, "status": status, "duration": round(seconds, 4)}
        if error:
            app.log("error", msg="request failed", error=error, **fields)
        else:
            app.log("info", msg="request", **fields)
        self._send(status, body, "application/json")

    def _route(self, route: str, params: dict[str, list[str]]) -> tuple[int, bytes]:
        app = self.server.app
        fault = app.fault
        if fault.active():
            time.sleep(fault.delay)
            if random.random() < fault.error_ratio:
                raise OSError("backend degraded: worker pool exhausted")
        number = int((params.get("id") or params.get("customer") or ["1"])[0])
        if route == "/api/items":
            return 200, json.dumps(app.item(number)).encode()
        if route == "/api/orders":
            return 200, json.dumps(app.orders(number)).encode()
        return 404, b'{"error": "not found"}'

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, Handler)
        self.app = app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the lab's backend app")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON: mysql params, redis host/port")
    parser.add_argument("--log", required=True, help="the JSON log file")
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the lab app binds loopback addresses only")
    config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    app = App(instance=f"{args.host}:{args.port}", config=config, log_path=Path(args.log))
    server = LabHTTPServer((args.host, args.port), app)
    app.log("info", msg="listening", address=f"{args.host}:{args.port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
