# size: two linear scenario scripts, each telling one story
"""Two more round-11 stories: login attempts batched in GraphQL aliases from one address,
and an edge whose forwarded-header trust changed so the app's per-address limiter sees
everyone as one address (written blind)."""

from __future__ import annotations

from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail, serve
from examples.incidents.holdout9.common import traefik_line, traefik_metrics
from examples.incidents.holdout11.common import (
    bunyan,
    every,
    finish,
    level,
    pods,
    say_some,
    stack,
    within,
    zerolog,
)


def auth_graphql_alias_bruteforce() -> Bundle:  # size: one linear scenario script
    """From 22:10 one address of a hosting provider (185.220.101.47) posts GraphQL requests
    each carrying 80 aliased `login` mutations, ~3 a second: no more requests than a busy
    user, but ~240 bcrypt checks a second.  auth-api's pods pin their CPU on hashing, real
    logins and token refreshes queue, ~30 % 504 at Traefik; the per-request rate limit
    never fires.  Root: the client (185.220.101.47); rate-limit/block it (and cap aliases)."""
    b = Bundle(
        "auth-graphql-alias-bruteforce",
        "2039-08-02T21:55:00Z",
        description="logins timing out tonight",
        symptom={"component": "auth-traefik"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 15.0
    attack = within(onset, 99)
    attacker = "185.220.101.47"
    ns = "auth"
    el = {"job": "traefik", "instance": "10.86.0.2:8080"}
    ps = pods("10.86.{k}.14:4000", "auth-api-6d5f8", ("p1", "p2", "p3", "p4"), "10.86.0.{k}")
    gql = Route("POST", "/graphql", "/graphql", 1.0, 0.03, 700)

    def slow(e: Event, m: float) -> None:
        if attack(m):
            if rng.random() < 0.3:
                fail(e, 504, 10.0, reached=False, size=24)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.5, 6.0)

    def batched(e: Event, m: float, i: int) -> None:
        e.extra["aliases"] = 80
        e.size = 80 * 96
        slow(e, m)
        if e.status != 504:
            e.duration = e.extra["app_dur"] = e.duration + 4.0

    bot_events = serve(
        b,
        rate=lambda m: 3.0 if attack(m) else 0.0,
        clients=lambda: attacker,
        routes=[gql],
        pods=ps,
        outcome=batched,
        agents=("python-httpx/0.27.0",),
        start=onset,
    )
    site = stack(
        b,
        edge_name="auth-traefik",
        app="auth-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[gql, Route("POST", "/oauth/token", "/oauth/token", 0.6, 0.02, 900)],
        prefixes=["2a02:810a:", "87.79.", "2003:c6:", "46.5.", "94.134."],
        clients=900,
        outcome=lambda e, m, i: slow(e, m),
        kind="traefik",
        edge=el,
        rate=lambda m: 5.0,
        fmt=lambda e: traefik_line(b, e, "auth@kubernetescrd", "auth-auth-api-4000@kubernetes"),
        extra_events=bot_events,
    )
    traefik_metrics(b, el, site.events, "auth-auth-api-4000@kubernetes", last_reload=b.t(-3000))
    for e in bot_events:
        if e.status != 504 and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                bunyan(
                    b,
                    e.t,
                    40,
                    "auth-api",
                    ps[e.extra["pod"]].pod,
                    "login failed",
                    operation="login",
                    aliases=80,
                    failed=80,
                    ip=attacker,
                ),
            )
    for t in every(b, 0, b.minutes, 20, 50):
        k = rng.randrange(4)
        site.say(t, k, bunyan(b, t, 30, "auth-api", ps[k].pod, "jwks rotated check ok"))
    finish(site, ns, "auth-api", "api", go=False, cpu=lambda m, i: 1.0 if attack(m) else 0.3)
    for p in ps:
        labels = {"namespace": ns, "app": "auth-api", "instance": p.addr, "pod": p.pod}
        b.counter(
            "auth_password_checks_total",
            {**labels, "result": "failure"},
            lambda m: 60.0 if attack(m) else 0.2,
            start=88_211,
        )
    return b


def portal_traefik_forwarded_headers() -> Bundle:  # size: one linear scenario script
    """portal-traefik sits behind a Google HTTPS load balancer whose proxies (35.191.0.0/16,
    130.211.0.0/22) are what Traefik sees as clients.  At 08:05 an upgrade's rewritten static
    config drops `forwardedHeaders.trustedIPs` for those ranges: Traefik now discards the
    incoming X-Forwarded-For and sets it to the proxy's address.  portal-api's per-client
    limiter (100 req/min keyed on X-Forwarded-For) sees a few dozen proxies, each carrying
    hundreds of users, and answers 429 to about half of all requests; no abuser, no server
    error.  Root: portal-traefik (its forwarded-header trust, a configuration change)."""
    b = Bundle(
        "portal-traefik-forwarded-headers",
        "2039-09-19T07:50:00Z",
        description="customers get 'Too Many Requests' everywhere",
        symptom={"component": "portal-traefik"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "portal"
    el = {"job": "traefik", "instance": "10.30.0.7:8080"}
    ps = pods("10.30.{k}.22:8080", "portal-api-5c8b7", ("a9", "b8", "c7"), "10.30.0.{k}")

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.5:
            fail(e, 429, rng.uniform(0.001, 0.004), size=58)

    site = stack(
        b,
        edge_name="portal-traefik",
        app="portal-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[
            Route("GET", "/api/account", "/api/account", 0.5, 0.02, 1800),
            Route("GET", "/api/invoices?page=1", "/api/invoices", 0.3, 0.05, 7000),
            Route("POST", "/api/tickets", "/api/tickets", 0.2, 0.04, 500),
        ],
        prefixes=["35.191.8.", "35.191.9.", "35.191.14.", "130.211.1.", "130.211.2."],
        clients=48,
        outcome=outcome,
        kind="traefik",
        edge=el,
        rate=lambda m: 6.0,
        fmt=lambda e: traefik_line(b, e, "portal@file", "portal-api@file"),
    )
    traefik_metrics(b, el, site.events, "portal-api@file", last_reload=b.t(onset - 0.1))
    say_some(
        site,
        0.3,
        lambda e: zerolog(
            b, e.t, "warn", "rate limited", client=e.client, limit="100/min", path=e.path
        ),
        status=429,
    )
    for t in every(b, 0, b.minutes, 30, 60):
        site.say(t, rng.randrange(3), zerolog(b, t, "info", "session store compacted", n=812))
    finish(site, ns, "portal-api", "api")
    tl = {"job": "traefik", "instance": "10.30.0.7"}
    t = b.t(onset - 0.2)
    b.log(
        t,
        tl,
        zerolog(
            b, t, "info", "Traefik version 3.3.4 built on 2039-08-30T10:11:12Z", version="3.3.4"
        ),
    )
    b.log(
        t + 1,
        tl,
        zerolog(b, t + 1, "info", "Starting provider *file.Provider", providerName="file"),
    )
    for k, p in enumerate(ps):
        labels = {"namespace": ns, "app": "portal-api", "instance": p.addr, "pod": p.pod}
        b.gauge(
            "ratelimit_tracked_clients",
            labels,
            level(bad, 40.0, 380.0 + 10 * k),
        )
    return b
