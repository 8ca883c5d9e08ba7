# size: scenario builders are long linear scripts, one story each (as in rounds 3-5)
"""Kubernetes and releases: a blue/green switch that went fine, one pod on a node whose
clock jumped, a rollout with a typo in its config, liveness probes killing busy pods, and
an object store outside the topology throttling uploads."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import postgres_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import fail, ksm_restarts
from examples.incidents.holdout4.common import logrus, zap
from examples.incidents.holdout5.common import klog, node_timex, py_log, within
from examples.incidents.holdout6.common import Pod, Route, local_iso, structlog, web


def catalog_bluegreen_went_fine() -> Bundle:  # size: one linear scenario script
    """An Argo Rollouts blue/green release of catalog-svc 1.9.0 at 14:20: the preview pods
    start at 14:12, the active service switches at 14:20:00, the four old pods are scaled
    down 30 s later (their series end).  The new pods answer the first minute ~40 % slower
    (cold caches) and three requests end 499 (client closed); then everything is at
    baseline for 35 minutes.  No incident.  Sources: Argo Rollouts docs "BlueGreen
    Deployment Strategy" (scaleDownDelaySeconds 30 s); Kubernetes docs "Deployments"."""
    b = Bundle(
        "catalog-bluegreen-went-fine",
        "2032-04-06T14:00:00Z",
        description="release catalog-svc 1.9.0 (change CHG-20411)",
        symptom={"component": "catalog-gw"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    switch = 20.0
    b.component("catalog-gw", "proxy", {"job": "catalog-gw"}, ["catalog-svc"])
    b.component("catalog-svc", "app", {"namespace": "catalog", "container": "catalog-svc"})
    old = [
        Pod(
            f"10.200.{i}.{20 + i}:8080",
            f"catalog-svc-5c8d9-{s}",
            f"10.200.{i}.1:10250",
            within(0, switch + 0.5),
        )
        for i, s in enumerate(("aa1", "bb2", "cc3", "dd4"))
    ]
    new = [
        Pod(
            f"10.200.{i}.{120 + i}:8080",
            f"catalog-svc-7f1e2-{s}",
            f"10.200.{i}.1:10250",
            within(12.0, 99),
        )
        for i, s in enumerate(("ee5", "ff6", "gg7", "hh8"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/catalog/items/{n}", "/catalog/items/{id}", 0.85, 0.012),
        Route("GET", "/catalog/search?q=shoe", "/catalog/search", 0.15, 0.05),
    ]
    n499 = [0]

    def choose(m: float, live: list[int]) -> int:
        side = [i for i in live if (i >= 4) == (m >= switch)] or live
        return rng.choice(side)

    def outcome(e: Event, m: float, i: int) -> None:
        if switch <= m < switch + 1.0 and i >= 4:
            e.duration = e.extra["app_dur"] = e.duration * 1.4
            if n499[0] < 3 and rng.random() < 0.01:
                n499[0] += 1
                e.status, e.upstream_status = 499, "-"

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.200.100.", "10.200.101.", "10.200.102."],
        clients=400,
        rate=lambda m: 15.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "catalog-gw", "instance": "10.200.250.3:10254"},
        cluster="catalog-catalog-svc-8080",
        choose=choose,
    )
    for k, _p in enumerate(new):
        t = b.t(12.0) + 5 + k
        site.say(
            t, 4 + k, logrus(b, t, "info", "catalog-svc started", version="1.9.0", commit="a91f3c2")
        )
    for k, _p in enumerate(old):
        t = b.t(switch + 0.5) - 1
        site.say(t, k, logrus(b, t, "info", "shutting down: received terminated", version="1.8.4"))
    site.apps(
        {"namespace": "catalog", "container": "catalog-svc", "job": "catalog-svc"},
        {"namespace": "catalog", "container": "catalog-svc"},
        namespace="catalog",
        container="catalog-svc",
    )
    ksm = "10.200.250.9:8080"
    for p in pods:
        b.gauge(
            "kube_pod_status_ready",
            {
                "job": "kube-state-metrics",
                "instance": ksm,
                "namespace": "catalog",
                "pod": p.pod,
                "condition": "true",
            },
            lambda m, p=p: 1 if p.up(m) else None,
        )
    rl = {
        "job": "kube-state-metrics",
        "instance": ksm,
        "namespace": "catalog",
        "rollout": "catalog-svc",
    }
    b.gauge(
        "rollout_info_replicas_available",
        {**rl, "job": "argo-rollouts", "instance": "10.200.250.11:8090"},
        lambda m: 4 if m < 12 or m > switch + 0.5 else 8,
    )
    return b


def auth_pod_clock_skew() -> Bundle:  # size: one linear scenario script
    """At 07:31 the chrony daemon on node ip-10-3-2-14 loses its time source after a NIC
    firmware update, and a leap of the VM's clock leaves it 95 s behind.  The auth-api pod
    scheduled there (10.3.2.41) now sees freshly issued JWTs as issued in the future and
    rejects them: "token used before issued" (iat check, no leeway), 401 for every request
    with a token younger than 95 s routed to it.  Users are logged out at random; the other
    three pods are fine.  Root: auth-api on that instance (its node's clock); drain it.
    Sources: golang-jwt/jwt issue #98 ("Token used before issued" from clock skew);
    tymondesigns/jwt-auth issue #1053 (one server's clock rejects tokens issued by
    another); node_exporter's timex collector."""
    b = Bundle(
        "auth-pod-clock-skew",
        "2032-05-11T07:15:00Z",
        description="users randomly logged out (401)",
        symptom={"component": "auth-gw"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    jump, bad = 16.0, 1
    b.component("auth-gw", "proxy", {"job": "auth-gw"}, ["auth-api"])
    b.component("auth-api", "app", {"job": "auth-api"}, ["auth-cache"])
    b.component("auth-cache", "redis", {"job": "auth-cache"})
    nodes = ["10.3.1.14", "10.3.2.14", "10.3.3.14", "10.3.4.14"]
    pods = [
        Pod(f"10.3.{i + 1}.41:9000", f"auth-api-6f4c-{s}", f"{nodes[i]}:10250")
        for i, s in enumerate(("k1", "k2", "k3", "k4"))
    ]
    routes = [
        Route("GET", "/oauth/userinfo", "/oauth/userinfo", 0.6, 0.006),
        Route("POST", "/oauth/token", "/oauth/token", 0.2, 0.04),
        Route("POST", "/session/refresh", "/session/refresh", 0.2, 0.01),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad and m >= jump and e.extra["route"] != "/oauth/token" and rng.random() < 0.6:
            fail(e, 401, lognormal(b, 0.004), size=64)
            e.extra["iat"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.64.3.", "100.64.4.", "fd00:3::"],
        clients=700,
        rate=lambda m: 20.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "auth-gw", "instance": "10.3.0.2:9901"},
        cluster="auth_api",
    )
    for e in site.events:
        if e.extra.get("iat") and rng.random() < 0.3:
            skewed = e.t - 95.0
            site.say(
                e.t,
                bad,
                zap(
                    b,
                    skewed,
                    "warn",
                    "jwt/verify.go:77",
                    "token rejected",
                    error="token used before issued",
                    iat=int(e.t - rng.uniform(1, 90)),
                    now=int(skewed),
                ),
            )
    site.apps({"job": "auth-api"}, {"job": "auth-api"})
    for i, n in enumerate(nodes):
        nl = {"job": "node-exporter", "instance": f"{n}:9100", "node": f"ip-{n.replace('.', '-')}"}
        skew = i == bad
        node_timex(
            b,
            nl,
            offset=lambda m, s=skew: -95.0 if s and m >= jump else 0.0002,
            synced=lambda m, s=skew: not (s and m >= jump),
            behind=0.0,
        )
    t = b.t(jump - 0.2)
    b.log(
        t,
        {"job": "node-exporter", "instance": f"{nodes[bad]}:9100"},
        f"{local_iso(b, t, 0)} chronyd[611]: Can't synchronise: no selectable sources",
    )
    redis_exporter(
        b,
        {"job": "auth-cache", "instance": "10.3.9.5:9121"},
        ops=lambda m: 800.0,
        used=lambda m: 300e6,
        maxmemory=2e9,
        clients=lambda m: 40,
    )
    return b


def orders_rollout_bad_config() -> Bundle:  # size: one linear scenario script
    """orders-api 3.14.0 ships with a new ConfigMap whose DB_HOST has a typo
    (``orders-db-primry``).  The rolling update (maxSurge 1, maxUnavailable 1) starts at
    10:10; readiness only checks /healthz, so each new pod becomes Ready and takes traffic
    and every DB call fails with "dial tcp: lookup orders-db-primry.orders.svc.cluster.local
    on 10.96.0.10:53: no such host".  By 10:16 three of four pods are new; ~75 % of requests
    500.  orders-db is healthy (and sees fewer queries).  Root: orders-api (a bad release);
    roll it back -- draining the new pods only brings back the same config.  Sources:
    Kubernetes docs "Deployments: Rolling Back a Deployment" (a bad rollout, rollout
    undo); Google SRE book ch. 8 "Release Engineering"."""
    b = Bundle(
        "orders-rollout-bad-config",
        "2032-06-15T10:00:00Z",
        description="order API error rate 75 %",
        symptom={"component": "orders-ingress"},
        step=15,
        minutes=35,
    )
    rng = b.rng
    b.component("orders-ingress", "proxy", {"job": "orders-ingress"}, ["orders-api"])
    b.component("orders-api", "app", {"namespace": "orders", "app": "orders-api"}, ["orders-db"])
    b.component("orders-db", "other", {"job": "orders-db"})
    steps = [10.0, 12.0, 14.0, 16.0]
    old = [
        Pod(
            f"10.60.{i}.{30 + i}:8080",
            f"orders-api-6d5b7-{s}",
            f"10.60.{i}.1:10250",
            within(0, steps[i] + 0.4) if i < 3 else None,
        )
        for i, s in enumerate(("aq", "bw", "ce", "dr"))
    ]
    new = [
        Pod(
            f"10.60.{i}.{130 + i}:8080",
            f"orders-api-84f2a-{s}",
            f"10.60.{i}.1:10250",
            within(steps[i], 99),
        )
        for i, s in enumerate(("ft", "gy", "hu"))
    ]
    pods = old + new

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 4:
            fail(e, 500, lognormal(b, 0.006), size=120)
            e.extra["dns"] = True

    routes = [
        Route("GET", "/orders/{n}", "/orders/{id}", 0.7, 0.012),
        Route("POST", "/orders", "/orders", 0.3, 0.05),
    ]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.60.200.", "10.60.201."],
        clients=300,
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "orders-ingress", "instance": "10.60.250.2:10254"},
        cluster="orders-orders-api-8080",
    )
    for e in site.events:
        if e.extra.get("dns") and rng.random() < 0.4:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "db/pool.go:61",
                    "query failed",
                    error="dial tcp: lookup orders-db-primry.orders.svc.cluster.local on "
                    "10.96.0.10:53: no such host",
                    version="3.14.0",
                ),
            )
    site.apps(
        {"namespace": "orders", "app": "orders-api", "job": "kubernetes-pods"},
        {"namespace": "orders", "app": "orders-api"},
        namespace="orders",
        container="orders-api",
    )
    ksm = {
        "job": "kube-state-metrics",
        "instance": "10.60.250.9:8080",
        "namespace": "orders",
        "deployment": "orders-api",
    }
    b.gauge(
        "kube_deployment_status_replicas_updated",
        ksm,
        lambda m: sum(1 for s in steps[:3] if m >= s),
    )
    b.gauge("kube_deployment_status_replicas_available", ksm, lambda m: 4)
    b.gauge("kube_deployment_spec_replicas", ksm, lambda m: 4)
    b.gauge("kube_deployment_status_observed_generation", ksm, lambda m: 41 if m < 10 else 42)
    postgres_exporter(
        b,
        {"job": "orders-db", "instance": "10.60.50.4:9187"},
        tps=lambda m: 140.0 if m < 10 else 140.0 * (1 - 0.25 * sum(1 for s in steps[:3] if m >= s)),
        active=lambda m: 3,
        idle=lambda m: 20,
        datname="orders",
    )
    return b


