# size: three linear scenario scripts of one family, each telling one story
"""Client scenarios of round 10: a rapid-reset flood, a load test aimed at production, a
password-reset e-mail bombing (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail, serve
from examples.incidents.holdout4.common import envoy_json_line, zap
from examples.incidents.holdout5.common import within
from examples.incidents.holdout10.common import every, finish, pods, slog, tier


def api_h2_rapid_reset() -> Bundle:  # size: one linear scenario script
    """From 14:02 ~180 hosts of one hosting /24 (193.142.146.0/24) open HTTP/2 connections
    to the API edge and send HEADERS then RST_STREAM, ~7 000 resets a second (CVE-2023-44487,
    'rapid reset'; the access log records ~25 a second of them, flag DR).  The edge Envoy's CPU saturates, its overload manager sheds load: real
    users' requests slow and ~25 % get 503 (overload).  The api pods see less traffic than
    usual.  Root: the client range; rate-limit/block it (and patch the edge)."""
    b = Bundle(
        "api-h2-rapid-reset",
        "2036-10-03T13:50:00Z",
        description="API edge overloaded, 503s",
        symptom={"component": "api-edge"},
        step=10,
        minutes=35,
    )
    rng = b.rng
    onset = 12.0
    attack = within(onset, 99)
    ns = "api"
    el = {"job": "api-edge", "instance": "10.90.0.4:9901"}
    b.component("api-edge", "proxy", {"job": "api-edge"}, ["public-api"])
    b.component("public-api", "app", {"namespace": ns, "app": "public-api"})
    ps = pods(
        "10.90.{k}.33:8080", "public-api-64f8b", ("c2q", "d3r", "f4s", "g5t"), "10.90.0.{k}:10250"
    )
    routes = [
        Route("GET", "/v1/accounts/{n}", "/v1/accounts/{id}", 0.6, 0.015, 900),
        Route("POST", "/v1/orders", "/v1/orders", 0.4, 0.04, 400),
    ]
    bots = [f"193.142.146.{k}" for k in rng.sample(range(2, 254), 180)]

    def bot(e: Event, m: float, i: int) -> None:
        fail(e, 0, rng.uniform(0.0, 0.003), reached=False, size=0)
        e.extra["flags"] = "DR"

    bot_events = serve(
        b,
        rate=lambda m: 25.0 if attack(m) else 0.0,
        clients=lambda: rng.choice(bots),
        routes=[Route("GET", "/", "/", 1.0, 0.001, 0)],
        pods=ps,
        outcome=bot,
        agents=("-",),
        start=onset,
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if attack(m):
            if rng.random() < 0.25:
                fail(e, 503, rng.uniform(0.0, 0.05), reached=False, size=19)
                e.extra["flags"] = "OL"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.3, 2.5)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a01:598:", "46.114.", "2a02:3030:", "109.40.", "80.187."],
        clients=800,
        outcome=outcome,
        kind="envoy",
        edge=el,
        rate=lambda m: 9.0,
        fmt=lambda e: envoy_json_line(b, e, "public_api", "api.example.eu"),
        cluster="public_api",
        extra_events=bot_events,
    )
    for t in every(b, 0, b.minutes, 20, 60):
        site.say(t, rng.randrange(4), zap(b, t, "info", "orders/create.go:61", "order accepted"))
    finish(site, ns, "public-api", "api")
    hcm = {**el, "envoy_http_conn_manager_prefix": "ingress_https"}
    b.counter(
        "envoy_http_downstream_rq_rx_reset",
        hcm,
        lambda m: 7200.0 if attack(m) else 0.4,
        start=91_004,
    )
    b.counter(
        "envoy_http_downstream_cx_http2_total",
        hcm,
        lambda m: 60.0 if attack(m) else 3.0,
        start=4_410_992,
    )
    b.gauge("envoy_http_downstream_cx_active", hcm, lambda m: 9100 if attack(m) else 850)
    b.counter(
        "envoy_http_downstream_rq_overload_close", hcm, lambda m: 2.2 if attack(m) else 0.0, start=0
    )
    b.gauge(
        "envoy_overload_envoy_overload_actions_stop_accepting_requests_active",
        el,
        lambda m: round(rng.uniform(0.6, 1.0), 2) if attack(m) else 0.0,
    )
    b.counter(
        "process_cpu_seconds_total",
        {**el, "job": "api-edge-process"},
        lambda m: 3.9 if attack(m) else 0.6,
        start=88_112.0,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.90.0.4:9100"},
        busy=lambda m: 0.98 if attack(m) else 0.2,
        avail=lambda m: 5e9,
        cores=4,
    )
    return b


def booking_k6_loadtest_prod() -> Bundle:  # size: one linear scenario script
    """At 10:12 an engineer's k6 run meant for staging targets production: one IPv6
    address (a CI runner), "Grafana k6/0.52.0", ~25 availability searches a second, each a
    heavy date-range query.  booking-db's CPU saturates, threads_running 4 -> 60, every
    booking request slows and ~15 % 504 at Traefik.  Root: the client (the load test);
    block/rate-limit it."""
    from examples.incidents.holdout9.common import traefik_line, traefik_metrics

    b = Bundle(
        "booking-k6-loadtest-prod",
        "2037-02-24T09:55:00Z",
        description="bookings slow and timing out",
        symptom={"component": "booking-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 17.0
    load = within(onset, 99)
    runner = "2600:1f18:61a:7b00:5c3e:9d2a:10f:4b7"
    ns = "booking"
    el = {"job": "traefik", "instance": "10.16.0.3:8080"}
    b.component("booking-edge", "proxy", {"job": "traefik"}, ["booking-api"])
    b.component("booking-api", "app", {"namespace": ns, "app": "booking-api"}, ["booking-db"])
    b.component("booking-db", "other", {"job": "mysql", "instance": "10.16.40.2:9104"})
    ps = pods("10.16.{k}.90:8080", "booking-api-7ccdb", ("s1", "s2", "s3"), "10.16.0.{k}:10250")
    search = Route(
        "GET", "/api/availability?from=2037-03-{n}&nights=7", "/api/availability", 1.0, 0.09, 12000
    )
    routes = [search, Route("POST", "/api/bookings", "/api/bookings", 0.3, 0.05, 600)]

    def slow(e: Event, m: float) -> None:
        if load(m):
            if rng.random() < 0.15:
                fail(e, 504, 10.0, reached=False, size=24)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.8, 5.0)

    def k6(e: Event, m: float, i: int) -> None:
        e.extra["k6"] = True
        slow(e, m)

    k6_events = serve(
        b,
        rate=lambda m: 25.0 if load(m) else 0.0,
        clients=lambda: runner,
        routes=[search],
        pods=ps,
        outcome=k6,
        agents=("Grafana k6/0.52.0 (https://k6.io/)",),
        start=onset,
    )
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a02:810d:", "93.229.", "2003:e5:", "79.251."],
        clients=500,
        outcome=lambda e, m, i: slow(e, m),
        kind="traefik",
        edge=el,
        rate=lambda m: 6.0,
        fmt=lambda e: traefik_line(
            b, e, "booking@kubernetescrd", "booking-booking-api-8080@kubernetes"
        ),
        extra_events=k6_events,
    )
    traefik_metrics(
        b, el, site.events, "booking-booking-api-8080@kubernetes", last_reload=b.t(-300)
    )
    for e in site.events:
        if e.status == 504 and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                slog(b, e.t, "WARN", "availability query slow", elapsed_ms=int(e.duration * 1000)),
            )
    finish(site, ns, "booking-api", "api")
    dbl = {"job": "mysql", "instance": "10.16.40.2:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 2200.0 if load(m) else 700.0,
        connected=lambda m: 120.0 if load(m) else 40.0,
        running=lambda m: 60.0 if load(m) else 4.0,
        sending=lambda m: 30.0 if load(m) else 1.0,
        scan_rows=lambda m: 9e6 if load(m) else 1.2e6,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.16.40.2:9100"},
        busy=lambda m: 0.97 if load(m) else 0.3,
        avail=lambda m: 14e9,
    )
    return b


def accounts_reset_email_bombing() -> Bundle:  # size: one linear scenario script
    """From 21:34 ~90 addresses of 45.134.26.0/24 post /users/password (password reset)
    for thousands of victims' addresses, ~25 a second.  accounts-web (Rails, Puma) sends
    the mail inline; the SMTP relay throttles ('421 4.7.0 Try again later') and each reset
    holds a Puma thread ~10 s: the thread pool is full, logins and sign-ups queue and ~25 %
    504 at ingress-nginx.  Root: the client range; rate-limit it."""
    from examples.incidents.holdout5.common import at

    b = Bundle(
        "accounts-reset-email-bombing",
        "2036-04-09T21:20:00Z",
        description="logins timing out, mail relay throttling us",
        symptom={"component": "accounts-ingress"},
        step=20,
        minutes=40,
    )
    rng = b.rng
    onset = 14.0
    attack = within(onset, 99)
    ns = "accounts"
    il = {"job": "ingress-nginx", "instance": "10.96.0.12:10254"}
    b.component("accounts-ingress", "proxy", {"job": "ingress-nginx"}, ["accounts-web"])
    b.component("accounts-web", "app", {"namespace": ns, "app": "accounts-web"})
    ps = pods("10.96.{k}.14:3000", "accounts-web-5b7d6", ("kw", "lx", "my"), "10.96.0.{k}:10250")
    reset = Route("POST", "/users/password", "users/passwords#create", 1.0, 0.2, 90)
    routes = [
        Route("POST", "/users/sign_in", "users/sessions#create", 0.6, 0.12, 300),
        Route("GET", "/users/sign_in", "users/sessions#new", 0.3, 0.02, 7000),
        Route("POST", "/users", "users/registrations#create", 0.1, 0.15, 300),
    ]
    bots = [f"45.134.26.{k}" for k in rng.sample(range(2, 254), 90)]

    def bot(e: Event, m: float, i: int) -> None:
        e.extra["bot"] = True
        if rng.random() < 0.5:
            fail(e, 500, 10.0 + rng.uniform(0, 0.2), size=1500)
        else:
            e.status = 302
            e.upstream_status = "302"
            e.duration = e.extra["app_dur"] = rng.uniform(4, 10)

    bot_events = serve(
        b,
        rate=lambda m: 25.0 if attack(m) else 0.0,
        clients=lambda: rng.choice(bots),
        routes=[reset],
        pods=ps,
        outcome=bot,
        agents=("python-requests/2.31.0",),
        start=onset,
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if attack(m):
            if rng.random() < 0.25:
                fail(e, 504, 60.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(2, 20)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2601:19b:", "68.44.", "2600:1700:", "99.31."],
        clients=600,
        outcome=outcome,
        kind="ingress",
        edge=il,
        rate=lambda m: 5.0,
        cluster="accounts-accounts-web-3000",
        extra_events=bot_events,
    )
    for e in site.events:
        if e.extra.get("bot") and rng.random() < 0.15:
            i = e.extra["pod"]
            t0 = e.t - e.duration
            stamp = b.dt(t0).strftime("%Y-%m-%d %H:%M:%S +0000")
            rid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}"
            site.say(
                t0,
                i,
                f'I, [{b.dt(t0).strftime("%Y-%m-%dT%H:%M:%S.%f")} #1]  INFO -- : [{rid}] Started POST "/users/password" for {e.client} at {stamp}',
            )
            if e.status == 500:
                site.say(
                    e.t,
                    i,
                    f"E, [{b.dt(e.t).strftime('%Y-%m-%dT%H:%M:%S.%f')} #1] ERROR -- : [{rid}] Net::SMTPServerBusy (421 4.7.0 Try again later, closing connection.)",
                )
            site.say(
                e.t,
                i,
                f"I, [{b.dt(e.t).strftime('%Y-%m-%dT%H:%M:%S.%f')} #1]  INFO -- : [{rid}] Completed {e.status} in {int(e.duration * 1000)}ms",
            )
    finish(site, ns, "accounts-web", "web", go=False, cpu=lambda m, i: 0.3)
    for i, p in enumerate(ps):
        pl = {"namespace": ns, "app": "accounts-web", "instance": p.addr, "pod": p.pod}
        b.gauge("puma_max_threads", pl, lambda m: 5 * 4)
        b.gauge("puma_running", pl, at(lambda m, i: 20 if attack(m) else rng.randint(2, 6), i))
        b.gauge("puma_backlog", pl, at(lambda m, i: rng.randint(40, 120) if attack(m) else 0, i))
    return b
