"""Proxies failing by themselves, one degraded pod, a release broken everywhere, and a
connection leak inside the app."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    Pod,
    Route,
    app_side,
    edge,
    envoy_json_line,
    envoy_stats,
    hikari,
    jvm,
    log_each,
    nginx_json_line,
    spring,
)

WAF_RULE = "(?:(?:\\\"|'|\\]|\\}|\\\\|\\d|(?:nan|infinity|true|false|null|undefined|symbol|math)|`|\\-|\\+)+[)\\]]*;?((?:\\s|-|~|!|{}|\\|\\||\\+)*.*(?:.*=.*)))"


def stream_nginx_worker_connections() -> Bundle:
    """A new base image for the ws-edge nginx VMs came with the stock events block
    (worker_processes 2; worker_connections 1024) instead of 16384.  Each live websocket
    holds two slots (client + upstream), so each VM tops out near 1,000 listeners.  When
    the match kicks off at 19:20 the audience grows past that: from 19:22 nginx logs
    "1024 worker_connections are not enough while connecting to upstream" and answers
    500 without reaching live-ws; nginx_connections_active sits at 2,048 on both VMs.
    live-ws is healthy (flat latency, fewer requests).  Root: the proxy itself."""
    b = Bundle(
        "stream-nginx-worker-connections",
        "2028-08-09T19:00:00Z",
        description="live score page fails to connect (500) during the match",
        symptom={"component": "ws-edge"},
    )
    cap = 22.0
    audience = lambda m: ramp(m, 18, 30, 700, 3300)  # noqa: E731
    capped = lambda m: m >= cap  # noqa: E731
    ns = "live"
    b.component("ws-edge", "proxy", {"job": "ws-edge"}, ["live-ws"])
    b.component("live-ws", "app", {"namespace": ns, "container": "ws"})
    pods = [
        Pod(f"10.128.{40 + i}.{9 + i}:8443", f"live-ws-59d8c7b6a-{s}", f"10.128.0.{21 + i}:10250")
        for i, s in enumerate(("fk3pd", "gl4qe", "hm5rf"))
    ]
    routes = [
        Route("GET", "/ws/match/88{n}", "/ws/match/{id}", 0.45, 0.004, 300),
        Route("GET", "/api/match/88{n}/score", "/api/match/{id}/score", 0.45, 0.006, 700),
        Route("GET", "/api/match/88{n}/lineups", "/api/match/{id}/lineups", 0.1, 0.02, 4000),
    ]
    clients = pick_clients(
        b,
        client_pool(
            b, ["2a02:3032:10::", "2a01:4b00:8e12::", "86.144.9.", "81.98.220.", "5.64.70."], 900
        ),
    )
    vm_of = {0: "10.128.1.11", 1: "10.128.1.12"}
    err: list[tuple[float, str, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["vm"] = b.rng.randint(0, 1)
        if capped(m) and b.rng.random() < min(0.55, 0.05 + 0.5 * (audience(m) - 2000) / 1300):
            fail(e, 500, b.rng.uniform(0.0002, 0.002), reached=False, size=579)
            err.append(
                (
                    e.t,
                    vm_of[e.extra["vm"]],
                    f'{b.dt(e.t).strftime("%Y/%m/%d %H:%M:%S")} [alert] {2301 + e.extra["vm"]}#{2301 + e.extra["vm"]}: *{b.rng.randint(10**6, 10**7)} 1024 worker_connections are not enough while connecting to upstream, client: {e.client}, server: live.example.tv, request: "{e.method} {e.path} HTTP/1.1", host: "live.example.tv"',
                )
            )

    events_all = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 5.0 + audience(m) / 220,
        clients=clients,
        outcome=outcome,
        kind="none",
        labels={"job": "ws-edge"},
        fmt=lambda e: nginx_json_line(b, e, "live.example.tv"),
    )
    logs = [entry for entry in b.logs if entry[1].get("job") == "ws-edge"]
    b.logs = [entry for entry in b.logs if entry[1].get("job") != "ws-edge"]
    per_vm: dict[str, list[float]] = {"10.128.1.11": [], "10.128.1.12": []}
    for (t, _, line), e in zip(logs, events_all, strict=True):
        vm = vm_of[e.extra["vm"]]
        b.log(t, {"job": "ws-edge", "instance": f"{vm}:9113", "stream": "access"}, line)
        per_vm[vm].append(t)
    for t, vm, line in err:
        b.log(t, {"job": "ws-edge", "instance": f"{vm}:9113", "stream": "error"}, line)
    for vm, times in per_vm.items():
        labels = {"job": "ws-edge", "instance": f"{vm}:9113"}
        b.counter_steps("nginx_http_requests_total", labels, times, start=5_120_331)
        b.counter_steps("nginx_connections_accepted", labels, times[::2], start=1_402_118)
        b.counter_steps(
            "nginx_connections_handled",
            labels,
            [t for t in times[::2] if not (capped(b.m(t)) and b.rng.random() < 0.3)],
            start=1_402_118,
        )
        b.gauge(
            "nginx_connections_active",
            labels,
            lambda m: (
                min(2048, int(audience(m) * 0.6 + 180)) if m < cap else 2048 - b.rng.randint(0, 3)
            ),
        )
        b.gauge("nginx_connections_reading", labels, lambda m: b.rng.randint(0, 4))
        b.gauge("nginx_connections_writing", labels, lambda m: min(1024, int(audience(m) * 0.3)))
        b.gauge("nginx_connections_waiting", labels, lambda m: b.rng.randint(5, 30))
        b.gauge("nginx_up", labels, lambda m: 1)
        node_exporter(
            b,
            {"job": "ws-edge", "instance": f"{vm}:9100"},
            busy=lambda m: 0.12 + audience(m) / 40000,
            avail=lambda m: 6.1e9,
            mem_total=8e9,
            cores=2,
        )
    base = {"job": "live-ws", "namespace": ns, "container": "ws"}
    app_side(
        b,
        pods,
        events_all,
        base,
        namespace=ns,
        container="ws",
        mem=lambda m, i: 150e6 + audience(min(m, cap)) * 3e4,
    )
    for pod in pods:
        b.gauge(
            "live_ws_sessions",
            {**base, "instance": pod.addr, "pod": pod.pod},
            lambda m: int(min(audience(m), 2000) / 3) + b.rng.randint(-8, 8),
        )
    return b


def mesh_envoy_pending_overflow() -> Bundle:
    """At 12:18 a BackendTrafficPolicy meant for a batch service is attached to the
    pay-front gateway: circuit breakers max_connections 32 / max_pending_requests 16 on the
    ledger-api cluster (HTTP/1.1).  Ordinary lunchtime load overflows the queue: Envoy
    fast-fails ~22 % of requests with 503 flag UO ("upstream_reset_before_response_started
    {overflow}"), upstream_rq_pending_overflow climbs, the pending circuit breaker is open.
    ledger-api is healthy (latency and CPU flat; it simply receives fewer requests).  Root:
    the proxy's own limits."""
    b = Bundle(
        "mesh-envoy-pending-overflow",
        "2028-08-23T12:00:00Z",
        description="payments API intermittently 503 'upstream connect error or disconnect/reset before headers'",
        symptom={"component": "pay-front"},
    )
    onset = 18.0
    ns = "payments"
    b.component("pay-front", "proxy", {"job": "pay-front"}, ["ledger-api"])
    b.component("ledger-api", "app", {"namespace": ns, "container": "ledger-api"})
    pods = [
        Pod(
            f"10.150.{2 + i}.{21 + i}:8080", f"ledger-api-7f6e5d4c3-{s}", f"10.150.0.{10 + i}:10250"
        )
        for i, s in enumerate(("vb5nm", "cx4az", "qw3er", "ty2ui"))
    ]
    routes = [
        Route("POST", "/ledger/v1/entries", "/ledger/v1/entries", 0.4, 0.045),
        Route(
            "GET", "/ledger/v1/accounts/{n}/balance", "/ledger/v1/accounts/{id}/balance", 0.6, 0.02
        ),
    ]
    clients = pick_clients(b, client_pool(b, ["10.150.100.", "10.150.101.", "10.150.102."], 30))

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= onset and b.rng.random() < 0.22:
            fail(e, 503, b.rng.uniform(0.0001, 0.0008), reached=False, size=81)
            e.extra["flags"] = "UO"
            e.extra["details"] = "upstream_reset_before_response_started{overflow}"

    front = [
        {"job": "pay-front", "instance": "10.150.0.41:19000", "pod": "pay-front-envoy-6b5a4-x1y2z"},
        {"job": "pay-front", "instance": "10.150.0.42:19000", "pod": "pay-front-envoy-6b5a4-a9b8c"},
    ]
    all_events: list[Event] = []
    for fl in front:
        events = edge(
            b,
            pods=pods,
            routes=routes,
            rate=lambda m: 11.0,
            clients=clients,
            outcome=outcome,
            kind="none",
            labels=fl,
            fmt=lambda e: envoy_json_line(b, e, "httproute/payments/ledger/rule/0", "pay.internal"),
            agents=("checkout-svc/4.1 (java 21)", "payouts-worker/1.12"),
        )
        envoy_stats(
            b,
            fl,
            "httproute/payments/ledger/rule/0",
            events,
            max_pending=16,
            max_connections=32,
            pending_active=lambda m: 16 if m >= onset else b.rng.randint(0, 2),
            cx_active=lambda m: 32 if m >= onset else 24 + b.rng.randint(0, 9),
        )
        b.runtime(fl, cpu=lambda m: 0.3, rss=lambda m: 95e6, goroutines=None, go=False)
        all_events += events
    b.log(
        b.t(onset - 0.05),
        {"job": "pay-front", "instance": "10.150.0.41:19000", "container": "envoy-gateway"},
        '{"level":"info","ts":"2028-08-23T12:17:57.112Z","logger":"gateway-api","caller":"runner/runner.go:112","msg":"updated xds snapshot","policy":"payments/batch-protect","targetRef":"Gateway/pay-front","circuitBreaker":{"maxConnections":32,"maxPendingRequests":16,"maxParallelRequests":1024}}',
    )
    base = {"job": "ledger-api", "namespace": ns, "container": "ledger-api"}
    all_events.sort(key=lambda e: e.t)
    app_side(
        b,
        pods,
        all_events,
        base,
        namespace=ns,
        container="ledger-api",
        go=False,
        mem=lambda m, i: 520e6,
    )
    for pod in pods:
        jvm(
            b,
            {**base, "instance": pod.addr, "pod": pod.pod},
            heap=lambda m: 380e6,
            heap_max=1e9,
            gc_rate=lambda m: 0.4,
            gc_pause=lambda m: 0.006,
        )
    return b


def edge_waf_regex_cpu() -> Bundle:
    """At 13:42 a managed WAF rule update is pushed to all three `shield` OpenResty +
    ModSecurity VMs at once; one new XSS rule's regex backtracks catastrophically on common
    request bodies.  CPU of every shield VM goes to ~100 %, ModSecurity logs "Execution
    error - PCRE limits exceeded" for rule 100035, and most requests time out in the WAF
    (502/504 from the shield itself, never forwarded).  storefront is healthy and receives
    fewer requests.  All shield VMs alike: nothing to drain; roll the rule back."""
    b = Bundle(
        "edge-waf-regex-cpu",
        "2028-09-12T13:20:00Z",
        description="whole site returns 502",
        symptom={"component": "shield"},
    )
    push = 22.0
    hot = lambda m: m >= push  # noqa: E731
    b.component("shield", "proxy", {"job": "shield"}, ["storefront"])
    b.component("storefront", "app", {"job": "storefront"})
    vms = [Pod(f"172.26.14.{31 + i}:8080") for i in range(4)]
    routes = [
        Route("GET", "/", "/", 0.3, 0.03, 48000),
        Route("GET", "/product/{n}", "/product/{id}", 0.45, 0.05, 61000),
        Route("POST", "/cart", "/cart", 0.15, 0.04),
        Route("POST", "/search", "/search", 0.1, 0.06),
    ]
    clients = pick_clients(
        b,
        client_pool(
            b, ["176.9.41.", "62.155.77.", "79.206.10.", "2a02:2455:8a1::", "2003:c1:df0a::"], 1200
        ),
    )
    shields = ["172.26.10.11", "172.26.10.12", "172.26.10.13"]
    err: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["shield"] = b.rng.randint(0, 2)
        if hot(m) and b.rng.random() < 0.8:
            status = 502 if b.rng.random() < 0.7 else 504
            fail(e, status, b.rng.uniform(2.0, 10.0), reached=False, size=166)
            if b.rng.random() < 0.2:
                err.append(
                    (
                        e.t + e.duration,
                        e.extra["shield"],
                        f'{b.dt(e.t + e.duration).strftime("%Y/%m/%d %H:%M:%S")} [error] 3817#3817: *{b.rng.randint(10**7, 10**8)} [client {e.client}] ModSecurity: Rule 100035 [id "100035"][msg "XSS via JS payload"][file "/etc/modsecurity/managed/REQUEST-941-XSS.conf"][line "212"] Execution error - PCRE limits exceeded (-8): (null). [uri "{e.path}"], client: {e.client}, server: shop.example.de, request: "{e.method} {e.path} HTTP/1.1"',
                    )
                )
        elif hot(m):
            e.duration = e.duration + b.rng.uniform(1.0, 3.0)

    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 16.0,
        clients=clients,
        outcome=outcome,
        kind="none",
        labels={"job": "shield"},
    )
    logs = [entry for entry in b.logs if entry[1].get("job") == "shield"]
    b.logs = [entry for entry in b.logs if entry[1].get("job") != "shield"]
    by: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for (t, _, line), e in zip(logs, events, strict=True):
        k = e.extra["shield"]
        by[k].append(t)
        b.log(
            t,
            {
                "job": "shield",
                "instance": f"{shields[k]}:9113",
                "filename": "/var/log/openresty/access.log",
            },
            line,
        )
    for t, k, line in err:
        b.log(
            t,
            {
                "job": "shield",
                "instance": f"{shields[k]}:9113",
                "filename": "/var/log/openresty/error.log",
            },
            line,
        )
    for k, ip in enumerate(shields):
        labels = {"job": "shield", "instance": f"{ip}:9113"}
        b.counter_steps("nginx_http_requests_total", labels, by[k], start=70_331_208)
        b.counter_steps("nginx_connections_accepted", labels, by[k][::3], start=9_120_001)
        b.counter_steps("nginx_connections_handled", labels, by[k][::3], start=9_120_001)
        b.gauge(
            "nginx_connections_active",
            labels,
            lambda m: 70 + (900 if hot(m) else 0) + b.rng.randint(0, 20),
        )
        b.gauge("nginx_up", labels, lambda m: 1)
        node_exporter(
            b,
            {"job": "shield", "instance": f"{ip}:9100"},
            busy=lambda m: 0.99 if hot(m) else 0.18,
            avail=lambda m: 11e9,
            mem_total=16e9,
        )
        b.log(
            b.t(push - 0.02),
            {"job": "shield", "instance": f"{ip}:9113", "filename": "/var/log/waf-sync.log"},
            f'time="{b.dt(b.t(push - 0.02)).strftime("%Y-%m-%dT%H:%M:%SZ")}" level=info msg="ruleset updated" version=2028.09.12-1337 rules_added=1 rule_id=100035 pattern="{WAF_RULE[:60]}..." reload=ok',
        )
    app_side(
        b, vms, events, {"job": "storefront"}, go=False, cpu=lambda m, i: 0.5 if not hot(m) else 0.2
    )
    return b


