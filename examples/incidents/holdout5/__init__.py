"""Fifth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout5 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3/holdout4 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "forum-mariadb-aborted-connects": (
        "mysql_cases",
        "forum_mariadb_aborted_connects",
        "a MariaDB moved to a new VM runs with the default max_connections 151; at the evening "
        "peak PHP gets '[1040] Too many connections', Aborted_connects climbs",
    ),
    "stock-innodb-hot-row": (
        "mysql_cases",
        "stock_innodb_hot_row",
        "a flash sale serialises every checkout on one inventory row; row-lock waits pile up "
        "behind ever-changing short holders, 1205 after 50 s, Hikari pools fill",
    ),
    "billing-mysql-history-length": (
        "mysql_cases",
        "billing_mysql_history_length",
        "a hung BI snapshot transaction (Sleep, 6 h old) blocks purge; history list length "
        "grows 9 M -> 16 M and every read slows until the Go API times out",
    ),
    "ads-mysql-buffer-pool-thrash": (
        "mysql_cases",
        "ads_mysql_buffer_pool_thrash",
        "after an overnight backfill the hot data no longer fits the buffer pool; at the "
        "morning ramp disk reads and wait_free soar, 503 on every campaign-api pod",
    ),
    "cart-redis-noeviction-oom": (
        "redis_cases",
        "cart_redis_noeviction_oom",
        "carts written without TTL fill a noeviction Redis; from 18:17 every write fails "
        "with 'OOM command not allowed when used memory > maxmemory', reads work",
    ),
    "tiles-redis-big-del": (
        "redis_cases",
        "tiles_redis_big_del",
        "a cleanup cron DELs multi-million-field hashes every ~1.5 min; Redis blocks 3.5-8 s "
        "each time and every tiles-api pod times out in bursts for 42 minutes",
    ),
    "chat-redis-replica-resync-loop": (
        "redis_cases",
        "chat_redis_replica_resync_loop",
        "a write burst overflows the replica output buffer; full resync again and again, "
        "history reads fail with LOADING for ~30 s every ~3.5 min",
    ),
    "promo-redis-maxclients-skewed-db": (
        "redis_cases",
        "promo_redis_maxclients_skewed_db",
        "a leaking worker fills Redis maxclients; promo-api fails and falls back to MySQL, "
        "whose host clock runs 9 min slow so its log lines predate the Redis trouble",
    ),
    "pay-nginx-one-slow-backend": (
        "edge_cases",
        "pay_nginx_one_slow_backend",
        "one payments-api pod's Tomcat threads block on a lock; nginx 'upstream timed out' "
        "for its address, GETs retried elsewhere after 15 s, POSTs 504 (drain it)",
    ),
    "signup-nginx-limit-req-burst": (
        "edge_cases",
        "signup_nginx_limit_req_burst",
        "a newsletter burst: nginx limit_req answers 429 to two CGNAT addresses and a "
        "corporate proxy for ~4 min; backend healthy: no incident, no client to block",
    ),
    "shop-app-retry-storm": (
        "edge_cases",
        "shop_app_retry_storm",
        "a rollout's 40 s of 502s sets app 7.3.0 retrying without backoff across thousands "
        "of addresses; the bff overload sustains itself (root the clients, nobody to block)",
    ),
    "search-canary-500s": (
        "edge_cases",
        "search_canary_500s",
        "a canary search-api pod panics (nil map) on filtered searches; ingress 502 "
        "'upstream prematurely closed connection' from its address only (drain it)",
    ),
    "ship-external-dns": (
        "misc_cases",
        "ship_external_dns",
        "the carrier's DNS fails: shipping quotes and labels to a host outside the topology "
        "end in 'Temporary failure in name resolution' (502); DB and cache healthy",
    ),
    "wiki-noisy-quiet-day": (
        "misc_cases",
        "wiki_noisy_quiet_day",
        "G1 pauses, deprecation and scanner WARN spam, one pod scaled in and one joining, two "
        "slow report queries; users at baseline: no incident",
    ),
    "media-ingress-reload-blip": (
        "misc_cases",
        "media_ingress_reload_blip",
        "an ingress-nginx reload closes kept-alive upstream connections: ~75 s of 502s for "
        "~7 % of requests, then 28 min of normal traffic: healed by itself",
    ),
    "orders-two-issues": (
        "misc_cases",
        "orders_two_issues",
        "Redis evicts from 10:04 (harmless) and, separately, the replica's SQL thread stops on "
        "a duplicate key at 10:26; order reads 503 follow the replica only",
    ),
    "geo-redis-keys-once": (
        "extra_cases",
        "geo_redis_keys_once",
        "one KEYS * on a 38 M-key Redis stalls it 13.6 s (one failed scrape, ~130 errors), "
        "then 32 min of normal traffic: healed by itself",
    ),
    "notify-external-tls-expired": (
        "extra_cases",
        "notify_external_tls_expired",
        "a push provider's certificate expires at 09:14; every send fails with 'x509: "
        "certificate has expired' on all pods, a retry list grows in Redis (harmless)",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout5.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
