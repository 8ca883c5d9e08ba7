# size: four linear scenario scripts of one family, each telling one story
"""Application scenarios of round 11: one pod's leak, and three changes rolled out to
every pod (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout5.common import nginx_ctx, nginx_error
from examples.incidents.holdout9.common import traefik_line, traefik_metrics
from examples.incidents.holdout10.common import is_new, rollout
from examples.incidents.holdout11.common import (
    bunyan,
    const,
    every,
    finish,
    fpm_err,
    fpm_slow,
    on_pod,
    per_pod,
    pods,
    say_some,
    stack,
    uwsgi_msg,
    uwsgi_req,
    within,
    zerolog,
)


def feed_node_one_pod_heap_leak() -> Bundle:  # size: one linear scenario script
    """feed-api (Node 20) leaks subscription listeners; pods restart with each node
    rotation, but feed-api-...-w8k has run nine days.  From ~14:10 its V8 heap nears the
    2 GiB old-space limit: mark-compact runs back to back, event-loop lag 1-4 s, a third of
    its requests 504 at Traefik; the three younger pods are fine.  Root: that pod
    (10.40.3.18:3000); drain it."""
    b = Bundle(
        "feed-node-one-pod-heap-leak",
        "2039-01-11T13:50:00Z",
        description="feed timeouts for some users",
        symptom={"component": "feed-traefik"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 20.0
    sick = 2
    bad = within(onset, 99)
    ns = "feed"
    ps = pods("10.40.{k}.18:3000", "feed-api-7f9d6", ("c4p", "d5q", "w8k", "e6r"), "10.40.0.{k}")

    def outcome(e: Event, m: float, i: int) -> None:
        if i == sick and bad(m):
            if rng.random() < 0.35:
                fail(e, 504, 15.0, size=24)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.8, 4.0)

    el = {"job": "traefik", "instance": "10.40.0.2:8080"}
    site = stack(
        b,
        edge_name="feed-traefik",
        app="feed-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[
            Route("GET", "/v1/feed?cursor={n}", "/v1/feed", 0.8, 0.04, 12000),
            Route("POST", "/v1/seen", "/v1/seen", 0.2, 0.01, 40),
        ],
        prefixes=["2a02:908:", "178.24.", "88.65.", "2001:16b8:"],
        clients=800,
        outcome=outcome,
        kind="traefik",
        edge=el,
        rate=lambda m: 6.0,
        fmt=lambda e: traefik_line(b, e, "feed@kubernetescrd", "feed-feed-api-3000@kubernetes"),
    )
    traefik_metrics(b, el, site.events, "feed-feed-api-3000@kubernetes", last_reload=b.t(-600))
    for t in every(b, onset - 6, b.minutes, 8, 20):
        site.say(
            t,
            sick,
            bunyan(
                b,
                t,
                40,
                "feed-api",
                ps[sick].pod,
                "event loop lag high",
                lagMs=int(200 + max(0.0, b.m(t) - onset) * 120 * rng.uniform(0.6, 1.4)),
            ),
        )
    for t in every(b, 0, b.minutes, 40, 90):
        k = rng.randrange(4)
        site.say(t, k, bunyan(b, t, 30, "feed-api", ps[k].pod, "ranker model reloaded"))

    def heap(m: float, i: int) -> float:
        if i == sick:
            return min(2.05e9, 1.6e9 + m * 1.2e7)
        return 4.2e8 + 1e6 * (m % 7)

    finish(
        site,
        ns,
        "feed-api",
        "node",
        go=False,
        mem=heap,
        cpu=lambda m, i: 0.99 if i == sick and bad(m) else 0.35,
        limit=2.5e9,
    )

    def used(m: float, i: int) -> float:
        return heap(m, i) * 0.93

    def lag(m: float, i: int) -> float:
        return rng.uniform(1.0, 4.0) if i == sick and bad(m) else 0.012

    def gc(m: float, i: int) -> float:
        return 0.6 if i == sick and bad(m) else 0.004

    for i, p in enumerate(ps):
        labels = {"namespace": ns, "app": "feed-api", "instance": p.addr, "pod": p.pod}
        b.gauge("nodejs_heap_size_used_bytes", labels, per_pod(used, i))
        b.gauge("nodejs_heap_size_total_bytes", labels, per_pod(heap, i))
        b.gauge(
            "nodejs_eventloop_lag_p99_seconds",
            labels,
            per_pod(lag, i),
        )
        b.counter(
            "nodejs_gc_duration_seconds_sum",
            {**labels, "kind": "major"},
            per_pod(gc, i),
            integer=False,
        )
        b.gauge(
            "process_start_time_seconds",
            labels,
            const(b.t0 - (9 * 86400 if i == sick else 86400 * (i + 1) / 3)),
        )
    return b


def invoices_php_fpm_release() -> Bundle:  # size: one linear scenario script
    """invoices-web 6.2.0 (rolled 10:15-10:19) validates the customer's VAT number against
    an external SOAP service synchronously on every invoice page (3-8 s).  Each pod's 40
    php-fpm children fill ('server reached pm.max_children'); nginx cannot get a child:
    502/504, ~30 % of invoice pages; the slow log shows SoapClient->__doRequest.  Root:
    invoices-web (the release); roll back."""
    b = Bundle(
        "invoices-php-fpm-release",
        "2039-02-15T10:00:00Z",
        description="invoice pages failing since the deploy",
        symptom={"component": "invoices-nginx"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    at, gap = 15.0, 1.4
    ns = "billing"
    ps = rollout(
        "10.20.{k}.9:9000",
        "invoices-web",
        ("5f7b8-a2c", "5f7b8-d4e", "5f7b8-f6g"),
        ("6a1c9-h8j", "6a1c9-k1l", "6a1c9-m3n"),
        "10.20.0.{k}:10250",
        at,
        gap,
    )
    routes = [
        Route("GET", "/invoices/{n}", "/invoices/{id}", 0.6, 0.09, 26000),
        Route("GET", "/invoices?page=1", "/invoices", 0.4, 0.07, 18000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i) and e.path.startswith("/invoices/"):
            r = rng.random()
            if r < 0.3:
                fail(e, 502, rng.uniform(0.001, 0.01), reached=False, size=157)
                e.extra["refused"] = True
            elif r < 0.42:
                fail(e, 504, 60.0, size=167)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(3.0, 8.0)

    site = stack(
        b,
        edge_name="invoices-nginx",
        app="invoices-web",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["212.95.", "2a00:1f78:", "145.253.", "62.153."],
        clients=260,
        outcome=outcome,
        kind="nginx",
        edge={"job": "invoices-nginx", "instance": "10.20.0.2:9113"},
        rate=lambda m: 4.0,
    )
    err = {"job": "invoices-nginx", "instance": "10.20.0.2:9113", "stream": "error"}
    for e in site.events:
        if e.extra.get("refused") and rng.random() < 0.5:
            b.log(
                e.t,
                err,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "connect() to unix:/run/php/php-fpm.sock failed (11: Resource temporarily "
                    "unavailable) while connecting to upstream",
                    conn=rng.randint(10000, 99999),
                    ctx=nginx_ctx(e, "invoices.example.net"),
                ),
            )
    frames = [
        ("curl_exec", "/var/www/html/vendor/soap/Transport.php", 88),
        ("__doRequest", "/var/www/html/src/Vat/ViesClient.php", 41),
        ("checkVat", "/var/www/html/src/Vat/ViesClient.php", 27),
        ("render", "/var/www/html/src/Controller/InvoiceController.php", 112),
    ]
    for k in range(3, 6):
        for t in every(b, at + (k - 3) * gap + 0.5, b.minutes, 6, 15):
            site.say(t, k, fpm_slow(b, t, rng.randint(20, 400), frames))
        for t in every(b, at + (k - 3) * gap + 1.0, b.minutes, 20, 40):
            site.say(
                t,
                k,
                fpm_err(
                    b,
                    t,
                    "WARNING",
                    "[pool www] server reached pm.max_children setting (40), consider raising it",
                ),
            )
    finish(
        site,
        ns,
        "invoices-web",
        "php-fpm",
        go=False,
        cpu=lambda m, i: 0.12 if is_new(ps, i) else 0.3,
    )
    return b


def catalog_uwsgi_processes_config() -> Bundle:  # size: one linear scenario script
    """A Helm values change meant for staging ships to production: catalog-api's uWSGI
    `processes` 16 -> 2.  As the new pods take over (11:32-11:36) the ordinary load fills
    each pod's two workers and its listen queue ('uWSGI listen queue of socket ":8000" full
    !!! (101/100)'); nginx cannot connect: ~25 % 502, the rest slow.  Root: catalog-api (a
    configuration rolled out with it); roll back."""
    b = Bundle(
        "catalog-uwsgi-processes-config",
        "2039-03-22T11:15:00Z",
        description="catalogue 502s after the deploy",
        symptom={"component": "catalog-nginx"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    at, gap = 17.0, 1.3
    ns = "catalog"
    ps = rollout(
        "10.77.{k}.25:8000",
        "catalog-api",
        ("66c8d-p1", "66c8d-p2", "66c8d-p3", "66c8d-p4"),
        ("7d2e1-q1", "7d2e1-q2", "7d2e1-q3", "7d2e1-q4"),
        "10.77.0.{k}:10250",
        at,
        gap,
    )
    routes = [
        Route("GET", "/api/products/{n}", "/api/products/<id>", 0.7, 0.06, 6000),
        Route(
            "GET", "/api/categories/{n}/products", "/api/categories/<id>/products", 0.3, 0.15, 30000
        ),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i):
            if rng.random() < 0.25:
                fail(e, 502, rng.uniform(0.001, 0.02), reached=False, size=157)
                e.extra["refused"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.5, 3.0)

    site = stack(
        b,
        edge_name="catalog-nginx",
        app="catalog-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["5.146.", "2a02:8070:", "79.192.", "93.220."],
        clients=500,
        outcome=outcome,
        kind="nginx",
        edge={"job": "catalog-nginx", "instance": "10.77.0.2:9113"},
        rate=lambda m: 6.0,
    )
    err = {"job": "catalog-nginx", "instance": "10.77.0.2:9113", "stream": "error"}
    counts = [0] * len(ps)
    for e in site.events:
        i = e.extra["pod"]
        if e.extra.get("refused"):
            if rng.random() < 0.4:
                b.log(
                    e.t,
                    err,
                    nginx_error(
                        b,
                        e.t,
                        "error",
                        "connect() failed (111: Connection refused) while connecting to upstream",
                        conn=rng.randint(10000, 99999),
                        ctx=nginx_ctx(e, "shop.example.de", ps[i].addr),
                    ),
                )
            if rng.random() < 0.3:
                site.say(
                    e.t,
                    i,
                    uwsgi_msg(
                        b,
                        e.t,
                        '*** uWSGI listen queue of socket ":8000" (fd: 3) full !!! (101/100) ***',
                    ),
                )
        elif rng.random() < 0.2:
            counts[i] += 1
            site.say(e.t, i, uwsgi_req(b, e, 7 + i % 2, 1 + i % 2, counts[i]))
    for k in range(4, 8):
        t = b.t(at + (k - 4) * gap - 0.28)
        site.say(t, k, uwsgi_msg(b, t, "spawned uWSGI master process (pid: 1)"))
        site.say(t + 0.1, k, uwsgi_msg(b, t + 0.1, "spawned uWSGI worker 1 (pid: 7, cores: 1)"))
        site.say(t + 0.2, k, uwsgi_msg(b, t + 0.2, "spawned uWSGI worker 2 (pid: 8, cores: 1)"))
    finish(
        site,
        ns,
        "catalog-api",
        "uwsgi",
        go=False,
        cpu=lambda m, i: 1.9 if is_new(ps, i) else 1.1,
    )
    return b


def ingest_go_gomemlimit_spiral() -> Bundle:  # size: one linear scenario script
    """ingest-api 2.9.0 (rolled 08:12-08:15) sets GOMEMLIMIT=900MiB and GOGC=off in a
    1 GiB container to 'use the memory', and raises the batch size: the live heap sits near
    the limit, the GC runs continuously (the death spiral the Go docs warn of), CPU pinned
    at the limit, throttled; ingestion slows 10x, ~30 % of batches 504 at ingress-nginx on
    every new pod.  Root: ingest-api (the release's runtime settings); roll back."""
    b = Bundle(
        "ingest-go-gomemlimit-spiral",
        "2039-04-19T07:55:00Z",
        description="ingestion timeouts after the release",
        symptom={"component": "ingest-ingress"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    at, gap = 17.0, 1.0
    ns = "ingest"
    ps = rollout(
        "10.99.{k}.44:8080",
        "ingest-api",
        ("8b4c2-x1", "8b4c2-x2", "8b4c2-x3"),
        ("9c5d3-y1", "9c5d3-y2", "9c5d3-y3"),
        "10.99.0.{k}:10250",
        at,
        gap,
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i):
            if rng.random() < 0.3:
                fail(e, 504, 30.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * rng.uniform(5, 12)

    site = stack(
        b,
        edge_name="ingest-ingress",
        app="ingest-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[Route("POST", "/v1/batches", "/v1/batches", 1.0, 0.3, 120)],
        prefixes=["100.80.", "100.81."],
        clients=60,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.99.0.3:10254"},
        rate=lambda m: 4.0,
        cluster="ingest-ingest-api-8080",
    )
    say_some(
        site,
        0.3,
        lambda e: zerolog(b, e.t, "warn", "batch slow", took_ms=int(e.duration * 1000), rows=5000),
        status=200,
    )
    for k in range(3, 6):
        t = b.t(at + (k - 3) * gap - 0.25)
        site.say(
            t,
            k,
            zerolog(b, t, "info", "starting", version="2.9.0", gomemlimit="900MiB", gogc="off"),
        )
    finish(
        site,
        ns,
        "ingest-api",
        "api",
        cpu=lambda m, i: 1.0 if is_new(ps, i) else 0.45,
        mem=lambda m, i: 9.3e8 if is_new(ps, i) else 5.2e8,
        limit=1.07e9,
    )
    for i, p in enumerate(ps):
        labels = {"namespace": ns, "app": "ingest-api", "instance": p.addr, "pod": p.pod}
        new = is_new(ps, i)
        b.counter(
            "go_gc_cycles_total_gc_cycles_total",
            labels,
            on_pod(p, 40.0 if new else 0.3),
            start=9120,
        )
        b.gauge(
            "go_gc_gomemlimit_bytes",
            labels,
            on_pod(p, 9.44e8 if new else 9.22e18),
        )
        b.gauge(
            "go_gc_heap_live_bytes",
            labels,
            on_pod(p, 8.7e8 if new else 3.1e8),
        )
    return b
