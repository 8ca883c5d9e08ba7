# size: three linear scenario scripts of one family, each telling one story
"""Healthy-but-noisy windows of round 10, part two: a slow-log sampling session, a
signing-key rotation's expected 401s, a JVM heap sawtooth (written blind)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import log_each, mysql_slow, nginx_json_line
from examples.incidents.holdout5.common import java_side, within
from examples.incidents.holdout6.common import structlog
from examples.incidents.holdout10.common import every, finish, pods, tier


def crm_mysql_slowlog_sampling_none() -> Bundle:  # size: one linear scenario script
    """At 14:00 a DBA sets long_query_time = 0 for twenty minutes to sample the workload
    for pt-query-digest: the slow log records every statement and Slow_queries jumps from
    0.1 to ~900 a second.  Queries, latency, CPU and errors are unchanged; at 14:20 the
    setting is restored.  No incident."""
    b = Bundle(
        "crm-mysql-slowlog-sampling-none",
        "2036-08-12T13:45:00Z",
        description="slow query alert on crm-db, slow log exploding",
        symptom={"component": "crm-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    sampling = within(15.0, 35.0)
    ns = "crm"
    b.component("crm-edge", "proxy", {"job": "crm-nginx"}, ["crm-api"])
    b.component("crm-api", "app", {"namespace": ns, "app": "crm-api"}, ["crm-db"])
    b.component("crm-db", "other", {"job": "mysql", "instance": "crm-db-0.crm-db:9104"})
    ps = pods("10.66.{k}.25:8080", "crm-api-6f9c8", ("e1", "f2", "g3"), "10.66.0.{k}:10250")
    routes = [
        Route("GET", "/api/contacts/{n}", "/api/contacts/{id}", 0.7, 0.02, 1800),
        Route("PUT", "/api/contacts/{n}", "/api/contacts/{id}", 0.3, 0.03, 400),
    ]
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.2.", "10.5.7."],
        clients=200,
        outcome=None,
        kind="nginx",
        edge={"job": "crm-nginx", "instance": "10.66.0.2:9113"},
        rate=lambda m: 6.0,
        fmt=lambda e: nginx_json_line(b, e, "crm.corp.example"),
    )
    for t in every(b, 0, b.minutes, 25, 60):
        site.say(t, rng.randrange(3), structlog(b, t, 2, "info", "contact.updated", source="ui"))
    finish(site, ns, "crm-api", "api")
    dbl = {"job": "mysql", "instance": "crm-db-0.crm-db:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 900.0,
        connected=lambda m: 45.0,
        running=lambda m: 3.0,
        slow=lambda m: 900.0 if sampling(m) else 0.1,
    )
    b.gauge("mysql_global_variables_long_query_time", dbl, lambda m: 0 if sampling(m) else 2)
    b.gauge("mysql_global_variables_slow_query_log", dbl, lambda m: 1)
    node_exporter(
        b,
        {"job": "node", "instance": "crm-db-0.crm-db:9100"},
        busy=lambda m: 0.24 if sampling(m) else 0.21,
        avail=lambda m: 18e9,
    )
    sl = {"job": "mysql", "instance": "crm-db-0.crm-db:9104", "log": "slow"}
    for t in every(b, 15.0, 35.0, 0.05, 0.35):
        q = rng.random()
        b.log(
            t,
            sl,
            mysql_slow(
                b,
                t,
                user="crm",
                host=f"10.66.{rng.randint(1, 3)}.25",
                thread=rng.randint(20000, 29000),
                qt=rng.uniform(0.0001, 0.004),
                lt=0.000002,
                sent=1 if q < 0.7 else 0,
                examined=1,
                sql="SELECT * FROM contacts WHERE id = 48211"
                if q < 0.7
                else "UPDATE contacts SET phone = '+44 20 7946 0001' WHERE id = 31877",
                db="crm",
            ),
        )
    t = b.t(14.9)
    b.log(
        t,
        {"job": "mysql", "instance": "crm-db-0.crm-db:9104", "log": "general"},
        f"{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\t  811 Query\tSET GLOBAL long_query_time = 0",
    )
    return b


def auth_key_rotation_401_none() -> Bundle:  # size: one linear scenario script
    """At 10:00 the planned signing-key rotation retires key 2036-05 immediately: for about
    four minutes clients holding tokens signed with it get 401 once, refresh their token
    and retry successfully.  No 5xx, latency unchanged, the refresh endpoint busier.  No
    incident."""
    b = Bundle(
        "auth-key-rotation-401-none",
        "2036-06-01T09:45:00Z",
        description="401 spike on the API after key rotation",
        symptom={"component": "api-gw"},
        step=15,
        minutes=35,
    )
    rng = b.rng
    spike = within(15.0, 19.0)
    ns = "identity"
    b.component("api-gw", "proxy", {"job": "api-gw"}, ["orders-api"])
    b.component("orders-api", "app", {"namespace": ns, "app": "orders-api"})
    ps = pods("10.88.{k}.41:8000", "orders-api-8c5bd", ("t1", "u2", "v3"), "10.88.0.{k}:10250")
    routes = [
        Route("GET", "/v1/orders?page={n}", "/v1/orders", 0.6, 0.03, 5000),
        Route("POST", "/oauth/token", "/oauth/token", 0.1, 0.02, 900),
        Route("GET", "/v1/orders/{n}", "/v1/orders/{order_id}", 0.3, 0.015, 1200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if spike(m) and "oauth" not in e.path and rng.random() < 0.35:
            fail(e, 401, rng.uniform(0.001, 0.004), size=62)
            e.extra["kid"] = True

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a00:20:", "87.122.", "2a02:8070:", "95.90."],
        clients=900,
        outcome=outcome,
        kind="nginx",
        edge={"job": "api-gw", "instance": "10.88.0.3:9113"},
        rate=lambda m: 11.0 + (6.0 if spike(m) else 0.0),
    )
    for e in site.events:
        if e.extra.get("kid") and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b, e.t, 0, "warning", "auth.token_rejected", reason="unknown kid", kid="2036-05"
                ),
            )
    t = b.t(15.0)
    site.say(
        t,
        0,
        structlog(b, t, 0, "info", "auth.jwks_refreshed", kids=["2036-06"], retired=["2036-05"]),
    )
    for t in every(b, 0, b.minutes, 30, 70):
        site.say(
            t,
            rng.randrange(3),
            structlog(b, t, 0, "info", "orders.listed", count=rng.randint(1, 40)),
        )
    finish(site, ns, "orders-api", "api", go=False)
    return b


def billing_jvm_gc_sawtooth_none() -> Bundle:  # size: one linear scenario script
    """billing-api's G1 heap climbs to ~90 % of its 2 GiB before each mixed collection,
    then drops to ~55 %: the JvmHeapHigh alert fires every few minutes.  Pauses stay at
    15-40 ms (unified GC log), throughput and latency are flat, no errors.  No incident."""
    b = Bundle(
        "billing-jvm-gc-sawtooth-none",
        "2037-05-05T15:30:00Z",
        description="JvmHeapHigh alert firing repeatedly on billing-api",
        symptom={"component": "billing-gw"},
        step=10,
        minutes=30,
    )
    rng = b.rng
    ns = "billing"
    b.component("billing-gw", "proxy", {"job": "billing-gw"}, ["billing-api"])
    b.component("billing-api", "app", {"namespace": ns, "app": "billing-api"})
    ps = pods("10.19.{k}.7:8080", "billing-api-5d9f4", ("ka", "kb", "kc"), "10.19.0.{k}:10250")
    routes = [
        Route("GET", "/api/invoices/{n}", "/api/invoices/{id}", 0.7, 0.025, 3300),
        Route("POST", "/api/invoices", "/api/invoices", 0.3, 0.06, 700),
    ]
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.30.", "10.31."],
        clients=150,
        outcome=None,
        kind="envoy",
        edge={"job": "billing-gw", "instance": "10.19.0.2:9901"},
        rate=lambda m: 7.0,
        cluster="billing_api",
    )
    cycle = 4.2

    def heap(m: float, i: int) -> float:
        phase = ((m + i * 1.3) % cycle) / cycle
        return 2 * 2**30 * (0.55 + 0.35 * phase)

    gcl = {"namespace": ns, "app": "billing-api", "container": "api", "stream": "gc"}
    for i, p in enumerate(ps):
        n = 100 + i * 17
        m = cycle - (i * 1.3) % cycle
        while m < b.minutes:
            for k in range(3):
                t = b.t(m) + k * 0.8
                n += 1
                before = 1843 - k * 40
                b.log(
                    t,
                    {**gcl, "instance": p.addr, "pod": p.pod},
                    f"[{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}+0000][info][gc] GC({n}) Pause Young "
                    f"({'Mixed' if k else 'Normal'}) (G1 Evacuation Pause) {before}M->{1130 + rng.randint(0, 60)}M(2048M) "
                    f"{rng.uniform(15, 40):.3f}ms",
                )
            m += cycle
    java_side(
        b,
        ps,
        site.events,
        {"namespace": ns, "app": "billing-api"},
        app="billing-api",
        heap=heap,
        gc_rate=lambda m, i: 0.05,
        gc_pause=lambda m, i: 0.028,
        namespace=ns,
        container="api",
    )
    log_each(b, site.logs, ps, {"namespace": ns, "app": "billing-api", "container": "api"})
    return b
