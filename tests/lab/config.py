"""The lab's configuration texts and seed data (no processes are started here)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pymysql
import yaml

from tests.services.mariadb import MariaDBServer
from tests.services.nginx import NginxServer
from tests.services.redis import RedisServer

SCRAPE_SECONDS = 5
ORDERS = 400_000
ITEMS = 2_000
ACCESS_LOG = "access.json.log"
RULES_DIR = "lab-rules.d"
UPSTREAM_DIR = "lab-upstream"

# The JSON access log: one object per request, the usual field names.
_NGINX_SERVERS = """\
log_format lab_json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr",'
    '"request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,'
    '"request_time":$request_time,"upstream_addr":"$lab_upstream",'
    '"upstream_status":"$upstream_status",'
    '"upstream_response_time":"$upstream_response_time",'
    '"http_user_agent":"$http_user_agent"}';

# The upstream's servers, and the names nginx logs for them (an upstream sync
# rewrites both from the Service's EndpointSlices: tests/lab/cluster.py).
upstream api {
    include @CONF@/@UPSTREAM_DIR@/servers.conf;
}

map $upstream_addr $lab_upstream {
    default $upstream_addr;
    include @CONF@/@UPSTREAM_DIR@/names.map;
}

# Rules delivered at run time: their http-level part (limit_req_zone...).
include @CONF@/@RULES_DIR@/*-http.conf;

server {
    listen 127.0.0.1:@PORT@ backlog=256;
    access_log @PREFIX@/logs/@ACCESS_LOG@ lab_json;
    error_log @PREFIX@/logs/error.log warn;
    keepalive_timeout 5s;
    # Rules delivered at run time (deny, rate limits): their server-level part.
    include @CONF@/@RULES_DIR@/*-server.conf;
    location /api/ {
        proxy_pass http://api;
        proxy_connect_timeout 2s;
        proxy_read_timeout 15s;
        proxy_next_upstream off;
    }
}

server {
    listen 127.0.0.1:@STATUS_PORT@;
    access_log off;
    location = /stub_status { stub_status; }
}
"""

RULES = """\
groups:
  - name: lab
    rules:
      - alert: LabApiErrorRatioHigh
        expr: >
          sum(rate(http_requests_total{job="api",code=~"5.."}[1m]))
          / sum(rate(http_requests_total{job="api"}[1m])) > 0.05
        for: 30s
        labels: {severity: page, component: api}
        annotations: {summary: "more than 5% of API requests fail"}
      - alert: LabApiLatencyHigh
        expr: >
          histogram_quantile(0.95,
            sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[1m]))) > 0.5
        for: 30s
        labels: {severity: page, component: api}
        annotations: {summary: "API p95 latency above 0.5 s"}
      - alert: LabMysqlThreadsRunningHigh
        expr: max(mysql_global_status_threads_running{job="mysql"}) > 20
        for: 30s
        labels: {severity: warning, component: mysql}
      - alert: LabRedisEvicting
        expr: sum(rate(redis_evicted_keys_total{job="redis"}[1m])) > 0
        for: 30s
        labels: {severity: warning, component: redis}
"""


def nginx_servers(*, status_port: int) -> str:
    return (
        _NGINX_SERVERS.replace("@STATUS_PORT@", str(status_port))
        .replace("@ACCESS_LOG@", ACCESS_LOG)
        .replace("@RULES_DIR@", RULES_DIR)
        .replace("@UPSTREAM_DIR@", UPSTREAM_DIR)
    )


def upstream_files(servers: list[str], names: dict[str, str] | None = None) -> dict[str, str]:
    """The upstream include files: its servers (``host:port``), and the name each is logged as.

    ``names`` maps a server to what nginx logs as its ``upstream_addr`` (a pod's
    address, where the lab plays a cluster); the others are logged as they are.
    With no server the upstream holds one that is down (nginx answers 502).
    """
    lines = [f"server {address} max_fails=0;" for address in servers]
    mapped = [f'"{server}" "{name}";' for server, name in sorted((names or {}).items())]
    return {
        f"{UPSTREAM_DIR}/servers.conf": "\n".join(lines or ["server 127.0.0.1:9 down;"]) + "\n",
        f"{UPSTREAM_DIR}/names.map": "\n".join(mapped) + "\n",
    }


def prometheus_config(
    *,
    alertmanager: str,
    rules: Path,
    backends: list[str],
    exporters: dict[str, str],
    instances: dict[str, str],
    names: dict[str, str] | None = None,
) -> str:
    """Scrape the apps and the exporters; an exporter's series get the served instance.

    ``names`` gives a backend (``host:port``) the ``instance`` it is known by (its
    pod's address, where the lab plays a cluster), as Kubernetes discovery would.
    """
    names = names or {}
    api = [
        {"targets": [address], "labels": {"instance": names[address]}}
        if address in names
        else {"targets": [address]}
        for address in backends
    ]
    jobs: list[dict[str, Any]] = [{"job_name": "api", "static_configs": api}]
    for name, address in exporters.items():
        jobs.append(
            {
                "job_name": name,
                "static_configs": [{"targets": [address], "labels": {"instance": instances[name]}}],
            }
        )
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
            "scrape_timeout": "4s",
        },
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }
    return yaml.safe_dump(config, sort_keys=False)


def shipped_files(
    *,
    workdir: Path,
    backends: tuple[str, ...],
    port: int,
    mariadb: MariaDBServer,
    redis: RedisServer,
    nginx: NginxServer,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The files the shipper follows, with the labels of their Loki streams."""
    names = names or {}
    nginx_instance = f"127.0.0.1:{nginx.port}"
    mysql_instance = f"{mariadb.host}:{mariadb.port}"
    files: list[dict[str, Any]] = [
        {
            "path": str(nginx.prefix / "logs" / ACCESS_LOG),
            "labels": {"job": "nginx", "instance": nginx_instance, "log": "access"},
        },
        {
            "path": str(nginx.error_log),
            "labels": {"job": "nginx", "instance": nginx_instance, "log": "error"},
            "fromEnd": True,
        },
        {
            "path": str(mariadb.slow_log),
            "labels": {"job": "mysql", "instance": mysql_instance, "log": "slow"},
            "multiline": "mysql-slow",
        },
        {
            "path": str(mariadb.process.log_path.with_name("mariadb-error.log")),
            "labels": {"job": "mysql", "instance": mysql_instance, "log": "error"},
            "multiline": "mariadb-error",
        },
        {
            "path": str(redis.process.log_path),
            "labels": {"job": "redis", "instance": f"{redis.host}:{redis.port}", "log": "redis"},
        },
    ]
    files += [
        {
            "path": str(workdir / "app" / f"{host}.log"),
            "labels": {
                "job": "api",
                "instance": names.get(f"{host}:{port}", f"{host}:{port}"),
                "log": "app",
            },
        }
        for host in backends
    ]
    return files


def seed_mariadb(mariadb: MariaDBServer) -> dict[str, Any]:
    """The app's tables and rows, the slow-log threshold; the exporter's account."""
    with mariadb.root() as connection, connection.cursor() as cursor:
        cursor.execute("SET GLOBAL long_query_time = 0.2")
        cursor.execute("SET GLOBAL log_slow_verbosity = 'query_plan'")
        cursor.execute("SET GLOBAL innodb_print_all_deadlocks = ON")
        cursor.execute(f"USE `{mariadb.database}`")
        for statement in _SCHEMA:
            cursor.execute(statement)
        cursor.execute(
            "INSERT INTO items (id, name, price) "
            f"SELECT seq, CONCAT('item-', seq), seq % 97 + 0.99 FROM seq_1_to_{ITEMS}"
        )
        cursor.execute("INSERT INTO item_stats (item_id, views) SELECT seq, 0 FROM seq_0_to_9")
        cursor.execute(
            "INSERT INTO orders (customer_id, total, note) "
            f"SELECT seq % 5000, seq % 500 + 0.5, REPEAT('n', 60) FROM seq_1_to_{ORDERS}"
        )
    password = secrets.token_hex(12)
    return mariadb.create_user(
        name="exporter",
        password=password,
        grants=["PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.*"],
    )


_SCHEMA = (
    "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(8,2))",
    "CREATE TABLE item_stats (item_id INT PRIMARY KEY, views BIGINT NOT NULL) ENGINE=InnoDB",
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, "
    "total DECIMAL(10,2), note VARCHAR(80), KEY idx_customer (customer_id)) ENGINE=InnoDB",
)


def app_connection(state: dict[str, Any]) -> pymysql.connections.Connection[Any]:
    """A connection as the app's own account (what an app's or a job's transaction uses)."""
    db = state["mariadb"]
    return pymysql.connect(
        host=db["host"],
        port=int(db["port"]),
        user=db["appUser"],
        password=db["appPassword"],
        database=db["database"],
        autocommit=True,
        connect_timeout=5,
    )


def root_connection(state: dict[str, Any]) -> pymysql.connections.Connection[Any]:
    """A root connection to the lab's MariaDB from its state (fault scripts)."""
    db = state["mariadb"]
    return pymysql.connect(
        host=db["host"],
        port=int(db["port"]),
        user="root",
        password=db["rootPassword"],
        database=db["database"],
        autocommit=True,
        connect_timeout=5,
    )
