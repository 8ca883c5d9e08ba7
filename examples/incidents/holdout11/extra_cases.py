# size: three linear scenario scripts, each telling one story
"""Three more round-11 stories: MySQL's max_execution_time set globally, DNS lookups lost
in the kernel's conntrack race, an HPA capped below the peak (written blind)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import envoy_json_line, mysql8_err
from examples.incidents.holdout5.common import ecs
from examples.incidents.holdout7.common import cfs, coredns_exporter
from examples.incidents.holdout9.common import pino
from examples.incidents.holdout10.common import haproxy_json
from examples.incidents.holdout11.common import (
    Pod,
    const,
    every,
    finish,
    level,
    pods,
    say_some,
    stack,
    within,
)


def analytics_mysql_max_execution_time() -> Bundle:  # size: one linear scenario script
    """To stop runaway dashboard queries a DBA runs SET PERSIST max_execution_time = 2000 at
    15:12.  It applies to every read-only SELECT of every user: the stats API's ordinary
    aggregate queries that take 2-6 s are now interrupted ('Query execution was interrupted,
    maximum statement execution time exceeded', 3024): ~40 % of report calls 500 at HAProxy,
    the DB itself calmer than before.  Root: analytics-db (a global limit set too low)."""
    from examples.incidents.holdout6.common import haproxy_exporter

    b = Bundle(
        "analytics-mysql-max-execution-time",
        "2039-02-02T15:00:00Z",
        description="reports failing since ~15:10",
        symptom={"component": "stats-lb"},
        step=20,
        minutes=40,
    )
    rng = b.rng
    onset = 12.0
    bad = within(onset, 99)
    ns = "stats"
    dbl = {"job": "mysql", "instance": "10.48.20.7:9104"}
    b.component("analytics-db", "mysql", {"job": "mysql", "instance": "10.48.20.7:9104"})
    ps = pods("10.48.{k}.15:8080", "stats-api-6b7f", ("j1", "j2", "j3"), "10.48.0.{k}:10250")
    routes = [
        Route("GET", "/reports/revenue?range=90d", "/reports/revenue", 0.35, 2.8, 40000),
        Route("GET", "/reports/daily", "/reports/daily", 0.45, 0.3, 9000),
        Route("GET", "/health", "/health", 0.2, 0.002, 20),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"stats{i + 1}"
        if bad(m) and "revenue" in e.path and rng.random() < 0.9:
            fail(e, 500, 2.0 + rng.uniform(0.01, 0.05), size=120)
            e.extra["interrupted"] = True

    el = {"job": "haproxy", "instance": "10.48.0.2:8405"}
    site = stack(
        b,
        edge_name="stats-lb",
        app="stats-api",
        ns=ns,
        deps=["analytics-db"],
        ps=ps,
        routes=routes,
        prefixes=["10.49.3.", "10.49.4.", "10.50."],
        clients=120,
        outcome=outcome,
        kind="haproxy",
        edge=el,
        rate=lambda m: 3.0,
        fmt=lambda e: haproxy_json(b, e, "fe_stats", "be_stats"),
    )
    haproxy_exporter(
        b, el, "be_stats", {f"stats{k + 1}": p.addr for k, p in enumerate(ps)}, site.events
    )
    for e in site.events:
        if e.extra.get("interrupted") and rng.random() < 0.6:
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "ERROR",
                    "o.s.j.s.SQLErrorCodeSQLExceptionTranslator",
                    "java.sql.SQLException: Query execution was interrupted, maximum statement "
                    "execution time exceeded",
                    **{"error.code": "3024"},
                ),
            )
    finish(site, ns, "stats-api", "api", go=False)
    mysqld_exporter(
        b,
        dbl,
        qps=level(bad, 300.0, 320.0),
        connected=lambda m: 35.0,
        running=level(bad, 2.0, 5.0),
        sending=level(bad, 1.0, 3.0),
        slow=level(bad, 0.02, 0.3),
    )
    b.gauge("mysql_global_variables_max_execution_time", dbl, lambda m: 2000 if m >= onset else 0)
    b.untyped(
        "mysql_global_status_max_execution_time_exceeded", dbl, level(bad, 0.9, 0.0), start=14
    )
    ml = {"job": "mysql", "instance": "10.48.20.7"}
    t = b.t(onset)
    b.log(
        t,
        ml,
        mysql8_err(
            b,
            t,
            88121,
            "Note",
            "MY-013172",
            "Received SET PERSIST max_execution_time=2000 from user 'dba'@'10.48.9.2'",
        ),
    )
    return b


def geo_conntrack_dns_timeouts() -> Bundle:  # size: one linear scenario script
    """geo-api 3.0 moves to an Alpine (musl) base image: every outbound call resolves the
    partner's name with parallel A and AAAA queries over one UDP socket, which meet the
    kernel's conntrack insertion race on the nodes; one lookup in ~40 loses a packet and
    waits the 5 s resolver timeout.  CoreDNS sees nothing wrong.  Requests needing a
    lookup take 5 s+ now and then: p99 5.1 s, ~3 % 504 at Envoy (5 s route timeout), on all
    new pods.  Root: geo-api (the release's resolver behaviour); roll back or set
    single-request-reopen / use NodeLocal DNSCache."""
    from examples.incidents.holdout10.common import is_new, rollout

    b = Bundle(
        "geo-conntrack-dns-timeouts",
        "2039-03-08T10:00:00Z",
        description="sporadic 5 s stalls and 504s on geo lookups",
        symptom={"component": "geo-gw"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    at, gap = 12.0, 1.0
    ns = "geo"
    b.component("coredns", "other", {"job": "coredns"})
    ps = rollout(
        "10.57.{k}.36:3000",
        "geo-api",
        ("7c8d9-a1", "7c8d9-a2", "7c8d9-a3"),
        ("8e1f2-b1", "8e1f2-b2", "8e1f2-b3"),
        "10.57.0.{k}:10250",
        at,
        gap,
    )
    routes = [
        Route("GET", "/v1/geocode?q=berlin", "/v1/geocode", 0.7, 0.06, 1200),
        Route("GET", "/v1/reverse?lat=52.5&lon=13.4", "/v1/reverse", 0.3, 0.05, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i) and rng.random() < 0.045:
            if rng.random() < 0.7:
                fail(e, 504, 5.0, size=24)
                e.extra["flags"] = "UT"
                e.extra["dns"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + 5.0

    site = stack(
        b,
        edge_name="geo-gw",
        app="geo-api",
        ns=ns,
        deps=["coredns"],
        ps=ps,
        routes=routes,
        prefixes=["10.58.", "10.59.", "fd00:57::"],
        clients=200,
        outcome=outcome,
        kind="envoy",
        edge={"job": "geo-gw", "instance": "10.57.0.2:9901"},
        rate=lambda m: 5.0,
        fmt=lambda e: envoy_json_line(b, e, "geo_api", "geo.internal"),
        cluster="geo_api",
    )

    def dns_line(e: Event) -> str:
        pod = ps[e.extra["pod"]]
        return pino(
            b,
            e.t,
            40,
            pod.pod,
            "slow upstream call",
            upstream="api.partner-maps.example",
            dnsMs=5000 + rng.randint(1, 40),
            totalMs=int(e.duration * 1000),
        )

    say_some(site, 0.5, dns_line, status=504)
    for k in range(3, 6):
        t = b.t(at + (k - 3) * gap - 0.25)
        site.say(t, k, pino(b, t, 30, ps[k].pod, "listening", port=3000, node="20.12.2-alpine3.20"))
    finish(site, ns, "geo-api", "api", go=False)
    for n in (1, 2):
        cl = {"job": "coredns", "instance": f"10.57.0.{40 + n}:9153"}
        coredns_exporter(
            b,
            cl,
            qps=const(310.0),
            nxdomain=const(140.0),
            servfail=const(0.0),
            latency=const(0.0012),
            cpu=const(0.05),
        )
    for k in range(1, 4):
        nl = {"job": "node", "instance": f"10.57.0.{k}:9100"}
        b.counter(
            "node_nf_conntrack_stat_insert_failed",
            nl,
            lambda m: 0.9 if m >= at else 0.0,
            start=41,
        )
        b.gauge("node_nf_conntrack_entries", nl, lambda m: rng.randint(21000, 26000))
        b.gauge("node_nf_conntrack_entries_limit", nl, lambda m: 262144)
    return b


def catalog_hpa_max_replicas_peak() -> Bundle:  # size: one linear scenario script
    """A values change last week set catalog-api's HPA maxReplicas 6 (it was 20; a copy from
    staging).  At 20:15 a TV spot triples traffic: the HPA wants 14 pods but stops at 6
    (ScalingLimited), every pod at its CPU limit and throttled, latency x8, ~15 % 504 at
    ingress-nginx.  Root: catalog-api (its scaling capped by configuration); raise
    maxReplicas."""
    b = Bundle(
        "catalog-hpa-max-replicas-peak",
        "2039-04-12T20:00:00Z",
        description="catalogue slow and timing out during the TV spot",
        symptom={"component": "catalog-ingress"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    peak = within(onset, 40.0)
    ns = "catalog"
    suffixes = ("a1", "b2", "c3", "d4")
    ps = pods("10.62.{k}.11:8080", "catalog-api-5d9c7", suffixes, "10.62.0.{k}:10250")
    for k, s in ((5, "e5"), (6, "f6")):
        ps.append(
            Pod(
                f"10.62.{k}.11:8080",
                f"catalog-api-5d9c7-{s}",
                f"10.62.0.{k}:10250",
                lambda m: m >= 16.5,
            )
        )

    def rate(m: float) -> float:
        return 12.0 if peak(m) else 4.0

    def outcome(e: Event, m: float, i: int) -> None:
        if peak(m) and m >= 16.0:
            if rng.random() < 0.15:
                fail(e, 504, 10.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * rng.uniform(4, 10)

    site = stack(
        b,
        edge_name="catalog-ingress",
        app="catalog-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[
            Route("GET", "/api/products/{n}", "/api/products/{id}", 0.7, 0.05, 5000),
            Route("GET", "/api/search?q=sofa", "/api/search", 0.3, 0.12, 15000),
        ],
        prefixes=["2a02:810b:", "46.114.", "109.43.", "2a01:599:", "80.187."],
        clients=1500,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.62.0.3:10254"},
        rate=rate,
        cluster="catalog-catalog-api-8080",
    )
    finish(
        site,
        ns,
        "catalog-api",
        "api",
        go=False,
        cpu=lambda m, i: 1.0 if peak(m) else 0.45,
    )
    cfs(
        b,
        ps,
        ns,
        "api",
        throttled=lambda m, i: 0.65 if peak(m) else 0.02,
        quota_cores=1.0,
    )
    hl = {
        "job": "kube-state-metrics",
        "instance": "10.62.0.9:8080",
        "namespace": ns,
        "horizontalpodautoscaler": "catalog-api",
    }
    b.gauge("kube_horizontalpodautoscaler_spec_max_replicas", hl, lambda m: 6)
    b.gauge("kube_horizontalpodautoscaler_spec_min_replicas", hl, lambda m: 4)
    b.gauge(
        "kube_horizontalpodautoscaler_status_desired_replicas",
        hl,
        lambda m: 6 if peak(m) else 4,
    )
    b.gauge(
        "kube_horizontalpodautoscaler_status_current_replicas",
        hl,
        lambda m: 6 if m >= 16.5 else 4,
    )
    b.gauge(
        "kube_horizontalpodautoscaler_status_condition",
        {**hl, "condition": "ScalingLimited", "status": "true"},
        lambda m: 1 if peak(m) and m >= 16.0 else 0,
    )
    for t in every(b, onset + 1, 40.0, 60, 60):
        b.log(
            t,
            {"job": "kube-controller-manager", "instance": "10.62.0.1"},
            "I0412 "
            + b.dt(t).strftime("%H:%M:%S")
            + '.114203       1 horizontal.go:512] "the desired replica count is more than the '
            + 'maximum replica count" HPA="catalog/catalog-api" desired=14 max=6',
        )
    return b
