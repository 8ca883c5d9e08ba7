"""Eighth held-out set: incidents written without reading the engine.

``python -m examples.incidents.holdout8 NAME|all --out DIR`` writes ``DIR/NAME``;
``generate(name, out_dir)`` does the same from Python and returns the folder.
``SCENARIOS`` maps each name to its one-line story; ``expected_path(name)`` is the
expected diagnosis (the holdout3-7 schema).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, builder function, one-line story)
_BUILDERS: dict[str, tuple[str, str, str]] = {
    "orders-rabbitmq-disk-alarm": (
        "queue_cases",
        "orders_rabbitmq_disk_alarm",
        "an audit queue without consumers fills RabbitMQ's disk to its free-space limit: the "
        "disk alarm blocks every publisher, checkouts hang 10 s and fail on every pod",
    ),
    "shipping-kafka-poll-interval-release": (
        "queue_cases",
        "shipping_kafka_poll_interval_release",
        "label-worker 5.2.0 calls a carrier API per record inside the poll loop: max.poll.interval "
        "exceeded, the group rebalances again and again, lag grows, labels 503",
    ),
    "ledger-pgbouncer-pool-size": (
        "db_cases",
        "ledger_pgbouncer_pool_size",
        "a PgBouncer config push sets pool_size 8 for the ledger database: clients queue, "
        "query_wait_timeout after 15 s for ~30 %, PostgreSQL quieter than before",
    ),
    "catalog-mysql-replica-slow-disk": (
        "db_cases",
        "catalog_mysql_replica_slow_disk",
        "one of two MySQL read replicas gets a degraded volume (await 250 ms): its 1-row "
        "lookups take seconds, half the reads slow, ~10 % hit the API's 3 s timeout",
    ),
    "search-redis-cluster-slot-migration": (
        "db_cases",
        "search_redis_cluster_slot_migration",
        "a Redis Cluster rebalance migrates a slot of multi-million-field hashes: MIGRATE blocks "
        "the source master 6-14 s at a time, searches fail in bursts (i/o timeout, TRYAGAIN)",
    ),
    "reports-mysql-tls-cert-expired": (
        "db_cases",
        "reports_mysql_tls_cert_expired",
        "MySQL's server certificate expires at midnight: each new verified connection fails "
        "(x509 expired), errors climb as the pools recycle, ~90 % of reports fail",
    ),
    "orders-sqlalchemy-pool-release": (
        "app_cases",
        "orders_sqlalchemy_pool_release",
        "orders-svc 4.12.0 reads the migration job's pool settings (pool_size 1, overflow 0): "
        "every new pod queues on SQLAlchemy's QueuePool, ~35 % 500 after 30 s",
    ),
    "profile-istio-sidecar-leak": (
        "app_cases",
        "profile_istio_sidecar_leak",
        "after a mesh upgrade every pod's istio-proxy leaks to its 256Mi limit and is OOM-killed "
        "every ~10 min: 503 UC/UF bursts from the gateway, app containers flat",
    ),
    "accounts-one-pod-stale-secret": (
        "app_cases",
        "accounts_one_pod_stale_secret",
        "one pod missed the restart after a DB password rotation (subPath mount): its "
        "reconnects fail with MySQL 1045 Access denied, its share of requests 500",
    ),
    "thumbs-one-node-readonly-fs": (
        "app_cases",
        "thumbs_one_node_readonly_fs",
        "a node's NVMe errors make ext4 remount read-only: the thumbs-api pod there fails every "
        "request ('read-only file system'), its four siblings are fine",
    ),
    "billing-upstream-cert-expired": (
        "edge_cases",
        "billing_upstream_cert_expired",
        "billing-api's serving certificate expires (renewal failing for a month): nginx's "
        "proxy_ssl_verify refuses every pod, 502 for everything, the API sees no request",
    ),
    "exports-gateway-default-timeout": (
        "edge_cases",
        "exports_gateway_default_timeout",
        "a generated Envoy config drops the exports route's 120 s timeout: every export ends "
        "504 UT at Envoy's default 15 s while exports-api finishes the work",
    ),
    "forge-crawler-rotating-agents": (
        "client_cases",
        "forge_crawler_rotating_agents",
        "one address crawls a Forgejo's blame and commit pages at 11 req/s with a new browser "
        "user agent on every request: git CPU saturates, everyone slow, 504s",
    ),
    "community-graphql-depth-bomb": (
        "client_cases",
        "community_graphql_depth_bomb",
        "one IPv6 host posts a nine-level nested GraphQL query 1.5 times a second: every "
        "Node pod's event loop lags 2-8 s, ordinary queries 504",
    ),
    "auth-otp-sms-pumping": (
        "client_cases",
        "auth_otp_sms_pumping",
        "SMS pumping from one address through the OTP endpoint: the throttled SMS provider is "
        "retried in-request, Tomcat threads fill on every pod, logins time out",
    ),
    "promo-push-spike-none": (
        "quiet_cases",
        "promo_push_spike_none",
        "a Black Friday push multiplies traffic 5x for a quarter of an hour; the HPA adds five "
        "pods, the e-mail queue grows and drains, errors at baseline: no incident",
    ),
    "status-probe-redirect-none": (
        "quiet_cases",
        "status_probe_redirect_none",
        "a release redirects /healthz to /healthz/: the blackbox probe (no redirects, 2xx "
        "only) fails and pages while every user request is fine: no incident",
    ),
    "picking-consumer-restart-none": (
        "quiet_cases",
        "picking_consumer_restart_none",
        "a planned rolling restart of Kafka consumers rebalances the group six times; the lag "
        "spikes to ~25 k and drains in minutes, the API unaffected: no incident",
    ),
    "product-es-parent-breaker": (
        "store_cases",
        "product_es_parent_breaker",
        "a dashboard's high-cardinality terms aggregation fills Elasticsearch's heap: the parent "
        "circuit breaker trips on every data node, ~40 % of product searches 503",
    ),
    "quotes-node-nic-saturated": (
        "store_cases",
        "quotes_node_nic_saturated",
        "a backup pod saturates one node's 10 Gbit NIC: the quotes-api pod there times out on "
        "Redis and 504s, its three siblings and Redis are fine",
    ),
}

SCENARIOS: dict[str, str] = {name: story for name, (_, _, story) in _BUILDERS.items()}


def expected_path(name: str) -> Path:
    return HERE / "expected" / f"{name}.yaml"


def generate(name: str, out_dir: str | Path) -> Path:
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(_BUILDERS)})")
    module, function, _ = _BUILDERS[name]
    builder = getattr(importlib.import_module(f"examples.incidents.holdout8.{module}"), function)
    folder: Path = builder().write(Path(out_dir) / name)
    return folder
