"""Eleventh held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout11 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-10 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "reports-mysql-temptable-full": (
        "mysql_cases",
        "reports_mysql_temptable_full",
        "month-end exports fill MySQL 8's TempTable pools (temptable_max_ram and _mmap, 1 GiB "
        "each): every query needing an internal temporary table fails 1114 'table is full', "
        "~35 % of report and dashboard calls 500 at Caddy",
    ),
    "partners-mysql-reverse-dns": (
        "mysql_cases",
        "partners_mysql_reverse_dns",
        "a MySQL moved without skip_name_resolve; its old resolver is retired: each new "
        "connection waits in 'login' on a reverse lookup, the per-request PHP portal's pages "
        "slow and ~30 % 504 at nginx",
    ),
    "shop-mariadb-max-user-connections": (
        "mysql_cases",
        "shop_mariadb_max_user_connections",
        "a hardening change sets MAX_USER_CONNECTIONS 100 for MariaDB's 'shop' user; at the "
        "Saturday peak the Node pools need ~150: error 1226, ~20 % of shop calls 500 at Kong",
    ),
    "orders-pgbouncer-prepared-statements": (
        "pg_cases",
        "orders_pgbouncer_prepared_statements",
        "a config push switches PgBouncer 1.20 to transaction pooling; pgJDBC's named "
        'statements meet other server connections: \'prepared statement "S_4" does not '
        "exist', ~25 % of orders calls 500 at Envoy, PostgreSQL idle",
    ),
    "search-pg-jit-compile": (
        "pg_cases",
        "search_pg_jit_compile",
        "search-db comes back from maintenance on PostgreSQL 16 with JIT on by default: the "
        "search query compiles for 300-900 ms each time, DB CPU saturated at the morning ramp, "
        "~20 % 504 at HAProxy",
    ),
    "notes-pg-wraparound-vacuum-ddl": (
        "pg_cases",
        "notes_pg_wraparound_vacuum_ddl",
        "a migration's ALTER TABLE queues behind a long anti-wraparound autovacuum on notes; "
        "every query on notes queues behind the ALTER: 190 waiting backends, ~60 % 504 at "
        "Traefik",
    ),
    "cart-redis-swapping": (
        "redis_cases",
        "cart_redis_swapping",
        "cart-cache's Redis (no maxmemory, 6.9 GiB on an 8 GiB VM) is swapped out when the "
        "backup agent starts: commands wait on page faults, redis-py timeouts, ~25 % of cart "
        "calls 500 at ingress-nginx",
    ),
    "tokens-redis-idle-timeout": (
        "redis_cases",
        "tokens_redis_idle_timeout",
        "an operator sets Redis 'timeout 60' on tokens-cache; the Node pool's idle connections "
        "are closed under it and each reuse fails ECONNRESET: ~8 % of token checks 500 at "
        "Envoy, Redis idle",
    ),
    "kb-ingress-rewrite-404": (
        "edge_cases",
        "kb_ingress_rewrite_404",
        "a chart upgrade gives the Ingress rewrite-target /$1 where /$2 was needed: every /api "
        "call reaches kb-api as '/', which answers 404; ~70 % of requests 404, kb-api healthy",
    ),
    "mobile-nginx-missing-intermediate": (
        "edge_cases",
        "mobile_nginx_missing_intermediate",
        "the renewed certificate is deployed as the leaf alone: browsers fetch the "
        "intermediate, the Android app and Java partners fail the handshake; ~45 % of traffic "
        "vanishes, no 5xx",
    ),
    "pay-envoy-retry-amplification": (
        "edge_cases",
        "pay_envoy_retry_amplification",
        "a gateway push sets retry_on 5xx with 5 retries and no budget; a 20 s ledger blip is "
        "amplified six-fold, payments-api saturates and the overload sustains itself: ~35 % "
        "503 URX at Envoy",
    ),
    "feed-node-one-pod-heap-leak": (
        "app_cases",
        "feed_node_one_pod_heap_leak",
        "feed-api leaks listeners; the one pod up for nine days nears its 2 GiB V8 heap: "
        "back-to-back GC, event-loop lag 1-4 s, a third of its requests 504 at Traefik; "
        "three younger pods fine",
    ),
    "invoices-php-fpm-release": (
        "app_cases",
        "invoices_php_fpm_release",
        "invoices-web 6.2.0 checks VAT numbers with a synchronous SOAP call (3-8 s) on every "
        "invoice page: php-fpm at pm.max_children on every new pod, nginx 502/504 for ~30 %",
    ),
    "catalog-uwsgi-processes-config": (
        "app_cases",
        "catalog_uwsgi_processes_config",
        "a staging Helm value ships to production: uWSGI processes 16 -> 2; the new pods' "
        "listen queues fill ('listen queue ... full'), nginx 502 for ~25 %",
    ),
    "ingest-go-gomemlimit-spiral": (
        "app_cases",
        "ingest_go_gomemlimit_spiral",
        "ingest-api 2.9.0 runs with GOMEMLIMIT=900MiB and GOGC=off in a 1 GiB container: the "
        "GC runs continuously, CPU pinned, batches 10x slower, ~30 % 504 on every new pod",
    ),
    "news-cache-busting-querystring": (
        "client_cases",
        "news_cache_busting_querystring",
        "120 hosts of 45.148.10.0/24 request articles with random query strings at ~20 req/s: "
        "every one misses nginx's cache, news-web's PHP workers saturate, ~20 % of readers' "
        "misses 504",
    ),
    "wiki-ai-crawler-ipv6": (
        "client_cases",
        "wiki_ai_crawler_ipv6",
        "a crawler ('Scrapebot') walks every wiki diff from one IPv6 /64, a new address every "
        "few requests, ~8 req/s: php-fpm and MariaDB saturated, staff pages ~25 % 504 at night",
    ),
    "crm-hikari-pool-max-connections": (
        "client_cases",
        "crm_hikari_pool_max_connections",
        "crm-api 8.4.0 sets HikariCP maximumPoolSize = minimumIdle = 80 on eight pods: crm-db's "
        "500 connections are full mid-rollout, the last pods' pools cannot fill, ~30 % of their "
        "calls 500",
    ),
    "exam-school-nat-none": (
        "quiet_cases",
        "exam_school_nat_none",
        "exams start: ~400 pupils behind one school-district NAT address make it ~40 % of "
        "requests, each at human pace; latency and errors at baseline: no incident",
    ),
    "orders-stuck-rollout-crashloop-none": (
        "quiet_cases",
        "orders_stuck_rollout_crashloop_none",
        "a deploy's first new pod crash-loops on a missing env var; maxUnavailable 0 keeps the "
        "old pods serving, the rollout stalls, users see nothing: no incident",
    ),
    "metrics-exporter-grants-none": (
        "quiet_cases",
        "metrics_exporter_grants_none",
        "an upgraded mysqld_exporter enables collectors its user has no grants for: 'SELECT "
        "command denied' on every scrape, MySQL and the API unaffected: no incident",
    ),
    "ledger-pg-nightly-vacuum-none": (
        "quiet_cases",
        "ledger_pg_nightly_vacuum_none",
        "the 02:00 maintenance runs vacuumdb --analyze-in-stages and pg_dump: DB disk reads "
        "and CPU up for half an hour, the night's API traffic unaffected: no incident",
    ),
    "shop-cache-purge-none": (
        "quiet_more",
        "shop_cache_purge_none",
        "a planned purge of nginx's page cache after a price import: ten minutes of MISSes, "
        "origin CPU and median latency up, no errors: no incident",
    ),
    "orders-pg-switchover-blip-none": (
        "quiet_more",
        "orders_pg_switchover_blip_none",
        "a planned Patroni switchover: sessions cut for ~6 s, the API retries ('terminating "
        "connection due to administrator command'), a few 503s of ~9 000: no incident",
    ),
    "billing-cron-spikes-none": (
        "quiet_more",
        "billing_cron_spikes_none",
        "every ten minutes a reminder CronJob's chunked SELECTs spike billing-db's CPU and "
        "fill the slow log for ~40 s; API p99 +30 ms, no errors: no incident",
    ),
    "analytics-mysql-max-execution-time": (
        "extra_cases",
        "analytics_mysql_max_execution_time",
        "a DBA persists max_execution_time = 2000 globally to stop runaway dashboards: the "
        "stats API's ordinary 2-6 s report SELECTs are interrupted (3024), ~40 % of report "
        "calls 500 at HAProxy",
    ),
    "geo-conntrack-dns-timeouts": (
        "extra_cases",
        "geo_conntrack_dns_timeouts",
        "geo-api 3.0 moves to Alpine: parallel A/AAAA lookups meet the kernel's conntrack race, "
        "one lookup in ~40 waits the 5 s resolver timeout; CoreDNS healthy, ~3 % 504 at Envoy",
    ),
    "catalog-hpa-max-replicas-peak": (
        "extra_cases",
        "catalog_hpa_max_replicas_peak",
        "an HPA's maxReplicas copied from staging (6, was 20) meets a TV spot: desired 14, "
        "stuck at 6 (ScalingLimited), every pod throttled at its CPU limit, ~15 % 504",
    ),
    "auth-graphql-alias-bruteforce": (
        "more_cases",
        "auth_graphql_alias_bruteforce",
        "one hosting address posts GraphQL requests of 80 aliased login mutations, 3 a second: "
        "~240 bcrypt checks/s, auth-api's CPU pinned, ~30 % 504 at Traefik; per-request limits "
        "never fire",
    ),
    "portal-traefik-forwarded-headers": (
        "more_cases",
        "portal_traefik_forwarded_headers",
        "a Traefik upgrade drops forwardedHeaders.trustedIPs for the cloud balancer's proxies: "
        "X-Forwarded-For becomes a proxy's address, the app's per-client limiter sees a few "
        "dozen clients: ~50 % 429, no 5xx",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout11.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