GC_LINES = "[{ts}][gc] GC({n}) Pause Full (G1 Compaction Pause) {a}M->{c}M(3072M) {ms:.3f}ms"


def search_api_gc_thrash() -> Bundle:
    """At 10:19 one search-api pod (search-api-8d7c6b5a4-k8v2d, 10.112.7.23:8080) reloads
    tenant t-4471's 2.6 GB synonym dictionary into its 3 GB heap.  From then on its old
    generation stays ~97 % full and G1 runs back-to-back full collections (2-3 s each, GC
    time ~70 % of wall clock): its requests take seconds, ~40 % hit the ingress' 3 s
    timeout (504), and it logs the occasional "OutOfMemoryError: Java heap space".  Its
    four siblings are normal.  Root: search-api, that one instance; drain it."""
    b = Bundle(
        "search-api-gc-thrash",
        "2028-09-27T10:00:00Z",
        description="search is slow and sometimes 504",
        symptom={"component": "search-ingress", "route": "/api/search"},
    )
    onset = 19.0
    bad = 2
    sick = lambda m, i: i == bad and m >= onset  # noqa: E731
    ns, ctr = "discovery", "search-api"
    b.component("search-ingress", "proxy", {"job": "search-ingress"}, ["search-api"])
    b.component("search-api", "app", {"namespace": ns, "container": ctr})
    names = ("a1b2c", "d3e4f", "k8v2d", "g5h6i", "j7k8l")
    pods = [
        Pod(
            f"10.112.{5 + i}.{21 + i}:8080", f"search-api-8d7c6b5a4-{s}", f"10.112.0.{51 + i}:10250"
        )
        for i, s in enumerate(names)
    ]
    routes = [
        Route("GET", "/api/search?q=term{n}", "/api/search", 0.8, 0.06),
        Route("GET", "/api/suggest?q=te{n}", "/api/suggest", 0.2, 0.015),
    ]
    clients = pick_clients(b, client_pool(b, ["10.112.200.", "10.112.201."], 50))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if sick(m, i):
            d = b.rng.uniform(1.2, 6.0)
            if d > 3.0:
                fail(e, 504, 3.0)
                e.upstream_status = "504"
                e.extra["app_dur"] = d
            else:
                e.duration = e.extra["app_dur"] = d

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 15.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "search-ingress", "instance": "10.112.0.9:10254"},
        cluster="discovery-search-api-8080",
        agents=("storefront-bff/7.4", "mobile-bff/2.9"),
    )
    t, n = b.t(onset + 0.2), 8812
    while t < b.t(60):
        logs.append(
            (
                t,
                bad,
                GC_LINES.format(
                    ts=b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}+0000",
                    n=n,
                    a=2990 + b.rng.randint(-6, 6),
                    c=2940 + b.rng.randint(-9, 9),
                    ms=b.rng.uniform(1900, 3100),
                ),
            )
        )
        n += 1
        t += b.rng.uniform(3.0, 4.5)
    for k in range(4):
        tt = b.t(onset + 5 + 9 * k + b.rng.random())
        logs.append(
            (
                tt,
                bad,
                spring(
                    b,
                    tt,
                    "ERROR",
                    "search-worker-12",
                    "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                    "Servlet.service() for servlet [dispatcherServlet] threw exception",
                    [
                        "java.lang.OutOfMemoryError: Java heap space",
                        "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3541)",
                        "\tat org.apache.lucene.util.fst.FST.<init>(FST.java:412)",
                        "\tat com.shop.search.synonyms.SynonymCache.load(SynonymCache.java:77)",
                    ],
                ),
            )
        )
    logs.append(
        (
            b.t(onset - 0.1),
            bad,
            spring(
                b,
                b.t(onset - 0.1),
                "INFO",
                "reload-1",
                "c.s.search.synonyms.SynonymCache",
                "reloading synonyms tenant=t-4471 entries=41133802 size=2.6GB",
            ),
        )
    )
    base = {"job": "search-api", "namespace": ns, "container": ctr}
    app_side(
        b,
        pods,
        events,
        base,
        namespace=ns,
        container=ctr,
        go=False,
        cpu=lambda m, i: 1.9 if sick(m, i) else 0.45,
        mem=lambda m, i: 3.35e9 if sick(m, i) else 2.1e9,
        limit=4 * 2**30,
    )
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    for i, pod in enumerate(pods):
        jvm(
            b,
            {**base, "instance": pod.addr, "pod": pod.pod},
            heap=lambda m, i=i: 2.98e9 if sick(m, i) else 1.3e9 + b.rng.uniform(0, 3e8),
            heap_max=3.2e9,
            gc_rate=lambda m, i=i: 0.28 if sick(m, i) else 0.5,
            gc_pause=lambda m, i=i: 2.5 if sick(m, i) else 0.012,
        )
    return b


