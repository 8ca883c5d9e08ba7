"""Client abuse: one host in a tight abandon-and-retry loop; a thin /24 stuffing wave plus
an IPv6 host hammering the token endpoint."""

from __future__ import annotations

import json

from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    lognormal,
    nginx_line,
    pick_clients,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    fail,
    nginx_exporter,
    serve,
)

ABUSER = "45.84.107.33"


def geo_client_retry_loop() -> Bundle:
    """From 08:16:40 a partner's job on 45.84.107.33 asks GET /v2/route/matrix (3-8 s of
    work) with a 2 s client timeout and retries at once, ~12 req/s: the edge logs 499s
    with rt=2.000 from that one address, while geo-api keeps computing every abandoned
    matrix.  All three geo-api VMs saturate alike; other users' requests slow down and ~6 %
    get 504.  The cause is the client; rate-limit it."""
    b = Bundle(
        "geo-client-retry-loop",
        "2027-10-21T08:00:00Z",
        description="geocoding API slow and 504s for everyone",
        symptom={"component": "geo-edge"},
    )
    onset = 16 + 40 / 60
    on = lambda m: m >= onset  # noqa: E731
    b.component("geo-edge", "proxy", {"job": "geo-edge"}, ["geo-api"])
    b.component("geo-api", "app", {"job": "geo-api"})
    vms = [Pod(f"10.204.3.{11 + i}:8000") for i in range(3)]
    routes = [
        Route("GET", "/v2/geocode?q={n}", "/v2/geocode", 0.7, 0.04),
        Route("GET", "/v2/reverse?lat=52.{n}&lon=13.{n}", "/v2/reverse", 0.25, 0.03),
        Route("GET", "/v2/route/matrix?n=25", "/v2/route/matrix", 0.05, 0.9),
    ]
    clients = pick_clients(
        b, client_pool(b, ["62.214.9.", "80.187.96.", "141.30.1.", "2003:e6:6f2a::"], 350)
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if on(m):
            e.duration = e.extra["app_dur"] = e.duration * 6 + b.rng.uniform(0.1, 0.6)
            if b.rng.random() < 0.06:
                fail(e, 504, 10.0, size=160)
                e.upstream_status, e.extra["urt"] = "504", "10.000"
                e.extra["app_dur"] = b.rng.uniform(10, 14)

    events = serve(
        b,
        rate=lambda m: 5.0,
        clients=clients,
        routes=routes,
        pods=vms,
        outcome=outcome,
        agents=("geo-sdk-js/3.1", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "okhttp/4.12.0"),
    )
    for k, t in enumerate(b.arrivals(lambda m: 12.0 if on(m) else 0.0, onset), start=1):
        e = Event(
            t=t,
            client=ABUSER,
            method="GET",
            path="/v2/route/matrix?n=400&profile=truck",
            status=499,
            duration=2.0,
            upstream=vms[k % 3].addr,
            upstream_status="-",
            agent="Apache-HttpClient/4.5.14 (Java/11.0.21)",
            size=0,
            extra={
                "pod": k % 3,
                "route": "/v2/route/matrix",
                "app_dur": lognormal(b, 5.5, 0.2),
                "urt": "2.000",
            },
        )
        events.append(e)
    edge = {"job": "geo-edge", "instance": "10.204.0.4:9113"}
    for e in events:
        b.log(
            e.t + e.duration, {"job": "geo-edge", "instance": "10.204.0.4:9113"}, nginx_line(b, e)
        )
    nginx_exporter(b, edge, events, lambda m: 420 if on(m) else 60)
    app_red(b, vms, events, {"job": "geo-api"})
    for vm in vms:
        lbl = {"job": "geo-api", "instance": vm.addr}
        b.runtime(lbl, cpu=lambda m: 7.6 if on(m) else 1.4, rss=lambda m: 900e6, go=False)
        b.gauge("gunicorn_workers_busy", lbl, lambda m: 16 if on(m) else 3 + b.rng.randint(0, 2))
    return b


STUFF_NET = "193.32.162."
V6_HOST = "2a0d:5600:24:1a3::2f"


def id_credential_stuffing_v6() -> Bundle:
    """From 02:09 187 addresses of 193.32.162.0/24 each POST /oauth/token (password grant)
    about once per 50 s with rotating browser UAs: ~3.7 req/s of 401 in total, each address
    quieter than a busy ordinary user.  From 02:21 one IPv6 host, 2a0d:5600:24:1a3::2f,
    loops on refresh_token grants that fail with 400 invalid_grant, ~9 req/s.  Argon2 pegs
    all three id-svc pods alike; every route slows.  Both sources are abusive clients."""
    b = Bundle(
        "id-credential-stuffing-v6",
        "2027-11-11T02:00:00Z",
        description="login and token refresh slow for all users",
        symptom={"component": "id-edge", "route": "/oauth/token"},
    )
    wave, loop = 9.0, 21.0
    ns = "identity"
    b.component("id-edge", "proxy", {"job": "id-edge"}, ["id-svc"])
    b.component("id-svc", "app", {"namespace": ns, "container": "id-svc"})
    pods = [
        Pod(f"10.250.{i}.{7 + i}:8080", f"id-svc-6c9d8b7f5-{s}", f"10.250.0.{50 + i}:10250")
        for i, s in enumerate(("qa1", "ws2", "ed3"))
    ]
    routes = [
        Route("POST", "/oauth/token", "/oauth/token", 0.35, 0.09),
        Route("GET", "/userinfo", "/userinfo", 0.45, 0.01),
        Route("GET", "/.well-known/jwks.json", "/.well-known/jwks.json", 0.2, 0.002),
    ]
    clients = pick_clients(
        b,
        client_pool(
            b,
            ["86.120.44.", "5.12.170.", "2a02:2f0e:c21::", "2001:1711:fa42::", "178.138.33."],
            220,
        ),
    )
    load = lambda m: 1.0 + (1.6 if m >= wave else 0) + (2.4 if m >= loop else 0)  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        e.duration = e.extra["app_dur"] = e.duration * load(m)
        if e.path == "/oauth/token" and b.rng.random() < 0.02:
            fail(e, 401, e.duration, size=64)

    events = serve(
        b, rate=lambda m: 4.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    members = sorted(b.rng.sample(range(2, 254), 187))
    browsers = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    )
    k = 0
    for host in members:
        t = b.t(wave + b.rng.uniform(0, 0.9))
        while t < b.t(60):
            k += 1
            m = b.m(t)
            d = lognormal(b, 0.09) * load(m)
            events.append(
                Event(
                    t=t,
                    client=f"{STUFF_NET}{host}",
                    method="POST",
                    path="/oauth/token",
                    status=401,
                    duration=d,
                    upstream=pods[k % 3].addr,
                    upstream_status="401",
                    agent=b.rng.choice(browsers),
                    size=64,
                    extra={"pod": k % 3, "route": "/oauth/token", "app_dur": d},
                )
            )
            t += b.rng.uniform(35, 65)
    for t in b.arrivals(lambda m: 9.0 if m >= loop else 0.0, loop):
        k += 1
        d = lognormal(b, 0.03) * load(b.m(t))
        events.append(
            Event(
                t=t,
                client=V6_HOST,
                method="POST",
                path="/oauth/token",
                status=400,
                duration=d,
                upstream=pods[k % 3].addr,
                upstream_status="400",
                agent="python-requests/2.32.3",
                size=82,
                extra={"pod": k % 3, "route": "/oauth/token", "app_dur": d},
            )
        )
    edge = {"job": "id-edge", "instance": "10.250.0.9:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "id-edge", "instance": "10.250.0.9:9113"},
            json.dumps(
                {
                    "ts": b.dt(e.t + e.duration).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00",
                    "client": e.client,
                    "method": e.method,
                    "uri": e.path,
                    "status": e.status,
                    "bytes": e.size,
                    "request_time": round(e.duration, 3),
                    "upstream": e.upstream,
                    "upstream_status": e.upstream_status,
                    "ua": e.agent,
                },
                separators=(",", ":"),
            ),
        )
    nginx_exporter(b, edge, events, lambda m: 50 * load(m))
    base = {"namespace": ns, "container": "id-svc", "job": "id-svc"}
    app_red(b, pods, events, base)
    for pod in pods:
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: min(3.9, 0.6 * load(m) * 1.6),
            rss=lambda m: 260e6,
            goroutines=lambda m: 90 * load(m),
        )
    cadvisor(
        b, pods, ns, "id-svc", cpu=lambda m, i: min(4.0, 0.6 * load(m) * 1.6), mem=lambda m, i: 3e8
    )
    for t in b.arrivals(lambda m: 0.4 if m >= wave else 0.0, wave):
        pod = pods[int(t) % 3]
        b.log(
            t,
            {"namespace": ns, "container": "id-svc", "pod": pod.pod},
            f'time={b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ")} level=info msg="login failed" reason=invalid_credentials '
            f"grant=password client_ip={STUFF_NET}{b.rng.choice(members)}",
        )
    return b
