"""Fourth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout4 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3 schema: holdout2's plus ``failureMode`` and
``forbidden``; a remediation may carry ``params`` as the bundle format describes them).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "wallet-mysql-idle-holder": (
        "mysql_cases",
        "wallet_mysql_idle_holder",
        "a reconciliation job's transaction sleeps holding merchant rows; debits fail with "
        "Java 'Lock wait timeout exceeded', then Hikari pools fill on all pods",
    ),
    "pricing-mariadb-lost-index": (
        "mysql_cases",
        "pricing_mariadb_lost_index",
        "a migration drops the price lookup index on MariaDB; 2.1 M-row scans pile up to "
        "max_connections; PHP PDO '[1040] Too many connections' on every VM (30 s scrapes)",
    ),
    "catalog-mysql-replica-lag": (
        "mysql_cases",
        "catalog_mysql_replica_lag",
        "a 14 M-row DELETE in one transaction; the MySQL 8 replica falls ~40 min behind and "
        "the stock endpoint refuses stale data (503) on all pods; primary healthy",
    ),
    "reports-mariadb-tmpdir-full": (
        "mysql_cases",
        "reports_mariadb_tmpdir_full",
        "an INTO OUTFILE export fills MariaDB's tmpdir volume; reports needing temp tables "
        "fail with errno 28 / 'Incorrect key file' in pymysql",
    ),
    "geo-mysql-oom-restarts": (
        "mysql_cases",
        "geo_mysql_oom_restarts",
        "mysqld is OOM-killed three times and spends ~3.5 min in crash recovery each time; "
        "IPv6 geo-svc pods log 'dial tcp [fd4e:...::15]:3306: connection refused'",
    ),
    "shop-mysql-mdl-retrier": (
        "mysql_cases",
        "shop_mysql_mdl_retrier",
        "an analyst's long SELECT blocks a migration's ALTER; every products query waits for "
        "the metadata lock and times out (2013); one bot retries each failure 3 times",
    ),
    "audit-pg-wal-slot-disk-full": (
        "pg_redis",
        "audit_pg_wal_slot_disk_full",
        "a forgotten logical replication slot keeps WAL until the PostgreSQL volume is full; "
        "PANIC, failed recovery; Go writers log SQLSTATE 57P03 then connection refused",
    ),
    "orders-pg-xid-wraparound": (
        "pg_redis",
        "orders_pg_xid_wraparound",
        "PostgreSQL reaches the XID stop limit and refuses writes ('not accepting commands to "
        "avoid wraparound data loss'); node-postgres code 54000 on all pods (30 s scrapes)",
    ),
    "feed-redis-sentinel-readonly": (
        "pg_redis",
        "feed_redis_sentinel_readonly",
        "Sentinel fails the Redis master over; pooled clients keep writing to the demoted "
        "node: ~9 min of 'READONLY You can't write against a read only replica'",
    ),
    "queue-redis-misconf-bgsave": (
        "pg_redis",
        "queue_redis_misconf_bgsave",
        "BGSAVE cannot fork (overcommit_memory=0); with stop-writes-on-bgsave-error Redis "
        "refuses writes: MISCONF in every Celery producer",
    ),
    "session-redis-evictions": (
        "pg_redis",
        "session_redis_evictions",
        "campaign fragments fill an allkeys-lru Redis that also holds sessions; ~1,500 "
        "evictions/s log users out (401) on all portal pods (30 s scrapes)",
    ),
    "stream-nginx-worker-connections": (
        "proxies_apps",
        "stream_nginx_worker_connections",
        "a new base image ships worker_connections 1024; at kick-off both ws-edge VMs pin at "
        "2,048 connections and answer 500 without reaching live-ws (nginx JSON logs)",
    ),
    "mesh-envoy-pending-overflow": (
        "proxies_apps",
        "mesh_envoy_pending_overflow",
        "a misattached traffic policy sets max_pending_requests 16 on the Envoy gateway; ~22 % "
        "503 UO overflow while ledger-api stays healthy",
    ),
    "edge-waf-regex-cpu": (
        "proxies_apps",
        "edge_waf_regex_cpu",
        "a WAF rule with catastrophic backtracking is pushed to every OpenResty/ModSecurity "
        "VM at once; CPU ~100 %, 502/504 from the WAF itself, storefront healthy",
    ),
    "search-api-gc-thrash": (
        "proxies_apps",
        "search_api_gc_thrash",
        "one Java search pod loads a 2.6 GB synonym set into a 3 GB heap: back-to-back full "
        "GCs, 504s for its share; four siblings healthy (drain it)",
    ),
    "rates-api-bad-release": (
        "proxies_apps",
        "rates_api_bad_release",
        "a rolling update to 5.4.0 throws NoSuchMethodError on /v2/convert on every new pod; "
        "old pods disappear mid-window; all alike, no drain",
    ),
    "inventory-hikari-leak": (
        "proxies_apps",
        "inventory_hikari_leak",
        "a release leaks pooled JDBC connections; every pod's HikariCP pool drains to 20/20 "
        "and requests wait 30 s; the MySQL behind it is idle and healthy",
    ),
    "checkout-node-conntrack": (
        "k8s_clients",
        "checkout_node_conntrack",
        "a neighbour fills node 10.90.0.14's conntrack table; the one basket-svc pod there "
        "logs 'dial tcp 10.90.60.5:3306: i/o timeout' while the MySQL is healthy (drain it)",
    ),
    "worker-node-memory-pressure": (
        "k8s_clients",
        "worker_node_memory_pressure",
        "a leaking critical DaemonSet puts node ip-10-70-3-19 under MemoryPressure; the "
        "docs-render pod there thrashes and sheds load; siblings fine (drain it)",
    ),
    "statement-jvm-oomkilled-crashloop": (
        "k8s_clients",
        "statement_jvm_oomkilled_crashloop",
        "a Helm change halves the memory limit below -Xmx; every new statement-svc pod is "
        "OOMKilled again and again (CrashLoopBackOff) after the rolling update",
    ),
    "login-stuffing-v6-64": (
        "k8s_clients",
        "login_stuffing_v6_64",
        "230 addresses of one IPv6 /64 each try a password about once a minute; bcrypt "
        "pegs all auth-svc pods; neighbours in the same /48 are ordinary users",
    ),
    "listings-scraper-flood": (
        "k8s_clients",
        "listings_scraper_flood",
        "one IPv4 address pages through search at ~30 req/s; OFFSET scans fill the MySQL "
        "slow log and PHP workers saturate; rate-limit the client, don't kill queries",
    ),
    "coredns-blip-heals": (
        "quiet",
        "coredns_blip_heals",
        "a NodeLocal DNSCache rollout makes DB hostname lookups time out for ~50 s (~80 "
        "errors), then 36 min of normal traffic: healed by itself",
    ),
    "evening-peak-busy": (
        "quiet",
        "evening_peak_busy",
        "a TV ad triples ticket traffic; the HPA adds three pods and a canary joins; DB and "
        "cache follow load; errors at baseline (30 s scrapes): no incident",
    ),
    "nightly-backup-noise": (
        "quiet",
        "nightly_backup_noise",
        "mysqldump fills the slow log with 400 s full-table SELECTs and raises disk reads; "
        "users see +8 % latency and no errors: no incident, nothing to kill",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout4.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