NSME = [
    "java.lang.NoSuchMethodError: 'com.fasterxml.jackson.databind.node.ObjectNode com.fasterxml.jackson.databind.node.ObjectNode.put(java.lang.String, com.fasterxml.jackson.databind.JsonNode)'",
    "\tat com.ecb.refdata.client.RateEnvelope.toJson(RateEnvelope.java:58)",
    "\tat io.fx.rates.convert.ConvertService.convert(ConvertService.java:102)",
    "\tat io.fx.rates.api.ConvertController.convert(ConvertController.java:41)",
    "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "\t... 48 common frames omitted",
]


def rates_api_bad_release() -> Bundle:
    """A rolling update of fx-rates from 5.3.2 to 5.4.0 runs 15:14-15:21 (one pod at a
    time; new pods' series begin, old pods' end).  5.4.0 bumps jackson-databind while a
    reference-data client still calls a removed method: every /v2/convert request on every
    new pod throws NoSuchMethodError (500); quotes still work.  By 15:21 all pods are new and
    fail alike: nothing to drain, roll back."""
    b = Bundle(
        "rates-api-bad-release",
        "2028-10-10T15:00:00Z",
        description="currency conversion returns 500 since the deploy",
        symptom={"component": "fx-gateway", "route": "/v2/convert"},
    )
    ns, ctr = "fx", "rates"
    starts = [14.0, 15.8, 17.5, 19.3]
    b.component("fx-gateway", "proxy", {"job": "fx-gateway"}, ["fx-rates"])
    b.component("fx-rates", "app", {"namespace": ns, "container": ctr})
    old = [
        Pod(
            f"10.60.{3 + i}.{70 + i}:8080",
            f"fx-rates-5b4c3d2e1-{s}",
            f"10.60.0.{31 + i}:10250",
            present=lambda m, k=starts[i]: m < k + 0.4,
        )
        for i, s in enumerate(("aa11b", "cc22d", "ee33f", "gg44h"))
    ]
    new = [
        Pod(
            f"10.60.{3 + i}.{90 + i}:8080",
            f"fx-rates-7e6f5a4b3-{s}",
            f"10.60.0.{31 + i}:10250",
            present=lambda m, k=starts[i]: m >= k,
        )
        for i, s in enumerate(("pp55q", "rr66s", "tt77u", "vv88w"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/v2/convert?from=EUR&to=USD&amount={n}", "/v2/convert", 0.6, 0.012),
        Route("GET", "/v2/quotes?base=EUR", "/v2/quotes", 0.4, 0.008),
    ]
    clients = pick_clients(b, client_pool(b, ["10.60.100.", "10.60.101."], 40))
    logs: list[tuple[float, int, str]] = []

    def choose(m: float, live: list[int]) -> int:
        return b.rng.choice(live)

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 4 and e.path.startswith("/v2/convert"):
            fail(e, 500, b.rng.uniform(0.003, 0.012))
            if b.rng.random() < 0.3:
                logs.append(
                    (
                        e.t,
                        i,
                        spring(
                            b,
                            e.t,
                            "ERROR",
                            f"http-nio-8080-exec-{b.rng.randint(1, 64)}",
                            "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                            "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Handler dispatch failed: java.lang.NoSuchMethodError]",
                            NSME,
                        ),
                    )
                )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 12.0,
        clients=clients,
        outcome=outcome,
        kind="envoy",
        labels={"job": "fx-gateway", "instance": "10.60.0.5:9901"},
        cluster="fx_rates_8080",
        choose=choose,
        agents=("treasury-ui/3.0", "payments-core/11.2 (java)"),
    )
    for i, k in enumerate(starts):
        logs.append(
            (
                b.t(k + 0.25),
                4 + i,
                spring(
                    b,
                    b.t(k + 0.25),
                    "INFO",
                    "main",
                    "io.fx.rates.RatesApplication",
                    "Started RatesApplication in 11.87 seconds (process running for 12.6) version=5.4.0",
                ),
            )
        )
    base = {"job": "fx-rates", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr, go=False, mem=lambda m, i: 610e6)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    for pod in pods:
        b.gauge(
            "app_build_info",
            {
                **base,
                "instance": pod.addr,
                "pod": pod.pod,
                "version": "5.4.0" if pod in new else "5.3.2",
            },
            lambda m, p=pod: 1 if p.up(m) else None,
        )
    return b


