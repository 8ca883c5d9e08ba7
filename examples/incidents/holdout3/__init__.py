"""Third held-out set: 22 incidents written without reading the engine.

``python -m examples.incidents.holdout3 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout2 schema plus an optional ``failureMode`` and
``forbidden`` list of actions that must not be proposed).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "ledger-idle-trx-blocker": (
        "mysql_locks",
        "ledger_idle_trx_blocker",
        "an engineer's idle open transaction (Sleep) holds EU account rows; payouts UPDATEs "
        "wait 50 s and fail with Go-driver Error 1205 on all pods",
    ),
    "forum-deadlock-pdo": (
        "mysql_locks",
        "forum_deadlock_pdo",
        "a moderation cron's SELECT ... FOR UPDATE transaction stays open; PHP PDO replies "
        "fail with 1205 and 1213 deadlocks on all php-fpm VMs",
    ),
    "crm-too-many-connections": (
        "mysql_capacity",
        "crm_too_many_connections",
        "unindexed contacts-export scans (6.2 M rows, 40-90 s) fill Threads_running and then "
        "max_connections; JDBC 'Too many connections' on all crm-api pods",
    ),
    "stock-mysql-disk-full": (
        "mysql_capacity",
        "stock_mysql_disk_full",
        "a forgotten general_log fills /var/lib/mysql; InnoDB and binlog writes fail with "
        "errno 28, stock-sync writes fail with 'Errcode: 28 - No space left on device'",
    ),
    "tickets-pg-too-many-clients": (
        "postgres",
        "tickets_pg_too_many_clients",
        "an archiver cron leaks 'idle in transaction' sessions until PostgreSQL refuses "
        "connections ('sorry, too many clients already'); all tickets-api pods fail",
    ),
    "orders-pg-replica-lag": (
        "postgres",
        "orders_pg_replica_lag",
        "an analyst's long query on the read replica pauses WAL replay; lag climbs to 51 min, "
        "the live dashboard refuses stale data (503); primary healthy",
    ),
    "billing-pg-migration-lock-queue": (
        "postgres",
        "billing_pg_migration_lock_queue",
        "ALTER TABLE waits for ACCESS EXCLUSIVE behind a BI session; every invoices query "
        "queues behind it and times out for 24 min until the migration is cancelled",
    ),
    "menu-redis-keys-storm": (
        "redis_cases",
        "menu_redis_keys_storm",
        "a debugging script runs KEYS menu:* every 5 s on 11 M keys; Redis blocks ~1.9 s each "
        "time and every menu-api pod times out alike",
    ),
    "session-redis-cluster-failover": (
        "redis_cases",
        "session_redis_cluster_failover",
        "a Redis Cluster master's VM freezes; its replica wins the election 21 s later; "
        "~21 s of CLUSTERDOWN on all session-svc pods, then healed",
    ),
    "media-edge-worker-connections": (
        "proxies",
        "media_edge_worker_connections",
        "a config push sets worker_connections 512 on both nginx VMs; ordinary SSE listeners "
        "fill them: 'worker_connections are not enough', 500s that reach no upstream",
    ),
    "api-front-envoy-overload": (
        "proxies",
        "api_front_envoy_overload",
        "per-path stats bloat both Envoy pods' heaps; the overload manager stops accepting "
        "requests: 503 OM 'envoy overloaded', upstream healthy",
    ),
    "quote-engine-cpu-burn": (
        "apps",
        "quote_engine_cpu_burn",
        "one quote-engine pod spins in regex backtracking: CPU at its limit, throttled, its "
        "requests slow and 504; four siblings healthy",
    ),
    "cart-canary-leak": (
        "apps",
        "cart_canary_leak",
        "a canary cart-svc pod joins halfway through the window and leaks heap until "
        "OOMKilled; stable pods flat",
    ),
    "checkout-bad-release": (
        "apps",
        "checkout_bad_release",
        "a rolling update to v3.41.0 panics on gift-card checkouts on every new pod alike "
        "(nil map); no drain, roll back",
    ),
    "geo-client-retry-loop": (
        "clients",
        "geo_client_retry_loop",
        "one partner host abandons an expensive request after 2 s and retries at once, "
        "~12 req/s of 499s; all geo-api VMs saturate and others get 504",
    ),
    "id-credential-stuffing-v6": (
        "clients",
        "id_credential_stuffing_v6",
        "187 addresses of one /24 each try a password every ~50 s, and one IPv6 host loops "
        "on failing refresh grants at 9 req/s; argon2 pegs all id-svc pods",
    ),
    "thumbnailer-oom-crashloop": (
        "k8s",
        "thumbnailer_oom_crashloop",
        "a config change lets 50 MP images be decoded in memory; every thumbnailer pod is "
        "OOMKilled again and again (CrashLoopBackOff) alike",
    ),
    "search-node-disk-pressure": (
        "k8s",
        "search_node_disk_pressure",
        "a neighbour fills node 10.3.7.19's disk (DiskPressure); the one query-svc pod "
        "there fails 'No space left on device', siblings fine",
    ),
    "docs-blip-heals": (
        "quiet",
        "docs_blip_heals",
        "one docs-renderer pod stalls for 45 s (502/504 for its share), then 22 min of normal "
        "traffic: healed by itself",
    ),
    "lunch-busy-hour": (
        "quiet",
        "lunch_busy_hour",
        "lunch rush triples traffic, HPA adds two pods, MySQL and Redis follow load; errors "
        "at baseline: no incident",
    ),
    "notif-deploy-spike": (
        "quiet",
        "notif_deploy_spike",
        "a planned rolling restart without preStop gives three bursts of Envoy 503 UF, 0.3 % "
        "of the hour, inside the SLO",
    ),
    "market-meltdown": (
        "combo",
        "market_meltdown",
        "MySQL deadlocks, unindexed scans and Too many connections; one API VM also burns CPU "
        "on a reindex; Redis evicts at maxmemory; one client retries identical requests",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout3.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
