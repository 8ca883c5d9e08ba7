"""Edge scenarios of round 9: the proxy's own limits and configuration."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Pod, Route, fail
from examples.incidents.holdout4.common import envoy_json_line, log_each, spring, zap
from examples.incidents.holdout5.common import java_side, klog, nginx_ctx, nginx_error, within
from examples.incidents.holdout6.common import haproxy_line, web
from examples.incidents.holdout8.common import blackbox_probe
from examples.incidents.holdout9.common import (
    chatter,
    pino,
    pods,
    traefik_line,
    traefik_metrics,
)

FX_PROBE = "https://api.fxrates.example/v6/latest"


def sso_ingress_header_too_big() -> Bundle:  # size: one linear scenario script
    """accounts 7.3 (rolled out from 08:08:30) puts the user's group claims in a session cookie:
    for users in many groups the response headers exceed ingress-nginx's 4k
    proxy-buffer-size and the controller answers 502 ("upstream sent too big header") while
    the app logged a 200.  ~15 % of logins fail, always the same users.  Root: the ingress
    (its buffer limit); raise proxy-buffer-size.  Nothing to drain, no client at fault."""
    b = Bundle(
        "sso-ingress-header-too-big",
        "2036-06-02T07:55:00Z",
        description="some employees cannot log in (502)",
        symptom={"component": "sso-ingress"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    ns = "sso"
    b.component("sso-ingress", "proxy", {"job": "ingress-nginx"}, ["accounts"])
    b.component("accounts", "app", {"namespace": ns, "app": "accounts"})
    starts = [onset - 1.5 + 0.7 * k for k in range(3)]
    old = [
        Pod(
            f"10.18.{k + 1}.9:8080",
            f"accounts-8d6c-t{k + 1}",
            f"10.18.0.{k + 1}:10250",
            present=within(0, starts[k] + 0.3),
        )
        for k in range(3)
    ]
    new = [
        Pod(
            f"10.18.{k + 1}.27:8080",
            f"accounts-5f1e-u{k + 1}",
            f"10.18.0.{k + 1}:10250",
            present=within(starts[k], 99),
        )
        for k in range(3)
    ]
    ps = old + new
    routes = [
        Route("POST", "/login/callback", "/login/callback", 0.3, 0.09, 600),
        Route("GET", "/userinfo", "/userinfo", 0.7, 0.01, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 3 and e.path == "/login/callback" and zlib.crc32(e.client.encode()) % 100 < 15:
            e.status, e.size, e.upstream_status = 502, 150, "502"
            e.extra["app_status"] = "200"
            e.extra["too_big"] = True

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.44.16.", "10.44.17.", "10.44.20.", "10.44.21."],
        clients=900,
        rate=lambda m: 5.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "ingress-nginx", "instance": "10.18.0.6:10254"},
        cluster="sso-accounts-8080",
    )
    el = {"job": "ingress-nginx", "instance": "10.18.0.6:10254", "stream": "stderr"}
    for e in site.events:
        if e.extra.get("too_big"):
            b.log(
                e.t,
                el,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "upstream sent too big header while reading response header from upstream",
                    pid=39,
                    conn=rng.randint(10**6, 9 * 10**6),
                    ctx=nginx_ctx(e, "sso.corp.example", e.upstream),
                ),
            )
    for k, s0 in enumerate(starts):
        t = b.t(s0) + 9
        site.say(
            t,
            3 + k,
            spring(
                b,
                t,
                "INFO",
                "main",
                "c.e.accounts.AccountsApplication",
                "Started AccountsApplication in 7.912 seconds (version 7.3.0)",
            ),
        )
    chatter(
        site,
        30,
        90,
        lambda t, k: spring(
            b,
            t,
            "INFO",
            "http-nio-8080-exec-3",
            "c.e.accounts.session.SessionService",
            "session issued",
        ),
    )
    java_side(
        b,
        ps,
        site.events,
        {"namespace": ns, "app": "accounts"},
        app="accounts",
        namespace=ns,
        container="accounts",
    )
    log_each(b, site.logs, ps, {"namespace": ns, "app": "accounts", "container": "accounts"})
    return b


def haproxy_servers(
    b: Bundle,
    lb: dict[str, str],
    backend: str,
    names: list[str],
    events: list[Event],
    down: Callable[[float], bool],
) -> None:
    """HAProxy's built-in exporter for a backend whose servers all go DOWN at once."""
    for name in names:
        sl = {**lb, "proxy": backend, "server": name}
        for code in ("2xx", "4xx", "5xx"):
            b.counter_steps(
                "haproxy_server_http_responses_total",
                {**sl, "code": code},
                [
                    e.t
                    for e in events
                    if e.extra.get("server") == name and str(e.status)[0] == code[0]
                ],
            )
        for state, when_down in (("UP", 0), ("DOWN", 1), ("MAINT", 0)):
            b.gauge("haproxy_server_status", {**sl, "state": state}, flag(down, when_down, state))
        for check, when_down in (("L7OK", 0), ("L7STS", 1)):
            b.gauge(
                "haproxy_server_check_status", {**sl, "state": check}, flag(down, when_down, check)
            )
        b.counter("haproxy_server_check_failures_total", sl, lambda m: 0.2 if down(m) else 0.0)
        b.gauge("haproxy_server_weight", sl, lambda m: 1)
    fl = {**lb, "proxy": "fe_https~"}
    b.counter_steps("haproxy_frontend_http_requests_total", fl, [e.t for e in events])
    b.counter_steps(
        "haproxy_backend_http_responses_total",
        {**lb, "proxy": backend, "code": "5xx"},
        [e.t for e in events if e.status >= 500],
    )
    b.gauge(
        "haproxy_backend_active_servers",
        {**lb, "proxy": backend},
        lambda m: 0 if down(m) else len(names),
    )
    b.gauge("haproxy_process_current_connections", lb, lambda m: b.rng.randint(300, 420))


