# size: three linear scenario scripts of one family, each telling one story
"""Healthy-but-noisy windows of round 10, part one: a chaos game day, a reporting replica
lagging behind its ETL, a node-pool upgrade draining nodes (written blind)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Pod, Route
from examples.incidents.holdout4.common import ksm_node_conditions, mysql_replica_status, mysql_slow
from examples.incidents.holdout5.common import ecs, klog
from examples.incidents.holdout7.common import ksm_pod_phase
from examples.incidents.holdout10.common import every, finish, log4j2, pods, slog, tier


def _replaced(addr: str, name: str, node: str, out_at: float | None, back_at: float | None) -> Pod:
    def present(m: float) -> bool:
        if out_at is not None and m >= out_at:
            return False
        return back_at is None or m >= back_at

    return Pod(addr, name, node, present)


def checkout_chaos_pod_kill_none() -> Bundle:  # size: one linear scenario script
    """A planned game day: from 10:10 LitmusChaos deletes one checkout-api pod every five
    minutes.  Envoy retries the few requests cut (retry_on reset), the ReplicaSet replaces
    each pod in ~25 s, readiness gates traffic: no user-visible errors, latency blips of a
    few hundred ms.  No incident."""
    b = Bundle(
        "checkout-chaos-pod-kill-none",
        "2036-03-11T09:55:00Z",
        description="game day running; is anything actually broken?",
        symptom={"component": "checkout-gw"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    ns = "checkout"
    kills = [15.0, 20.0, 25.0, 30.0]
    b.component("checkout-gw", "proxy", {"job": "checkout-gw"}, ["checkout-api"])
    b.component("checkout-api", "app", {"namespace": ns, "app": "checkout-api"})
    base = [("wq2", 1), ("xr3", 2), ("ys4", 3)]
    ps: list[Pod] = []
    repl = ("az9", "bc8", "cd7", "de6")
    for k, (s, node) in enumerate(base):
        ps.append(
            _replaced(
                f"10.40.{node}.{30 + k}:8080",
                f"checkout-api-7d8f6c-{s}",
                f"10.40.0.{node}:10250",
                kills[k],
                None,
            )
        )
    for j, at in enumerate(kills):
        node = 1 + (j % 3)
        out = kills[j + 3] if j + 3 < len(kills) and j == 0 else None
        ps.append(
            _replaced(
                f"10.40.{node}.{60 + j}:8080",
                f"checkout-api-7d8f6c-{repl[j]}",
                f"10.40.0.{node}:10250",
                out,
                at + 0.4,
            )
        )
    routes = [
        Route("POST", "/api/checkout", "/api/checkout", 0.4, 0.08, 500),
        Route("GET", "/api/checkout/{n}", "/api/checkout/{id}", 0.6, 0.015, 1300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if any(0 <= m - k < 0.5 for k in kills):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.05, 0.4)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a02:1210:", "85.1.", "178.197.", "2a04:ee41:"],
        clients=400,
        outcome=outcome,
        kind="envoy",
        edge={"job": "checkout-gw", "instance": "10.40.0.8:9901"},
        rate=lambda m: 8.0,
        cluster="checkout_api",
    )
    for t in every(b, 0, b.minutes, 20, 45):
        live = [i for i, p in enumerate(ps) if p.up(b.m(t))]
        site.say(
            t, rng.choice(live), ecs(b, t, "INFO", "c.c.checkout.OrderService", "order placed")
        )
    for i, _p in enumerate(ps):
        if i >= 3:
            t = b.t(kills[i - 3] + 0.42)
            site.say(
                t,
                i,
                ecs(
                    b,
                    t,
                    "INFO",
                    "o.s.b.w.e.tomcat.TomcatWebServer",
                    "Tomcat started on port 8080 (http) with context path '/'",
                ),
            )
    finish(site, ns, "checkout-api", "api", go=False)
    ksm_pod_phase(b, {"job": "kube-state-metrics", "instance": "10.40.0.5:8080"}, ns, ps)
    cl = {"job": "litmus", "namespace": "litmus", "pod": "pod-delete-runner-7x2kd"}
    for j, at in enumerate(kills):
        t = b.t(at - 0.02)
        victim = ps[j].pod if j < 3 else ps[3].pod
        b.log(
            t,
            cl,
            f'time="{b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ")}" level=info msg="[Chaos]: Killing the following pods" Pods="[{victim}]"',
        )
        t2 = t + 30
        b.log(
            t2,
            cl,
            f'time="{b.dt(t2).strftime("%Y-%m-%dT%H:%M:%SZ")}" level=info msg="[Status]: Verification for the recovery of application pod" Status=Running',
        )
    b.gauge(
        "litmuschaos_awaited_experiments",
        {"job": "litmus", "chaosengine_name": "checkout-game-day", "chaosresult_namespace": ns},
        lambda m: 1 if 14 <= m < 32 else 0,
    )
    return b


def shop_reporting_replica_lag_none() -> Bundle:  # size: one linear scenario script
    """The nightly ETL reads the reporting replica (nothing user-facing uses it): from
    03:05 its big scans and the primary's batch writes put it 25 minutes behind.  The
    primary, the shop API and its users are unaffected.  No incident."""
    b = Bundle(
        "shop-reporting-replica-lag-none",
        "2036-11-26T02:50:00Z",
        description="replica lag alert on the reporting replica",
        symptom={"component": "shop-edge"},
        step=30,
        minutes=55,
    )
    rng = b.rng
    ns = "shop"
    b.component("shop-edge", "proxy", {"job": "shop-nginx"}, ["shop-api"])
    b.component("shop-api", "app", {"namespace": ns, "app": "shop-api"}, ["shop-db"])
    b.component("shop-db", "other", {"job": "mysql", "instance": "db-primary-1:9104"})
    b.component("reporting-replica", "other", {"job": "mysql", "instance": "db-reporting-1:9104"})
    ps = pods("10.24.{k}.12:8080", "shop-api-59d7b", ("hh1", "jj2", "kk3"), "10.24.0.{k}:10250")
    routes = [
        Route("GET", "/api/products/{n}", "/api/products/{id}", 0.8, 0.02, 2400),
        Route("POST", "/api/cart", "/api/cart", 0.2, 0.03, 300),
    ]
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a01:e34:", "90.89.", "2a01:cb19:", "86.242."],
        clients=150,
        outcome=None,
        kind="nginx",
        edge={"job": "shop-nginx", "instance": "10.24.0.2:9113"},
        rate=lambda m: 2.0,
    )
    for t in every(b, 0, b.minutes, 30, 90):
        site.say(
            t,
            rng.randrange(3),
            slog(b, t, "INFO", "price cache refreshed", items=rng.randint(100, 400)),
        )
    finish(site, ns, "shop-api", "api")

    def etl(m: float) -> bool:
        return 3 <= m < 40

    def lag(m: float) -> float:
        if m < 15:
            return 0.0
        if m < 42:
            return (m - 15) * 60 * 0.95
        return max(0.0, 27 * 60 * 0.95 - (m - 42) * 60 * 2.5)

    mysqld_exporter(
        b,
        {"job": "mysql", "instance": "db-primary-1:9104"},
        qps=lambda m: 900.0 if etl(m) else 350.0,
        connected=lambda m: 40.0,
        running=lambda m: 3.0,
    )
    rl = {"job": "mysql", "instance": "db-reporting-1:9104"}
    mysqld_exporter(
        b,
        rl,
        qps=lambda m: 60.0 if etl(m) else 5.0,
        connected=lambda m: 12.0,
        running=lambda m: 9.0 if etl(m) else 1.0,
        tmp_disk=lambda m: 2.0 if etl(m) else 0.0,
    )
    mysql_replica_status(b, rl, lag=lag, master="db-primary-1")
    node_exporter(
        b,
        {"job": "node", "instance": "db-reporting-1:9100"},
        busy=lambda m: 0.85 if etl(m) else 0.1,
        avail=lambda m: 6e9,
        iowait=lambda m: 0.3 if etl(m) else 0.01,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "db-primary-1:9100"},
        busy=lambda m: 0.3,
        avail=lambda m: 20e9,
    )
    for t in every(b, 4, 40, 60, 150):
        b.log(
            t,
            {"job": "mysql", "instance": "db-reporting-1:9104", "log": "slow"},
            mysql_slow(
                b,
                t,
                user="etl",
                host="10.24.50.9",
                thread=rng.randint(100, 900),
                qt=rng.uniform(40, 300),
                lt=0.0001,
                sent=rng.randint(10000, 900000),
                examined=rng.randint(5_000_000, 90_000_000),
                sql="SELECT o.*, l.* FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at >= CURDATE() - INTERVAL 1 DAY",
                db="shop",
            ),
        )
    return b


def catalog_node_pool_upgrade_none() -> Bundle:  # size: one linear scenario script
    """A planned node-pool upgrade cordons and drains the three nodes one after another
    (10:05, 10:17, 10:29); PodDisruptionBudget maxUnavailable 1, each evicted catalog-api
    pod is replaced on an upgraded node before the next goes.  Pods come and go,
    kube_node_spec_unschedulable flips, kubelets log shutdowns; errors stay at baseline.
    No incident."""
    b = Bundle(
        "catalog-node-pool-upgrade-none",
        "2037-03-17T09:50:00Z",
        description="node upgrade in progress, lots of pod churn",
        symptom={"component": "catalog-ingress"},
        step=20,
        minutes=55,
    )
    ns = "catalog"
    drains = [15.0, 27.0, 39.0]
    b.component("catalog-ingress", "proxy", {"job": "ingress-nginx"}, ["catalog-api"])
    b.component("catalog-api", "app", {"namespace": ns, "app": "catalog-api"})
    ps: list[Pod] = []
    for n, at in enumerate(drains):
        for j in range(2):
            k = 2 * n + j
            ps.append(
                _replaced(
                    f"10.110.{n + 1}.{40 + j}:8080",
                    f"catalog-api-6c4d8-o{k}x",
                    f"10.110.0.{n + 1}:10250",
                    at + 0.3 * j,
                    None,
                )
            )
    for n, at in enumerate(drains):
        for j in range(2):
            k = 2 * n + j
            ps.append(
                _replaced(
                    f"10.110.{n + 4}.{40 + j}:8080",
                    f"catalog-api-6c4d8-n{k}y",
                    f"10.110.0.{n + 4}:10250",
                    None,
                    at + 0.3 * j - 0.4,
                )
            )
    routes = [
        Route("GET", "/v1/items/{n}", "/v1/items/:id", 0.9, 0.015, 3100),
        Route("GET", "/v1/search?q=lamp", "/v1/search", 0.1, 0.06, 9000),
    ]
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.3.", "10.4.", "fd12:3456:789a:1::"],
        clients=300,
        outcome=None,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.110.0.9:10254"},
        rate=lambda m: 9.0,
        cluster="catalog-catalog-api-8080",
    )
    for i, _p in enumerate(ps):
        if i < 6:
            t = b.t(drains[i // 2] + 0.3 * (i % 2) - 0.05)
            site.say(
                t,
                i,
                log4j2(
                    b,
                    t,
                    "INFO",
                    "SpringApplicationShutdownHook",
                    "o.s.b.w.e.t.GracefulShutdown",
                    "Commencing graceful shutdown. Waiting for active requests to complete",
                ),
            )
    finish(site, ns, "catalog-api", "api", go=False)
    ksm_pod_phase(b, {"job": "kube-state-metrics", "instance": "10.110.0.5:8080"}, ns, ps)
    for n, at in enumerate(drains):
        node = f"gke-prod-pool-a-{n + 1}"
        b.gauge(
            "kube_node_spec_unschedulable",
            {"job": "kube-state-metrics", "instance": "10.110.0.5:8080", "node": node},
            lambda m, at=at: 1 if m >= at - 0.5 else 0,
        )
        ksm_node_conditions(b, "10.110.0.5:8080", node, {"Ready": lambda m, at=at: m < at + 3})
        kl = {"job": "kubelet", "instance": f"10.110.0.{n + 1}:10250"}
        t = b.t(at + 2.5)
        b.log(
            t,
            kl,
            klog(
                b,
                t,
                "I",
                991,
                "nodeshutdown_manager_linux.go:265",
                '"Shutdown manager detected new shutdown event, isNodeShuttingDownNow" event=true',
            ),
        )
    return b
