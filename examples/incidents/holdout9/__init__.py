"""Ninth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout9 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-8 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "crm-mysql-ftwrl-backup-stall": (
        "mysql_cases",
        "crm_mysql_ftwrl_backup_stall",
        "the nightly dump's FLUSH TABLES WITH READ LOCK waits behind a 40-minute BI query: "
        "every write waits for the global read lock, every read for the table flush",
    ),
    "forum-mariadb-table-open-cache": (
        "mysql_cases",
        "forum_mariadb_table_open_cache",
        "posts repartitioned into 512 partitions: MariaDB's table_open_cache (2000) churns, "
        "Opened_tables +900/s, threads in 'Opening tables', pages slow, ~10 % 504",
    ),
    "events-mysql-redo-sync-flush": (
        "mysql_cases",
        "events_mysql_redo_sync_flush",
        "a backfill fills MySQL's default 100 MiB redo log: sharp checkpoints stall every "
        "write in waves, event inserts time out, ~20 % 503",
    ),
    "orders-mysql-archiver-row-locks": (
        "mysql_cases",
        "orders_mysql_archiver_row_locks",
        "the archiver CronJob runs at 09:00 peak (UTC schedule) and holds 50 000-row locks "
        "40 s at a time: checkout UPDATEs wait, 1205 lock wait timeouts and 504s",
    ),
    "search-pg-plan-flip-after-analyze": (
        "store_cases",
        "search_pg_plan_flip_after_analyze",
        "autovacuum's ANALYZE after a bulk import flips the category query to a sequential "
        "scan: 8 ms -> 4-9 s, PostgreSQL CPU saturated, ~25 % of searches 504",
    ),
    "wiki-pg-subtrans-overflow": (
        "store_cases",
        "wiki_pg_subtrans_overflow",
        "a space import's one-transaction PL/pgSQL loop overflows 64 subtransactions: every "
        "backend waits on SubtransSLRU, wiki pages take seconds, ~30 % 504",
    ),
    "notify-redis-pubsub-output-buffer": (
        "store_cases",
        "notify_redis_pubsub_output_buffer",
        "VPA recreates one notify-ws pod with a 250m CPU limit: its Redis subscriber falls "
        "behind, is closed for the pubsub output buffer limit every minute, its polls 504",
    ),
    "session-redis-mass-expiry": (
        "store_cases",
        "session_redis_mass_expiry",
        "9 million sessions written with the same TTL expire together: Redis's expire cycle "
        "hogs the thread for six minutes, session lookups time out, ~35 % 500",
    ),
    "sso-ingress-header-too-big": (
        "edge_cases",
        "sso_ingress_header_too_big",
        "a release puts group claims in a cookie: for users in many groups ingress-nginx's 4k "
        "proxy buffer is too small, 502 'upstream sent too big header' while the app says 200",
    ),
    "tickets-haproxy-check-path": (
        "edge_cases",
        "tickets_haproxy_check_path",
        "a config push points HAProxy's httpchk at /health (the app serves /healthz): every "
        "server DOWN (L7 404), 503 <NOSRV> for everything, the pods healthy and idle",
    ),
    "intranet-traefik-ratelimit-nat": (
        "edge_cases",
        "intranet_traefik_ratelimit_nat",
        "a new Traefik per-IP rate limit meets Monday morning: 1 800 office staff behind one "
        "NAT address get 429 for ~45 % of requests, remote staff fine",
    ),
    "fx-envoy-upstream-aaaa": (
        "edge_cases",
        "fx_envoy_upstream_aaaa",
        "the FX partner publishes AAAA records; the egress Envoy's STRICT_DNS cluster (lookup "
        "family AUTO) picks IPv6 hosts the nodes cannot reach: ~90 % 503 UF",
    ),
    "assets-nginx-ephemeral-ports": (
        "edge_cases",
        "assets_nginx_ephemeral_ports",
        "a config tidy-up drops upstream keepalive: nginx exhausts its ephemeral ports (TIME_WAIT "
        "~28 k) at midday, '99: Cannot assign requested address', ~18 % 502",
    ),
    "chat-one-pod-goroutine-leak": (
        "app_cases",
        "chat_one_pod_goroutine_leak",
        "one chat-api pod leaks goroutines (presence broadcasts blocked on closed sockets): "
        "48 k goroutines, heap and GC up, a third of its requests 504; siblings fine",
    ),
    "recs-canary-slow-serializer": (
        "app_cases",
        "recs_canary_slow_serializer",
        "the 3.9.0 canary (one pod of six) serializes recommendations 30x slower: its requests "
        "take 1-4 s, ~12 % 504; the five 3.8.4 pods unchanged",
    ),
    "pricing-flag-n-plus-one": (
        "app_cases",
        "pricing_flag_n_plus_one",
        "feature flag bundle_pricing_v2 at 100 % runs one query per bundle item: MySQL "
        "Questions x12, every pod slow, ~15 % of quotes 504",
    ),
    "shipping-coredns-cpu-limit": (
        "app_cases",
        "shipping_coredns_cpu_limit",
        "an add-on upgrade caps CoreDNS at 100m CPU: at the evening peak it is throttled, "
        "lookups time out, shipping's carrier calls fail, ~20 % 502",
    ),
    "invoices-release-regex-cpu": (
        "app_cases",
        "invoices_release_regex_cpu",
        "invoices-api 2.8.0 on every pod validates e-mails with a backtracking regex: CPU at "
        "the limit on all pods, p50 2 s, ~25 % 504",
    ),
    "checkout-carding-range": (
        "client_cases",
        "checkout_carding_range",
        "card testing from 150 addresses of one /24: 18 tiny authorisations a second, 94 % "
        "declined, the PSP throttles the merchant, ~30 % of real checkouts fail",
    ),
    "catalog-partner-huge-pages": (
        "client_cases",
        "catalog_partner_huge_pages",
        "a partner's sync job (one IPv6 host) pages the feed with page_size=50000: every "
        "catalog-api pod's CPU saturated, everyone slow, ~10 % 504",
    ),
    "search-warmup-after-deploy-none": (
        "quiet_cases",
        "search_warmup_after_deploy_none",
        "a rolling deploy replaces four pods; each new pod is slower for two minutes while its "
        "cache warms, no errors: no incident",
    ),
    "ledger-otel-exporter-errors-none": (
        "quiet_cases",
        "ledger_otel_exporter_errors_none",
        "the tracing collector is scaled to zero: every pod logs OpenTelemetry export ERRORs "
        "every few seconds, requests and latency unchanged: no incident",
    ),
    "geo-probe-ipv6-failing-none": (
        "quiet_cases",
        "geo_probe_ipv6_failing_none",
        "the blackbox IPv6 probe fails after a change on the probe host; the IPv4 probe and "
        "real IPv6/IPv4 users are fine: no incident",
    ),
    "reports-hpa-scale-in-none": (
        "quiet_cases",
        "reports_hpa_scale_in_none",
        "after the morning peak the HPA scales 8 -> 3 pods, each terminating gracefully, "
        "errors at baseline: no incident",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout9.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
