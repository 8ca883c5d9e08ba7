# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""No incident: a marketing push that multiplies traffic for a quarter of an hour (HPA and
the broker absorb it), a deploy that is fine while the blackbox probe fails on a new
redirect, and a planned consumer restart whose rebalances make the lag spike and drain."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Pod as StackPod
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import logfmt, spring, zap
from examples.incidents.holdout5.common import within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout8.common import (
    blackbox_probe,
    kafka_exporter,
    per,
    rabbitmq_exporter,
)


def promo_push_spike_none() -> Bundle:  # size: one linear scenario script
    """At 19:00 a Black Friday push notification goes to 2 M app users: shop-api traffic
    goes from ~8 to ~45 req/s within two minutes and decays over half an hour.  The HPA
    scales shop-api from 4 to 9 pods (new pods join 19:02-19:05), p50 rises ~30 % for a few
    minutes, errors stay at baseline (a handful of 499 from impatient clients); the order
    e-mail queue in RabbitMQ grows to ~40 k and drains by 19:25 as KEDA adds consumers;
    MySQL follows the load.  No incident: capacity did its job.  Sources: Kubernetes docs
    "Horizontal Pod Autoscaling"; KEDA docs "RabbitMQ Queue scaler"; Google SRE book
    "Handling Overload" (load that the system absorbs is not an outage)."""
    b = Bundle(
        "promo-push-spike-none",
        "2035-11-23T18:40:00Z",
        description="traffic alert during the Black Friday push",
        symptom={"component": "shop-gw"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    push = 20.0

    def rate(m: float) -> float:
        if m < push:
            return 8.0
        if m < push + 2:
            return ramp(m, push, push + 2, 8.0, 45.0)
        return max(9.0, 45.0 - (m - push - 2) * 1.2)

    ns = "shop"
    b.component("shop-gw", "proxy", {"namespace": "gateway", "app": "shop-gw"}, ["shop-api"])
    b.component("shop-api", "app", {"namespace": ns, "app": "shop-api"}, ["shop-db", "shop-mq"])
    b.component("shop-db", "mysql", {"namespace": ns, "app": "shop-db"})
    b.component("shop-mq", "other", {"namespace": ns, "app": "shop-mq"})
    pods = [
        Pod(
            f"10.40.{1 + i % 3}.{20 + i * 4}:8080",
            f"shop-api-6fb8c-{s}",
            f"10.40.{1 + i % 3}.1:10250",
            None if i < 4 else within(push + 2 + (i - 4) * 0.7, 99),
        )
        for i, s in enumerate(("a1x", "b2y", "c3z", "d4w", "e5v", "f6u", "g7t", "h8s", "j9r"))
    ]
    routes = [
        Route("GET", "/api/deals/{n}", "/api/deals/{id}", 0.6, 0.03, 7000),
        Route("GET", "/api/cart", "/api/cart", 0.25, 0.02, 1500),
        Route("POST", "/api/orders", "/api/orders", 0.15, 0.12, 450),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if push + 1 <= m < push + 6:
            e.duration = e.extra["app_dur"] = e.duration * 1.3
            if rng.random() < 0.0015:
                fail(e, 499, rng.uniform(2.0, 6.0), reached=False, size=0)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.84.17.", "100.85.202.", "100.96.4.", "2a01:598:b1a2::"],
        clients=3000,
        rate=rate,
        outcome=outcome,
        kind="envoy",
        edge_labels={"namespace": "gateway", "app": "shop-gw", "instance": "10.40.0.8:9901"},
        cluster="shop-api",
    )
    for t in every(b, 0, 55, 30, 90):
        i = rng.randrange(4)
        site.say(t, i, zap(b, t, "info", "deals/cache.go:40", "deal cache refreshed", deals=312))
    for i in range(4, 9):
        p = pods[i]
        if p.present is not None:
            t = b.t(push + 2 + (i - 4) * 0.7) + 6
            site.say(t, i, zap(b, t, "info", "main.go:88", "listening", addr=":8080"))
    site.apps(
        {"namespace": ns, "app": "shop-api"},
        {"namespace": ns, "app": "shop-api", "container": "shop-api"},
        namespace=ns,
        container="shop-api",
        cpu=lambda m, i: 0.2 + rate(m) * 0.05,
    )
    ksm = {"job": "kube-state-metrics", "instance": "10.40.0.30:8080", "namespace": ns}
    b.gauge(
        "kube_horizontalpodautoscaler_status_desired_replicas",
        {**ksm, "horizontalpodautoscaler": "shop-api"},
        lambda m: 4 if m < push + 1.5 else 9,
    )
    b.gauge(
        "kube_horizontalpodautoscaler_spec_max_replicas",
        {**ksm, "horizontalpodautoscaler": "shop-api"},
        lambda m: 12,
    )

    def backlog(m: float) -> float:
        if m < push:
            return rng.randint(0, 30)
        if m < push + 7:
            return (m - push) * 5800
        return max(float(rng.randint(0, 30)), 40600 - (m - push - 7) * 2900)

    rabbitmq_exporter(
        b,
        {"namespace": ns, "app": "shop-mq", "instance": "10.40.5.11:15692"},
        queues={
            "email.order-confirmation": (
                backlog,
                lambda m: 60 if push <= m < push + 21 else 4,
                lambda m: 12 if push + 3 <= m < push + 25 else 4,
            ),
            "analytics.events": (lambda m: rng.randint(0, 200), lambda m: 10, lambda m: 2),
        },
        published=lambda m: rate(m) * 0.4,
        delivered=lambda m: rate(m) * 0.4,
        disk_free=lambda m: 41e9,
        disk_limit=2e9,
        mem_used=lambda m: 0.8e9 + backlog(m) * 3000,
        mem_limit=3.2e9,
    )
    mysqld_exporter(
        b,
        {"namespace": ns, "app": "shop-db", "instance": "10.40.6.3:9104"},
        qps=lambda m: rate(m) * 22,
        connected=lambda m: 40 if m < push + 2 else 90,
        running=lambda m: 3 if m < push else int(2 + rate(m) / 6),
    )
    return b


def status_probe_redirect_none() -> Bundle:  # size: one linear scenario script
    """status-web 2.3.0 rolls out at 11:14-11:18 with a router that redirects /healthz to
    /healthz/ (301).  The blackbox exporter's http_2xx module has ``no_follow_redirects:
    true`` and only 2xx valid: probe_success 0 from 11:16 on, the "StatusWebDown" alert
    pages.  Users are fine: every page 200, latency and CPU flat, Kubernetes' own probes use
    /ready.  No incident (fix the probe or the route).  Sources:
    prometheus/blackbox_exporter issues #562 and #243 (redirects and
    no_follow_redirects), #246 ("http probe fails with 302 responses");
    mikesvoboda/nemotron-v3-home-security-intelligence issue #4522 ("Frontend Blackbox Probe
    Failing - 301 Redirect Not Followed": all healthy, the probe down)."""
    b = Bundle(
        "status-probe-redirect-none",
        "2035-12-11T10:55:00Z",
        description="StatusWebDown firing since the 11:15 deploy",
        symptom={"component": "status-web"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    roll = 19.0
    b.component("status-edge", "proxy", {"job": "status-edge"}, ["status-web"])
    b.component("status-web", "app", {"app": "status-web"})
    old = [
        Pod(
            f"10.33.{i}.{50 + i}:8080",
            f"status-web-5c4f7-{s}",
            present=within(0, roll + i * 1.5 + 1),
        )
        for i, s in enumerate(("lq1", "mz2", "nr3"))
    ]
    new = [
        Pod(f"10.33.{i}.{70 + i}:8080", f"status-web-8a2d1-{s}", present=within(roll + i * 1.5, 99))
        for i, s in enumerate(("ps4", "qt5", "rv6"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/", "/", 0.5, 0.008, 11000),
        Route("GET", "/incidents/{n}", "/incidents/:id", 0.3, 0.01, 6000),
        Route("GET", "/api/v1/summary.json", "/api/v1/summary.json", 0.2, 0.004, 2200),
    ]
    probe_from = "10.33.9.4"

    def probe(t: float, k: int) -> Event:
        m = b.m(t)
        live = [i for i, p in enumerate(pods) if p.up(m)]
        i = live[k % len(live)]
        redirect = i >= 3
        d = rng.uniform(0.0008, 0.002)
        return Event(
            t=t,
            client=probe_from,
            method="GET",
            path="/healthz",
            status=301 if redirect else 200,
            duration=d,
            upstream=pods[i].addr,
            upstream_status="301" if redirect else "200",
            agent="Blackbox Exporter/0.25.0",
            size=0 if redirect else 17,
            extra={"pod": i, "route": "/healthz", "app_dur": d},
        )

    probes = [probe(t, k) for k, t in enumerate(every(b, 0, 45, 14.9, 15.1))]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["185.199.108.", "151.101.1.", "2a04:4e42:200::", "104.16.132."],
        clients=500,
        rate=lambda m: 9.0,
        outcome=None,
        kind="nginx",
        edge_labels={"job": "status-edge", "instance": "10.33.9.2:9113"},
        extra_events=probes,
    )
    for i in range(3, 6):
        t = b.t(roll + (i - 3) * 1.5) + 5
        site.say(t, i, logfmt(b, t, "info", "server started", version="2.3.0", addr=":8080"))
    for t in every(b, 0, 45, 60, 180):
        i = next(k for k, p in enumerate(pods) if p.up(b.m(t)))
        site.say(
            t, i, logfmt(b, t, "info", "summary rebuilt", components=42, took_ms=rng.randint(8, 20))
        )
    site.apps({"app": "status-web"}, {"app": "status-web"})
    bad = within(roll + 2, 99)
    blackbox_probe(
        b,
        {
            "job": "blackbox",
            "app": "status-web",
            "instance": "https://status.example.com/healthz",
            "module": "http_2xx",
        },
        success=lambda m: not bad(m),
        status=lambda m: 301 if bad(m) else 200,
        duration=lambda m: rng.uniform(0.03, 0.05),
        cert_expiry=b.t(0) + 62 * 86400,
    )
    return b


def picking_consumer_restart_none() -> Bundle:  # size: one linear scenario script
    """A planned rolling restart of pick-worker (4.8.1 -> 4.8.2, six pods, 13:20-13:26)
    with the eager rebalance protocol: each pod leaving and joining rebalances the group,
    consumption pauses a few seconds each time, the lag of ``orders.paid`` spikes to ~25 k
    and drains ~3 min after the last pod is up.  picking-api (warehouse tablets) serves from
    PostgreSQL, unaffected; a handful of "pick list not ready" retries.  No incident.
    Sources: Apache Kafka docs "Consumer rebalance protocol" / KIP-429 (cooperative
    rebalancing avoids stop-the-world); Confluent blog "Incremental Cooperative
    Rebalancing in Kafka"; spring-kafka docs "Rebalancing listeners"."""
    b = Bundle(
        "picking-consumer-restart-none",
        "2036-01-08T13:05:00Z",
        description="consumer lag alert during the pick-worker deploy",
        symptom={"component": "pick-worker"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    roll = 15.0
    b.component("picking-api", "app", {"service": "picking-api"}, ["picking-pg"])
    b.component("pick-worker", "app", {"service": "pick-worker"}, ["picking-kafka", "picking-pg"])
    b.component("picking-kafka", "other", {"service": "picking-kafka"})
    b.component("picking-pg", "other", {"service": "picking-pg"})
    api = [Pod(f"172.30.8.{11 + i}:8080", f"picking-api-{i}") for i in range(2)]
    routes = [
        Route("GET", "/v1/picklists/{n}", "/v1/picklists/{id}", 0.7, 0.02, 3100),
        Route("POST", "/v1/picklists/{n}/done", "/v1/picklists/{id}/done", 0.3, 0.03, 120),
    ]
    site = web(
        b,
        pods=api,
        routes=routes,
        prefixes=["172.30.100.", "172.30.101."],
        clients=40,
        rate=lambda m: 3.0,
        outcome=None,
        kind="nginx",
        edge_labels={"service": "picking-api-edge", "instance": "172.30.8.2:9113"},
    )
    site.apps({"service": "picking-api"}, {"service": "picking-api"}, go=False)
    workers: list[StackPod] = []
    for i in range(6):
        swap = roll + i
        workers.append(
            StackPod(f"172.30.9.{21 + i}:8081", f"pick-worker-6d5-{i}", present=within(0, swap))
        )
        workers.append(
            StackPod(
                f"172.30.9.{41 + i}:8081", f"pick-worker-7a1-{i}", present=within(swap + 0.5, 99)
            )
        )
    wl = {"service": "pick-worker"}
    for k, w in enumerate(workers):
        labels = {**wl, "instance": w.addr, "pod": w.pod}
        b.runtime(labels, cpu=lambda m: 0.3, rss=lambda m: 540e6, present=w.present, go=False)
        b.counter(
            "pick_worker_events_processed_total",
            labels,
            per(lambda m, w: 2.0 if w.up(m) else None, w),
            start=8.2e5 if k % 2 == 0 else 0,
        )
        joined = [b.t(roll + j + 0.55) for j in range(6) if roll + j + 0.55 >= 0]
        b.counter_steps(
            "kafka_consumer_coordinator_rebalance_total",
            {**labels, "client_id": f"consumer-pick-worker-{k // 2 + 1}"},
            joined,
            present=w.present,
        )
    for j in range(6):
        for t0, verb in ((b.t(roll + j) + 1, "Revoke"), (b.t(roll + j + 0.55), "join")):
            for k in range(6):
                pod_ix = 2 * k + (1 if k < j or (k == j and verb == "join") else 0)
                w = workers[pod_ix]
                if not w.up(b.m(t0)):
                    continue
                t = t0 + rng.uniform(0.1, 2.5)
                msg = f"[Consumer clientId=consumer-pick-worker-{k + 1}, groupId=pick-worker] " + (
                    "Revoke previously assigned partitions orders.paid-0, orders.paid-1"
                    if verb == "Revoke"
                    else f"Successfully joined group with generation Generation{{generationId={903 + 2 * j}, "
                    f"memberId='consumer-pick-worker-{k + 1}-{rng.getrandbits(32):08x}', protocol='range'}}"
                )
                b.log(
                    t,
                    {**wl, "instance": w.addr, "pod": w.pod},
                    spring(
                        b,
                        t,
                        "INFO",
                        "ntainer#0-0-C-1",
                        "o.a.k.c.c.internals.ConsumerCoordinator",
                        msg,
                    ),
                )

    def lag(m: float, p: int) -> float:
        if m < roll:
            return rng.randint(0, 40)
        if m < roll + 6:
            return (m - roll) * 700 + rng.randint(0, 300)
        return max(float(rng.randint(0, 40)), 4200 - (m - roll - 6) * 1400)

    kafka_exporter(
        b,
        {"service": "picking-kafka", "instance": "172.30.7.5:9308"},
        topic="orders.paid",
        group="pick-worker",
        partitions=6,
        produced=lambda m: 11.0,
        lag=lag,
        members=lambda m: 6 if not (roll <= m < roll + 6.5) else rng.choice((5, 6)),
    )
    postgres_exporter(
        b,
        {"service": "picking-pg", "instance": "172.30.7.9:9187"},
        tps=lambda m: 55.0,
        active=lambda m: 3,
        idle=lambda m: 27,
        datname="picking",
    )
    return b
