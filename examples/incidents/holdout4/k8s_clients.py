"""Kubernetes-layer causes (node conntrack, node memory pressure, OOMKilled crash loop) and
abusive clients (credential stuffing over an IPv6 /64, a deep-pagination scraper)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import (
    USER_AGENTS,
    Bundle,
    Event,
    client_pool,
    envoy_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import fail, ksm_restarts
from examples.incidents.holdout4.common import (
    Pod,
    Route,
    app_side,
    edge,
    jvm,
    ksm_node_conditions,
    log_each,
    logfmt,
    mysql_slow,
    nginx_timed_line,
    spring,
    zap,
)


def checkout_node_conntrack() -> Bundle:
    """On node 10.90.0.14 a metrics-relay DaemonSet pod (not ours) starts opening tens of
    thousands of short UDP flows at 17:10; the node's conntrack table reaches
    nf_conntrack_max (131,072) at 17:16 and the kernel drops new flows ("nf_conntrack:
    table full, dropping packet").  The one basket-svc pod on that node
    (basket-svc-5d4c3b2a1-r4t5y, 10.90.14.37:8080) can no longer open connections: ~45 % of
    its requests fail after its 5 s dial timeout with "dial tcp 10.90.60.5:3306: i/o
    timeout" -- the database's address, but basket-db is healthy and the four other pods
    reach it fine.  Root: basket-svc, that one instance (drain it off the node)."""
    b = Bundle(
        "checkout-node-conntrack",
        "2028-11-07T17:00:00Z",
        description="basket API errors for some users",
        symptom={"component": "basket-ingress", "route": "/api/basket"},
    )
    onset, bad = 16.0, 3
    sick = lambda m, i: i == bad and m >= onset  # noqa: E731
    ns, ctr = "shop", "basket"
    b.component("basket-ingress", "proxy", {"job": "basket-ingress"}, ["basket-svc"])
    b.component("basket-svc", "app", {"namespace": ns, "container": ctr}, ["basket-db"])
    b.component("basket-db", "mysql", {"job": "basket-db"})
    nodes = ["10.90.0.11", "10.90.0.12", "10.90.0.13", "10.90.0.14", "10.90.0.15"]
    names = ("h2j3k", "l4m5n", "p6q7r", "r4t5y", "u8v9w")
    pods = [
        Pod(f"10.90.{11 + i}.{34 + i}:8080", f"basket-svc-5d4c3b2a1-{s}", f"{nodes[i]}:10250")
        for i, s in enumerate(names)
    ]
    routes = [
        Route("GET", "/api/basket", "/api/basket", 0.55, 0.02),
        Route("POST", "/api/basket/items", "/api/basket/items", 0.3, 0.03),
        Route("DELETE", "/api/basket/items/{n}", "/api/basket/items/{id}", 0.15, 0.025),
    ]
    clients = pick_clients(b, client_pool(b, ["10.90.200.", "10.90.201.", "10.90.202."], 45))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if sick(m, i) and b.rng.random() < 0.45:
            fail(e, 500, 5.0 + b.rng.uniform(0.001, 0.01))
            logs.append(
                (
                    e.t + 5,
                    i,
                    zap(
                        b,
                        e.t + 5,
                        "error",
                        "store/basket.go:64",
                        "load basket",
                        error="dial tcp 10.90.60.5:3306: i/o timeout",
                        user_id=f"u{b.rng.randint(10**6, 10**7)}",
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 14.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "basket-ingress", "instance": "10.90.0.30:10254"},
        cluster="shop-basket-svc-8080",
    )
    base = {"job": "basket-svc", "namespace": ns, "container": ctr}
    app_side(
        b,
        pods,
        events,
        base,
        namespace=ns,
        container=ctr,
        goroutines=lambda m, i: 80 + (350 if sick(m, i) else 0),
        blip=0,
    )
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stderr"})
    for i, node in enumerate(nodes):
        nl = {
            "job": "node-exporter",
            "instance": f"{node}:9100",
            "node": f"ip-{node.replace('.', '-')}",
        }
        hot = i == bad
        b.gauge(
            "node_nf_conntrack_entries",
            nl,
            lambda m, hot=hot: (
                int(
                    ramp(m, 10, onset, 38000, 131072)
                    if hot and m >= 10
                    else 30000 + b.rng.randint(0, 9000)
                )
                - (b.rng.randint(0, 40) if hot and m >= onset else 0)
            ),
        )
        b.gauge("node_nf_conntrack_entries_limit", nl, lambda m: 131072)
        b.counter(
            "node_nf_conntrack_stat_drop",
            nl,
            lambda m, hot=hot: 380.0 if hot and m >= onset else 0.0,
            start=12,
        )
        node_exporter(b, nl, busy=lambda m: 0.3, avail=lambda m: 9e9, mem_total=32e9)
    kl = {
        "job": "node-exporter",
        "instance": f"{nodes[bad]}:9100",
        "node": f"ip-{nodes[bad].replace('.', '-')}",
        "filename": "/var/log/kern.log",
    }
    t = b.t(onset)
    while t < b.t(60):
        b.log(
            t,
            kl,
            f"{b.dt(t).strftime('%b %d %H:%M:%S')} ip-10-90-0-14 kernel: [{int(t) % 10**7}.{b.rng.randint(0, 999999):06d}] nf_conntrack: nf_conntrack: table full, dropping packet",
        )
        t += b.rng.uniform(2.0, 9.0)
    db = {"job": "basket-db", "instance": "10.90.60.5:9104"}
    mysqld_exporter(
        b, db, qps=lambda m: 1600, connected=lambda m: 90, running=lambda m: 4, version="8.0.40"
    )
    return b


def worker_node_memory_pressure() -> Bundle:
    """A fluent-bit DaemonSet pod (system-node-critical, not ours) leaks memory on node
    ip-10-70-3-19 from 08:05; at 08:18 memory.available falls under the kubelet's soft
    threshold: MemoryPressure=true.  The docs-render pod on that node
    (docs-render-6c5b4a3f2-zx81q, 10.70.19.42:8000) keeps losing its page cache: major
    faults x40, iowait, latency x8, and its own queue guard sheds ~30 % of requests (503
    "render queue full").  The other three pods, on other nodes, are normal.  Root:
    docs-render, that one instance; drain it (and fix the node)."""
    b = Bundle(
        "worker-node-memory-pressure",
        "2028-11-21T08:00:00Z",
        description="document previews slow, some 503",
        symptom={"component": "docs-gw", "route": "/render"},
    )
    onset, bad = 18.0, 1
    sick = lambda m, i: i == bad and m >= onset  # noqa: E731
    ns, ctr = "docs", "render"
    b.component("docs-gw", "proxy", {"job": "docs-gw"}, ["docs-render"])
    b.component("docs-render", "app", {"namespace": ns, "container": ctr})
    nodes = ["10.70.3.11", "10.70.3.19", "10.70.3.23", "10.70.3.27"]
    names = ("ab12c", "zx81q", "de34f", "gh56i")
    pods = [
        Pod(
            f"10.70.{11 + 8 * (i % 2)}.{41 + i}:8000",
            f"docs-render-6c5b4a3f2-{s}",
            f"{nodes[i]}:10250",
        )
        for i, s in enumerate(names)
    ]
    routes = [
        Route("POST", "/render", "/render", 0.7, 0.35, 90000),
        Route("GET", "/render/status/{n}", "/render/status/{id}", 0.3, 0.01),
    ]
    clients = pick_clients(b, client_pool(b, ["10.70.100.", "10.70.101."], 30))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if sick(m, i):
            if b.rng.random() < 0.3:
                fail(e, 503, b.rng.uniform(0.002, 0.01))
                logs.append(
                    (
                        e.t,
                        i,
                        logfmt(
                            b,
                            e.t,
                            "warn",
                            "render queue full, shedding",
                            queue=64,
                            inflight=8,
                            path=e.path,
                        ),
                    )
                )
            else:
                e.duration = e.extra["app_dur"] = e.duration * 8

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 6.0,
        clients=clients,
        outcome=outcome,
        kind="envoy",
        labels={"job": "docs-gw", "instance": "10.70.0.8:9901"},
        cluster="docs_render",
        fmt=lambda e: envoy_line(b, e, "docs.internal"),
    )
    base = {"job": "docs-render", "namespace": ns, "container": ctr}
    app_side(
        b,
        pods,
        events,
        base,
        namespace=ns,
        container=ctr,
        go=False,
        cpu=lambda m, i: 0.9 if sick(m, i) else 0.6,
        mem=lambda m, i: 640e6,
    )
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stderr"})
    for i, node in enumerate(nodes):
        nl = {
            "job": "node-exporter",
            "instance": f"{node}:9100",
            "node": f"ip-{node.replace('.', '-')}",
        }
        hot = i == bad
        node_exporter(
            b,
            nl,
            busy=lambda m: 0.35,
            avail=lambda m, hot=hot: ramp(m, 5, onset, 3.1e9, 0.09e9) if hot else 7.5e9,
            mem_total=16e9,
            iowait=lambda m, hot=hot: 0.22 if hot and m >= onset else 0.01,
            cores=4,
        )
        b.counter(
            "node_vmstat_pgmajfault",
            nl,
            lambda m, hot=hot: 2400.0 if hot and m >= onset else 55.0,
            start=8_812_331,
        )
        ksm_node_conditions(
            b,
            "10.70.0.4:8080",
            f"ip-{node.replace('.', '-')}",
            {"MemoryPressure": lambda m, hot=hot: hot and m >= onset},
        )
    kub = {"job": "kubelet", "instance": f"{nodes[bad]}:10250", "filename": "/var/log/kubelet.log"}
    t = b.t(onset)
    while t < b.t(60):
        b.log(
            t,
            kub,
            f'I{b.dt(t).strftime("%m%d %H:%M:%S")}.{b.rng.randint(0, 999999):06d}    2231 eviction_manager.go:366] "Eviction manager: attempting to reclaim" resourceName="memory"',
        )
        b.log(
            t + 0.01,
            kub,
            f'I{b.dt(t).strftime("%m%d %H:%M:%S")}.{b.rng.randint(0, 999999):06d}    2231 eviction_manager.go:377] "Eviction manager: must evict pod(s) to reclaim" resourceName="memory"',
        )
        b.log(
            t + 0.02,
            kub,
            f'I{b.dt(t).strftime("%m%d %H:%M:%S")}.{b.rng.randint(0, 999999):06d}    2231 eviction_manager.go:395] "Eviction manager: pods ranked for eviction" pods=["logging/fluent-bit-7xq2p","docs/docs-render-6c5b4a3f2-zx81q","kube-system/kube-proxy-8h2kd"]',
        )
        b.log(
            t + 0.03,
            kub,
            f'E{b.dt(t).strftime("%m%d %H:%M:%S")}.{b.rng.randint(0, 999999):06d}    2231 eviction_manager.go:416] "Eviction manager: cannot evict a critical pod" pod="logging/fluent-bit-7xq2p"',
        )
        t += 10 * b.rng.uniform(0.9, 1.1) * 6
    return b


def statement_jvm_oomkilled_crashloop() -> Bundle:
    """At 06:12 a Helm values change halves statement-svc's memory limit to 768 Mi while
    JAVA_TOOL_OPTIONS keeps -Xmx1g.  The rolling update replaces all three pods by 06:16;
    each new pod starts, serves for a few minutes, grows its heap past the cgroup limit and
    is OOMKilled (exit 137); restarts climb on every pod, CrashLoopBackOff between them,
    the ingress answers 502/503 whenever the pod it picks is down.  All pods alike: the
    component is in a crash loop; no pod to drain; revert the limit."""
    b = Bundle(
        "statement-jvm-oomkilled-crashloop",
        "2028-12-05T06:00:00Z",
        description="account statements fail intermittently (502/503)",
        symptom={"component": "statement-ingress", "route": "/statements"},
    )
    ns, ctr = "banking", "statement"
    swap = [12.5, 13.9, 15.3]
    b.component("statement-ingress", "proxy", {"job": "statement-ingress"}, ["statement-svc"])
    b.component("statement-svc", "app", {"namespace": ns, "container": ctr})
    old = [
        Pod(
            f"10.33.{4 + i}.{10 + i}:8080",
            f"statement-svc-54d3c2b1a-{s}",
            f"10.33.0.{21 + i}:10250",
            present=lambda m, k=swap[i]: m < k + 0.3,
        )
        for i, s in enumerate(("oa1", "ob2", "oc3"))
    ]
    kills: dict[int, list[float]] = {}
    down: dict[int, list[tuple[float, float]]] = {}
    for i, k in enumerate(swap):
        t, backoff, ks, ds = k + b.rng.uniform(2.2, 3.4), 10 / 60, [], []
        while t < 60:
            ks.append(t)
            up = t + backoff + 0.3
            ds.append((t, up))
            backoff = min(backoff * 2, 5.0)
            t = up + b.rng.uniform(2.0, 3.5)
        kills[i + 3], down[i + 3] = ks, ds
    new = [
        Pod(
            f"10.33.{4 + i}.{40 + i}:8080",
            f"statement-svc-7a6b5c4d3-{s}",
            f"10.33.0.{21 + i}:10250",
            present=lambda m, k=swap[i]: m >= k,
        )
        for i, s in enumerate(("n7zq2", "n8xw3", "n9vu4"))
    ]
    pods = old + new
    is_down = lambda m, i: i >= 3 and any(a <= m < z for a, z in down[i])  # noqa: E731
    routes = [
        Route("GET", "/statements/{n}?month=2028-11", "/statements/{id}", 0.7, 0.12, 30000),
        Route("GET", "/statements/{n}/pdf", "/statements/{id}/pdf", 0.3, 0.4, 180000),
    ]
    clients = pick_clients(b, client_pool(b, ["10.33.100.", "10.33.101."], 40))

    def choose(m: float, live: list[int]) -> int:
        return b.rng.choice(live)

    def outcome(e: Event, m: float, i: int) -> None:
        if is_down(m, i):
            fail(e, 502 if b.rng.random() < 0.5 else 503, b.rng.uniform(0.001, 0.01), reached=False)

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 7.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "statement-ingress", "instance": "10.33.0.9:10254"},
        cluster="banking-statement-svc-8080",
        choose=choose,
    )
    heap = lambda m, i: 700e6 if i < 3 else 420e6 + 4e8 * (m % 3.0) / 3.0  # noqa: E731
    base = {"job": "statement-svc", "namespace": ns, "container": ctr}
    app_side(
        b,
        pods,
        events,
        base,
        namespace=ns,
        container=ctr,
        go=False,
        mem=lambda m, i: min(805e6, heap(m, i) + 2.6e8),
        limit=None,
    )
    for i, pod in enumerate(pods):
        cl = {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "instance": pod.node,
            "namespace": ns,
            "pod": pod.pod,
            "container": ctr,
        }
        b.gauge(
            "container_spec_memory_limit_bytes",
            cl,
            lambda m, i=i, p=pod: (1536 * 2**20 if i < 3 else 768 * 2**20) if p.up(m) else None,
        )
        jvm(
            b,
            {**base, "instance": pod.addr, "pod": pod.pod},
            heap=lambda m, i=i: heap(m, i),
            heap_max=1024 * 2**20,
            gc_rate=lambda m: 0.5,
            gc_pause=lambda m: 0.01,
            present=lambda m, i=i, p=pod: p.up(m) and not is_down(m, i),
        )
    ksm_restarts(
        b, "10.33.0.3:8080", ns, ctr, new, {i - 3: v for i, v in kills.items()}, reason="OOMKilled"
    )
    for j, pod in enumerate(new):
        wl = {
            "job": "kube-state-metrics",
            "instance": "10.33.0.3:8080",
            "namespace": ns,
            "pod": pod.pod,
            "container": ctr,
            "reason": "CrashLoopBackOff",
        }
        b.gauge(
            "kube_pod_container_status_waiting_reason",
            wl,
            lambda m, i=j + 3, p=pod: (1 if is_down(m, i) else 0) if p.up(m) else None,
        )
    logs: list[tuple[float, int, str]] = []
    for i in range(3, 6):
        starts = [swap[i - 3]] + [z for _, z in down[i]]
        for s in starts:
            t = b.t(s + 0.02)
            logs.append(
                (
                    t,
                    i,
                    spring(
                        b,
                        t,
                        "INFO",
                        "main",
                        "o.s.b.w.embedded.tomcat.TomcatWebServer",
                        "Tomcat started on port 8080 (http) with context path '/'",
                    ),
                )
            )
            logs.append(
                (
                    t + 14,
                    i,
                    spring(
                        b,
                        t + 14,
                        "INFO",
                        "main",
                        "b.s.statement.StatementApplication",
                        "Started StatementApplication in 13.902 seconds (process running for 14.61) -Xmx1g container_limit=768Mi",
                    ),
                )
            )
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    return b


STUFF_NET = "2a0e:97c0:3e1:7f2:"


def login_stuffing_v6_64() -> Bundle:
    """From 01:07 230 addresses of one IPv6 /64 (2a0e:97c0:3e1:7f2::/64, SLAAC-looking
    interface ids) each POST /oauth/token with a password grant about once a minute,
    rotating browser user agents: ~4 req/s together, all 401, while each address sends
    only ~50 requests in the hour -- fewer than the busiest real users.  bcrypt at cost 12
    pegs every auth-svc pod's CPU: everyone's logins slow to seconds, ~4 % 504.  A few
    ordinary users live in the same /48 (2a0e:97c0:3e1:10::/64) and are not abusive.
    Root: clients; rate-limit the /64."""
    b = Bundle(
        "login-stuffing-v6-64",
        "2028-12-12T01:00:00Z",
        description="login slow, some 504",
        symptom={"component": "id-gw", "route": "/oauth/token"},
    )
    onset = 7.0
    b.component("id-gw", "proxy", {"job": "id-gw"}, ["auth-svc"])
    b.component("auth-svc", "app", {"job": "auth-svc"})
    pods = [
        Pod(f"10.184.{2 + i}.{12 + i}:9000", f"auth-svc-6e5d4c3b2-{s}")
        for i, s in enumerate(("ua1", "ub2", "uc3"))
    ]
    routes = [
        Route("POST", "/oauth/token", "/oauth/token", 0.35, 0.18),
        Route("GET", "/userinfo", "/userinfo", 0.45, 0.01),
        Route("GET", "/.well-known/jwks.json", "/.well-known/jwks.json", 0.2, 0.002),
    ]
    pool = client_pool(
        b,
        [
            "2a0e:97c0:3e1:10::",
            "2a02:8109:9a40::",
            "2a01:c23:6c1e::",
            "94.134.88.",
            "37.4.230.",
            "188.97.14.",
        ],
        500,
    )
    clients = pick_clients(b, pool)
    attackers = sorted(
        {
            f"{STUFF_NET}{b.rng.getrandbits(16):x}:{b.rng.getrandbits(16):x}:{b.rng.getrandbits(16):x}:{b.rng.getrandbits(16):x}"
            for _ in range(230)
        }
    )
    load = lambda m: 1.0 if m < onset else 3.4  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= onset:
            e.duration = e.extra["app_dur"] = e.duration * (6 if e.method == "POST" else 2.5)
            if e.method == "POST" and b.rng.random() < 0.04:
                fail(e, 504, 5.0)
                e.upstream_status = "504"

    stuffing: list[Event] = []
    for addr in attackers:
        t = b.t(onset + b.rng.uniform(0, 1.5))
        while t < b.t(60):
            i = b.rng.randint(0, 2)
            d = b.rng.uniform(0.8, 2.4)
            stuffing.append(
                Event(
                    t=t,
                    client=addr,
                    method="POST",
                    path="/oauth/token",
                    status=401,
                    duration=d,
                    upstream=pods[i].addr,
                    upstream_status="401",
                    agent=b.rng.choice(USER_AGENTS[:3]),
                    size=62,
                    extra={"pod": i, "route": "/oauth/token", "app_dur": d, "urt": f"{d:.3f}"},
                )
            )
            t += b.rng.uniform(45, 80)
    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 2.6,
        clients=clients,
        outcome=outcome,
        kind="envoy",
        labels={"job": "id-gw", "instance": "10.184.0.6:9901"},
        cluster="auth_svc",
        fmt=lambda e: envoy_line(b, e, "id.example.org"),
        extra_events=stuffing,
    )
    app_side(
        b,
        pods,
        events,
        {"job": "auth-svc"},
        cpu=lambda m, i: 0.4 * load(m) if m < onset else 1.95,
        goroutines=lambda m, i: 50 * load(m),
    )
    return b


def listings_scraper_flood() -> Bundle:
    """From 14:11 one address, 185.191.171.42, walks the listing search page by page
    (/api/listings/search?city=berlin&page=N) at ~30 req/s with rotating desktop user
    agents: ~60 % of all requests.  Deep pages need large OFFSETs, so listings-db's slow log
    fills with OFFSET scans and listings-api's PHP workers saturate on all three VMs; other
    users see 3x latency and ~7 % 504.  The database is only following load: rate-limit
    the client, do not kill queries."""
    b = Bundle(
        "listings-scraper-flood",
        "2028-12-19T14:00:00Z",
        description="property search slow and timing out",
        symptom={"component": "estate-edge", "route": "/api/listings/search"},
    )
    onset = 11.0
    bot = "185.191.171.42"
    on = lambda m: m >= onset  # noqa: E731
    b.component("estate-edge", "proxy", {"job": "estate-edge"}, ["listings-api"])
    b.component("listings-api", "app", {"job": "listings-api"}, ["listings-db"])
    b.component("listings-db", "mysql", {"job": "listings-db"})
    vms = [Pod(f"172.19.8.{31 + i}:9000") for i in range(3)]
    routes = [
        Route(
            "GET", "/api/listings/search?city=berlin&page={n}", "/api/listings/search", 0.5, 0.12
        ),
        Route("GET", "/api/listings/{n}", "/api/listings/{id}", 0.4, 0.03),
        Route("POST", "/api/enquiries", "/api/enquiries", 0.1, 0.06),
    ]
    clients = pick_clients(
        b,
        client_pool(
            b, ["87.123.55.", "91.66.140.", "2a02:8106:21b::", "2003:ea:7f1b::", "46.114.9."], 450
        ),
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if on(m):
            e.duration = e.extra["app_dur"] = e.duration * 3 + b.rng.uniform(0, 0.3)
            if b.rng.random() < 0.07:
                fail(e, 504, 15.0)
                e.upstream_status = "504"

    flood: list[Event] = []
    t, page = b.t(onset), 1
    while t < b.t(60):
        i = page % 3
        d = min(15.0, 0.3 + page / 900)
        st = 504 if d >= 15.0 else 200
        flood.append(
            Event(
                t=t,
                client=bot,
                method="GET",
                path=f"/api/listings/search?city=berlin&page={page}",
                status=st,
                duration=d,
                upstream=vms[i].addr,
                upstream_status=str(st),
                agent=b.rng.choice(USER_AGENTS[:3]),
                size=24000,
                extra={"pod": i, "route": "/api/listings/search", "app_dur": d, "urt": f"{d:.3f}"},
            )
        )
        page += 1
        t += b.rng.expovariate(30.0)
    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 8.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "estate-edge", "instance": "172.19.8.10:9113"},
        fmt=lambda e: nginx_timed_line(b, e),
        extra_events=flood,
        active=lambda m: 70 if not on(m) else 420,
    )
    app_side(
        b,
        vms,
        events,
        {"job": "listings-api"},
        go=False,
        cpu=lambda m, i: 0.9 if not on(m) else 3.8,
    )
    for vm in vms:
        labels = {"job": "listings-api", "instance": vm.addr, "pool": "www"}
        b.gauge(
            "phpfpm_active_processes",
            labels,
            lambda m: (8 if not on(m) else 40) + b.rng.randint(0, 2),
        )
        b.gauge("phpfpm_total_processes", labels, lambda m: 40)
        b.counter("phpfpm_max_children_reached", labels, lambda m: 0.08 if on(m) else 0.0)
    db = {"job": "listings-db", "instance": "172.19.8.50:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 900 if not on(m) else 3100,
        connected=lambda m: 60 if not on(m) else 125,
        running=lambda m: 4 if not on(m) else 38,
        slow=lambda m: 0.0 if not on(m) else 2.2,
        sending=lambda m: 0 if not on(m) else 30,
        scan_rows=lambda m: 0 if not on(m) else 9e5,
        version="8.0.40",
    )
    sl = {
        "job": "listings-db",
        "instance": "172.19.8.50:9104",
        "filename": "/var/log/mysql/slow.log",
    }
    t = b.t(onset + 0.5)
    while t < b.t(60):
        page = int((t - b.t(onset)) * 30)
        b.log(
            t,
            sl,
            mysql_slow(
                b,
                t,
                user="listings",
                host=f"172.19.8.{b.rng.randint(31, 33)}",
                thread=b.rng.randint(10**6, 2 * 10**6),
                qt=1.0 + page / 2000,
                lt=0.0001,
                sent=20,
                examined=page * 20 + 20,
                sql=f"SELECT l.* FROM listings l WHERE l.city_id = 11 AND l.active = 1 ORDER BY l.published_at DESC LIMIT 20 OFFSET {page * 20}",
                db="estate",
            ),
        )
        t += b.rng.uniform(0.8, 1.6)
    return b
