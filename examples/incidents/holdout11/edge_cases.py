# size: three linear scenario scripts of one family, each telling one story
"""Edge (proxy) scenarios of round 11: a wrong rewrite, a certificate chain without its
intermediate, a retry policy that amplifies a blip (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail, serve
from examples.incidents.holdout4.common import envoy_json_line, logfmt
from examples.incidents.holdout5.common import nginx_error
from examples.incidents.holdout10.common import slog
from examples.incidents.holdout11.common import (
    every,
    finish,
    level,
    pods,
    say_some,
    stack,
    within,
    zerolog,
)


def kb_ingress_rewrite_404() -> Bundle:  # size: one linear scenario script
    """At 15:06 a chart upgrade gives the knowledge-base Ingress `path: /api(/|$)(.*)` with
    `rewrite-target: /$1` (it needed `/$2`): every /api/... request reaches kb-api as "/",
    which its router answers 404 in a millisecond.  ~70 % of requests (all the API calls)
    404 from the upstream; the static front end (another path) is fine; kb-api is
    healthy.  Root: kb-ingress (a rewrite misconfiguration to roll back)."""
    b = Bundle(
        "kb-ingress-rewrite-404",
        "2038-10-05T14:50:00Z",
        description="knowledge base broken: every search and article 404",
        symptom={"component": "kb-ingress"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 16.0
    bad = within(onset, 99)
    ns = "kb"
    ps = pods("10.36.{k}.12:8080", "kb-api-7c5d9", ("f1", "g2", "h3"), "10.36.0.{k}:10250")
    routes = [
        Route("GET", "/api/articles/{n}", "/api/articles/{id}", 0.45, 0.02, 9000),
        Route("GET", "/api/search?q=vpn", "/api/search", 0.25, 0.05, 4000),
        Route("GET", "/assets/app.css", "/assets/app.css", 0.3, 0.001, 30000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and e.path.startswith("/api/"):
            fail(e, 404, rng.uniform(0.001, 0.004), size=19)

    site = stack(
        b,
        edge_name="kb-ingress",
        app="kb-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["10.128.", "10.129.", "10.130.", "fd7a:115c:a1e0:"],
        clients=500,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.36.0.3:10254"},
        rate=lambda m: 6.0,
        cluster="kb-kb-api-8080",
    )
    say_some(
        site,
        0.25,
        lambda e: zerolog(b, e.t, "warn", "route not found", method=e.method, path="/", status=404),
        status=404,
    )
    for t in every(b, 0, b.minutes, 30, 70):
        site.say(t, rng.randrange(3), zerolog(b, t, "info", "index refreshed", docs=18231))
    finish(site, ns, "kb-api", "api")
    il = {"job": "ingress-nginx", "instance": "10.36.0.3"}
    t = b.t(onset - 0.1)
    b.log(
        t,
        il,
        'I1005 15:05:54.118022       7 controller.go:190] "Configuration changes detected, '
        'backend reload required"',
    )
    b.log(
        t + 0.4,
        il,
        'I1005 15:05:54.512774       7 controller.go:210] "Backend successfully reloaded"',
    )
    b.counter_steps(
        "nginx_ingress_controller_config_last_reload_successful_timestamp_seconds",
        {"job": "ingress-nginx", "instance": "10.36.0.3:10254"},
        [],
        start=b.t(onset - 0.1),
        kind="gauge",
    )
    return b


def mobile_nginx_missing_intermediate() -> Bundle:  # size: one linear scenario script
    """At 09:00 the renewed certificate is deployed to the API edge with ssl_certificate
    pointing at cert.pem (the leaf alone) instead of fullchain.pem.  Browsers fetch the
    intermediate themselves (AIA) and carry on; the Android app (OkHttp) and partners' Java
    clients cannot build the chain and abort the handshake ("alert certificate unknown").
    Their requests vanish from the access log (~45 % of traffic), nothing answers 5xx.
    Root: mobile-edge (its certificate chain, a deployment error to fix)."""
    b = Bundle(
        "mobile-nginx-missing-intermediate",
        "2038-11-02T08:40:00Z",
        description="app users cannot log in; web fine",
        symptom={"component": "mobile-edge"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset = 20.0
    ns = "banking"
    ps = pods("10.52.{k}.30:8080", "api-7d9c5", ("a7", "b8", "c9", "d0"), "10.52.0.{k}:10250")
    routes = [
        Route("GET", "/v3/accounts", "/v3/accounts", 0.5, 0.03, 2600),
        Route("GET", "/v3/transactions?page=1", "/v3/transactions", 0.35, 0.05, 9000),
        Route("POST", "/v3/session", "/v3/session", 0.15, 0.08, 700),
    ]
    el = {"job": "mobile-edge", "instance": "10.52.0.6:9113"}
    b.component("mobile-edge", "proxy", {"job": "mobile-edge"}, ["banking-api"])
    b.component("banking-api", "app", {"namespace": ns, "app": "banking-api"})
    from examples.incidents.holdout3.kit import client_pool, pick_clients
    from examples.incidents.holdout4.common import edge
    from examples.incidents.holdout5.common import Site

    mob_pool = client_pool(b, ["2a02:3037:4::", "2a01:598:a8::", "80.187.64.", "176.0.12."], 600)
    app_events = serve(
        b,
        rate=lambda m: 4.0,
        clients=pick_clients(b, mob_pool),
        routes=routes,
        pods=ps,
        agents=("okhttp/4.12.0 BankApp/7.4.1 (Android 14)", "Java-http-client/21.0.3"),
        end=onset,
    )
    site = Site(b, ps, routes, client_pool(b, ["91.0.33.", "2003:c1:f71::", "84.150.7."], 500))
    site.events = edge(
        b,
        pods=ps,
        routes=routes,
        rate=lambda m: 5.0,
        clients=pick_clients(b, site.pool),
        outcome=None,
        kind="nginx",
        labels=el,
        agents=(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/135.0",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 19_0 like Mac OS X) AppleWebKit/605.1.15",
        ),
        extra_events=app_events,
        active=lambda m: 140.0 if m < onset else 90.0,
    )
    for t in every(b, onset, b.minutes, 0.3, 0.9):
        b.log(
            t,
            {"job": "mobile-edge", "stream": "error"},
            nginx_error(
                b,
                t,
                "info",
                "SSL_do_handshake() failed (SSL: error:0A000416:SSL routines::sslv3 alert "
                "certificate unknown:SSL alert number 46) while SSL handshaking",
                conn=rng.randint(100000, 999999),
                ctx=f"client: {rng.choice(mob_pool)}, server: 0.0.0.0:443",
            ),
        )
    for t in every(b, 0, b.minutes, 30, 80):
        site.say(t, rng.randrange(4), logfmt(b, t, "info", "statement cache warmed", n=120))
    finish(site, ns, "banking-api", "api")
    b.counter(
        "nginx_ssl_handshakes_failed_total", el, level(within(onset, 99), 4.0, 0.01), start=1207
    )
    b.gauge(
        "probe_ssl_last_chain_info",
        {
            "job": "blackbox",
            "instance": "https://api.bank.example",
            "subject": "CN=api.bank.example",
        },
        lambda m: 1,
    )
    b.gauge(
        "probe_ssl_earliest_cert_expiry",
        {"job": "blackbox", "instance": "https://api.bank.example"},
        lambda m: b.t(-5 * 86400) + (90 * 86400 if m >= onset else 0),
    )
    return b


def pay_envoy_retry_amplification() -> Bundle:  # size: one linear scenario script
    """At 11:58 a gateway config push gives the payments route retry_on
    '5xx,reset,connect-failure' with num_retries 5 and no retry budget.  At 12:10 the
    ledger stalls for ~20 s: payments-api answers some 503s, the gateway retries each up to
    five times, the six-fold load saturates payments-api's workers, which now time out
    more and get retried more: the overload sustains itself, ~35 % 503 (URX) at Envoy long
    after the ledger recovered.  Root: pay-gw (its retry policy, a configuration change)."""
    b = Bundle(
        "pay-envoy-retry-amplification",
        "2038-12-08T11:50:00Z",
        description="payments failing since 12:10",
        symptom={"component": "pay-gw"},
        step=10,
        minutes=40,
    )
    rng = b.rng
    push, onset = 8.0, 20.0
    bad = within(onset, 99)
    ns = "payments"
    el = {"job": "pay-gw", "instance": "10.90.0.12:9901"}
    suffixes = ("m1", "n2", "p3", "q4")
    ps = pods("10.90.{k}.70:8080", "payments-api-5c7f8", suffixes, "10.90.0.{k}:10250")
    routes = [
        Route("POST", "/v1/payments", "/v1/payments", 0.6, 0.09, 500),
        Route("GET", "/v1/payments/{n}", "/v1/payments/{id}", 0.4, 0.02, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.36:
            fail(e, 503, rng.uniform(2.0, 9.0), size=91)
            e.extra["flags"] = "URX"
        elif bad(m):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.2, 1.5)

    site = stack(
        b,
        edge_name="pay-gw",
        app="payments-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["10.91.", "10.92.", "10.93.4."],
        clients=160,
        outcome=outcome,
        kind="envoy",
        edge=el,
        rate=lambda m: 4.5,
        fmt=lambda e: envoy_json_line(b, e, "payments_api", "payments.internal"),
        cluster="payments_api",
    )
    say_some(
        site,
        0.2,
        lambda e: slog(b, e.t, "WARN", "request shed", reason="worker pool full", queue=512),
    )
    finish(
        site,
        ns,
        "payments-api",
        "api",
        cpu=lambda m, i: 0.98 if bad(m) else 0.3,
    )
    cl = {**el, "envoy_cluster_name": "payments_api"}
    b.counter("envoy_cluster_upstream_rq_retry", cl, level(bad, 28.0, 0.02), start=3_112)
    b.counter("envoy_cluster_upstream_rq_retry_success", cl, level(bad, 6.0, 0.01), start=2_990)
    b.counter("envoy_cluster_upstream_rq_retry_overflow", cl, lambda m: 0.0, start=0)
    b.counter("envoy_cluster_upstream_rq_retry_limit_exceeded", cl, level(bad, 2.4, 0.0), start=4)
    b.gauge("envoy_cluster_circuit_breakers_default_rq_retry_open", cl, lambda m: 0)
    b.gauge("envoy_server_total_connections", el, lambda m: rng.randint(300, 340), kind="gauge")
    gl = {"job": "pay-gw", "instance": "10.90.0.12"}
    t = b.t(push)
    b.log(
        t,
        gl,
        f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S')}.311][1][info][upstream] "
        "[source/common/upstream/cds_api_helper.cc:32] cds: add 0 cluster(s), remove 0 cluster(s)",
    )
    b.log(
        t + 0.3,
        gl,
        f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S')}.644][1][info][router] "
        "[source/common/router/rds_impl.cc:194] rds: loading new configuration: "
        "config_name=payments_route hash=8812403311920411",
    )
    ledger = {"job": "ledger", "instance": "10.90.9.4:8080"}
    b.gauge("up", ledger, lambda m: 0 if onset <= m < onset + 0.35 else 1)
    return b
