"""Seventh held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout7 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-6 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story); filled as modules are written
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "wms-mysql-auto-increment-exhausted": (
        "db_cases",
        "wms_mysql_auto_increment_exhausted",
        "an INT AUTO_INCREMENT key reaches 2147483647: every scan INSERT fails with 1062 "
        "'Duplicate entry', reads work",
    ),
    "crm-mariadb-open-files": (
        "db_cases",
        "crm_mariadb_open_files",
        "MariaDB on a new host runs with open_files_limit 1024; at the peak 'Too many open "
        "files' (errno 24), crm-api 500 on every VM",
    ),
    "telemetry-pg-lock-table-full": (
        "db_cases",
        "telemetry_pg_lock_table_full",
        "queries that lock every one of ~1,900 daily partitions fill PostgreSQL's shared lock "
        "table: 'out of shared memory', max_locks_per_transaction",
    ),
    "ledger-pg-backend-oom-resets": (
        "db_cases",
        "ledger_pg_backend_oom_resets",
        "an analytics query gets a PostgreSQL backend OOM-killed three times; each time the "
        "postmaster resets every session and recovers for ~35 s",
    ),
    "notify-redis-lua-busy": (
        "cache_cases",
        "notify_redis_lua_busy",
        "a queue library's Lua script over 3.4 M delayed jobs blocks Redis 9-22 s every minute: "
        "BUSY Redis is busy running a script",
    ),
    "presence-redis-aof-fsync-stall": (
        "cache_cases",
        "presence_redis_aof_fsync_stall",
        "a backup saturates the Redis VM's disk; AOF everysec fsyncs stall Redis for seconds, "
        "presence-svc times out on every pod",
    ),
    "uploads-nginx-body-temp-full": (
        "edge_cases",
        "uploads_nginx_body_temp_full",
        "nginx buffers uploads to a root disk full of deleted-but-open logs: pwrite() failed (28: No space left on device), uploads 500 from nginx itself",
    ),
    "shop-haproxy-process-maxconn": (
        "edge_cases",
        "shop_haproxy_process_maxconn",
        "HAProxy runs with the packaged global maxconn 4096; long polls fill it at a TV spot: no errors logged, fewer requests, the probe fails",
    ),
    "geo-envoy-keepalive-503uc": (
        "edge_cases",
        "geo_envoy_keepalive_503uc",
        "a release's Node default keep-alive (5 s) is shorter than Envoy's idle timeout: ~4 % 503 UC connection_termination on the new pods only",
    ),
    "feed-node-eventloop-release": (
        "app_cases",
        "feed_node_eventloop_release",
        "feed-api 2.14.0 compiles a JSON schema per request: every new pod's Node event loop lags 1-3 s, ingress 504s; roll back, no drain",
    ),
    "media-fd-leak-one-pod": (
        "app_cases",
        "media_fd_leak_one_pod",
        "one long-running Go pod leaks a descriptor per 404 until accept4 fails with 'too many open files'; nginx times out connecting to it only",
    ),
    "payments-coredns-ndots-overload": (
        "k8s_cases",
        "payments_coredns_ndots_overload",
        "per-request lookups of an external host with ndots:5 saturate CoreDNS at its CPU limit at lunch: DNS i/o timeouts in two namespaces",
    ),
    "reports-ephemeral-storage-evictions": (
        "k8s_cases",
        "reports_ephemeral_storage_evictions",
        "report-svc keeps rendered PDFs in /tmp: each pod hits its 2Gi ephemeral-storage limit and is evicted, its replacement too",
    ),
    "checkout-cpu-limit-throttling": (
        "k8s_cases",
        "checkout_cpu_limit_throttling",
        "a Helm values change sets a 500m CPU limit: every new JVM pod throttled in 70 % of CFS periods, latency x5, some 504",
    ),
    "pdf-node-pid-pressure": (
        "k8s_cases",
        "pdf_node_pid_pressure",
        "a neighbour's zombies exhaust one node's PIDs (PIDPressure): the pdf-render pod there cannot fork wkhtmltopdf, its siblings are fine",
    ),
    "catalog-subnet-scraper": (
        "client_cases",
        "catalog_subnet_scraper",
        "a price crawler spreads over 64 addresses of one /24, each under the per-address limit; deep sorted pages load MySQL, everyone gets slow",
    ),
    "giftcard-v6-enumeration": (
        "client_cases",
        "giftcard_v6_enumeration",
        "gift-card codes brute-forced from one IPv6 /64 with a new address per request; scrypt lookups peg giftcard-api",
    ),
    "orders-uptime-monitor-deep-health": (
        "client_cases",
        "orders_uptime_monitor_deep_health",
        "a misconfigured uptime monitor polls /health/deep 30 times a second; its COUNT(*) over pending orders fills the slow log",
    ),
    "billing-nightly-batch-none": (
        "quiet_cases",
        "billing_nightly_batch_none",
        "a nightly invoice CronJob pins its own 2-core limit (throttled), chunked SELECTs in the slow log; customers' API at baseline: no incident",
    ),
    "search-sidecar-oomkills-none": (
        "quiet_cases",
        "search_sidecar_oomkills_none",
        "a fluent-bit sidecar is OOMKilled six times in two pods next to a healthy app, DEBUG stack traces: no incident",
    ),
    "docs-scanner-404s-none": (
        "quiet_cases",
        "docs_scanner_404s_none",
        "a vulnerability scanner requests ~2,000 well-known paths at 1.5 req/s, all cheap 404s; readers unaffected: no incident",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout7.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
