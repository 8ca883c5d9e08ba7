"""Client-abuse scenarios of round 9: card testing from a range, one costly partner."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail, serve
from examples.incidents.holdout4.common import nginx_json_line, zap
from examples.incidents.holdout5.common import ecs, within
from examples.incidents.holdout6.common import web
from examples.incidents.holdout9.common import chatter, pods


def checkout_carding_range() -> Bundle:  # size: one linear scenario script
    """From 22:10 ~150 addresses of one /24 (103.152.220.0/24) run card testing against
    the payment authorisation endpoint: 1-2 EUR authorisations, ~18/s, 94 % declined.  The
    payment provider starts throttling the merchant (429) and retries in the API hold its
    threads: ordinary checkouts slow and ~30 % fail.  Root: the client range; rate-limit
    (block) it.  Draining the pods would not help."""
    b = Bundle(
        "checkout-carding-range",
        "2036-03-28T21:55:00Z",
        description="payment authorisations failing, PSP throttling us",
        symptom={"component": "pay-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    attack = within(onset, 99)
    ns = "payments"
    b.component("pay-edge", "proxy", {"job": "pay-edge"}, ["payments-api"])
    b.component("payments-api", "app", {"namespace": ns, "app": "payments-api"})
    ps = pods("10.41.{k}.8:8080", "payments-api-66d9", ("q1", "q2", "q3"), "10.41.0.{k}:10250")
    card = Route("POST", "/v1/payments/authorize", "/v1/payments/authorize", 1.0, 0.35, 240)
    routes = [card, Route("GET", "/v1/payments/{n}", "/v1/payments/{id}", 0.4, 0.01, 600)]
    bots = [f"103.152.220.{k}" for k in rng.sample(range(2, 254), 150)]
    bot_agent = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    )

    def bot_outcome(e: Event, m: float, i: int) -> None:
        e.status = e.extra["app_status"] = 402
        e.upstream_status = "402"
        e.extra["bot"] = True
        e.size = 96

    bot_events = serve(
        b,
        rate=lambda m: 18.0 if attack(m) else 0.0,
        clients=lambda: rng.choice(bots),
        routes=[card],
        pods=ps,
        outcome=bot_outcome,
        agents=bot_agent,
        start=onset,
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if attack(m) and e.path.endswith("authorize"):
            if rng.random() < 0.3:
                fail(e, 502, 8.0 + rng.uniform(0, 1), size=80)
                e.extra["psp_throttled"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1, 4)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["82.132.", "81.98.44.", "2a00:23c7:", "86.10.3."],
        clients=400,
        rate=lambda m: 3.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "pay-edge", "instance": "10.41.0.2:9113"},
        fmt=lambda e: nginx_json_line(b, e, "pay.shop.example"),
        extra_events=bot_events,
    )
    for e in site.events:
        if e.extra.get("bot") and rng.random() < 0.25:
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "INFO",
                    "c.s.pay.AuthorizeService",
                    "authorization declined",
                    **{
                        "decline_code": rng.choice(
                            ("card_declined", "incorrect_cvc", "expired_card", "do_not_honor")
                        ),
                        "amount_minor": rng.choice((50, 100, 150, 200)),
                        "client.ip": e.client,
                    },
                ),
            )
        elif e.extra.get("psp_throttled"):
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "WARN",
                    "c.s.pay.psp.PspClient",
                    "PSP returned 429 Too Many Requests, retry 3/3 exhausted",
                    **{"psp": "acquirer-eu"},
                ),
            )
    chatter(site, 30, 80, lambda t, k: ecs(b, t, "INFO", "c.s.pay.Webhooks", "webhook ok"))
    site.apps(
        {"namespace": ns, "app": "payments-api"},
        {"namespace": ns, "app": "payments-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
    )
    return b


def catalog_partner_huge_pages() -> Bundle:  # size: one linear scenario script
    """From 06:00 a partner's new sync job (one IPv6 host) pages through the product feed
    with page_size=50000, three requests in flight, ~1 every 8 s: each takes 6-14 s, a
    full core and a 50 000-row scan.  catalog-api's CPU saturates on every pod, everyone
    else's requests slow and ~10 % 504 at ingress-nginx.  Root: that client; rate-limit
    it.  The API and the database are victims."""
    b = Bundle(
        "catalog-partner-huge-pages",
        "2037-05-19T05:45:00Z",
        description="catalog API slow since 6 am",
        symptom={"component": "catalog-ingress"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    on = within(onset, 99)
    partner = "2a05:d014:9f1:4b00:6c1e:1f0b:8a2d:11c9"
    ns = "catalog"
    b.component("catalog-ingress", "proxy", {"job": "ingress-nginx"}, ["catalog-api"])
    b.component("catalog-api", "app", {"namespace": ns, "app": "catalog-api"}, ["catalog-db"])
    b.component("catalog-db", "mysql", {"job": "mysql", "instance": "10.23.8.3:9104"})
    ps = pods(
        "10.23.{k}.26:8080", "catalog-api-8b6d", ("n1", "n2", "n3", "n4"), "10.23.0.{k}:10250"
    )
    feed = Route(
        "GET", "/v2/products?page_size=50000&page={n}", "/v2/products", 1.0, 9.0, 310_000_000
    )
    routes = [
        Route("GET", "/v2/products/{n}", "/v2/products/{id}", 0.8, 0.02, 3000),
        Route("GET", "/v2/products?page_size=100&page={n}", "/v2/products", 0.2, 0.05, 600_000),
    ]
    big = serve(
        b,
        rate=lambda m: 0.12 if on(m) else 0.0,
        clients=lambda: partner,
        routes=[feed],
        pods=ps,
        agents=("partner-sync/2.0 (+ops@partner.example)",),
        start=onset,
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if on(m):
            if rng.random() < 0.1:
                fail(e, 504, 10.0, reached=False, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.3, 3.0)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.130.2.", "10.130.3.", "2a05:d014:9f1:4b01:"],
        clients=60,
        rate=lambda m: 10.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"job": "ingress-nginx", "instance": "10.23.0.9:10254"},
        cluster="catalog-catalog-api-8080",
        extra_events=big,
    )
    for e in big:
        site.say(
            e.t,
            e.extra["pod"],
            zap(
                b,
                e.t,
                "warn",
                "feed/handler.go:91",
                "large page",
                page_size=50000,
                rows=50000,
                took=f"{e.extra['app_dur']:.1f}s",
                client=partner,
            ),
        )
    chatter(site, 30, 70, lambda t, k: zap(b, t, "info", "feed/cache.go:30", "cache refreshed"))
    site.apps(
        {"namespace": ns, "app": "catalog-api"},
        {"namespace": ns, "app": "catalog-api", "container": "api"},
        namespace=ns,
        container="api",
        cpu=lambda m, i: 1.95 if on(m) else 0.5,
        mem=lambda m, i: 1.6e9 if on(m) else 400e6,
    )
    mysqld_exporter(
        b,
        {"job": "mysql", "instance": "10.23.8.3:9104"},
        qps=lambda m: 700.0,
        connected=lambda m: 40.0,
        running=lambda m: 5.0 if on(m) else 3.0,
        scan_rows=lambda m: 18000.0 if on(m) else 0.0,
    )
    return b
