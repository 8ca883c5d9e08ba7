"""Healthy-but-noisy windows of round 9: the right answer is ``none``."""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Pod, Route
from examples.incidents.holdout4.common import logfmt, spring, zap
from examples.incidents.holdout5.common import ecs, klog, within
from examples.incidents.holdout6.common import every, web
from examples.incidents.holdout8.common import blackbox_probe
from examples.incidents.holdout9.common import chatter, pods


def pick(ok: Callable[[float], bool], yes: float, no: float) -> Callable[[float], float]:
    return lambda m: yes if ok(m) else no


def search_warmup_after_deploy_none() -> Bundle:  # size: one linear scenario script
    """A routine rolling deploy of search-api 5.14.2 at 10:15 replaces the four pods one by
    one; each new pod starts with a cold local cache and answers ~3x slower for two or
    three minutes while it warms; no error beyond the usual, users unaffected.  No
    incident."""
    b = Bundle(
        "search-warmup-after-deploy-none",
        "2036-06-23T10:00:00Z",
        description="latency alert during the search deploy",
        symptom={"component": "search-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    ns = "search"
    b.component("search-edge", "proxy", {"job": "search-edge"}, ["search-api"])
    b.component("search-api", "app", {"namespace": ns, "app": "search-api"})
    starts = [15.0 + 2.5 * k for k in range(4)]
    old = [
        Pod(
            f"10.81.{k + 1}.5:8080",
            f"search-api-5f8c7-{s}",
            f"10.81.0.{k + 1}:10250",
            present=within(0, starts[k] + 0.5),
        )
        for k, s in enumerate(("aa", "bb", "cc", "dd"))
    ]
    new = [
        Pod(
            f"10.81.{k + 1}.6:8080",
            f"search-api-7b21e-{s}",
            f"10.81.0.{k + 1}:10250",
            present=within(starts[k], 99),
        )
        for k, s in enumerate(("ww", "xx", "yy", "zz"))
    ]
    ps = old + new
    routes = [Route("GET", "/q?term={n}", "/q", 1.0, 0.04, 7000)]

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 4:
            age = m - starts[i - 4]
            if age < 3:
                e.duration = e.extra["app_dur"] = e.duration * (3 - age)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["91.0.4.", "92.1.8.", "2001:16b8:"],
        clients=300,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "search-edge", "instance": "10.81.0.9:9113"},
    )
    for k, s in enumerate(starts):
        t = b.t(s) + 8
        site.say(
            t, 4 + k, zap(b, t, "info", "cmd/main.go:54", "starting search-api", version="5.14.2")
        )
        site.say(
            t + 95,
            4 + k,
            zap(
                b,
                t + 95,
                "info",
                "cache/warm.go:33",
                "cache warm",
                entries=rng.randint(180000, 200000),
            ),
        )
    chatter(site, 30, 80, lambda t, k: zap(b, t, "info", "index/sync.go:17", "index synced"))
    site.apps(
        {"namespace": ns, "app": "search-api"},
        {"namespace": ns, "app": "search-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    return b


def ledger_otel_exporter_errors_none() -> Bundle:  # size: one linear scenario script
    """The tracing collector is scaled to zero for maintenance at 09:12: every ledger-api
    pod logs an ERROR from the OpenTelemetry span exporter every few seconds (UNAVAILABLE,
    connection refused), thousands of error lines; requests, latency and the database are
    unchanged.  No incident."""
    b = Bundle(
        "ledger-otel-exporter-errors-none",
        "2037-06-02T08:55:00Z",
        description="error log volume alert on ledger-api",
        symptom={"component": "ledger-api"},
        step=30,
        minutes=50,
    )
    onset = 17.0
    ns = "ledger"
    b.component("ledger-edge", "proxy", {"job": "ledger-edge"}, ["ledger-api"])
    b.component("ledger-api", "app", {"namespace": ns, "app": "ledger-api"})
    ps = pods("10.62.{k}.3:8080", "ledger-api-54f6", ("j1", "j2", "j3"), "10.62.0.{k}:10250")
    routes = [
        Route("POST", "/entries", "/entries", 0.5, 0.03, 300),
        Route("GET", "/accounts/{n}/balance", "/accounts/{id}/balance", 0.5, 0.01, 200),
    ]
    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.250.1.", "10.250.2."],
        clients=30,
        rate=lambda m: 6.0,
        outcome=None,
        kind="envoy",
        edge_labels={"job": "ledger-edge", "instance": "10.62.0.7:9901"},
        cluster="ledger-api",
    )
    for k in range(3):
        for t in every(b, onset, b.minutes, 4, 6):
            site.say(
                t,
                k,
                spring(
                    b,
                    t,
                    "ERROR",
                    "otel-BatchSpanProcessor",
                    "i.o.e.internal.grpc.GrpcExporter",
                    "Failed to export spans. Server responded with gRPC status code 14. Error "
                    "message: Failed to connect to otel-collector.observability:4317",
                    [
                        "io.grpc.StatusRuntimeException: UNAVAILABLE: io exception",
                        "Caused by: java.net.ConnectException: Connection refused",
                    ],
                ),
            )
    chatter(
        site,
        20,
        60,
        lambda t, k: spring(
            b, t, "INFO", "http-nio-8080-exec-2", "c.l.ledger.EntryService", "entry posted"
        ),
    )
    t = b.t(onset) - 20
    b.log(
        t,
        {"namespace": "observability", "app": "otel-collector"},
        logfmt(b, t, "info", "scaled down for maintenance", replicas="0", by="argo-rollouts"),
    )
    site.apps(
        {"namespace": ns, "app": "ledger-api"},
        {"namespace": ns, "app": "ledger-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
    )
    return b


def geo_probe_ipv6_failing_none() -> Bundle:  # size: one linear scenario script
    """After a network change on the probe host at 02:30, the blackbox exporter's IPv6
    probe of the public geo endpoint fails (connect timeout) and pages; the IPv4 probe
    passes, and real IPv6 and IPv4 users reach the service normally.  No incident (the
    probe's own network)."""
    b = Bundle(
        "geo-probe-ipv6-failing-none",
        "2036-01-09T02:15:00Z",
        description="GeoAPIDown (ip6 probe) firing",
        symptom={"component": "geo-api"},
        step=30,
        minutes=45,
    )
    onset = 15.0
    ns = "geo"
    b.component("geo-edge", "proxy", {"job": "geo-edge"}, ["geo-api"])
    b.component("geo-api", "app", {"namespace": ns, "app": "geo-api"})
    ps = pods("10.29.{k}.44:8080", "geo-api-77c9", ("f1", "f2", "f3"), "10.29.0.{k}:10250")
    routes = [Route("GET", "/v1/lookup?ip={n}", "/v1/lookup", 1.0, 0.004, 400)]
    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2a02:8070:a1:", "2003:de:f71e:", "79.240.11.", "46.114.6."],
        clients=300,
        rate=lambda m: 9.0,
        outcome=None,
        kind="nginx",
        edge_labels={"job": "geo-edge", "instance": "10.29.0.2:9113"},
    )
    chatter(site, 40, 90, lambda t, k: zap(b, t, "info", "db/mmdb.go:40", "mmdb loaded"))
    site.apps(
        {"namespace": ns, "app": "geo-api"},
        {"namespace": ns, "app": "geo-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    for fam, ok in (("ip6", lambda m: m < onset), ("ip4", lambda m: True)):
        blackbox_probe(
            b,
            {
                "job": "blackbox",
                "namespace": ns,
                "app": "geo-api",
                "instance": "https://geo.example.net/healthz",
                "module": f"http_2xx_{fam}",
                "probe_location": "fra-probe-1",
            },
            success=ok,
            status=pick(ok, 200, 0),
            duration=pick(ok, 0.041, 10.0),
            cert_expiry=b.t0 + 61 * 86400,
        )
    for t in every(b, onset, b.minutes, 30, 31):
        b.log(
            t,
            {"job": "blackbox", "instance": "fra-probe-1"},
            logfmt(
                b,
                t,
                "error",
                "Error for HTTP request",
                caller="http.go:473",
                module="http_2xx_ip6",
                target="https://geo.example.net/healthz",
                err="dial tcp6 [2a01:4f8:1c1e:83f1::2]:443: i/o timeout",
            ),
        )
    return b


def reports_hpa_scale_in_none() -> Bundle:  # size: one linear scenario script
    """After the morning peak the HPA scales reports-api from 8 to 3 replicas between 10:40
    and 10:50 (stabilisation window 5 min, one pod a minute or two); the pods terminate
    gracefully, traffic moves to the survivors, errors stay at baseline.  No incident."""
    b = Bundle(
        "reports-hpa-scale-in-none",
        "2036-09-15T10:25:00Z",
        description="five reports-api pods disappeared",
        symptom={"component": "reports-api"},
        step=15,
        minutes=40,
    )
    ns = "reports"
    b.component("reports-edge", "proxy", {"job": "reports-edge"}, ["reports-api"])
    b.component("reports-api", "app", {"namespace": ns, "app": "reports-api"})
    gone = {3: 15.0, 4: 17.0, 5: 19.5, 6: 21.0, 7: 23.5}
    ps = [
        Pod(
            f"10.19.{k + 1}.61:8080",
            f"reports-api-84cf-{k:02d}x",
            f"10.19.0.{k % 4 + 1}:10250",
            present=within(0, gone.get(k, 99)),
        )
        for k in range(8)
    ]
    routes = [Route("GET", "/reports/{n}", "/reports/{id}", 1.0, 0.12, 22000)]
    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.3.7.", "10.3.8."],
        clients=120,
        rate=lambda m: ramp(m, 0, 25, 14.0, 5.0),
        outcome=None,
        kind="nginx",
        edge_labels={"job": "reports-edge", "instance": "10.19.0.9:9113"},
    )
    for k, m in gone.items():
        t = b.t(m) - 1
        site.say(
            t,
            k,
            ecs(
                b,
                t,
                "INFO",
                "o.s.b.w.e.tomcat.GracefulShutdown",
                "Commencing graceful shutdown. Waiting for active requests to complete",
            ),
        )
        site.say(
            t + 0.8,
            k,
            ecs(
                b,
                t + 0.8,
                "INFO",
                "o.s.b.w.e.tomcat.GracefulShutdown",
                "Graceful shutdown complete",
            ),
        )
    chatter(site, 30, 80, lambda t, k: ecs(b, t, "INFO", "c.r.ReportService", "report built"))
    site.apps(
        {"namespace": ns, "app": "reports-api"},
        {"namespace": ns, "app": "reports-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
    )
    hl = {
        "job": "kube-state-metrics",
        "instance": "10.19.0.3:8080",
        "namespace": ns,
        "horizontalpodautoscaler": "reports-api",
    }
    b.gauge(
        "kube_horizontalpodautoscaler_status_desired_replicas",
        hl,
        lambda m: 8 - sum(1 for g in gone.values() if m >= g - 0.2),
    )
    b.gauge(
        "kube_horizontalpodautoscaler_status_current_replicas",
        hl,
        lambda m: 8 - sum(1 for g in gone.values() if m >= g),
    )
    b.gauge("kube_horizontalpodautoscaler_spec_min_replicas", hl, lambda m: 3)
    b.gauge("kube_horizontalpodautoscaler_spec_max_replicas", hl, lambda m: 12)
    for n, m in enumerate(gone.values()):
        t = b.t(m) - 70
        b.log(
            t,
            {"namespace": "kube-system", "app": "kube-controller-manager"},
            klog(
                b,
                t,
                "I",
                1,
                "horizontal.go:852",
                f'"Successful rescale" HPA="reports/reports-api" '
                f'currentReplicas={8 - n} desiredReplicas={7 - n} reason="All metrics below target"',
            ),
        )
    return b
