# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Applications: a release that sizes its SQLAlchemy pool for a migration job, a leaking
Istio sidecar OOM-killed in every pod, one pod left with a rotated-away database
password, and one pod on a node whose disk was remounted read-only."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import cadvisor, fail, ksm_restarts
from examples.incidents.holdout4.common import mysql8_err, zap
from examples.incidents.holdout5.common import klog, py_log, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout8.common import node_fs_readonly

KSM = "10.0.250.9:8080"


def orders_sqlalchemy_pool_release() -> Bundle:  # size: one linear scenario script
    """orders-svc 4.12.0 (FastAPI under gunicorn, 4 uvicorn workers) moves its database
    settings into a shared module; the engine now reads ``DB_POOL_SIZE=1`` and
    ``DB_MAX_OVERFLOW=0`` meant for the migration job.  Each worker holds its session for
    the whole request (~0.8 s, with a payment-status call inside), so one connection per
    worker is not enough: from the rollout (14:00-14:04) every new pod queues on its pool,
    ~35 % of requests end 500 after 30 s with "QueuePool limit of size 1 overflow 0 reached,
    connection timed out, timeout 30.00" and the rest are slow; PostgreSQL is idler than
    before.  Root: orders-svc (bad release); roll back.  Sources: SQLAlchemy docs "Error
    Messages: QueuePool limit of size <x> overflow <y> reached" (3o7r); issue threads
    hydraplatform/hydra-base #102 (pool_size=1 and max_overflow=1 cause it), ckan/ckan
    #5863, numerique-gouv/ami-notifications-api #375."""
    b = Bundle(
        "orders-sqlalchemy-pool-release",
        "2035-05-15T13:50:00Z",
        description="orders API timeouts since the 14:00 deploy",
        symptom={"component": "orders-ingress"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    ns = "orders"
    roll = 10.0
    b.component(
        "orders-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "app": "ingress-nginx"},
        ["orders-svc"],
    )
    b.component("orders-svc", "app", {"namespace": ns, "app": "orders-svc"}, ["orders-pg"])
    b.component("orders-pg", "other", {"namespace": ns, "app": "orders-pg"})
    old = [
        Pod(
            f"10.90.{1 + i}.{60 + i}:8000",
            f"orders-svc-5d8b7-{s}",
            f"10.90.{1 + i}.1:10250",
            within(0, roll + 2 * i + 1),
        )
        for i, s in enumerate(("gk2", "hp4", "mt9"))
    ]
    new = [
        Pod(
            f"10.90.{1 + i}.{90 + i}:8000",
            f"orders-svc-7f4c1-{s}",
            f"10.90.{1 + i}.1:10250",
            within(roll + 2 * i, 99),
        )
        for i, s in enumerate(("ax7", "bq3", "cw5"))
    ]
    pods = old + new
    routes = [
        Route("POST", "/orders", "/orders", 0.35, 0.8, 500),
        Route("GET", "/orders/{n}", "/orders/{order_id}", 0.5, 0.4, 2100),
        Route("GET", "/orders/{n}/items", "/orders/{order_id}/items", 0.15, 0.3, 4000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i < 3:
            return
        if rng.random() < 0.35:
            fail(e, 500, 30.0 + rng.uniform(0.0, 0.1), size=21)
            e.extra["pool"] = True
        else:
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.5, 25.0)

    edge = {"namespace": "ingress-nginx", "app": "ingress-nginx", "instance": "10.90.0.4:10254"}
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.90.100.", "10.90.101.", "10.90.102.", "10.90.103."],
        clients=140,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="ingress",
        edge_labels=edge,
        cluster="orders-orders-svc-8000",
    )
    for e in site.events:
        if e.extra.get("pool"):
            site.say(
                e.t,
                e.extra["pod"],
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "uvicorn.error",
                    f"Exception in ASGI application ({e.method} {e.extra['route']})\n"
                    "Traceback (most recent call last):\n"
                    '  File "/app/.venv/lib/python3.12/site-packages/sqlalchemy/pool/impl.py", '
                    "line 168, in _do_get\n"
                    "    raise exc.TimeoutError(\n"
                    "sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, "
                    "connection timed out, timeout 30.00 (Background on this error at: "
                    "https://sqlalche.me/e/20/3o7r)",
                ),
            )
    for i in range(3, 6):
        t = b.t(roll + 2 * (i - 3)) + 9
        site.say(
            t,
            i,
            py_log(
                b,
                t,
                "INFO",
                "orders.main",
                "orders-svc 4.12.0 starting, db pool_size=1 max_overflow=0",
            ),
        )
        for k in range(4):
            site.say(
                t + 0.3 + k * 0.1,
                i,
                py_log(
                    b,
                    t + 0.3 + k * 0.1,
                    "INFO",
                    "gunicorn.error",
                    f"Booting worker with pid: {12 + k}",
                ),
            )
    site.apps(
        {"namespace": ns, "app": "orders-svc"},
        {"namespace": ns, "app": "orders-svc", "container": "orders-svc"},
        go=False,
        namespace=ns,
        container="orders-svc",
        cpu=lambda m, i: 0.08 if i >= 3 else 0.35,
        mem=lambda m, i: 310e6,
    )
    postgres_exporter(
        b,
        {"namespace": ns, "app": "orders-pg", "instance": "10.90.5.20:9187"},
        tps=lambda m: 60.0 if m < roll + 5 else 22.0,
        active=lambda m: 7 if m < roll + 5 else 3,
        idle=lambda m: 41 if m < roll + 5 else 9,
        datname="orders",
    )
    return b


def profile_istio_sidecar_leak() -> Bundle:  # size: one linear scenario script
    """A mesh upgrade restarts profile-api's five pods at 09:04-09:08 with a new istio-proxy
    and a Telemetry resource that tags request metrics with the path: the sidecar's memory
    grows ~20 MB/min to its 256Mi limit and the kernel OOM-kills istio-proxy (not the app)
    every ~10 min in every pod.  Each kill drops that pod's in-flight requests and its
    inbound traffic for ~30-50 s: the ingress gateway answers 503 UC/UF for its share, so
    from ~09:15 a pod is always somewhere in a kill.  The app containers are flat.  Root:
    profile-api (its sidecar leaks memory); roll the proxy or the Telemetry change back;
    draining a pod does not help, all leak.  Sources: istio/istio issues #43747 ("Istio
    proxy sidecar memory leak", OOM), #30504 ("Memory leak in istio-proxy": OOMKilled
    sidecar), #33291 ("Constantly increasing memory use in istio-proxy", telemetry)."""
    b = Bundle(
        "profile-istio-sidecar-leak",
        "2035-06-05T09:00:00Z",
        description="profile pages fail intermittently since the mesh upgrade",
        symptom={"component": "mesh-gateway"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    ns = "profile"
    b.component(
        "mesh-gateway",
        "proxy",
        {"namespace": "istio-system", "app": "istio-ingressgateway"},
        ["profile-api"],
    )
    b.component("profile-api", "app", {"namespace": ns, "app": "profile-api"}, ["profile-db"])
    b.component("profile-db", "mysql", {"namespace": ns, "app": "profile-db"})
    up_at = [4.0 + i for i in range(5)]
    pods = [
        Pod(
            f"10.16.{2 + i}.{30 + i * 9}:8080",
            f"profile-api-8c6f5-{s}",
            f"10.16.{2 + i}.1:10250",
            within(up_at[i], 99),
        )
        for i, s in enumerate(("b4k", "d7m", "f2p", "h9r", "j3s"))
    ]
    kills: dict[int, list[float]] = {}
    for i in range(5):
        t, out = up_at[i] + rng.uniform(8.5, 11.0), []
        while t < 55:
            out.append(t)
            t += rng.uniform(9.0, 11.5)
        kills[i] = out

    def down(m: float, i: int) -> bool:
        return any(k <= m < k + 0.7 for k in kills[i])

    routes = [
        Route("GET", "/v1/profiles/{n}", "/v1/profiles/{id}", 0.7, 0.025, 3800),
        Route("PATCH", "/v1/profiles/{n}", "/v1/profiles/{id}", 0.3, 0.06, 400),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if down(m, i):
            reset = rng.random() < 0.3
            fail(
                e,
                503,
                rng.uniform(0.001, 0.01) if not reset else e.duration,
                reached=False,
                size=91,
            )
            e.extra["flags"] = "UC" if reset else "UF"

    gw = {
        "namespace": "istio-system",
        "app": "istio-ingressgateway",
        "instance": "10.16.0.12:15090",
    }
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.72.8.", "100.72.9.", "100.72.30.", "2a02:c7c:5e11::"],
        clients=500,
        rate=lambda m: 13.0,
        outcome=outcome,
        kind="envoy",
        edge_labels=gw,
        cluster="outbound|8080||profile-api.profile.svc.cluster.local",
    )
    site.apps(
        {"namespace": ns, "app": "profile-api"},
        {"namespace": ns, "app": "profile-api", "container": "profile-api"},
        go=False,
        namespace=ns,
        container="profile-api",
        mem=lambda m, i: 420e6,
    )

    def proxy_mem(m: float, i: int) -> float:
        last = max([up_at[i], *(k + 0.7 for k in kills[i] if k + 0.7 <= m)])
        return min(268e6, 62e6 + (m - last) * 21e6)

    cadvisor(
        b,
        pods,
        ns,
        "istio-proxy",
        cpu=lambda m, i: 0.02 if down(m, i) else 0.09,
        mem=proxy_mem,
        limit=268435456,
    )
    ksm_restarts(b, KSM, ns, "istio-proxy", pods, kills)
    for i, p in enumerate(pods):
        pl = {"namespace": ns, "app": "profile-api", "pod": p.pod, "container": "istio-proxy"}
        for k in kills[i]:
            t = b.t(k) + 0.05
            b.log(
                t,
                pl,
                f"{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z\twarn\tEnvoy may have been out of "
                "memory killed. Check memory usage and limits.",
            )
            b.log(
                t + 0.01,
                pl,
                f"{b.dt(t + 0.01).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z\terror\tEnvoy exited with "
                "error: signal: killed",
            )
        t0 = b.t(up_at[i]) + 2
        b.log(
            t0,
            pl,
            f"{b.dt(t0).strftime('%Y-%m-%dT%H:%M:%S.%f')}Z\tinfo\tVersion 1.27.3-"
            "0a2c4f5e3c1b-Clean",
        )
    mysqld_exporter(
        b,
        {"namespace": ns, "app": "profile-db", "instance": "10.16.9.3:9104"},
        qps=lambda m: 140.0,
        connected=lambda m: 30,
        running=lambda m: 2,
    )
    return b


def accounts_one_pod_stale_secret() -> Bundle:  # size: one linear scenario script
    """The accounts database password was rotated overnight; a script restarted the
    deployment's pods from a list taken before the HPA added accounts-api-6d5b-q7x9z, which
    mounts the password file with ``subPath`` and so never sees Secret updates.  Its pooled
    connections reach their 30 min lifetime from 09:12; every reconnect fails with MySQL
    1045 "Access denied for user 'accounts'@'10.8.3.17' (using password: YES)" and its
    requests end 500, more and more until all of them at ~09:20.  The three other pods and
    MySQL are fine (MySQL logs the denied logins from that one address).  Root:
    accounts-api on 10.8.3.17:8080 (stale credentials); restart/drain it.  Sources:
    Kubernetes docs "Secrets: Mounted Secrets are updated automatically" (not with subPath)
    and "Volumes: subPath"; kubernetes-sigs/secrets-store-csi-driver issue #680 ("Secrets
    not rotated when using subPath"); MySQL error 1045 (ER_ACCESS_DENIED_ERROR)."""
    b = Bundle(
        "accounts-one-pod-stale-secret",
        "2035-06-19T08:55:00Z",
        description="a quarter of account requests fail",
        symptom={"component": "accounts-ingress"},
        step=20,
        minutes=50,
    )
    rng = b.rng
    ns = "accounts"
    stale = 3
    first = 17.0
    b.component(
        "accounts-ingress",
        "proxy",
        {"namespace": "ingress", "app": "nginx-ingress"},
        ["accounts-api"],
    )
    b.component("accounts-api", "app", {"namespace": ns, "app": "accounts-api"}, ["accounts-db"])
    b.component("accounts-db", "mysql", {"namespace": ns, "app": "accounts-db"})
    pods = [
        Pod(f"10.8.{1 + i}.{11 + i * 2}:8080", f"accounts-api-6d5b-{s}", f"10.8.{1 + i}.1:10250")
        for i, s in enumerate(("c2lm", "f8hv", "k4wd"))
    ]
    pods.append(Pod("10.8.3.17:8080", "accounts-api-6d5b-q7x9z", "10.8.3.1:10250"))
    routes = [
        Route("GET", "/v2/accounts/{n}", "/v2/accounts/{id}", 0.7, 0.02, 1600),
        Route(
            "POST", "/v2/accounts/{n}/preferences", "/v2/accounts/{id}/preferences", 0.3, 0.04, 200
        ),
    ]

    def share(m: float) -> float:
        return 0.0 if m < first else min(1.0, (m - first) / 8.0)

    def outcome(e: Event, m: float, i: int) -> None:
        if i == stale and rng.random() < share(m):
            fail(e, 500, rng.uniform(0.004, 0.012), size=64)
            e.extra["denied"] = True

    edge = {"namespace": "ingress", "app": "nginx-ingress", "instance": "10.8.0.6:10254"}
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["77.241.140.", "5.146.200.", "2001:4dd0:fe1e::"],
        clients=600,
        rate=lambda m: 16.0,
        outcome=outcome,
        kind="ingress",
        edge_labels=edge,
        cluster="accounts-accounts-api-8080",
    )
    for e in site.events:
        if e.extra.get("denied") and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "repo/accounts.go:64",
                    "query failed",
                    error="Error 1045 (28000): Access denied for user 'accounts'@'10.8.3.17' "
                    "(using password: YES)",
                ),
            )
    for t in every(b, 0, b.minutes, 45, 140):
        k = rng.randrange(4)
        site.say(
            t,
            k,
            zap(
                b, t, "info", "http/server.go:77", "session sweep done", expired=rng.randint(10, 90)
            ),
        )
    site.apps(
        {"namespace": ns, "app": "accounts-api"},
        {"namespace": ns, "app": "accounts-api", "container": "accounts-api"},
        namespace=ns,
        container="accounts-api",
    )
    db = {"namespace": ns, "app": "accounts-db", "instance": "10.8.9.4:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 260.0,
        connected=lambda m: 40 - int(10 * share(m)),
        running=lambda m: 2,
        aborted_connects=lambda m: 1.5 * share(m),
    )
    b.untyped("mysql_global_status_access_denied_errors", db, lambda m: 1.5 * share(m), start=312)
    for e in site.events:
        if e.extra.get("denied") and rng.random() < 0.15:
            b.log(
                e.t - 0.002,
                {**db, "log": "error"},
                mysql8_err(
                    b,
                    e.t - 0.002,
                    rng.randint(700_000, 800_000),
                    "Note",
                    "MY-010926",
                    "Access denied for user 'accounts'@'10.8.3.17' (using password: YES)",
                ),
            )
    return b


