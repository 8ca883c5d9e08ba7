"""Sixth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout6 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-5 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story); filled as modules are written
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "ingest-prepared-stmt-leak": (
        "db_cases",
        "ingest_prepared_stmt_leak",
        "ingest-worker 4.2.0 leaks server-side prepared statements; at max_prepared_stmt_count "
        "every PREPARE fails with MySQL 1461, for events-api too",
    ),
    "catalog-galera-flow-control": (
        "db_cases",
        "catalog_galera_flow_control",
        "one Galera node's disk slows; its flow control pauses the whole cluster, every "
        "catalog write waits or times out",
    ),
    "orders-semisync-dead-replica": (
        "db_cases",
        "orders_semisync_dead_replica",
        "the only semi-sync replica dies; with an infinite semi-sync timeout every commit on "
        "the primary waits for an ACK, connections pile up",
    ),
    "blog-mariadb-query-cache-lock": (
        "db_cases",
        "blog_mariadb_query_cache_lock",
        "a newsletter burst serialises a WordPress MariaDB on its query-cache mutex; php-fpm "
        "at max_children, nginx 502",
    ),
    "reports-pgbouncer-stale-stats": (
        "db_cases",
        "reports_pgbouncer_stale_stats",
        "a bulk load without ANALYZE flips the hot query to a seq scan; PgBouncer's pool fills "
        "and clients queue into query_wait_timeout",
    ),
    "ledger-pg-standby-conflicts": (
        "db_cases",
        "ledger_pg_standby_conflicts",
        "analysts' queries on a hot standby are cancelled by recovery conflicts now and then; "
        "the API is at baseline: no incident",
    ),
    "sessions-redis-fork-retries": (
        "cache_cases",
        "sessions_redis_fork_retries",
        "every BGSAVE fork stalls a 26 GB Redis ~2 s (THP); web-api's Jedis retries on new "
        "connections stretch each stall into a 45 s connection storm and 503 burst",
    ),
    "rank-redis-hot-shard": (
        "cache_cases",
        "rank_redis_hot_shard",
        "a game event puts one hot leaderboard key on one Redis Cluster shard; that shard's "
        "thread saturates, leaderboard calls time out, the other shards idle",
    ),
    "menu-cold-cache-stampede": (
        "cache_cases",
        "menu_cold_cache_stampede",
        "a reboot empties menu-cache; for ~14 min every miss hits menu-db, whose slow log "
        "fills with ordinary menu queries; 503s until the cache is warm",
    ),
    "shop-connection-storm-blip": (
        "cache_cases",
        "shop_connection_storm_blip",
        "a rollout's new pods open full Hikari pools at once: 45 s of 'Too many connections', "
        "then 33 healthy minutes: no incident",
    ),
    "shop-edge-cert-expired": (
        "edge_cases",
        "shop_edge_cert_expired",
        "the edge certificate expires at midnight: handshakes fail, traffic falls to the "
        "monitoring bots, no 5xx anywhere",
    ),
    "quote-haproxy-one-backend-queue": (
        "edge_cases",
        "quote_haproxy_one_backend_queue",
        "one quote-api VM in a GC death spiral; HAProxy queues for it (sQ-- 503s) while its "
        "TCP check keeps it in rotation",
    ),
    "pricing-nginx-stale-upstream": (
        "edge_cases",
        "pricing_nginx_stale_upstream",
        "a blue/green switch moves pricing.internal; nginx keeps the address resolved at "
        "start-up: 'No route to host', all 502, the new backends are healthy",
    ),
    "hooks-partner-retry-loop": (
        "edge_cases",
        "hooks_partner_retry_loop",
        "a partner's new webhook sender retries rejected (422) deliveries in a tight loop from "
        "one address; hooks-api slows for every partner",
    ),
    "orders-export-api-key-scrape": (
        "edge_cases",
        "orders_export_api_key_scrape",
        "one integration pages a deep OFFSET export with eight workers; the export query "
        "dominates the slow log and orders-api slows for everyone",
    ),
    "catalog-bluegreen-went-fine": (
        "k8s_cases",
        "catalog_bluegreen_went_fine",
        "an Argo Rollouts blue/green switch: new pods take over, old pods leave, one slightly "
        "slower minute and three 499s: no incident",
    ),
    "auth-pod-clock-skew": (
        "k8s_cases",
        "auth_pod_clock_skew",
        "one node's clock falls 95 s behind; the auth-api pod there rejects fresh JWTs "
        "('token used before issued'), users are logged out at random",
    ),
    "orders-rollout-bad-config": (
        "k8s_cases",
        "orders_rollout_bad_config",
        "a rolling update with a typo in DB_HOST: each new pod turns Ready and fails every "
        "request ('no such host'); roll back, draining would only recreate them",
    ),
    "search-liveness-restart-cascade": (
        "k8s_cases",
        "search_liveness_restart_cascade",
        "a TV-ad peak: liveness probes sharing the busy worker pool time out and the kubelet "
        "restarts pod after pod, each restart overloading the rest",
    ),
    "upload-objectstore-slowdown": (
        "k8s_cases",
        "upload_objectstore_slowdown",
        "an external object store answers PutObject with 503 SlowDown; uploads hang or fail "
        "on every pod, everything inside the topology is healthy",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout6.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
