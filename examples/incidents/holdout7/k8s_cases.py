# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Kubernetes: CoreDNS saturated by ndots:5 lookups, pods evicted for their ephemeral
storage one after another, a CPU limit that throttles every pod, and one node out of
PIDs."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, pick_clients, ramp
from examples.incidents.holdout3.stack import app_red, fail, serve
from examples.incidents.holdout4.common import ksm_node_conditions, logfmt, spring, zap
from examples.incidents.holdout5.common import klog, py_log, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout7.common import cfs, coredns_exporter, ksm_pod_phase

PSP = "api.psp-gateway.com"


def payments_coredns_ndots_overload() -> Bundle:  # size: one linear scenario script
    """payments-api dropped HTTP keep-alive to its payment provider last week, so it now
    resolves api.psp-gateway.com for every request; with ndots:5 each lookup walks the
    search list (4 names x A/AAAA = 8 queries).  At the lunch peak (12:10) the two CoreDNS
    pods reach their 200m CPU limit: throttled, request latency 1-5 s, health warnings.
    payments-api and orders-api both log "lookup ... on 10.96.0.10:53: ... i/o timeout"
    on every pod; payments fail 502 ~25 %.  Root: coredns (saturated; ndots amplification
    from payments-api aggravates); scale CoreDNS / NodeLocal DNSCache; nothing to drain or
    limit.  Sources: devopsbeast "Why Every Kubernetes Cluster Makes 5 DNS Queries For One
    Lookup"; netdata "Kubernetes DNS resolution failures inside pods" (ndots:5
    amplification, CoreDNS CPU)."""
    b = Bundle(
        "payments-coredns-ndots-overload",
        "2034-01-17T11:55:00Z",
        description="payment failures at lunch, DNS timeouts in logs",
        symptom={"component": "pay-ingress"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    peak = 15.0
    hot = within(peak, 99)
    b.component(
        "pay-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "app": "pay-ingress"},
        ["payments-api"],
    )
    b.component(
        "payments-api", "app", {"namespace": "payments", "container": "payments-api"}, ["coredns"]
    )
    b.component(
        "orders-api", "app", {"namespace": "orders", "container": "orders-api"}, ["coredns"]
    )
    b.component("coredns", "other", {"namespace": "kube-system", "container": "coredns"})
    pods = [
        Pod(f"10.60.{i}.{23 + i}:8080", f"payments-api-7c-{s}", f"10.60.{i}.1:10250")
        for i, s in enumerate(("a7", "b8", "c9", "d0"))
    ]
    routes = [
        Route("POST", "/v1/payments", "/v1/payments", 0.7, 0.25, 400),
        Route("GET", "/v1/payments/{n}", "/v1/payments/:id", 0.3, 0.01, 700),
    ]

    def rate(m: float) -> float:
        return ramp(m, 8, peak, 9.0, 26.0)

    def outcome(e: Event, m: float, i: int) -> None:
        if hot(m) and e.method == "POST":
            if rng.random() < 0.35:
                fail(e, 502, rng.uniform(2.0, 5.0), size=110)
                e.extra["dns"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.2, 1.5)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.70.8.", "100.70.9.", "100.70.10.", "100.70.11."],
        clients=700,
        rate=rate,
        outcome=outcome,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "app": "pay-ingress",
            "instance": "10.60.250.2:10254",
        },
        cluster="payments-payments-api-8080",
    )
    for e in site.events:
        if e.extra.get("dns") and rng.random() < 0.4:
            src = pods[e.extra["pod"]].addr.split(":")[0]
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "psp/client.go:64",
                    "authorize failed",
                    error=f'Post "https://{PSP}/v2/authorize": dial tcp: lookup {PSP} on '
                    f"10.96.0.10:53: read udp {src}:{rng.randint(30000, 60000)}->10.96.0.10:53: "
                    "i/o timeout",
                ),
            )
    site.apps(
        {"namespace": "payments", "container": "payments-api", "job": "payments-api"},
        {"namespace": "payments", "container": "payments-api"},
        namespace="payments",
        container="payments-api",
    )
    opods = [
        Pod(f"10.61.{i}.{50 + i}:8080", f"orders-api-5f-{s}", f"10.61.{i}.1:10250")
        for i, s in enumerate(("e1", "f2"))
    ]

    def oout(e: Event, m: float, i: int) -> None:
        if hot(m) and rng.random() < 0.08:
            fail(e, 500, rng.uniform(2.0, 5.0), size=90)
            e.extra["dns"] = True

    oev = serve(
        b,
        rate=lambda m: 6.0,
        clients=pick_clients(b, ["10.61.100.7", "10.61.100.8"]),
        routes=[Route("GET", "/orders/{n}", "/orders/:id", 1.0, 0.02)],
        pods=opods,
        outcome=oout,
    )
    app_red(b, opods, oev, {"namespace": "orders", "container": "orders-api"})
    for e in oev:
        if e.extra.get("dns") and rng.random() < 0.5:
            i = e.extra["pod"]
            b.log(
                e.t,
                {"namespace": "orders", "container": "orders-api", "pod": opods[i].pod},
                logfmt(
                    b,
                    e.t,
                    "error",
                    "inventory lookup failed",
                    err="dial tcp: lookup inventory.inventory.svc.cluster.local on "
                    "10.96.0.10:53: i/o timeout",
                ),
            )
    dns_pods = [
        Pod(f"10.96.{k}.{12 + k}:9153", f"coredns-5d78c9869d-{s}", f"10.60.{k}.1:10250")
        for k, s in enumerate(("x2lqp", "z7kfn"))
    ]

    def qps(m: float) -> float:
        return 600.0 + rate(m) * 0.7 * 8 * 10 / 2

    for p in dns_pods:
        coredns_exporter(
            b,
            {"namespace": "kube-system", "container": "coredns", "pod": p.pod, "instance": p.addr},
            qps=qps,
            nxdomain=lambda m: qps(m) * 0.55,
            servfail=lambda m: 1.5 if hot(m) else 0.0,
            latency=lambda m: rng.uniform(1.0, 5.0) if hot(m) and rng.random() < 0.3 else 0.0015,
            cpu=lambda m: min(0.2, 0.06 + rate(m) * 0.006),
        )
    cfs(
        b,
        dns_pods,
        "kube-system",
        "coredns",
        throttled=lambda m, i: 0.75 if hot(m) else 0.02,
        quota_cores=0.2,
    )
    for t in every(b, peak, 45, 8, 25):
        p = rng.choice(dns_pods)
        b.log(
            t,
            {"namespace": "kube-system", "container": "coredns", "pod": p.pod},
            f'[WARNING] plugin/health: Local health request to "http://:8080/health" took '
            f"more than 1s: {rng.uniform(1.0, 3.5):.6f}s",
        )
    return b