def search_liveness_restart_cascade() -> Bundle:  # size: one linear scenario script
    """search-api's liveness probe (``/health``, timeoutSeconds 1, failureThreshold 3) is
    served by the same 8 worker threads as the searches.  At the 20:00 TV-ad peak (2.5x
    traffic) the busiest pod's probe times out three times and the kubelet restarts it; its
    share moves to the other five, whose probes then time out too: restarts roll through
    the fleet every few minutes (``kube_pod_container_status_restarts_total``, kubelet
    "Liveness probe failed ... context deadline exceeded"), each restart costs a 40 s warm-
    up, and 20-35 % of searches fail with 502/503.  Root: search-api (its probes kill
    healthy-but-busy pods); draining pods is the kubelet's mistake again, and the viewers
    are no abusers.  Sources: Kubernetes docs "Configure Liveness, Readiness and Startup
    Probes"; vdnt.click "Kubernetes Liveness Probes Failures" (post-mortem of a cascade from
    1 s probe timeouts); k8s-issues scenario #419 ("Overuse of Liveness Probes Disrupted
    Load Balance")."""
    b = Bundle(
        "search-liveness-restart-cascade",
        "2032-07-20T19:40:00Z",
        description="search failing during the TV ad peak",
        symptom={"component": "search-ingress"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    peak = 20.0
    b.component("search-ingress", "proxy", {"job": "search-ingress"}, ["search-api"])
    b.component("search-api", "app", {"namespace": "search", "container": "search-api"})
    pods = [
        Pod(f"10.90.{i}.{50 + i}:8080", f"search-api-69b8c-{s}", f"10.90.{i}.1:10250")
        for i, s in enumerate(("p1", "p2", "p3", "p4", "p5", "p6"))
    ]
    restarts: dict[int, list[float]] = {
        i: [peak + 1.5 + i * 2.3 + k * 9.0 + rng.uniform(0, 1) for k in range(3)] for i in range(6)
    }
    restarts = {i: [m for m in ms if m < 49] for i, ms in restarts.items()}

    def down(m: float, i: int) -> bool:
        return any(r <= m < r + 0.7 for r in restarts[i])

    def outcome(e: Event, m: float, i: int) -> None:
        if m < peak:
            return
        if down(m, i):
            fail(e, 502, rng.uniform(0.001, 0.01), size=150)
        elif rng.random() < 0.18:
            fail(e, 503, 1.0 + rng.uniform(0, 0.5), size=150)
        else:
            e.duration = e.extra["app_dur"] = e.duration * 3.0

    site = web(
        b,
        pods=pods,
        routes=[
            Route("GET", "/search?q=ad-product-{n}", "/search", 0.85, 0.08),
            Route("GET", "/suggest?q=ad", "/suggest", 0.15, 0.01),
        ],
        prefixes=["80.187.1.", "2a01:598:90::", "89.204.137.", "2003:ea:8f1::"],
        clients=3000,
        rate=lambda m: 14.0 if m < peak else 35.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "search-ingress", "instance": "10.90.250.2:10254"},
        cluster="search-search-api-8080",
    )
    site.apps(
        {"namespace": "search", "container": "search-api", "job": "search-api"},
        {"namespace": "search", "container": "search-api"},
        go=False,
        namespace="search",
        container="search-api",
        cpu=lambda m, i: 0.7 if m < peak else 1.9,
        mem=lambda m, i: 1.4e9,
    )
    ksm_restarts(b, "10.90.250.9:8080", "search", "search-api", pods, restarts, reason="Error")
    for i, times in restarts.items():
        node = pods[i].node.split(":")[0]
        kl = {"job": "kubelet", "instance": f"{node}:10250", "node": f"search-node-{i + 1}"}
        for r in times:
            for k in range(3):
                t = b.t(r) - 20 + k * 10
                b.log(
                    t,
                    kl,
                    klog(
                        b,
                        t,
                        "I",
                        1187,
                        "prober.go:107",
                        f'"Probe failed" probeType="Liveness" pod="search/{pods[i].pod}" '
                        f'containerName="search-api" probeResult="failure" output="Get \\"http://'
                        f'{pods[i].addr}/health\\": context deadline exceeded (Client.Timeout '
                        'exceeded while awaiting headers)"',
                    ),
                )
            t = b.t(r)
            b.log(
                t,
                kl,
                klog(
                    b,
                    t,
                    "I",
                    1187,
                    "kuberuntime_manager.go:1050",
                    f'"Message for Container of pod" containerName="search-api" '
                    f'pod="search/{pods[i].pod}" containerMessage="Container search-api failed '
                    'liveness probe, will be restarted"',
                ),
            )
    return b


def upload_objectstore_slowdown() -> Bundle:  # size: one linear scenario script
    """upload-api (Python, boto3 in standard retry mode) stores photos in an external object
    store that is not part of the topology.  From 10:21 the provider throttles the bucket
    prefix: ~45 % of PutObject calls get "503 SlowDown", boto3 retries with backoff, uploads
    take 5-20 s and 30 % fail after the third attempt (502 to the client); gunicorn workers
    stay busy.  Thumbnails and metadata reads, the Redis queue and Postgres are all normal.
    Root: upload-api, failing on a dependency outside the topology; nothing inside to
    drain, kill or limit.  Sources: AWS S3 docs "Troubleshoot 503 Slow Down errors" and
    "Best practices design patterns: optimizing Amazon S3 performance"; AWS "Summary of the
    Amazon S3 Service Disruption in the Northern Virginia (US-EAST-1) Region" (2017-02-28)."""
    b = Bundle(
        "upload-objectstore-slowdown",
        "2032-08-24T10:00:00Z",
        description="photo uploads fail or hang",
        symptom={"component": "upload-edge"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    onset = 21.0
    b.component("upload-edge", "proxy", {"job": "upload-edge"}, ["upload-api"])
    b.component("upload-api", "app", {"job": "upload-api"}, ["upload-queue", "upload-db"])
    b.component("upload-queue", "redis", {"job": "upload-queue"})
    b.component("upload-db", "other", {"job": "upload-db"})
    pods = [Pod(f"172.20.{i}.{70 + i}:8000") for i in range(3)]
    routes = [
        Route("PUT", "/v1/photos/{n}", "/v1/photos/{id}", 0.35, 0.4),
        Route("GET", "/v1/photos/{n}/meta", "/v1/photos/{id}/meta", 0.45, 0.01),
        Route("GET", "/v1/photos/{n}/thumb", "/v1/photos/{id}/thumb", 0.2, 0.02),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if m < onset or e.method != "PUT":
            return
        if rng.random() < 0.3:
            fail(e, 502, rng.uniform(8.0, 20.0), size=110)
            e.extra["s3"] = True
        else:
            e.duration = e.extra["app_dur"] = rng.uniform(5.0, 15.0)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["37.201.4.", "2a02:908:e50::", "95.90.12."],
        clients=1200,
        rate=lambda m: 8.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "upload-edge", "instance": "172.20.0.4:9113"},
    )
    for e in site.events:
        if e.extra.get("s3") and rng.random() < 0.6:
            site.say(
                e.t,
                e.extra["pod"],
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "upload.storage",
                    "PutObject failed after 3 attempts: botocore.exceptions.ClientError: An error "
                    "occurred (SlowDown) when calling the PutObject operation (reached max retries: "
                    "2): Please reduce your request rate.",
                ),
            )
        elif e.method == "PUT" and b.m(e.t) >= onset and rng.random() < 0.05:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b,
                    e.t,
                    2,
                    "warning",
                    "slow upload",
                    seconds=round(e.duration, 2),
                    retries=rng.randint(1, 2),
                    endpoint="https://objects.eu-central.example-cloud.com",
                ),
            )
    site.apps({"job": "upload-api"}, {"job": "upload-api"}, go=False, cpu=lambda m, i: 0.35)
    for p in pods:
        b.gauge(
            "gunicorn_workers_busy",
            {"job": "upload-api", "instance": p.addr},
            lambda m: rng.randint(14, 16) if m >= onset else rng.randint(2, 5),
        )
    redis_exporter(
        b,
        {"job": "upload-queue", "instance": "172.20.9.2:9121"},
        ops=lambda m: 120.0,
        used=lambda m: 90e6,
        maxmemory=1e9,
        clients=lambda m: 18,
    )
    postgres_exporter(
        b,
        {"job": "upload-db", "instance": "172.20.9.3:9187"},
        tps=lambda m: 60.0,
        active=lambda m: 2,
        idle=lambda m: 12,
        datname="uploads",
    )
    return b
