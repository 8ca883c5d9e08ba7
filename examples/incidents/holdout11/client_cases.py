# size: three linear scenario scripts of one family, each telling one story
"""Client scenarios of round 11: cache-busting query strings, an AI crawler on a wiki, and a
pool setting that exhausts MySQL's connections (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail, serve
from examples.incidents.holdout5.common import ecs, nginx_ctx, nginx_error
from examples.incidents.holdout10.common import is_new, rollout
from examples.incidents.holdout11.common import (
    cache_line,
    every,
    finish,
    fpm_err,
    level,
    pods,
    say_some,
    stack,
    within,
)


def news_cache_busting_querystring() -> Bundle:  # size: one linear scenario script
    """From 19:04 ~120 hosts of one hosting /24 (45.148.10.0/24) request article pages with
    a random query string (`?x=8f3a...`) at ~20 req/s: nginx's proxy_cache keys on the full
    URI, every one MISSes to news-web, whose PHP workers saturate; real readers' cache
    misses wait, ~20 % of them 504.  Root: the client range; rate-limit it (and strip
    unknown query arguments from the cache key)."""
    b = Bundle(
        "news-cache-busting-querystring",
        "2039-05-06T18:50:00Z",
        description="news site slow and timing out in the evening",
        symptom={"component": "news-cache"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 14.0
    attack = within(onset, 99)
    ns = "news"
    el = {"job": "news-cache", "instance": "10.14.0.5:9113"}
    ps = pods("10.14.{k}.31:9000", "news-web-6b8d7", ("s1a", "t2b", "u3c", "v4d"), "10.14.0.{k}")
    routes = [
        Route("GET", "/article/{n}", "/article/{id}", 0.75, 0.18, 45000),
        Route("GET", "/", "/", 0.25, 0.15, 80000),
    ]
    bots = [f"45.148.10.{k}" for k in rng.sample(range(2, 254), 120)]

    def busted(e: Event, m: float, i: int) -> None:
        e.path = f"{e.path}?x={rng.getrandbits(48):012x}"
        e.extra["cache"] = "MISS"
        slow(e, m, bot=True)

    def slow(e: Event, m: float, bot: bool = False) -> None:
        if attack(m):
            if rng.random() < 0.2:
                fail(e, 504, 30.0, size=167)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 8.0)

    def reader(e: Event, m: float, i: int) -> None:
        if rng.random() < 0.88:
            e.extra["cache"] = "HIT"
            e.duration = e.extra["app_dur"] = rng.uniform(0.0005, 0.003)
            e.upstream, e.upstream_status = "-", "-"
        else:
            slow(e, m)

    bot_events = serve(
        b,
        rate=lambda m: 20.0 if attack(m) else 0.0,
        clients=lambda: rng.choice(bots),
        routes=[routes[0]],
        pods=ps,
        outcome=busted,
        agents=("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",),
        start=onset,
    )
    site = stack(
        b,
        edge_name="news-cache",
        app="news-web",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["82.132.", "2a01:e0a:", "90.120.", "2a01:cb00:", "86.246."],
        clients=1200,
        outcome=reader,
        kind="nginx",
        edge=el,
        rate=lambda m: 6.0,
        fmt=lambda e: cache_line(b, e),
        extra_events=bot_events,
    )
    for t in every(b, onset + 1, b.minutes, 10, 25):
        site.say(
            t,
            rng.randrange(4),
            fpm_err(
                b,
                t,
                "WARNING",
                "[pool www] server reached pm.max_children setting (64), consider raising it",
            ),
        )
    finish(site, ns, "news-web", "php-fpm", go=False, cpu=lambda m, i: 1.95 if attack(m) else 0.4)
    cache = {**el, "zone": "news_cache"}
    b.counter("nginx_cache_misses_total", cache, level(attack, 21.5, 0.7), start=8.8e6)
    b.counter("nginx_cache_hits_total", cache, lambda m: 5.2, start=2.2e8)
    return b


def wiki_ai_crawler_ipv6() -> Bundle:  # size: one linear scenario script
    """From 03:20 a crawler announcing itself as 'Scrapebot/2.1' walks every diff and
    history page of the engineering wiki (MediaWiki) from one IPv6 /64 of a cloud provider,
    a new address per few requests, ~8 req/s, ignoring robots.txt.  Each diff renders in
    1-3 s: php-fpm saturates, MariaDB busy with revision reads; staff pages slow and ~25 %
    504.  Root: the client (the /64); rate-limit/block it."""
    b = Bundle(
        "wiki-ai-crawler-ipv6",
        "2039-06-10T03:05:00Z",
        description="wiki very slow overnight (on-call runbooks)",
        symptom={"component": "wiki-edge"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    onset = 15.0
    crawl = within(onset, 99)
    ns = "wiki"
    net = "2a01:4f8:c012:7a1"
    el = {"job": "wiki-edge", "instance": "10.5.0.4:9113"}
    b.component("wiki-db", "mysql", {"job": "mysql", "instance": "10.5.20.3:9104"})
    ps = pods("10.5.{k}.60:9000", "wiki-php-5d7c6", ("aa1", "bb2", "cc3"), "10.5.0.{k}:10250")
    routes = [
        Route("GET", "/wiki/Runbook_{n}", "/wiki/{title}", 0.7, 0.12, 40000),
        Route("GET", "/load.php?modules=startup", "/load.php", 0.3, 0.01, 9000),
    ]
    diff = Route(
        "GET", "/index.php?title=Service_{n}&diff=prev&oldid={n}", "/index.php", 1.0, 1.8, 90000
    )

    def slow(e: Event, m: float, i: int) -> None:
        if crawl(m):
            if rng.random() < 0.25:
                fail(e, 504, 60.0, size=167)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 10.0)

    def bot_addr() -> str:
        return (
            f"{net}:{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFF):x}"
        )

    bot_events = serve(
        b,
        rate=lambda m: 8.0 if crawl(m) else 0.0,
        clients=bot_addr,
        routes=[diff],
        pods=ps,
        outcome=slow,
        agents=("Mozilla/5.0 (compatible; Scrapebot/2.1; +https://scrapebot.invalid/bot)",),
        start=onset,
    )
    site = stack(
        b,
        edge_name="wiki-edge",
        app="wiki-php",
        ns=ns,
        deps=["wiki-db"],
        ps=ps,
        routes=routes,
        prefixes=["10.5.128.", "10.5.129.", "fd42:5:1::"],
        clients=90,
        outcome=slow,
        kind="nginx",
        edge=el,
        rate=lambda m: 1.5,
        extra_events=bot_events,
    )
    err = {"job": "wiki-edge", "instance": "10.5.0.4:9113", "stream": "error"}
    for e in site.events:
        if e.status == 504 and rng.random() < 0.3:
            b.log(
                e.t,
                err,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "upstream timed out (110: Connection timed out) while reading response "
                    "header from upstream",
                    conn=rng.randint(1000, 99999),
                    ctx=nginx_ctx(e, "wiki.corp.example", e.upstream),
                ),
            )
    finish(site, ns, "wiki-php", "php-fpm", go=False, cpu=lambda m, i: 1.9 if crawl(m) else 0.2)
    mysqld_exporter(
        b,
        {"job": "mysql", "instance": "10.5.20.3:9104"},
        qps=level(crawl, 2100.0, 150.0),
        connected=level(crawl, 60.0, 20.0),
        running=level(crawl, 12.0, 2.0),
        sending=level(crawl, 8.0, 0.5),
        version="10.11.6-MariaDB",
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.5.20.3:9100"},
        busy=level(crawl, 0.7, 0.1),
        avail=lambda m: 9e9,
        mem_total=32e9,
    )
    return b


def crm_hikari_pool_max_connections() -> Bundle:  # size: one linear scenario script
    """crm-api 8.4.0 (rolled 13:40-13:46 over eight pods) sets HikariCP maximumPoolSize and
    minimumIdle to 80 (was 10): each new pod opens 80 connections at start.  With old and
    new pods overlapping, crm-db (max_connections 500) is full by the fifth new pod: 'Too
    many connections' (1040) for the last pods' pools and for the nightly importer, ~30 % of
    CRM calls 500 on the pods that could not fill their pools.  Root: crm-api (the release's
    pool setting); roll back."""
    b = Bundle(
        "crm-hikari-pool-max-connections",
        "2039-07-05T13:25:00Z",
        description="CRM errors during and after the deploy",
        symptom={"component": "crm-lb"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    at, gap = 15.0, 0.8
    ns = "crm"
    dbl = {"job": "mysql", "instance": "crm-db-0.crm-db.crm:9104"}
    b.component("crm-db", "mysql", {"job": "mysql"})
    old = tuple(f"59d4c-o{k}" for k in range(1, 9))
    new = tuple(f"6f1a2-n{k}" for k in range(1, 9))
    ps = rollout("10.33.{k}.15:8080", "crm-api", old, new, "10.33.0.{k}:10250", at, gap)
    full = at + 4 * gap

    def starved(i: int, m: float) -> bool:
        return is_new(ps, i) and i - 8 >= 4 and m >= full

    def outcome(e: Event, m: float, i: int) -> None:
        if starved(i, m) and rng.random() < 0.6:
            fail(e, 500, rng.uniform(0.5, 30.0), size=210)

    from examples.incidents.holdout6.common import haproxy_exporter
    from examples.incidents.holdout10.common import haproxy_json

    el = {"job": "crm-lb", "instance": "10.33.0.2:8405"}

    def mark(e: Event, m: float, i: int) -> None:
        e.extra["server"] = ps[i].pod
        outcome(e, m, i)

    site = stack(
        b,
        edge_name="crm-lb",
        app="crm-api",
        ns=ns,
        deps=["crm-db"],
        ps=ps,
        routes=[
            Route("GET", "/api/contacts/{n}", "/api/contacts/{id}", 0.7, 0.03, 4000),
            Route("PUT", "/api/contacts/{n}", "/api/contacts/{id}", 0.3, 0.05, 300),
        ],
        prefixes=["10.34.", "10.35."],
        clients=220,
        outcome=mark,
        kind="haproxy",
        edge=el,
        rate=lambda m: 4.0,
        fmt=lambda e: haproxy_json(b, e, "fe_crm", "be_crm_api"),
    )
    haproxy_exporter(b, el, "be_crm_api", {p.pod: p.addr for p in ps}, site.events)
    say_some(
        site,
        0.4,
        lambda e: ecs(
            b,
            e.t,
            "ERROR",
            "com.zaxxer.hikari.pool.HikariPool",
            "HikariPool-1 - Connection is not available, request timed out after 30000ms "
            "(total=41, active=41, idle=0, waiting=12)",
        ),
    )
    for k in range(8, 16):
        t = b.t(at + (k - 8) * gap + 0.05)
        site.say(
            t,
            k,
            ecs(
                b,
                t,
                "INFO",
                "com.zaxxer.hikari.HikariDataSource",
                "HikariPool-1 - Start completed. maximumPoolSize=80, minimumIdle=80",
            ),
        )
        for t2 in every(b, max(b.m(t), full), b.minutes, 20, 50) if k >= 12 else []:
            site.say(
                t2,
                k,
                ecs(
                    b,
                    t2,
                    "WARN",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Pool is empty, failed to create/setup connection: "
                    "java.sql.SQLNonTransientConnectionException: Too many connections",
                ),
            )
    finish(site, ns, "crm-api", "api", go=False)

    def conns(m: float) -> float:
        live = sum(1 for i, p in enumerate(ps) if p.up(m))
        want = sum(80 if is_new(ps, i) else 10 for i, p in enumerate(ps) if p.up(m))
        return min(500.0, want + 6.0) if live else 6.0

    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 1300.0,
        connected=conns,
        running=lambda m: 4.0,
        max_connections=500,
        aborted_connects=lambda m: 3.0 if m >= full else 0.0,
    )
    b.untyped(
        "mysql_global_status_connection_errors_total",
        {**dbl, "error": "max_connections"},
        lambda m: 4.0 if m >= full else 0.0,
        0,
    )
    return b
