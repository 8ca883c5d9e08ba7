# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Clients: a crawler on one address rotating its user agent on every request to a git
forge's blame pages, GraphQL depth bombs from one IPv6 host, and SMS pumping through an
OTP endpoint that ties up the auth service's threads."""

from __future__ import annotations

import json
from collections.abc import Callable

from examples.incidents.holdout3.exporters import mysqld_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import log_each, nginx_json_line, spring
from examples.incidents.holdout5.common import java_side, within
from examples.incidents.holdout6.common import Pod, Route, web
from examples.incidents.holdout7.common import nodejs_runtime


def _abuse(
    b: Bundle,
    *,
    rate: float,
    start: float,
    end: float,
    make: Callable[[float, int], Event],
) -> list[Event]:
    return [make(t, k) for k, t in enumerate(b.arrivals(lambda m: rate, start, end))]


def _random_agent(b: Bundle) -> str:
    rng = b.rng
    os_ = rng.choice(
        (
            "Windows NT 10.0; Win64; x64",
            "Macintosh; Intel Mac OS X 10_15_7",
            "X11; Linux x86_64",
            "Windows NT 6.1; WOW64",
            "X11; Ubuntu; Linux x86_64",
        )
    )
    kind = rng.random()
    if kind < 0.55:
        v = rng.randint(88, 132)
        return (
            f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.{rng.randint(3000, 6999)}.{rng.randint(10, 250)} Safari/537.36"
        )
    if kind < 0.85:
        v = rng.randint(91, 133)
        return f"Mozilla/5.0 ({os_}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
    v = rng.randint(100, 131)
    return (
        f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
        f"Safari/537.36 Edg/{v}.0.{rng.randint(1000, 2999)}.{rng.randint(10, 99)}"
    )


def _gitea_line(b: Bundle, t: float, e: Event, handler: str) -> str:
    d = b.dt(t)
    return (
        f"{d.strftime('%Y/%m/%d %H:%M:%S')} ...eb/routing/logger.go:102:func1() [I] router: "
        f"completed {e.method} {e.path} for {e.client}:0, {e.status} "
        f"{'OK' if e.status == 200 else 'Gateway Timeout'} in {e.extra['app_dur'] * 1000:.1f}ms "
        f"@ {handler}"
    )