def inventory_hikari_leak() -> Bundle:
    """inventory-svc 2.9.0 (deployed 08:40) leaks a pooled connection whenever a
    reservation hits its optimistic-lock retry path (the catch block never closes it).
    Each pod's HikariCP pool (max 20) drains at its own pace; between 09:14 and 09:23 every
    pod reaches 20 active / 0 idle and requests wait 30 s for a connection: "Connection is
    not available, request timed out after 30000ms", leak-detection warnings point at
    ReservationService.reserve.  inventory-db is healthy: 80 connections all Sleep, no lock
    waits, normal query latency.  Root: the app (connection pool exhaustion) on all pods
    alike; no drain, no kill: restart and fix the release."""
    b = Bundle(
        "inventory-hikari-leak",
        "2028-10-24T09:00:00Z",
        description="reservations time out after 30 s",
        symptom={"component": "inventory-gw", "route": "/inventory/reserve"},
    )
    ns, ctr = "fulfilment", "inventory"
    full_at = [14.2, 17.1, 19.6, 22.8]
    b.component("inventory-gw", "proxy", {"job": "inventory-gw"}, ["inventory-svc"])
    b.component("inventory-svc", "app", {"namespace": ns, "container": ctr}, ["inventory-db"])
    b.component("inventory-db", "mysql", {"job": "inventory-db"})
    pods = [
        Pod(
            f"10.77.{8 + i}.{150 + i}:8080",
            f"inventory-svc-64f5e6d7c-{s}",
            f"10.77.0.{70 + i}:10250",
        )
        for i, s in enumerate(("nb1mv", "lk2jh", "gf3ds", "po4iu"))
    ]
    routes = [
        Route("POST", "/inventory/reserve", "/inventory/reserve", 0.5, 0.03),
        Route("GET", "/inventory/sku/{n}", "/inventory/sku/{sku}", 0.5, 0.01),
    ]
    clients = pick_clients(b, client_pool(b, ["10.77.120.", "10.77.121."], 30))
    logs: list[tuple[float, int, str]] = []
    active = lambda m, i: min(20.0, 3 + 17 * max(0.0, m) / full_at[i])  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full_at[i] and b.rng.random() < 0.72:
            fail(e, 500, 30.0 + b.rng.uniform(0.001, 0.02))
            if b.rng.random() < 0.4:
                logs.append(
                    (
                        e.t + 30,
                        i,
                        spring(
                            b,
                            e.t + 30,
                            "ERROR",
                            f"http-nio-8080-exec-{b.rng.randint(1, 200)}",
                            "e.s.inventory.api.ApiErrors",
                            "reserve failed",
                            [
                                "org.springframework.transaction.CannotCreateTransactionException: Could not open JPA EntityManager for transaction",
                                "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms (total=20, active=20, idle=0, waiting=57)",
                                "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)",
                                "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)",
                            ],
                        ),
                    )
                )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 10.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "inventory-gw", "instance": "10.77.0.5:10254"},
        cluster="fulfilment-inventory-svc-8080",
    )
    for i, pod in enumerate(pods):
        t = b.t(b.rng.uniform(0.5, 2.0))
        while t < b.t(min(full_at[i], 60)):
            logs.append(
                (
                    t,
                    i,
                    spring(
                        b,
                        t,
                        "WARN",
                        "HikariPool-1 housekeeper",
                        "com.zaxxer.hikari.pool.ProxyLeakTask",
                        f"Connection leak detection triggered for com.mysql.cj.jdbc.ConnectionImpl@{b.rng.getrandbits(28):07x} on thread http-nio-8080-exec-{b.rng.randint(1, 200)}, stack trace follows",
                        [
                            "java.lang.Exception: Apparent connection leak detected",
                            "\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:127)",
                            "\tat eu.shop.inventory.ReservationService.reserve(ReservationService.java:131)",
                        ],
                    ),
                )
            )
            t += b.rng.uniform(40, 90)
        del pod
    base = {"job": "inventory-svc", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr, go=False, mem=lambda m, i: 720e6)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    for i, pod in enumerate(pods):
        labels = {**base, "instance": pod.addr, "pod": pod.pod}
        hikari(
            b,
            labels,
            active=lambda m, i=i: active(m, i),
            pending=lambda m, i=i: 0 if m < full_at[i] else 40 + b.rng.randint(0, 30),
            maximum=20,
            timeouts=lambda m, i=i: 0.0 if m < full_at[i] else 1.1,
        )
        jvm(
            b,
            labels,
            heap=lambda m: 450e6,
            heap_max=1.5e9,
            gc_rate=lambda m: 0.3,
            gc_pause=lambda m: 0.007,
        )
    db = {"job": "inventory-db", "instance": "10.77.30.2:9104"}
    conns = lambda m: sum(active(m, i) for i in range(4)) + 6  # noqa: E731
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 700 - 8 * sum(1 for f in full_at if m >= f) * 20,
        connected=conns,
        running=lambda m: 3,
        sleeping=lambda m: conns(m) - 3,
        version="8.0.37",
    )
    return b