def thumbs_one_node_readonly_fs() -> Bundle:  # size: one linear scenario script
    """At 18:22 node 10.31.0.14's local NVMe reports I/O errors; ext4 aborts its journal and
    remounts /var/lib/kubelet read-only.  The thumbs-api pod there (thumbs-api-5b7-x2kq)
    writes every source image to an emptyDir under /tmp before resizing: all its requests
    fail 500 "open /tmp/src-...: read-only file system"; the kubelet on that node cannot
    write either.  Four sibling pods on other nodes are fine.  Root: thumbs-api on
    10.31.14.22:8080 (its node's filesystem is read-only); drain it and cordon the node.
    Sources: kubernetes/node-problem-detector issue #274 ("Read-only disk condition":
    an EC2 node's disk went read-only, a third of traffic 504ing); chkpwd/iac issue #541
    (condition ReadonlyFilesystem "EXT4-fs (sdi): Remounting filesystem read-only");
    kubernetes/kubernetes issue #12905."""
    b = Bundle(
        "thumbs-one-node-readonly-fs",
        "2035-07-03T18:05:00Z",
        description="about a fifth of thumbnails fail",
        symptom={"component": "media-edge"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    ns = "media"
    bad = 2
    onset = 17.0
    ro = within(onset, 99)
    b.component("media-edge", "proxy", {"job": "media-edge"}, ["thumbs-api"])
    b.component("thumbs-api", "app", {"namespace": ns, "container": "thumbs-api"})
    pods = [
        Pod(f"10.31.{12 + i}.22:8080", f"thumbs-api-5b7-{s}", f"10.31.0.{12 + i}:10250")
        for i, s in enumerate(("a8fd", "m3ve", "x2kq", "p5tn", "r9wb"))
    ]
    routes = [
        Route("GET", "/t/{n}/320x240.webp", "/t/:id/:size", 0.8, 0.09, 14000),
        Route("POST", "/v1/thumbnails", "/v1/thumbnails", 0.2, 0.35, 600),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad and ro(m):
            fail(e, 500, rng.uniform(0.003, 0.015), size=40)
            e.extra["erofs"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["31.13.84.", "102.132.97.", "157.240.201.", "2a03:2880:f1ff::"],
        clients=900,
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "media-edge", "instance": "10.31.0.3:9113"},
    )
    for e in site.events:
        if e.extra.get("erofs") and rng.random() < 0.6:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "resize/handler.go:57",
                    "resize failed",
                    path=e.path,
                    error=f"open /tmp/src-{rng.getrandbits(40):010x}.jpg: read-only file system",
                ),
            )
    for t in every(b, 0, b.minutes, 45, 140):
        k = rng.randrange(5)
        site.say(
            t,
            k,
            zap(
                b,
                t,
                "info",
                "resize/cache.go:112",
                "cache stats",
                hits=rng.randint(800, 1400),
                evicted=rng.randint(0, 30),
            ),
        )
    site.apps(
        {"namespace": ns, "container": "thumbs-api"},
        {"namespace": ns, "container": "thumbs-api"},
        namespace=ns,
        container="thumbs-api",
        cpu=lambda m, i: 0.05 if i == bad and ro(m) else 0.6,
        mem=lambda m, i: 380e6,
    )
    node = "10.31.0.14"
    nl = {"job": "node-exporter", "instance": f"{node}:9100", "node": "ip-10-31-0-14"}
    node_fs_readonly(b, nl, "/var/lib/kubelet", "/dev/nvme0n1p1", lambda m: 1 if ro(m) else 0)
    node_fs_readonly(b, nl, "/", "/dev/nvme0n1p1", lambda m: 1 if ro(m) else 0)
    kl = {"job": "node-journal", "instance": node, "unit": "kernel"}
    t = b.t(onset) - 2.2
    for k, line in enumerate(
        (
            "nvme nvme0: I/O 412 QID 3 timeout, aborting",
            "blk_update_request: I/O error, dev nvme0n1, sector 188046336 op 0x1:(WRITE) flags "
            "0x800 phys_seg 1 prio class 0",
            "EXT4-fs error (device nvme0n1p1): ext4_journal_check_start:83: comm containerd: "
            "Detected aborted journal",
            "EXT4-fs (nvme0n1p1): Remounting filesystem read-only",
        )
    ):
        b.log(t + k * 0.6, kl, f"kernel: [{4412307.118 + k * 0.6:.6f}] {line}")
    jl = {"job": "node-journal", "instance": node, "unit": "kubelet.service"}
    for tt in every(b, onset + 0.2, 50, 20, 60):
        b.log(
            tt,
            jl,
            klog(
                b,
                tt,
                "E",
                1187,
                "kubelet_node_status.go:549",
                '"Error updating node status, will retry" err="failed to write checkpoint: '
                'open /var/lib/kubelet/.tmp-node-status: read-only file system"',
            ),
        )
    ksm = {"job": "kube-state-metrics", "instance": KSM, "node": "ip-10-31-0-14"}
    b.gauge(
        "kube_node_status_condition",
        {**ksm, "condition": "ReadonlyFilesystem", "status": "true"},
        lambda m: 1 if ro(m + 1.5) else 0,
    )
    return b
