"""Kubernetes-layer scenarios: every pod OOMKilled in a crash loop; one node out of disk."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    ingress_line,
    nginx_line,
    pick_clients,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    fail,
    ingress_metrics,
    ksm_restarts,
    nginx_exporter,
    serve,
)


def thumbnailer_oom_crashloop() -> Bundle:
    """At 06:14 a ConfigMap change raises MAX_IMAGE_PIXELS so the morning batch of 50 MP
    uploads is decoded in memory; every thumbnailer pod exceeds its 512 MiB limit on its
    first big image, is OOMKilled, restarts, takes the next big image... all three pods
    alike (restarts 0 -> 11 each, CrashLoopBackOff).  imgx-lb answers 502/503.  No
    single pod to drain: the fix is the config (or the limit)."""
    b = Bundle(
        "thumbnailer-oom-crashloop",
        "2027-12-02T06:00:00Z",
        description="thumbnails fail with 502/503",
        symptom={"component": "imgx-lb"},
    )
    onset = 14.0
    ns = "media"
    b.component("imgx-lb", "proxy", {"job": "imgx-lb"}, ["thumbnailer"])
    b.component("thumbnailer", "app", {"namespace": ns, "container": "thumbnailer"})
    pods = [
        Pod(
            f"10.17.{3 + i}.{50 + i}:8080", f"thumbnailer-57c9d8f6b4-{s}", f"10.17.0.{60 + i}:10250"
        )
        for i, s in enumerate(("lk2jh", "gf4ds", "po9iu"))
    ]
    # each pod: killed, back after a growing back-off, killed again on its next big image
    kills: dict[int, list[float]] = {}
    down: dict[int, list[tuple[float, float]]] = {}
    for i in range(3):
        t, backoff, ks, ds = onset + 0.3 * i + 0.5, 10 / 60, [], []
        while t < 60:
            ks.append(t)
            up = t + backoff + 0.05
            ds.append((t, up))
            backoff = min(backoff * 2, 5.0)
            t = up + b.rng.uniform(0.6, 1.4)
        kills[i], down[i] = ks, ds
    is_down = lambda m, i: any(a <= m < z for a, z in down[i])  # noqa: E731
    routes = [
        Route("GET", "/thumb/{n}/320x240.webp", "/thumb", 0.8, 0.08, 14000),
        Route("POST", "/upload", "/upload", 0.2, 0.4, 200),
    ]
    clients = pick_clients(b, client_pool(b, ["10.17.100.", "10.17.101."], 60))

    def outcome(e: Event, m: float, i: int) -> None:
        if is_down(m, i):
            fail(e, 502 if b.rng.random() < 0.6 else 503, b.rng.uniform(0.001, 0.02), reached=False)
        elif m >= onset and e.method == "POST":
            e.duration = e.extra["app_dur"] = e.duration * 4

    events = serve(
        b, rate=lambda m: 6.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    lb = {"job": "imgx-lb", "instance": "10.17.0.5:9113"}
    for e in events:
        b.log(e.t + e.duration, {"job": "imgx-lb", "instance": "10.17.0.5:9113"}, nginx_line(b, e))
    nginx_exporter(b, lb, events, lambda m: 45)
    base = {"namespace": ns, "container": "thumbnailer", "job": "thumbnailer"}
    app_red(b, pods, events, base)
    for i, pod in enumerate(pods):
        for t0 in kills[i]:
            t = b.t(t0) - b.rng.uniform(2, 6)
            b.log(
                t,
                {"namespace": ns, "container": "thumbnailer", "pod": pod.pod},
                f"{b.dt(t).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} INFO thumbnailer.worker decoding upload "
                f"id=up_{b.rng.randint(10**6, 10**7)} size=8192x6144 mode=RGBA est_bytes=201326592",
            )
        for _, z in down[i]:
            t = b.t(z)
            b.log(
                t,
                {"namespace": ns, "container": "thumbnailer", "pod": pod.pod},
                f"{b.dt(t).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} INFO gunicorn.error Booting worker with pid: 7",
            )
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.4,
            rss=lambda m, i=i: 5.2e8 if m >= onset and not is_down(m, i) else 1.9e8,
            present=lambda m, i=i: not is_down(m, i),
            go=False,
        )
    cadvisor(
        b,
        pods,
        ns,
        "thumbnailer",
        cpu=lambda m, i: 0.4 if not is_down(m, i) else 0.0,
        mem=lambda m, i: b.rng.uniform(3.1e8, 5.3e8) if m >= onset else 2.0e8,
        limit=536870912,
    )
    ksm_restarts(b, "10.17.0.3:8080", ns, "thumbnailer", pods, kills)
    for i, pod in enumerate(pods):
        b.gauge(
            "kube_pod_container_status_waiting_reason",
            {
                "job": "kube-state-metrics",
                "instance": "10.17.0.3:8080",
                "namespace": ns,
                "pod": pod.pod,
                "container": "thumbnailer",
                "reason": "CrashLoopBackOff",
            },
            lambda m, i=i: 1 if is_down(m, i) else 0,
        )
    return b


def search_node_disk_pressure() -> Bundle:
    """From 21:12 a log-spewing batch pod (not ours) fills the root disk of node
    10.3.7.19; kubelet reports DiskPressure.  The one query-svc pod on that node
    (10.3.44.12:8080) can no longer write its query spill files to its emptyDir: ~40 % of
    its requests fail "no space left on device" and the rest slow down.  Its three
    siblings on healthy nodes are fine.  Move that pod off the node (drain it)."""
    b = Bundle(
        "search-node-disk-pressure",
        "2027-12-16T21:00:00Z",
        description="some searches fail with 500",
        symptom={"component": "search-lb"},
    )
    onset, bad = 12.0, 1
    ns = "search"
    b.component("search-lb", "proxy", {"job": "search-lb"}, ["query-svc"])
    b.component("query-svc", "app", {"namespace": ns, "container": "query-svc"})
    nodes = ["10.3.7.17", "10.3.7.19", "10.3.7.21", "10.3.7.23"]
    pods = [
        Pod(f"10.3.{43 + i}.{11 + i}:8080", f"query-svc-7b8c9d6f5-{s}", f"{nodes[i]}:10250")
        for i, s in enumerate(("zx1", "cv2", "bn3", "mq4"))
    ]
    routes = [
        Route("GET", "/search?q=term{n}", "/search", 0.85, 0.06),
        Route("GET", "/suggest?q=t{n}", "/suggest", 0.15, 0.01),
    ]
    clients = pick_clients(b, client_pool(b, ["10.3.200.", "10.3.201."], 70))
    errs: list[tuple[float, str]] = []
    hurt = lambda m, i: i == bad and m >= onset + 3  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        if hurt(m, i):
            if b.rng.random() < 0.4:
                fail(e, 500, b.rng.uniform(0.02, 0.2))
                errs.append((e.t, e.path))
            else:
                e.duration = e.extra["app_dur"] = e.duration * 3

    events = serve(
        b, rate=lambda m: 8.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    lb = {"job": "search-lb", "instance": "10.3.0.7:10254"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "search-lb", "instance": "10.3.0.7:10254"},
            ingress_line(b, e, "search-query-svc-8080"),
        )
    ingress_metrics(b, lb, events)
    base = {"namespace": ns, "container": "query-svc", "job": "query-svc"}
    app_red(b, pods, events, base)
    for t, path in errs:
        b.log(
            t,
            {"namespace": ns, "container": "query-svc", "pod": pods[bad].pod},
            f"[{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z] ERROR c.s.query.SpillingCollector - query failed path={path} "
            f"java.io.IOException: No space left on device\n\tat java.base/sun.nio.ch.FileDispatcherImpl.write0(Native Method)\n"
            "\tat com.search.query.SpillingCollector.spill(SpillingCollector.java:144)",
        )
    for pod in pods:
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.7,
            rss=lambda m: 1.1e9,
            go=False,
        )
    cadvisor(b, pods, ns, "query-svc", cpu=lambda m, i: 0.7, mem=lambda m, i: 1.2e9)
    size = 120e9
    for n, ip in enumerate(nodes):
        fill = (
            (lambda m: max(0.8e9, size * 0.4 - max(0.0, m - onset + 14) * 3.4e9))
            if n == 1
            else (lambda m, n=n: size * (0.55 + 0.03 * n))
        )
        node_exporter(
            b,
            {
                "job": "node-exporter",
                "instance": f"{ip}:9100",
                "node": f"ip-{ip.replace('.', '-')}",
            },
            busy=lambda m: 0.35,
            avail=lambda m: 18e9,
            fs_avail=fill,
            fs_size=size,
            cores=4,
            iowait=(lambda m: 0.12 if m >= onset else 0.01) if n == 1 else (lambda m: 0.01),
        )
        b.gauge(
            "kube_node_status_condition",
            {
                "job": "kube-state-metrics",
                "instance": "10.3.0.3:8080",
                "node": f"ip-{ip.replace('.', '-')}",
                "condition": "DiskPressure",
                "status": "true",
            },
            lambda m, n=n: 1 if n == 1 and m >= onset + 1 else 0,
        )
    return b
