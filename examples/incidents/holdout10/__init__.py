"""Tenth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout10 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-9 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "analytics-pg-temp-files-disk-full": (
        "pg_cases",
        "analytics_pg_temp_files_disk_full",
        "a new dashboard's GROUP BY spills ~30 GB temp files per run into PostgreSQL's data "
        "volume: the disk fills, inserts fail 'could not extend file', ~45 % 500",
    ),
    "metrics-pg-lockmanager-partitions": (
        "pg_cases",
        "metrics_pg_lockmanager_partitions",
        "the 400th daily partition is attached; generic plans lock every partition past the "
        "fast-path slots: backends queue on LWLock:LockManager, ~30 % of dashboards 504",
    ),
    "audit-pg-checkpoints-too-frequent": (
        "pg_cases",
        "audit_pg_checkpoints_too_frequent",
        "a backfill writes 250 MB/s of WAL into PostgreSQL with max_wal_size 1 GB: checkpoints "
        "every 8-10 s, full-page images, the disk saturated, ~20 % of inserts 503",
    ),
    "listings-mysql-drop-table-ahi": (
        "mysql_cases",
        "listings_mysql_drop_table_ahi",
        "the weekly cleanup drops a 60 GB staging table: the DROP holds InnoDB's adaptive hash "
        "index latch, every SELECT waits (long semaphore waits), ~40 % 504 for 12 minutes",
    ),
    "wallet-mysql-ebs-burst-credits": (
        "mysql_cases",
        "wallet_mysql_ebs_burst_credits",
        "the wallet database's gp2 volume runs out of burst credits: 300 IOPS baseline, fsyncs "
        "60 ms, commits queue, ~25 % of transfers 503 at Envoy",
    ),
    "helpdesk-mariadb-threadpool-max": (
        "mysql_cases",
        "helpdesk_mariadb_threadpool_max",
        "MariaDB's thread_pool_max_threads lowered to 64; at Monday's peak the pool is full, "
        "'Threadpool could not create additional thread', ~35 % of ticket pages 500",
    ),
    "games-redis-hgetall-big-hash": (
        "redis_cases",
        "games_redis_hgetall_big_hash",
        "the event's rewards hash passes 1.6 M fields and every login HGETALLs it: Redis's "
        "thread saturated, slowlog full, ~40 % of lobby requests 502",
    ),
    "feeds-redis-oomkilled-bgsave": (
        "redis_cases",
        "feeds_redis_oomkilled_bgsave",
        "feeds-cache (maxmemory 3.5 GiB, limit 4 GiB) is OOM-killed at each BGSAVE fork's "
        "copy-on-write: three restarts, LOADING errors, ~30 % 503 around each",
    ),
    "profile-release-no-db-pool": (
        "app_cases",
        "profile_release_no_db_pool",
        "profile-api 4.2.0 opens a MySQL connection per request: Connections 4 -> 700/s, "
        "MySQL CPU on TLS handshakes, near max_connections, ~20 % 500 after the rollout",
    ),
    "quotes-one-pod-thread-deadlock": (
        "app_cases",
        "quotes_one_pod_thread_deadlock",
        "a Java lock-order deadlock on one quotes-api pod of four: all 200 Tomcat threads "
        "BLOCKED, CPU idle, its requests 504 after 30 s; liveness on another port, no restart",
    ),
    "loyalty-dotnet-threadpool-starvation": (
        "app_cases",
        "loyalty_dotnet_threadpool_starvation",
        "loyalty-api 7.3.0 blocks on async calls (.Result): the .NET thread pool starves, "
        "queue in thousands, CPU low, ~30 % 504 UT at Envoy",
    ),
    "forms-gunicorn-worker-timeout": (
        "app_cases",
        "forms_gunicorn_worker_timeout",
        "forms-api 3.14.0 renders PDFs in the request: gunicorn's sync workers time out "
        "(WORKER TIMEOUT), nginx 'upstream prematurely closed', ~35 % 502",
    ),
    "cart-envoy-outlier-ejection": (
        "edge_cases",
        "cart_envoy_outlier_ejection",
        "a config push enables Envoy outlier detection (consecutive_5xx 3, 100 % ejection, "
        "panic threshold 0): healthy pods ejected, ~30 % 503 UH 'no healthy upstream'",
    ),
    "downloads-nginx-too-many-open-files": (
        "edge_cases",
        "downloads_nginx_too_many_open_files",
        "a node image brings a 1024 soft RLIMIT_NOFILE; nginx sets no worker_rlimit_nofile: "
        "at the evening peak '24: Too many open files', ~20 % of downloads fail",
    ),
    "portal-ingress-reload-worker-pileup": (
        "node_cases",
        "portal_ingress_reload_worker_pileup",
        "Argo CD and a webhook fight over an Ingress annotation: ingress-nginx reloads every "
        "20 s, old workers pile up behind websockets, memory to the limit, OOMKilled twice",
    ),
    "tasks-node-pleg-unhealthy": (
        "node_cases",
        "tasks_node_pleg_unhealthy",
        "one node's root disk degrades: PLEG not healthy, Ready flapping, the two tasks-api "
        "pods on it block on their logs, ~60 % of their requests 504; four pods fine",
    ),
    "api-h2-rapid-reset": (
        "client_cases",
        "api_h2_rapid_reset",
        "HTTP/2 rapid reset (CVE-2023-44487) from 180 hosts of 193.142.146.0/24: ~7 000 "
        "stream resets a second, the edge Envoy's CPU saturated, ~25 % of real users 503",
    ),
    "booking-k6-loadtest-prod": (
        "client_cases",
        "booking_k6_loadtest_prod",
        "a k6 load test meant for staging hits production from one IPv6 CI runner: 70 heavy "
        "searches a second, booking-db CPU saturated, ~15 % 504 at Traefik",
    ),
    "accounts-reset-email-bombing": (
        "client_cases",
        "accounts_reset_email_bombing",
        "password-reset bombing from 45.134.26.0/24: each reset sends mail inline, the SMTP "
        "relay throttles, Puma's threads fill, ~25 % of logins 504",
    ),
    "checkout-chaos-pod-kill-none": (
        "quiet_cases",
        "checkout_chaos_pod_kill_none",
        "a planned game day: LitmusChaos deletes a checkout-api pod every five minutes, "
        "Envoy retries and readiness hide it, no user errors: no incident",
    ),
    "shop-reporting-replica-lag-none": (
        "quiet_cases",
        "shop_reporting_replica_lag_none",
        "the nightly ETL puts the reporting-only MySQL replica 25 minutes behind; the "
        "primary and the shop are unaffected: no incident",
    ),
    "catalog-node-pool-upgrade-none": (
        "quiet_cases",
        "catalog_node_pool_upgrade_none",
        "a node-pool upgrade drains three nodes one by one under a PodDisruptionBudget: pods "
        "churn, errors at baseline: no incident",
    ),
    "crm-mysql-slowlog-sampling-none": (
        "quiet_more",
        "crm_mysql_slowlog_sampling_none",
        "a DBA samples the workload with long_query_time = 0 for twenty minutes: the slow "
        "log records every statement, Slow_queries ~900/s, nothing else changes: no incident",
    ),
    "auth-key-rotation-401-none": (
        "quiet_more",
        "auth_key_rotation_401_none",
        "a planned signing-key rotation: tokens signed with the old key get 401 once, clients "
        "refresh and retry, four minutes of 401s, no 5xx: no incident",
    ),
    "billing-jvm-gc-sawtooth-none": (
        "quiet_more",
        "billing_jvm_gc_sawtooth_none",
        "billing-api's G1 heap saws between 55 and 90 % of 2 GiB, JvmHeapHigh fires every few "
        "minutes, pauses 15-40 ms, latency flat: no incident",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout10.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