def reports_ephemeral_storage_evictions() -> Bundle:  # size: one linear scenario script
    """report-svc 5.2 renders PDFs into /tmp (an emptyDir) and no longer deletes them; the
    container's ephemeral-storage limit is 2Gi.  From the 09:00 business ramp each pod
    fills it in ~7-10 minutes and the kubelet evicts it: "Pod ephemeral local storage usage
    exceeds the total limit of containers 2Gi."  Its replacement starts cold; in-flight
    requests die (502 "upstream prematurely closed connection"), the remaining pods carry
    the load.  Every pod, old or new, goes the same way.  Root: report-svc (its temp files;
    roll back / clean /tmp); no drain (every pod alike, draining adds churn).  Sources:
    kubernetes/kubernetes issue #122160 ("Pod ephemeral local storage usage exceeds the
    total limit of containers"), akash-network/support issue #275 (evicted and recreated
    again and again); Kubernetes docs "Local ephemeral storage"."""
    b = Bundle(
        "reports-ephemeral-storage-evictions",
        "2034-02-06T08:40:00Z",
        description="reports fail intermittently, pods keep being evicted",
        symptom={"component": "reports-ingress"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    ns = "reports"
    onset = 21.0
    pods: list[Pod] = []
    ends: list[float] = []
    for slot in range(3):
        start, k = -60.0, 0
        first = onset + slot * 3.0 + rng.uniform(0, 2)
        end = first
        while start < 55:
            pods.append(
                Pod(
                    f"10.82.{slot}.{30 + k * 10 + slot}:8080",
                    f"report-svc-6f9d7-{'abc'[slot]}{k}{rng.randint(100, 999)}",
                    f"10.82.{slot}.1:10250",
                    within(start, end),
                )
            )
            ends.append(end)
            start, k = end + 0.4, k + 1
            end = start + rng.uniform(7, 10) if start >= onset else first
    b.component(
        "reports-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "job": "reports-ingress"},
        ["report-svc"],
    )
    b.component("report-svc", "app", {"namespace": ns, "container": "report-svc"})
    routes = [
        Route("POST", "/v1/reports/render", "/v1/reports/render", 0.5, 0.9, 180000),
        Route("GET", "/v1/reports/{n}", "/v1/reports/:id", 0.5, 0.03, 2000),
    ]

    def dying(m: float, i: int) -> bool:
        return ends[i] - 0.08 <= m < ends[i] and ends[i] < 55

    def outcome(e: Event, m: float, i: int) -> None:
        if dying(m, i) or (ends[i] < 55 and m + e.duration / 60 >= ends[i]):
            fail(e, 502, rng.uniform(0.2, 2.0), size=150)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.82.100.", "10.82.101.", "10.82.102."],
        clients=240,
        rate=lambda m: ramp(m, 15, 22, 4.0, 12.0),
        outcome=outcome,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "job": "reports-ingress",
            "instance": "10.82.250.2:10254",
        },
        cluster="reports-report-svc-8080",
    )
    for i, p in enumerate(pods):
        if ends[i] < 55:
            t = b.t(ends[i]) - 1
            site.say(
                t,
                i,
                spring(
                    b,
                    t,
                    "INFO",
                    "SpringApplicationShutdownHook",
                    "o.s.b.w.e.tomcat.GracefulShutdown",
                    "Commencing graceful shutdown. Waiting for active requests to complete",
                ),
            )
            b.log(
                t - 0.5,
                {
                    "namespace": ns,
                    "container": "report-svc",
                    "pod": p.pod,
                    "source": "kubernetes-events",
                },
                f"Warning Evicted pod/{p.pod} Pod ephemeral local storage usage exceeds "
                "the total limit of containers 2Gi.",
            )
    site.apps(
        {"namespace": ns, "container": "report-svc", "job": "report-svc"},
        {"namespace": ns, "container": "report-svc"},
        go=False,
        namespace=ns,
        container="report-svc",
    )
    for i, p in enumerate(pods):
        start = max(0.0, ends[i] - 9.0) if ends[i] < 55 else 30.0
        b.gauge(
            "container_fs_usage_bytes",
            {
                "job": "kubelet",
                "metrics_path": "/metrics/cadvisor",
                "instance": p.node,
                "namespace": ns,
                "pod": p.pod,
                "container": "report-svc",
                "device": "/dev/nvme0n1p1",
            },
            lambda m, i=i, s=start, p=p: (
                int(ramp(m, s, ends[i], 60e6, 2.15e9)) if p.up(m) else None
            ),
        )
    ksm_pod_phase(
        b,
        {"job": "kube-state-metrics", "instance": "10.82.250.9:8080"},
        ns,
        pods,
        reason=lambda m, i: "Evicted" if ends[i] < 55 and m >= ends[i] else None,
    )
    return b


