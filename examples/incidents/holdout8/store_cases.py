# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Search store and node: Elasticsearch's parent circuit breaker tripping under a
dashboard's high-cardinality aggregation, and a backup pod saturating one node's NIC next
to an API pod."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import envoy_json_line, iso_ms, log_each, spring, zap
from examples.incidents.holdout5.common import java_side, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout8.common import per, per2

GB = 1024**3


def _es_log(b: Bundle, t: float, level: str, node: str, logger: str, msg: str) -> str:
    return json.dumps(
        {
            "@timestamp": iso_ms(b, t),
            "log.level": level,
            "message": msg,
            "ecs.version": "1.2.0",
            "service.name": "ES_ECS",
            "event.dataset": "elasticsearch.server",
            "process.thread.name": f"elasticsearch[{node}][scheduler][T#1]",
            "log.logger": logger,
            "elasticsearch.cluster.name": "product-es",
            "elasticsearch.node.name": node,
        },
        separators=(",", ":"),
    )


def product_es_parent_breaker() -> Bundle:  # size: one linear scenario script
    """At 10:14 an analyst publishes a Kibana dashboard with a terms aggregation on
    ``session_id`` (tens of millions of values, size 100000) refreshed every 30 s.  On all
    three data nodes of product-es the heap climbs from ~70 % to ~96 %, old-generation GC
    runs back to back ("[gc] overhead, spent [3.1s] collecting in the last [3.6s]"), and
    the parent circuit breaker trips: product-search's queries fail with
    ``circuit_breaking_exception [parent] Data too large`` (~40 %, answered 503) and the
    rest are slow, on every pod alike.  The shop edge and the pods are victims.  Root:
    product-es (memory pressure from the aggregation); cancel the dashboard's searches and
    cap bucket sizes.  Sources: elastic/elasticsearch issue #31197 ("Circuitbreaker
    Exception Data too large": the parent breaker sums the child breakers), #88517;
    telekom-security/tpotce issue #879 (a dashboard's aggregation trips the parent breaker);
    Elastic docs "Circuit breaker errors"."""
    b = Bundle(
        "product-es-parent-breaker",
        "2036-02-12T09:55:00Z",
        description="product search failing or very slow since ~10:15",
        symptom={"component": "shop-ingress", "route": "/api/search"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    onset = 19.0
    hot = within(onset, 99)
    ns = "catalog"
    b.component(
        "shop-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "app": "ingress-nginx"},
        ["product-search"],
    )
    b.component("product-search", "app", {"namespace": ns, "app": "product-search"}, ["product-es"])
    b.component("product-es", "other", {"namespace": ns, "app": "product-es"})
    pods = [
        Pod(
            f"10.70.{2 + i}.{33 + i * 3}:8080", f"product-search-7d9f-{s}", f"10.70.{2 + i}.1:10250"
        )
        for i, s in enumerate(("kq2", "mw7", "zt4"))
    ]
    routes = [
        Route("GET", "/api/search?q=shoe{n}", "/api/search", 0.75, 0.06, 18000),
        Route("GET", "/api/suggest?q=s{n}", "/api/suggest", 0.25, 0.015, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if not hot(m):
            return
        if rng.random() < 0.4:
            fail(e, 503, rng.uniform(0.05, 1.2), size=120)
            e.extra["cbe"] = True
            e.extra["app_status"] = 503
            e.extra["exception"] = "ElasticsearchException"
        else:
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.3, 2.5)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["79.140.22.", "95.91.3.", "2a02:810d:4b40::", "188.174.61."],
        clients=650,
        rate=lambda m: 13.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "app": "ingress-nginx",
            "instance": "10.70.0.6:10254",
        },
        cluster="catalog-product-search-8080",
    )
    for e in site.events:
        if e.extra.get("cbe") and rng.random() < 0.5:
            used = rng.uniform(15.21, 15.6)
            site.say(
                e.t,
                e.extra["pod"],
                spring(
                    b,
                    e.t,
                    "ERROR",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "c.s.search.ProductSearchService",
                    "search failed: co.elastic.clients.elasticsearch._types.ElasticsearchException: "
                    "[es/search] failed: [circuit_breaking_exception] [parent] Data too large, data "
                    f"for [<http_request>] would be [{int(used * GB)}/{used:.1f}gb], which is larger "
                    f"than the limit of [{int(15.2 * GB)}/15.2gb]",
                ),
            )
    java_side(
        b,
        pods,
        site.events,
        {"namespace": ns, "app": "product-search"},
        app="product-search",
        busy=lambda m, i: 40.0 if hot(m) else 8.0,
    )
    log_each(
        b,
        site.logs,
        pods,
        {"namespace": ns, "app": "product-search", "container": "product-search"},
    )
    for k in range(3):
        node = f"es-data-{k}"
        el = {
            "namespace": ns,
            "app": "product-es",
            "instance": f"10.70.8.{11 + k}:9114",
            "cluster": "product-es",
            "name": node,
        }

        def heap(m: float) -> float:
            return (
                (0.70 + rng.uniform(-0.03, 0.03)) * 16 * GB
                if not hot(m)
                else (0.94 + rng.uniform(0.0, 0.03)) * 16 * GB
            )

        for breaker, limit in (
            ("parent", 15.2),
            ("request", 9.6),
            ("fielddata", 6.4),
            ("inflight_requests", 16.0),
        ):
            bl = {**el, "breaker": breaker}
            b.counter(
                "elasticsearch_breakers_tripped",
                bl,
                per(lambda m, br: (2.2 if hot(m) else 0.0) if br == "parent" else 0.0, breaker),
                start=14 if breaker == "parent" else 0,
            )
            b.gauge(
                "elasticsearch_breakers_estimated_size_bytes",
                bl,
                per(
                    lambda m, br: (
                        heap(m)
                        if br == "parent"
                        else ((5.1 if hot(m) else 0.2) * GB if br == "request" else 0.3 * GB)
                    ),
                    breaker,
                ),
            )
            b.gauge(
                "elasticsearch_breakers_limit_size_bytes",
                bl,
                per(lambda m, lim: int(lim * GB), limit),
            )
        b.gauge("elasticsearch_jvm_memory_used_bytes", {**el, "area": "heap"}, heap)
        b.gauge("elasticsearch_jvm_memory_max_bytes", {**el, "area": "heap"}, lambda m: 16 * GB)
        b.gauge(
            "elasticsearch_jvm_memory_used_bytes", {**el, "area": "non-heap"}, lambda m: 0.31 * GB
        )
        for gc, rate_hot, rate_cold, pause_hot, pause_cold in (
            ("young", 2.0, 0.6, 0.09, 0.02),
            ("old", 0.3, 0.0, 2.6, 0.0),
        ):
            gl = {**el, "gc": gc}
            b.counter(
                "elasticsearch_jvm_gc_collection_seconds_count",
                gl,
                per2(lambda m, h, c: h if hot(m) else c, rate_hot, rate_cold),
                start=88_100 if gc == "young" else 41,
            )
            b.counter(
                "elasticsearch_jvm_gc_collection_seconds_sum",
                gl,
                per2(
                    lambda m, h, c: h if hot(m) else c, rate_hot * pause_hot, rate_cold * pause_cold
                ),
                start=1_920.4 if gc == "young" else 88.1,
                integer=False,
            )
        tl = {**el, "type": "search"}
        b.gauge("elasticsearch_thread_pool_active_count", tl, lambda m: 13 if hot(m) else 3)
        b.counter("elasticsearch_thread_pool_rejected_count", tl, lambda m: 0.0, start=0)
        b.gauge(
            "elasticsearch_thread_pool_queue_count",
            tl,
            lambda m: rng.randint(20, 200) if hot(m) else 0,
        )
        b.counter("elasticsearch_indices_search_query_total", el, lambda m: 70.0, start=4.4e8)
        b.counter(
            "elasticsearch_indices_search_query_time_seconds",
            el,
            lambda m: 9.0 if hot(m) else 1.1,
            start=3.1e6,
            integer=False,
        )
        b.gauge("elasticsearch_indices_docs", el, per(lambda m, k: 41_200_000 + k * 120_000, k))
        b.gauge("elasticsearch_cluster_health_status", {**el, "color": "green"}, lambda m: 1)
        b.gauge("elasticsearch_cluster_health_status", {**el, "color": "yellow"}, lambda m: 0)
        b.gauge("elasticsearch_cluster_health_status", {**el, "color": "red"}, lambda m: 0)
        b.gauge("elasticsearch_cluster_health_number_of_nodes", el, lambda m: 3)
        ll = {
            "namespace": ns,
            "app": "product-es",
            "instance": f"10.70.8.{11 + k}:9114",
            "name": node,
        }
        for t in every(b, onset + 0.2, 50, 4.0, 9.0):
            spent = rng.uniform(2.4, 3.4)
            b.log(
                t,
                ll,
                _es_log(
                    b,
                    t,
                    "WARN",
                    node,
                    "org.elasticsearch.monitor.jvm.JvmGcMonitorService",
                    f"[gc][{int(b.m(t) * 60) + 88000}] overhead, spent [{spent:.1f}s] collecting "
                    f"in the last [{spent + rng.uniform(0.2, 0.6):.1f}s]",
                ),
            )
            if rng.random() < 0.3:
                before = rng.uniform(15.3, 15.6) * GB
                b.log(
                    t + 0.5,
                    ll,
                    _es_log(
                        b,
                        t + 0.5,
                        "INFO",
                        node,
                        "org.elasticsearch.indices.breaker.HierarchyCircuitBreakerService",
                        f"GC did not bring memory usage down, before [{int(before)}], after "
                        f"[{int(before - rng.uniform(0.0, 0.05) * GB)}], allocations [1], duration "
                        f"[{rng.randint(40, 180)}]",
                    ),
                )
        for t in every(b, 0, 50, 300, 600):
            b.log(
                t,
                ll,
                _es_log(
                    b,
                    t,
                    "INFO",
                    node,
                    "org.elasticsearch.cluster.metadata.MetadataMappingService",
                    "[sessions-2036.02.12/Vq7cYbVnS0uJ8qF0x2h5wA] update_mapping [_doc]",
                ),
            )
    return b


def quotes_node_nic_saturated() -> Bundle:  # size: one linear scenario script
    """At 03:12 a restic backup pod of another team (namespace velero) starts uploading a
    4 TB volume from node 10.21.0.13 and saturates its 10 Gbit NIC (~1.2 GB/s transmit,
    drops and TCP retransmits).  The quotes-api pod on that node (10.21.13.45:8080) reaches
    Redis and its clients through the same NIC: its Redis calls time out ("i/o timeout"),
    its latency goes to seconds and ~35 % of its requests end 504 at the Envoy edge; the
    three siblings on other nodes are fine and Redis is healthy.  Root: quotes-api on
    10.21.13.45:8080 (a noisy neighbour saturates its node's network); drain it (and
    throttle the backup).  Sources: Grafana docs "Application latency due to network
    saturation" (Kubernetes Monitoring); corecode.pro "Resource isolation and noisy
    neighbors" (one backup job saturates a shared device); Velero docs "File System Backup"
    (uploader bandwidth)."""
    b = Bundle(
        "quotes-node-nic-saturated",
        "2036-03-05T02:55:00Z",
        description="a quarter of quote requests slow or failing tonight",
        symptom={"component": "quotes-gw"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    onset = 17.0
    sat = within(onset, 99)
    bad = 2
    ns = "quotes"
    b.component("quotes-gw", "proxy", {"job": "quotes-gw"}, ["quotes-api"])
    b.component("quotes-api", "app", {"namespace": ns, "app": "quotes-api"}, ["quotes-cache"])
    b.component("quotes-cache", "redis", {"namespace": ns, "app": "quotes-cache"})
    pods = [
        Pod(f"10.21.{11 + i}.45:8080", f"quotes-api-5f7b-{s}", f"10.21.0.{11 + i}:10250")
        for i, s in enumerate(("aa1", "bb2", "cc3", "dd4"))
    ]
    routes = [
        Route("POST", "/v1/quotes", "/v1/quotes", 0.7, 0.035, 1400),
        Route("GET", "/v1/quotes/{n}", "/v1/quotes/{id}", 0.3, 0.01, 1100),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad and sat(m):
            if rng.random() < 0.35:
                fail(e, 504, 5.0, size=24)
                e.extra["flags"] = "UT"
                e.extra["details"] = "upstream_response_timeout"
                e.extra["timeout"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.4, 3.5)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["172.31.40.", "172.31.41.", "172.31.42."],
        clients=80,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "quotes-gw", "instance": "10.21.0.5:9901"},
        cluster="quotes-api",
        fmt=lambda e: envoy_json_line(b, e, "quotes-api", "quotes.internal"),
    )
    for e in site.events:
        if e.extra.get("pod") == bad and sat(b.m(e.t)) and rng.random() < 0.3:
            site.say(
                e.t,
                bad,
                zap(
                    b,
                    e.t,
                    "error",
                    "cache/redis.go:52",
                    "rate card lookup failed",
                    addr="10.21.30.7:6379",
                    error="read tcp 10.21.13.45:51622->10.21.30.7:6379: i/o timeout",
                ),
            )
    for t in every(b, 0, b.minutes, 45, 140):
        k = rng.randrange(4)
        site.say(
            t,
            k,
            zap(
                b,
                t,
                "info",
                "pricing/ratecard.go:31",
                "rate cards refreshed",
                cards=rng.randint(1200, 1300),
            ),
        )
    site.apps(
        {"namespace": ns, "app": "quotes-api"},
        {"namespace": ns, "app": "quotes-api", "container": "quotes-api"},
        namespace=ns,
        container="quotes-api",
        goroutines=lambda m, i: 900 if i == bad and sat(m) else 60,
    )
    for k in range(len(pods)):
        nl = {"job": "node-exporter", "instance": f"10.21.0.{11 + k}:9100"}
        noisy = k == bad
        dl = {**nl, "device": "ens5"}
        b.counter(
            "node_network_transmit_bytes_total",
            dl,
            per(lambda m, n: 1.19e9 if n and sat(m) else 3.1e7, noisy),
            start=8.8e13,
        )
        b.counter(
            "node_network_transmit_drop_total",
            dl,
            per(lambda m, n: 840.0 if n and sat(m) else 0.0, noisy),
            start=1_204,
        )
        b.gauge("node_network_speed_bytes", dl, lambda m: 1.25e9)
        b.untyped(
            "node_netstat_Tcp_RetransSegs",
            nl,
            per(lambda m, n: 2600.0 if n and sat(m) else 4.0, noisy),
            start=3.3e6,
        )
        node_exporter(b, nl, busy=lambda m: 0.3, avail=lambda m: 40e9, cores=16)
    cl = {
        "job": "kubelet",
        "metrics_path": "/metrics/cadvisor",
        "instance": f"10.21.0.{11 + bad}:10250",
        "namespace": "velero",
        "pod": "node-agent-7xk2p",
        "interface": "eth0",
    }
    b.counter(
        "container_network_transmit_bytes_total",
        cl,
        lambda m: 1.16e9 if sat(m) else 1.0e3,
        start=4.4e12,
    )
    vl = {"namespace": "velero", "app": "node-agent", "pod": "node-agent-7xk2p"}
    t = b.t(onset) - 0.5
    b.log(
        t,
        vl,
        f'time="{b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ")}" level=info msg="Running '
        'PodVolumeBackup" backup=velero/nightly-archive-20360305 controller=podvolumebackup '
        'logSource="pkg/controller/pod_volume_backup_controller.go:135" '
        "podvolumebackup=velero/nightly-archive-20360305-8xq2v",
    )
    redis_exporter(
        b,
        {"namespace": ns, "app": "quotes-cache", "instance": "10.21.30.7:9121"},
        ops=lambda m: 3100.0,
        used=lambda m: 2.2e9,
        maxmemory=8e9,
        clients=lambda m: 96,
    )
    return b