def forge_crawler_rotating_agents() -> Bundle:  # size: one linear scenario script
    """From 02:31 one address, 43.153.108.77, crawls the public repositories of a Forgejo
    instance at ~11 req/s: blame and commit pages of every file at every commit, ignoring
    robots.txt, with a different browser user agent on every request (so per-agent limits
    and dashboards see nothing).  Each blame costs 0.4-3 s of git CPU: both forge VMs
    saturate, every user's page is slow and ~8 % end 504 after 10 s.  Root: the client
    43.153.108.77 (request flood); rate-limit it.  Sources: SourceHut "Please stop
    externalizing your costs directly into my face" (2025: crawlers hit git blame and every
    commit with random user agents); sitegui.dev "The bots came to hunt my forge data"
    (Forgejo, 1 000 -> 200 000 requests a day); HN thread "How I protect my Forgejo instance
    from AI web crawlers"."""
    b = Bundle(
        "forge-crawler-rotating-agents",
        "2035-09-02T02:15:00Z",
        description="code.example.org very slow, some pages time out",
        symptom={"component": "forge-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 16.0
    busy = within(start, 99)
    bot = "43.153.108.77"
    b.component("forge-edge", "proxy", {"job": "forge-edge"}, ["forgejo"])
    b.component("forgejo", "app", {"job": "forgejo"}, ["forge-db"])
    b.component("forge-db", "other", {"job": "forge-db"})
    vms = [Pod(f"10.12.0.{21 + i}:3000") for i in range(2)]
    routes = [
        Route("GET", "/dev{n}/tools/issues", "repo.Issues", 0.3, 0.06, 24000),
        Route("GET", "/dev{n}/tools/src/branch/main", "repo.Home", 0.4, 0.05, 40000),
        Route("GET", "/dev{n}/tools/pulls/12", "repo.ViewPull", 0.2, 0.09, 52000),
        Route("POST", "/dev{n}/tools/issues/9/comments", "repo.NewComment", 0.1, 0.04, 200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.08:
                fail(e, 504, 10.0, size=160)
                e.upstream_status = "504"
            else:
                e.duration = e.extra["app_dur"] = e.duration * rng.uniform(4.0, 9.0)

    files = ("src/main.c", "src/parse.c", "include/util.h", "Makefile", "README.md", "doc/api.md")

    def crawl(t: float, k: int) -> Event:
        sha = f"{rng.getrandbits(160):040x}"
        blame = rng.random() < 0.6
        path = (
            f"/libre/tools/blame/commit/{sha}/{rng.choice(files)}"
            if blame
            else f"/libre/tools/commit/{sha}"
        )
        took = rng.uniform(0.4, 3.0) if blame else rng.uniform(0.1, 0.6)
        i = k % 2
        e = Event(
            t=t,
            client=bot,
            method="GET",
            path=path,
            status=200,
            duration=took,
            upstream=vms[i].addr,
            upstream_status="200",
            agent=_random_agent(b),
            size=rng.randint(30000, 180000),
            extra={
                "pod": i,
                "route": "repo.RefBlame" if blame else "repo.Diff",
                "app_dur": took,
                "urt": f"{took:.3f}",
            },
        )
        if took > 2.6:
            fail(e, 504, 10.0, size=160)
            e.upstream_status = "504"
        return e

    crawls = _abuse(b, rate=11.0, start=start, end=50, make=crawl)
    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["73.162.41.", "98.207.113.", "24.5.219.", "2601:646:8f00::", "82.64.22."],
        clients=260,
        rate=lambda m: 4.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "forge-edge", "instance": "10.12.0.5:9113"},
        extra_events=crawls,
    )
    for e in site.events:
        if rng.random() < (0.3 if e.client == bot else 0.2):
            handler = (
                "repo/blame.go:71(repo.RefBlame)"
                if "/blame/" in e.path
                else f"web/web.go:1210({e.extra['route']})"
            )
            site.say(e.t, e.extra["pod"], _gitea_line(b, e.t, e, handler))
    site.apps(
        {"job": "forgejo"},
        {"job": "forgejo"},
        cpu=lambda m, i: 3.9 if busy(m) else 0.4,
        mem=lambda m, i: 1.3e9 if busy(m) else 0.6e9,
        goroutines=lambda m, i: 900 if busy(m) else 120,
    )
    postgres_exporter(
        b,
        {"job": "forge-db", "instance": "10.12.0.30:9187"},
        tps=lambda m: 120.0 if busy(m) else 40.0,
        active=lambda m: 5 if busy(m) else 1,
        idle=lambda m: 20,
        datname="forgejo",
    )
    return b


def community_graphql_depth_bomb() -> Bundle:  # size: one linear scenario script
    """From 15:21 one IPv6 host, 2a01:4f8:c17:3b2e::1, posts a GraphQL query nested nine
    levels deep (``user { friends { friends { ... posts { comments { author ...``) to
    community-api about 1.5 times a second; the server has no depth or cost limit.  Each
    resolves for 2-6 s on one Node.js event loop: event-loop lag 2-8 s on all four pods,
    every ordinary query waits behind it, ~11 % end 504 at the ingress after 10 s.  Root:
    the client 2a01:4f8:c17:3b2e::1 (expensive queries); rate-limit it, add depth limiting.
    Sources: OWASP "GraphQL Cheat Sheet" (query depth and amount limiting against DoS);
    GraphQL.org golden path "Excessive query depth" (nested lists grow the work
    exponentially); Node.js docs "Don't Block the Event Loop"."""
    b = Bundle(
        "community-graphql-depth-bomb",
        "2035-09-18T15:00:00Z",
        description="community site hangs, most requests time out",
        symptom={"component": "community-ingress", "route": "/graphql"},
        step=10,
        minutes=45,
    )
    rng = b.rng
    start = 21.0
    busy = within(start, 99)
    bomb_ip = "2a01:4f8:c17:3b2e::1"
    ns = "community"
    b.component(
        "community-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "app": "ingress-nginx"},
        ["community-api"],
    )
    b.component("community-api", "app", {"namespace": ns, "app": "community-api"}, ["community-db"])
    b.component("community-db", "mysql", {"namespace": ns, "app": "community-db"})
    pods = [
        Pod(f"[fd00:10:64:{2 + i}::{0x1A + i * 7:x}]:4000", f"community-api-74cf9-{s}")
        for i, s in enumerate(("dq8", "gz2", "kv6", "wx4"))
    ]
    routes = [
        Route("POST", "/graphql", "/graphql", 0.85, 0.04, 6000),
        Route("GET", "/healthz", "/healthz", 0.15, 0.002, 20),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            lag = rng.uniform(2.0, 8.0)
            if lag + e.duration > 10.0 or rng.random() < 0.1:
                fail(e, 504, 10.0, size=160)
                e.upstream_status = "504"
            else:
                e.duration = e.extra["app_dur"] = e.duration + lag

    def bomb(t: float, k: int) -> Event:
        took = rng.uniform(2.0, 6.0)
        i = k % 4
        e = Event(
            t=t,
            client=bomb_ip,
            method="POST",
            path="/graphql",
            status=200,
            duration=took,
            upstream=pods[i].addr,
            upstream_status="200",
            agent="python-httpx/0.27.2",
            size=rng.randint(400_000, 2_600_000),
            extra={"pod": i, "route": "/graphql", "app_dur": took, "bomb": True},
        )
        if took > 5.0:
            fail(e, 504, 10.0, size=160)
            e.upstream_status = "504"
        return e

    bombs = _abuse(b, rate=1.5, start=start, end=45, make=bomb)
    edge = {"namespace": "ingress-nginx", "app": "ingress-nginx", "instance": "10.64.0.9:10254"}
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["2a02:908:1a2::", "2003:e5:7f1c::", "91.64.130.", "93.233.17.", "176.198.40."],
        clients=700,
        rate=lambda m: 18.0,
        outcome=outcome,
        kind="ingress",
        edge_labels=edge,
        cluster="community-community-api-4000",
        extra_events=bombs,
    )
    for e in site.events:
        if e.extra.get("bomb") and e.status == 200:
            site.say(
                e.t,
                e.extra["pod"],
                json.dumps(
                    {
                        "level": 40,
                        "time": int(e.t * 1000),
                        "pid": 1,
                        "hostname": f"community-api-74cf9-{('dq8', 'gz2', 'kv6', 'wx4')[e.extra['pod']]}",
                        "msg": "slow graphql operation",
                        "operationName": "FriendGraph",
                        "depth": 9,
                        "durationMs": int(e.extra["app_dur"] * 1000),
                        "remoteAddress": bomb_ip,
                    },
                    separators=(",", ":"),
                ),
            )
    site.apps(
        {"namespace": ns, "app": "community-api"},
        {"namespace": ns, "app": "community-api", "container": "community-api"},
        go=False,
        namespace=ns,
        container="community-api",
        cpu=lambda m, i: 0.98 if busy(m) else 0.3,
        mem=lambda m, i: 520e6 if busy(m) else 310e6,
    )
    for p in pods:
        nodejs_runtime(
            b,
            {"namespace": ns, "app": "community-api", "instance": p.addr, "pod": p.pod},
            lag=lambda m: rng.uniform(2.0, 8.0) if busy(m) else 0.011,
            heap=lambda m: 4.1e8 if busy(m) else 2.2e8,
            cpu=lambda m: 0.98 if busy(m) else 0.3,
        )
    mysqld_exporter(
        b,
        {"namespace": ns, "app": "community-db", "instance": "10.64.9.4:9104"},
        qps=lambda m: 900.0 if busy(m) else 420.0,
        connected=lambda m: 44,
        running=lambda m: 4 if busy(m) else 2,
    )
    return b


def auth_otp_sms_pumping() -> Bundle:  # size: one linear scenario script
    """From 21:08 one address, 91.92.243.17, asks auth-api to text a one-time code to
    consecutive premium-rate numbers (+88234xxxxxx) at ~9 req/s, never completing a
    verification (SMS pumping).  The SMS provider throttles the account (429) and auth-api
    retries inside the request with backoff, so each OTP request holds a Tomcat thread
    12-20 s: all three pods' 50 threads are busy, ordinary logins queue and ~12 % end 504
    after 15 s.  Root: the client 91.92.243.17 (SMS pumping); rate-limit it, add a captcha
    and country filtering.  Sources: Twilio docs "What is SMS pumping fraud?" (sequential
    number blocks, no completed verification); authgear "What Is an SMS Pumping Attack?";
    Spring Boot docs ``server.tomcat.threads.max``."""
    b = Bundle(
        "auth-otp-sms-pumping",
        "2035-10-07T20:50:00Z",
        description="logins slow and timing out this evening",
        symptom={"component": "auth-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 18.0
    busy = within(start, 99)
    pumper = "91.92.243.17"
    b.component("auth-edge", "proxy", {"job": "auth-edge"}, ["auth-api"])
    b.component("auth-api", "app", {"job": "auth-api"}, ["auth-db"])
    b.component("auth-db", "mysql", {"job": "auth-db"})
    pods = [Pod(f"172.28.{10 + i}.{7 + i}:8080", f"auth-api-{i}") for i in range(3)]
    routes = [
        Route("POST", "/v1/login", "/v1/login", 0.6, 0.09, 700),
        Route("POST", "/v1/token/refresh", "/v1/token/refresh", 0.3, 0.02, 900),
        Route("POST", "/v1/otp/verify", "/v1/otp/verify", 0.1, 0.03, 200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.12:
                fail(e, 504, 15.0, size=160)
                e.upstream_status = "504"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 9.0)

    number = [88234_0000000]

    def pump(t: float, k: int) -> Event:
        number[0] += rng.randint(1, 3)
        took = rng.uniform(12.0, 20.0)
        i = k % 3
        e = Event(
            t=t,
            client=pumper,
            method="POST",
            path="/v1/otp/send",
            status=202,
            duration=took,
            upstream=pods[i].addr,
            upstream_status="202",
            agent="okhttp/4.9.3",
            size=60,
            extra={"pod": i, "route": "/v1/otp/send", "app_dur": took, "to": f"+{number[0]}"},
        )
        if took > 15.0:
            fail(e, 504, 15.0, size=160)
            e.upstream_status = "504"
        return e

    pumps = _abuse(b, rate=9.0, start=start, end=50, make=pump)
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["81.152.77.", "86.171.3.", "2a00:23c7:5d81::", "92.233.118.", "109.150.9."],
        clients=900,
        rate=lambda m: 10.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "auth-edge", "instance": "172.28.1.3:9113"},
        fmt=lambda e: nginx_json_line(b, e, "auth.example.co.uk"),
        extra_events=pumps,
    )
    for e in site.events:
        if e.client != pumper:
            continue
        t0 = e.t - e.duration
        for attempt, back in ((1, 2000), (2, 4000), (3, 8000)):
            ta = t0 + attempt * rng.uniform(2.5, 4.5)
            if ta >= e.t or rng.random() < 0.5:
                continue
            site.say(
                ta,
                e.extra["pod"],
                spring(
                    b,
                    ta,
                    "WARN",
                    f"http-nio-8080-exec-{rng.randint(1, 50)}",
                    "c.e.auth.otp.SmsGatewayClient",
                    f"SMS provider throttled (429 Too Many Requests) to={e.extra['to']}, "
                    f"attempt {attempt}/3, retrying in {back} ms",
                ),
            )
    java_side(
        b,
        pods,
        site.events,
        {"job": "auth-api"},
        app="auth-api",
        busy=lambda m, i: 50 if busy(m) else 6 + rng.randint(0, 4),
        cpu=lambda m, i: 0.35 if busy(m) else 0.3,
    )
    log_each(b, site.logs, pods, {"job": "auth-api"})
    b.counter(
        "auth_otp_sent_total",
        {"job": "auth-api", "instance": pods[0].addr, "pod": pods[0].pod},
        lambda m: 3.0 if busy(m) else 0.05,
        start=1.2e6,
    )
    mysqld_exporter(
        b,
        {"job": "auth-db", "instance": "172.28.20.5:9104"},
        qps=lambda m: 320.0,
        connected=lambda m: 38,
        running=lambda m: 2,
    )
    return b