def checkout_cpu_limit_throttling() -> Bundle:  # size: one linear scenario script
    """A Helm values refactor (rolled out 15:10-15:16) sets checkout-api's CPU limit to 500m
    instead of 2 (a missing unit: "500m" meant for the request).  The JVM sizes its GC and
    pool threads for the node's 8 cores and bursts past the quota in every 100 ms period:
    the new pods are throttled in ~70 % of periods, CPU usage flat at 0.5 core, p50 x5 and
    p99 4-6 s, ingress 504 after 6 s for ~5 %.  No errors in the app's log, no dependency
    slow.  Root: checkout-api (CPU throttling by its own limit); roll back the values; no
    drain (every new pod alike).  Sources: kubernetes/kubernetes issue #67577 ("CFS quotas
    can lead to unnecessary throttling"), issue #51135; elastic/cloud-on-k8s issue #2402."""
    b = Bundle(
        "checkout-cpu-limit-throttling",
        "2034-03-14T15:00:00Z",
        description="checkout slow since the 15:10 deploy",
        symptom={"component": "shop-ingress"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    ns = "checkout"
    roll = 10.0
    b.component(
        "shop-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "job": "shop-ingress"},
        ["checkout-api"],
    )
    b.component("checkout-api", "app", {"namespace": ns, "container": "checkout-api"})
    old = [
        Pod(
            f"10.30.{i}.{50 + i}:8080",
            f"checkout-api-6b8f5-{s}",
            f"10.30.{i}.1:10250",
            within(0, roll + 2 * i + 1.5),
        )
        for i, s in enumerate(("p1", "q2", "r3"))
    ]
    new = [
        Pod(
            f"10.30.{i}.{90 + i}:8080",
            f"checkout-api-9c2d1-{s}",
            f"10.30.{i}.1:10250",
            within(roll + 2 * i, 99),
        )
        for i, s in enumerate(("s4", "t5", "u6"))
    ]
    pods = old + new
    routes = [
        Route("POST", "/checkout/cart/{n}/confirm", "/checkout/cart/{id}/confirm", 0.4, 0.12),
        Route("GET", "/checkout/cart/{n}", "/checkout/cart/{id}", 0.6, 0.03, 4800),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i < 3:
            return
        d = e.duration * rng.uniform(3.0, 7.0) + (
            rng.uniform(2.0, 6.0) if rng.random() < 0.08 else 0.0
        )
        if d > 6.0:
            fail(e, 504, 6.0, size=160)
            e.upstream_status = "504"
        else:
            e.duration = e.extra["app_dur"] = d

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["2a02:810d:4b3f::", "2a02:8109:9c0::", "93.104.18."],
        clients=1100,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "job": "shop-ingress",
            "instance": "10.30.250.2:10254",
        },
        cluster="checkout-checkout-api-8080",
    )
    for k in range(3):
        t = b.t(roll + 2 * k) + 25
        site.say(
            t,
            3 + k,
            spring(
                b,
                t,
                "INFO",
                "main",
                "c.s.checkout.CheckoutApplication",
                "Started CheckoutApplication in 41.877 seconds (process running for 44.1)",
            ),
        )
    site.apps(
        {"namespace": ns, "container": "checkout-api", "job": "checkout-api"},
        {"namespace": ns, "container": "checkout-api"},
        go=False,
        namespace=ns,
        container="checkout-api",
        cpu=lambda m, i: 0.5 if i >= 3 else 0.9,
    )
    cfs(b, old, ns, "checkout-api", throttled=lambda m, i: 0.01, quota_cores=2.0)
    cfs(b, new, ns, "checkout-api", throttled=lambda m, i: 0.7, quota_cores=0.5)
    for i, p in enumerate(pods):
        b.gauge(
            "kube_pod_container_resource_limits",
            {
                "job": "kube-state-metrics",
                "instance": "10.30.250.9:8080",
                "namespace": ns,
                "pod": p.pod,
                "container": "checkout-api",
                "resource": "cpu",
                "unit": "core",
            },
            lambda m, i=i, p=p: (0.5 if i >= 3 else 2.0) if p.up(m) else None,
        )
    return b


def pdf_node_pid_pressure() -> Bundle:  # size: one linear scenario script
    """A batch pod on node ip-10-24-3-7 spawns a shell per task and never reaps them; the
    node's PIDs climb to pid_max and the kubelet reports PIDPressure from 10:19.  The
    pdf-render pod on that node forks a wkhtmltopdf per request: "OSError: [Errno 11]
    Resource temporarily unavailable" (fork), 500 for its share; the three pdf-render pods
    on other nodes are fine.  Root: pdf-render on 10.24.3.31:8000 (its node is out of
    PIDs); drain it off that node (and cordon).  Sources: Kubernetes docs "Node-pressure
    Eviction" (PIDPressure) and "Process ID Limits And Reservations"."""
    b = Bundle(
        "pdf-node-pid-pressure",
        "2034-04-02T10:00:00Z",
        description="some invoice PDFs fail to render (500)",
        symptom={"component": "docs-gw"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset, bad = 19.0, 2
    b.component("docs-gw", "proxy", {"job": "docs-gw"}, ["pdf-render"])
    b.component("pdf-render", "app", {"job": "pdf-render"})
    nodes = ["10.24.1.7", "10.24.2.7", "10.24.3.7", "10.24.4.7"]
    pods = [
        Pod(f"10.24.{i + 1}.31:8000", f"pdf-render-84c-{s}", f"{nodes[i]}:10250")
        for i, s in enumerate(("w1", "x2", "y3", "z4"))
    ]
    routes = [Route("POST", "/render/invoice/{n}", "/render/invoice/{id}", 1.0, 0.8, 90000)]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad and m >= onset and rng.random() < 0.85:
            fail(e, 500, rng.uniform(0.01, 0.05), size=120)
            e.extra["fork"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.24.100.", "10.24.101."],
        clients=40,
        rate=lambda m: 6.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "docs-gw", "instance": "10.24.0.3:9901"},
        cluster="pdf_render",
    )
    for e in site.events:
        if e.extra.get("fork"):
            site.say(
                e.t,
                bad,
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "render.worker",
                    "wkhtmltopdf failed: OSError: [Errno 11] Resource temporarily unavailable",
                ),
            )
    site.apps(
        {"job": "pdf-render"},
        {"job": "pdf-render"},
        go=False,
        cpu=lambda m, i: 0.1 if i == bad and m >= onset else 0.9,
    )
    ksm = "10.24.0.9:8080"
    for i, p in enumerate(pods):
        b.gauge(
            "kube_pod_info",
            {
                "job": "kube-state-metrics",
                "instance": ksm,
                "namespace": "docs",
                "pod": p.pod,
                "node": f"ip-{nodes[i].replace('.', '-')}",
                "pod_ip": p.addr.split(":")[0],
                "created_by_kind": "ReplicaSet",
            },
            lambda m: 1,
        )
    for i, n in enumerate(nodes):
        name = f"ip-{n.replace('.', '-')}"
        sick = i == bad
        ksm_node_conditions(
            b,
            ksm,
            name,
            {
                "PIDPressure": lambda m, s=sick: s and m >= onset,
                "Ready": lambda m: True,
            },
        )
        nl = {"job": "node-exporter", "instance": f"{n}:9100", "node": name}
        node_exporter(b, nl, busy=lambda m: 0.35, avail=lambda m: 20e9, mem_total=32e9)
        b.gauge("node_processes_max_processes", nl, lambda m: 32768)
        b.gauge(
            "node_processes_pids",
            nl,
            lambda m, s=sick: int(
                ramp(m, 0, onset, 21000, 32700) if s else 900 + rng.randint(0, 80)
            ),
        )
        b.gauge(
            "node_processes_state",
            {**nl, "state": "Z"},
            lambda m, s=sick: int(ramp(m, 0, onset, 20000, 31700) if s else 0),
        )
        if sick:
            for t in every(b, onset, 45, 60, 120):
                b.log(
                    t,
                    {"job": "kubelet", "node": name},
                    klog(
                        b,
                        t,
                        "W",
                        2811,
                        "eviction_manager.go:366",
                        'eviction manager: attempting to reclaim" resourceName="pids"',
                    ),
                )
    return b
