"""Application and Kubernetes scenarios of round 9 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Pod, Route, fail
from examples.incidents.holdout4.common import log_each, logfmt, spring, zap
from examples.incidents.holdout5.common import java_side, py_log, within
from examples.incidents.holdout6.common import web
from examples.incidents.holdout7.common import cfs, coredns_exporter
from examples.incidents.holdout9.common import chatter, pods


def chat_one_pod_goroutine_leak() -> Bundle:  # size: one linear scenario script
    """Since its restart at 05:10 one chat-api pod (10.77.2.14) leaks goroutines: a
    presence broadcaster blocks on a channel of a closed websocket and every new fan-out
    leaves one more goroutine behind (60 -> 48 000 over 40 min), its heap grows, GC runs
    hot and its latency climbs until a third of its requests 504 at Envoy.  Its three
    siblings (same version, older) are fine.  Root: that pod; drain (restart) it."""
    b = Bundle(
        "chat-one-pod-goroutine-leak",
        "2036-02-22T05:30:00Z",
        description="chat slow for some users this morning",
        symptom={"component": "chat-gw"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    bad_i = 1
    ns = "chat"
    b.component("chat-gw", "proxy", {"job": "chat-gw"}, ["chat-api"])
    b.component("chat-api", "app", {"namespace": ns, "app": "chat-api"})
    ps = pods(
        "10.77.{k}.14:8080", "chat-api-6f9c8", ("b7w", "k2d", "s9p", "x4q"), "10.77.0.{k}:10250"
    )

    def leak(m: float) -> float:
        return ramp(m, 0, 45, 0.25, 1.0)

    routes = [
        Route("POST", "/v1/rooms/{n}/messages", "/v1/rooms/{id}/messages", 0.4, 0.02, 200),
        Route("GET", "/v1/rooms/{n}/history", "/v1/rooms/{id}/history", 0.6, 0.03, 5000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad_i:
            lv = leak(m)
            if m > 12 and rng.random() < (lv - 0.4) * 0.55:
                fail(e, 504, 5.0, size=24)
                e.extra["flags"] = "UT"
            else:
                e.duration = e.extra["app_dur"] = e.duration * (1 + 40 * lv * lv)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2a01:4f8:c0c:", "88.99.14.", "5.9.100."],
        clients=260,
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "chat-gw", "instance": "10.77.0.5:9901"},
        cluster="chat-api",
    )
    chatter(
        site,
        20,
        50,
        lambda t, k: zap(
            b, t, "info", "presence/hub.go:88", "presence sync", rooms=rng.randint(300, 340)
        ),
    )
    for t in [b.t(m) for m in range(3, 45, 4)]:
        site.say(
            t,
            bad_i,
            zap(
                b,
                t,
                "warn",
                "presence/hub.go:141",
                "broadcast slow",
                pending=int(48000 * leak(b.m(t)) ** 2),
            ),
        )
    site.apps(
        {"namespace": ns, "app": "chat-api"},
        {"namespace": ns, "app": "chat-api", "container": "api"},
        namespace=ns,
        container="api",
        goroutines=lambda m, i: 48000 * leak(m) ** 2 if i == bad_i else 70,
        mem=lambda m, i: 180e6 + (900e6 * leak(m) ** 2 if i == bad_i else 0),
        cpu=lambda m, i: 0.3 + (1.4 * leak(m) if i == bad_i else 0),
    )
    return b


def recs_canary_slow_serializer() -> Bundle:  # size: one linear scenario script
    """At 13:40 recs-api 3.9.0 is rolled to one canary pod of six (10.58.6.33): its new
    reflection-based JSON serializer takes ~30x longer on the large recommendation
    payloads and burns the pod's CPU; its requests take 1-4 s and ~12 % of them exceed the
    gateway's 3 s timeout (504).  The five 3.8.4 pods are unchanged.  Root: the canary
    pod; drain it (stop the canary)."""
    b = Bundle(
        "recs-canary-slow-serializer",
        "2036-10-21T13:20:00Z",
        description="recommendations p99 alert, some 504",
        symptom={"component": "recs-gw"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    onset = 20.0
    can = 5
    ns = "recs"
    b.component("recs-gw", "proxy", {"job": "recs-gw"}, ["recs-api"])
    b.component("recs-api", "app", {"namespace": ns, "app": "recs-api"})
    ps = pods("10.58.{k}.33:8080", "recs-api-5c4b", ("a", "b", "c", "d", "e"), "10.58.0.{k}:10250")
    ps.append(
        Pod(
            "10.58.6.33:8080",
            "recs-api-canary-9f1d-z",
            "10.58.0.6:10250",
            present=lambda m: m >= onset - 1,
        )
    )
    routes = [Route("GET", "/v2/recs/{n}", "/v2/recs/{user}", 1.0, 0.06, 48000)]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == can:
            if rng.random() < 0.12:
                fail(e, 504, 3.0, size=24)
            else:
                e.duration = e.extra["app_dur"] = rng.uniform(1.0, 2.9)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.120.7.", "10.120.8."],
        clients=30,
        rate=lambda m: 18.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "recs-gw", "instance": "10.58.0.2:9113"},
    )
    t = b.t(onset) - 30
    site.say(
        t,
        can,
        spring(
            b,
            t,
            "INFO",
            "main",
            "com.shop.recs.RecsApplication",
            "Started RecsApplication in 11.204 seconds (version 3.9.0)",
        ),
    )
    chatter(
        site,
        30,
        70,
        lambda t, k: spring(
            b,
            t,
            "INFO",
            "scheduling-1",
            "com.shop.recs.model.ModelRefresher",
            "model snapshot refreshed",
        ),
    )
    java_side(
        b,
        ps,
        site.events,
        {"namespace": ns, "app": "recs-api"},
        app="recs-api",
        busy=lambda m, i: 60.0 if i == can else 9.0,
        cpu=lambda m, i: 3.8 if i == can else 1.1,
        gc_rate=lambda m, i: 3.0 if i == can else 0.5,
        namespace=ns,
        container="api",
    )
    log_each(b, site.logs, ps, {"namespace": ns, "app": "recs-api", "container": "api"})
    return b


def pricing_flag_n_plus_one() -> Bundle:  # size: one linear scenario script
    """At 14:02 the feature flag ``bundle_pricing_v2`` is switched on for everyone: the new
    code path loads each bundle item's price rule with its own query (N+1, ~60 queries per
    request instead of 2).  MySQL's Questions go x12 and Threads_running climbs, every
    pricing pod's latency triples and ~15 % of quotes time out (504).  Root: pricing-api
    (the flag); turn the flag off.  Killing queries, draining pods or limiting clients is
    wrong."""
    b = Bundle(
        "pricing-flag-n-plus-one",
        "2037-04-07T13:45:00Z",
        description="quote latency tripled, pricing DB busy",
        symptom={"component": "pricing-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 17.0
    on = within(onset, 99)
    ns = "pricing"
    b.component("pricing-edge", "proxy", {"job": "pricing-edge"}, ["pricing-api"])
    b.component("pricing-api", "app", {"namespace": ns, "app": "pricing-api"}, ["pricing-db"])
    b.component("pricing-db", "mysql", {"job": "mysql", "instance": "10.36.4.4:9104"})
    ps = pods(
        "10.36.{k}.19:8000", "pricing-api-7c55", ("k1", "k2", "k3", "k4"), "10.36.0.{k}:10250"
    )
    routes = [
        Route("POST", "/quote", "/quote", 0.8, 0.05, 1600),
        Route("GET", "/rules/{n}", "/rules/{id}", 0.2, 0.01, 700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if on(m) and e.path == "/quote":
            if rng.random() < 0.15:
                fail(e, 504, 5.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * rng.uniform(3, 12)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.210.3.", "10.210.4."],
        clients=40,
        rate=lambda m: 10.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "pricing-edge", "instance": "10.36.0.8:9113"},
    )
    t = b.t(onset) - 10
    site.say(
        t,
        0,
        py_log(
            b,
            t,
            "INFO",
            "pricing.flags",
            "flag bundle_pricing_v2 changed: rollout 0% -> 100% (by ui:j.ortega)",
        ),
    )
    for k in range(1, 4):
        site.say(
            t + k,
            k,
            py_log(
                b,
                t + k,
                "INFO",
                "pricing.flags",
                "flag bundle_pricing_v2 changed: rollout 0% -> 100%",
            ),
        )
    chatter(site, 30, 80, lambda t, k: py_log(b, t, "INFO", "pricing.cache", "rules cache ok"))
    site.apps(
        {"namespace": ns, "app": "pricing-api"},
        {"namespace": ns, "app": "pricing-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
        cpu=lambda m, i: 1.1 if on(m) else 0.35,
    )
    mysqld_exporter(
        b,
        {"job": "mysql", "instance": "10.36.4.4:9104"},
        qps=lambda m: 9600.0 if on(m) else 800.0,
        connected=lambda m: 96.0 if on(m) else 64.0,
        running=lambda m: 24.0 if on(m) else 3.0,
    )
    return b


def shipping_coredns_cpu_limit() -> Bundle:  # size: one linear scenario script
    """An add-on upgrade at 17:05 sets CoreDNS's CPU limit to 100m.  At the evening peak
    (from 17:30) both CoreDNS pods are throttled ~85 % of periods, queries queue, DNS
    latency reaches seconds and some lookups time out; shipping-api's calls to the carrier
    APIs fail with "i/o timeout" on lookup and ~20 % of label requests 502.  Root: coredns
    (CPU-throttled by its new limit).  The shipping pods are victims."""
    b = Bundle(
        "shipping-coredns-cpu-limit",
        "2036-12-14T17:00:00Z",
        description="shipping labels failing, 'lookup ... i/o timeout' in the logs",
        symptom={"component": "shipping-gw"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    onset = 30.0
    peak = within(onset, 99)
    ns = "shipping"
    b.component("shipping-gw", "proxy", {"job": "shipping-gw"}, ["shipping-api"])
    b.component("shipping-api", "app", {"namespace": ns, "app": "shipping-api"}, ["coredns"])
    b.component("coredns", "other", {"job": "coredns"})
    ps = pods("10.95.{k}.70:8080", "shipping-api-b9f7", ("p1", "p2", "p3"), "10.95.0.{k}:10250")
    routes = [
        Route("POST", "/labels", "/labels", 0.7, 0.3, 900),
        Route("GET", "/rates", "/rates", 0.3, 0.2, 600),
    ]

    def rate(m: float) -> float:
        return 5.0 if m < onset else 9.0

    def outcome(e: Event, m: float, i: int) -> None:
        if peak(m) and rng.random() < 0.2:
            fail(e, 502, 5.0 + rng.uniform(0, 0.3), size=120)
            e.extra["dns"] = True

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.200.30.", "10.200.31."],
        clients=25,
        rate=rate,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "shipping-gw", "instance": "10.95.0.4:9113"},
    )
    for e in site.events:
        if e.extra.get("dns"):
            host = rng.choice(("api.carrier-one.example", "ws.parcelnet.example"))
            site.say(
                e.t,
                e.extra["pod"],
                logfmt(
                    b,
                    e.t,
                    "error",
                    "carrier call failed",
                    carrier=host.split(".")[1],
                    err=f'Post "https://{host}/v2/labels": dial tcp: lookup {host} on '
                    f"10.96.0.10:53: read udp 10.95.1.70:4{rng.randint(1000, 9999)}->"
                    "10.96.0.10:53: i/o timeout",
                ),
            )
    chatter(site, 30, 90, lambda t, k: logfmt(b, t, "info", "label created", carrier="parcelnet"))
    site.apps(
        {"namespace": ns, "app": "shipping-api"},
        {"namespace": ns, "app": "shipping-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    dns = [
        Pod(f"10.95.{k}.2:9153", f"coredns-6d8f7c-{s}", f"10.95.0.{k}:10250")
        for k, s in ((5, "qx2"), (6, "vr8"))
    ]
    for p in dns:
        coredns_exporter(
            b,
            {"job": "coredns", "instance": p.addr, "pod": p.pod},
            qps=lambda m: 2400.0 if peak(m) else 900.0,
            nxdomain=lambda m: 500.0 if peak(m) else 190.0,
            servfail=lambda m: 60.0 if peak(m) else 0.1,
            latency=lambda m: 1.4 if peak(m) else 0.002,
            cpu=lambda m: 0.1 if peak(m) else 0.07,
        )
    cfs(
        b,
        dns,
        "kube-system",
        "coredns",
        throttled=lambda m, i: 0.85 if peak(m) else 0.2,
        quota_cores=0.1,
    )
    t = b.t(5)
    b.log(
        t,
        {"namespace": "kube-system", "app": "coredns", "pod": dns[0].pod},
        "[INFO] plugin/reload: Running configuration SHA512 = 1f9a0c...",
    )
    return b


def invoices_release_regex_cpu() -> Bundle:  # size: one linear scenario script
    """invoices-api 2.8.0 (rolled to all five pods 15:31-15:36) validates billing e-mail
    addresses with a new regular expression that backtracks catastrophically on long
    local parts: every pod's CPU goes to its 2-core limit, the event loop of requests
    queues, p50 50 ms -> 2 s and ~25 % of requests 504 at the gateway.  Root:
    invoices-api (bad release); roll back.  Draining any one pod would not help."""
    b = Bundle(
        "invoices-release-regex-cpu",
        "2037-01-05T15:15:00Z",
        description="invoices API slow and timing out after the 2.8.0 rollout",
        symptom={"component": "invoices-gw"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    ns = "billing"
    b.component("invoices-gw", "proxy", {"job": "invoices-gw"}, ["invoices-api"])
    b.component("invoices-api", "app", {"namespace": ns, "app": "invoices-api"})
    starts = [16.0 + 1.2 * k for k in range(5)]
    old = [
        Pod(
            f"10.49.{k + 1}.11:8080",
            f"invoices-api-6c8d-{s}",
            f"10.49.0.{k + 1}:10250",
            present=within(0, starts[k] + 0.4),
        )
        for k, s in enumerate("abcde")
    ]
    new = [
        Pod(
            f"10.49.{k + 1}.12:8080",
            f"invoices-api-9e7a-{s}",
            f"10.49.0.{k + 1}:10250",
            present=within(starts[k], 99),
        )
        for k, s in enumerate("vwxyz")
    ]
    ps = old + new
    routes = [
        Route("POST", "/v1/invoices", "/v1/invoices", 0.4, 0.06, 900),
        Route("GET", "/v1/invoices/{n}", "/v1/invoices/{id}", 0.6, 0.02, 3300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 5:
            if rng.random() < 0.25:
                fail(e, 504, 10.0, reached=False, size=167)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.8, 4.0)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.230.5.", "10.230.6."],
        clients=50,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "invoices-gw", "instance": "10.49.0.8:9901"},
        cluster="invoices-api",
    )
    for k, s in enumerate(starts):
        t = b.t(s) + 5
        site.say(t, 5 + k, py_log(b, t, "INFO", "invoices.app", "invoices-api 2.8.0 starting"))
    chatter(site, 30, 90, lambda t, k: py_log(b, t, "INFO", "invoices.pdf", "pdf rendered"))
    site.apps(
        {"namespace": ns, "app": "invoices-api"},
        {"namespace": ns, "app": "invoices-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
        cpu=lambda m, i: 1.98 if i >= 5 else 0.4,
    )
    cfs(b, new, ns, "api", throttled=lambda m, i: 0.7, quota_cores=2.0)
    return b