def flag(down: Callable[[float], bool], when_down: int, state: str) -> Callable[[float], float]:
    """1/0 of one state series: ``when_down`` while down, the opposite (UP, L7OK) before."""
    before = 1 if state in ("UP", "L7OK") else 0
    return lambda m: when_down if down(m) else before


def tickets_haproxy_check_path() -> Bundle:  # size: one linear scenario script
    """A config push at 12:14 changes the backend's ``option httpchk`` to ``GET /health``
    while the ticket app serves ``/healthz``: three failed checks later every server is
    DOWN (Layer7 wrong status 404) and HAProxy answers 503 <NOSRV> to everything; the app
    pods are healthy and idle.  Root: the load balancer's configuration."""
    b = Bundle(
        "tickets-haproxy-check-path",
        "2036-10-08T12:00:00Z",
        description="ticket shop down: 503 for everybody",
        symptom={"component": "tickets-lb"},
        step=15,
        minutes=30,
    )
    onset = 14.5
    down = within(onset, 99)
    ns = "tickets"
    b.component("tickets-lb", "proxy", {"job": "tickets-lb"}, ["tickets-web"])
    b.component("tickets-web", "app", {"namespace": ns, "app": "tickets-web"})
    ps = pods(
        "10.31.{k}.50:8080", "tickets-web-5ddf", ("r1", "r2", "r3", "r4"), "10.31.0.{k}:10250"
    )
    routes = [
        Route("GET", "/events/{n}", "/events/{id}", 0.8, 0.04, 16000),
        Route("POST", "/cart", "/cart", 0.2, 0.06, 500),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"web{i + 1}"
        if down(m):
            fail(e, 503, 0.0005, reached=False, size=217)
            e.extra["server"] = "<NOSRV>"
            e.extra["term"] = "SC--"

    lb = {"job": "tickets-lb", "instance": "10.31.0.2:8405"}
    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["62.216.200.", "95.91.14.", "2a02:908:1c2:"],
        clients=600,
        rate=lambda m: 20.0,
        outcome=outcome,
        kind="haproxy",
        edge_labels={**lb, "stream": "syslog"},
        fmt=lambda e: haproxy_line(b, e, "fe_https~", "be_tickets"),
    )
    servers = {f"web{k + 1}": p.addr for k, p in enumerate(ps)}
    haproxy_servers(b, lb, "be_tickets", list(servers), site.events, down)
    for k, name in enumerate(servers):
        t = b.t(onset) + 6 + k * 0.4
        b.log(
            t,
            lb,
            f"haproxy[2871]: Server be_tickets/{name} is DOWN, reason: Layer7 wrong "
            f'status, code: 404, info: "Not Found", check duration: 2ms. {3 - k} active and '
            "0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        )
    t = b.t(onset) + 7.7
    b.log(t, lb, "haproxy[2871]: backend be_tickets has no server available!")
    b.log(b.t(onset) - 3, lb, "haproxy[2871]: Proxy fe_https~ started.")
    b.log(b.t(onset) - 3, lb, "haproxy[2871]: Proxy be_tickets started.")
    chatter(site, 20, 45, lambda t, k: zap(b, t, "info", "http/health.go:22", "GET /healthz 200"))
    site.apps(
        {"namespace": ns, "app": "tickets-web"},
        {"namespace": ns, "app": "tickets-web", "container": "web"},
        namespace=ns,
        container="web",
    )
    return b


def intranet_traefik_ratelimit_nat() -> Bundle:  # size: one linear scenario script
    """A RateLimit middleware (average 50/s, burst 100, by source IP) was added on Friday
    to the intranet router.  Monday 08:30 the head office (1 800 people behind one NAT
    address, 198.51.100.7) starts work: Traefik answers 429 to ~45 % of the office's
    requests while remote staff are fine and the portal pods are idle.  Root: the edge's
    own rate limit (too tight for a NAT); limiting the 'client' further is exactly wrong."""
    b = Bundle(
        "intranet-traefik-ratelimit-nat",
        "2037-03-09T08:10:00Z",
        description="intranet: 'Too Many Requests' for everyone in the office",
        symptom={"component": "intranet-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    office = "198.51.100.7"
    ns = "intranet"
    b.component("intranet-edge", "proxy", {"job": "traefik"}, ["portal"])
    b.component("portal", "app", {"namespace": ns, "app": "portal"})
    ps = pods("10.66.{k}.12:8000", "portal-7fcb", ("v1", "v2", "v3"), "10.66.0.{k}:10250")
    routes = [
        Route("GET", "/news/{n}", "/news/{id}", 0.5, 0.03, 9000),
        Route("GET", "/static/app.{n}.js", "/static", 0.3, 0.002, 41000),
        Route("GET", "/api/people?q={n}", "/api/people", 0.2, 0.02, 1200),
    ]

    def office_share(m: float) -> float:
        return 0.1 if m < 20 else 0.85

    def rate(m: float) -> float:
        return 6.0 if m < 20 else 32.0

    def pick() -> str:
        return office if rng.random() < office_share(b.m(rng_t[0])) else rng.choice(remote)

    remote = [f"31.16.7.{k}" for k in range(10, 40)] + [f"80.187.9.{k}" for k in range(50, 80)]
    remote += [f"2a02:810d:4:{k:x}::{rng.randint(1, 0xFFFF):x}" for k in range(1, 30)]
    rng_t = [b.t0]

    def outcome(e: Event, m: float, i: int) -> None:
        rng_t[0] = e.t
        if e.client == office and m >= 20 and rng.random() < 0.45:
            fail(e, 429, 0.0002, reached=False, size=17)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["31.16.7."],
        clients=5,
        rate=rate,
        outcome=outcome,
        kind="traefik",
        edge_labels={"job": "traefik", "instance": "10.66.0.2:9100"},
        fmt=lambda e: traefik_line(
            b, e, "intranet@kubernetescrd", "intranet-portal-8000@kubernetescrd"
        ),
        pick=pick,
    )
    traefik_metrics(
        b,
        {"job": "traefik", "instance": "10.66.0.2:9100"},
        site.events,
        "intranet-portal-8000@kubernetescrd",
        last_reload=b.t(-3 * 24 * 60),
    )
    chatter(site, 30, 60, lambda t, k: pino(b, t, 30, ps[k].pod, "request completed"))
    site.apps(
        {"namespace": ns, "app": "portal"},
        {"namespace": ns, "app": "portal", "container": "portal"},
        namespace=ns,
        container="portal",
        go=False,
    )
    return b


def fx_envoy_upstream_aaaa() -> Bundle:  # size: one linear scenario script
    """The FX rates partner adds AAAA records to its API name at 16:20.  The egress Envoy's
    STRICT_DNS cluster uses the default lookup family (AUTO: IPv6 first), the cluster's
    nodes have no IPv6 egress, and every connection to the new IPv6 hosts fails: ~90 % of
    /fx quotes end 503 UF ("upstream connect error ... connection failure").  The pricing
    app and the partner are fine over IPv4.  Root: the egress proxy's DNS configuration."""
    b = Bundle(
        "fx-envoy-upstream-aaaa",
        "2036-07-16T16:00:00Z",
        description="currency conversion failing at checkout",
        symptom={"component": "fx-egress"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 20.0
    v6 = within(onset, 99)
    b.component("fx-egress", "proxy", {"job": "fx-egress"}, ["fx-partner"])
    b.component("fx-partner", "other", {"job": "blackbox", "instance": FX_PROBE})
    v4 = [f"203.0.113.{k}:443" for k in (21, 22)]
    v6hosts = [f"[2001:db8:4f1:1::{k}]:443" for k in (21, 22)]
    ps = [type(p)(a, "", "") for p, a in zip(pods("{k}", "x", ("a", "b"), "{k}"), v4, strict=True)]
    routes = [Route("GET", "/v6/latest?base=EUR&symbols=USD,GBP", "/v6/latest", 1.0, 0.09, 800)]

    def outcome(e: Event, m: float, i: int) -> None:
        if v6(m) and rng.random() < 0.9:
            e.status, e.upstream_status, e.size = 503, "-", 91
            e.upstream = rng.choice(v6hosts)
            e.duration = e.extra["app_dur"] = rng.uniform(0.25, 0.26)
            e.extra["flags"] = "UF"
            e.extra["details"] = "upstream_reset_before_response_started{connection_failure}"
            e.extra.pop("pod", None)

    web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.47.3.", "10.47.4."],
        clients=8,
        rate=lambda m: 10.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "fx-egress", "instance": "10.47.0.9:9901"},
        cluster="fx_partner",
        fmt=lambda e: envoy_json_line(b, e, "fx_partner", "api.fxrates.example"),
    )
    el = {"job": "fx-egress", "instance": "10.47.0.9:9901"}
    cl = {**el, "envoy_cluster_name": "fx_partner"}
    b.gauge("envoy_cluster_membership_total", cl, lambda m: 4 if v6(m) else 2)
    b.counter("envoy_cluster_update_success", cl, lambda m: 0.2, start=8_812)
    b.counter("envoy_dns_cares_resolve_total", el, lambda m: 0.2, start=8_900)
    blackbox_probe(
        b,
        {"job": "blackbox", "instance": FX_PROBE, "module": "http_2xx_ip4"},
        success=lambda m: True,
        status=lambda m: 200,
        duration=lambda m: 0.093,
        cert_expiry=b.t0 + 44 * 86400,
    )
    t = b.t(onset) + 4
    b.log(
        t,
        el,
        f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S')}.311][1][debug][upstream] "
        "[source/extensions/clusters/strict_dns/strict_dns_cluster.cc:184] DNS refresh rate "
        "reset for api.fxrates.example, refresh rate 5000 ms",
    )
    return b


def assets_nginx_ephemeral_ports() -> Bundle:  # size: one linear scenario script
    """A tidy-up of the nginx config at 11:20 drops the ``keepalive`` line from the assets
    upstream: every proxied request now opens a new connection from the one nginx host to
    the asset service's single address, TIME_WAIT sockets reach the ephemeral port range
    (~28 000) at the midday peak, and nginx logs ``connect() ... failed (99: Cannot assign
    requested address)``: ~18 % of asset requests 502 with no upstream, the asset pods see
    less traffic than before.  Root: the edge (its own connection handling)."""
    b = Bundle(
        "assets-nginx-ephemeral-ports",
        "2036-04-30T11:10:00Z",
        description="images and scripts failing to load intermittently",
        symptom={"component": "assets-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 22.0
    bad = within(onset, 99)
    b.component("assets-edge", "proxy", {"job": "assets-edge"}, ["assets"])
    b.component("assets", "app", {"namespace": "web", "app": "assets"})
    ps = pods("10.14.{k}.80:8080", "assets-5b9d", ("g1", "g2", "g3"), "10.14.0.{k}:10250")
    routes = [
        Route("GET", "/a/{n}.webp", "/a/*", 0.7, 0.004, 42000),
        Route("GET", "/js/app.{n}.js", "/js/*", 0.3, 0.003, 160000),
    ]

    def rate(m: float) -> float:
        return 14.0 if m < 15 else 22.0

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.18:
            fail(e, 502, 0.0, reached=False, size=157)
            e.extra["eaddr"] = True

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2a02:2454:", "2001:9e8:", "77.20.1.", "94.134.8."],
        clients=900,
        rate=rate,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "assets-edge", "instance": "10.14.0.2:9113"},
    )
    el = {"job": "assets-edge", "instance": "10.14.0.2:9113", "stream": "error"}
    for e in site.events:
        if e.extra.get("eaddr") and rng.random() < 0.5:
            up = ps[e.extra.get("pod", 0)].addr
            b.log(
                e.t,
                el,
                nginx_error(
                    b,
                    e.t,
                    "crit",
                    f"connect() to {up} failed (99: Cannot "
                    "assign requested address) while connecting to upstream",
                    pid=2231,
                    conn=rng.randint(10**7, 9 * 10**7),
                    ctx=nginx_ctx(e, "static.shop.example", up),
                ),
            )
    t = b.t(onset) - 300
    b.log(t, el, nginx_error(b, t, "notice", "signal process started", pid=1))
    nl = {"job": "node", "instance": "10.14.0.2:9100"}
    b.gauge("node_sockstat_TCP_tw", nl, lambda m: 28100 if bad(m) else (3100 if m < 14 else 9000))
    b.gauge("node_sockstat_TCP_inuse", nl, lambda m: 1400 if bad(m) else 1100)
    b.untyped("node_netstat_TcpExt_TCPTimeWaitOverflow", nl, lambda m: 0.0, start=0)
    b.gauge("node_sockstat_sockets_used", nl, lambda m: 2100)
    chatter(site, 40, 100, lambda t, k: klog(b, t, "I", 1, "cache.go:71", "asset index reloaded"))
    site.apps(
        {"namespace": "web", "app": "assets"},
        {"namespace": "web", "app": "assets", "container": "assets"},
        namespace="web",
        container="assets",
    )
    return b
