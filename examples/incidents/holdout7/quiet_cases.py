# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""No incident: a nightly batch CronJob pegging its own CPU limit, a log-shipping sidecar
OOM-killed again and again next to a healthy app, and a vulnerability scanner's 404s."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import cadvisor, ksm_restarts
from examples.incidents.holdout4.common import logfmt, mysql_slow, spring
from examples.incidents.holdout5.common import klog, within
from examples.incidents.holdout6.common import Pod, Route, every, structlog, web
from examples.incidents.holdout7.common import cfs

PROBES = (
    "/.env",
    "/wp-login.php",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/actuator/env",
    "/server-status",
    "/config.json",
    "/admin/login.asp",
    "/cgi-bin/luci",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/.aws/credentials",
    "/backup.zip",
)


def billing_nightly_batch_none() -> Bundle:  # size: one linear scenario script
    """At 02:00 the invoice-batch CronJob starts in the billing namespace: it pins its
    container at the 2-core limit (throttled 60 % of periods), reads invoices in 5,000-row
    chunks (a few slow-log entries of 1-3 s), logs progress every minute, and completes at
    02:31 ("processed 41,200 invoices").  billing-api, which customers use, stays at its
    night baseline: ~3 req/s, no errors, latency +5 %.  No incident.  Sources: Kubernetes
    docs "CronJob" and "Resource Management for Pods and Containers" (a limit throttles,
    never kills, for CPU)."""
    b = Bundle(
        "billing-nightly-batch-none",
        "2034-08-08T01:50:00Z",
        description="CPU throttling alert on billing namespace",
        symptom={"component": "billing-gw"},
        step=30,
        minutes=55,
    )
    rng = b.rng
    ns = "billing"
    run = within(10.0, 41.0)
    b.component("billing-gw", "proxy", {"job": "billing-gw"}, ["billing-api"])
    b.component("billing-api", "app", {"namespace": ns, "container": "billing-api"}, ["billing-db"])
    b.component(
        "invoice-batch", "app", {"namespace": ns, "container": "invoice-batch"}, ["billing-db"]
    )
    b.component("billing-db", "mysql", {"job": "billing-db"})
    pods = [
        Pod(f"10.33.{i}.{14 + i}:8080", f"billing-api-64-{s}", f"10.33.{i}.1:10250")
        for i, s in enumerate(("c1", "c2"))
    ]
    routes = [
        Route("GET", "/billing/invoices/{n}", "/billing/invoices/{id}", 0.8, 0.02, 3000),
        Route("POST", "/billing/payments", "/billing/payments", 0.2, 0.06, 300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if run(m):
            e.duration = e.extra["app_dur"] = e.duration * 1.05

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.33.100.", "10.33.101."],
        clients=60,
        rate=lambda m: 3.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "billing-gw", "instance": "10.33.0.2:9901"},
        cluster="billing_api",
    )
    site.apps(
        {"namespace": ns, "container": "billing-api", "job": "billing-api"},
        {"namespace": ns, "container": "billing-api"},
        go=False,
        namespace=ns,
        container="billing-api",
    )
    job = [Pod("10.33.2.77:9090", "invoice-batch-29071840-x8kq2", "10.33.2.1:10250", run)]
    cadvisor(b, job, ns, "invoice-batch", cpu=lambda m, i: 2.0, mem=lambda m, i: 1.4e9, limit=4e9)
    cfs(b, job, ns, "invoice-batch", throttled=lambda m, i: 0.6, quota_cores=2.0)
    jl = {"namespace": ns, "container": "invoice-batch", "pod": job[0].pod}
    done = 0
    for k in range(31):
        t = b.t(10.0 + k) + 30
        done += rng.randint(1250, 1400)
        b.log(t, jl, structlog(b, t, 0, "info", "batch progress", invoices=done, chunk=k + 1))
    t = b.t(41.0) - 2
    b.log(t, jl, structlog(b, t, 0, "info", "batch complete", invoices=41200, seconds=1858))
    ksm = {"job": "kube-state-metrics", "instance": "10.33.250.9:8080", "namespace": ns}
    b.gauge(
        "kube_job_status_active",
        {**ksm, "job_name": "invoice-batch-29071840"},
        lambda m: 1 if run(m) else 0,
    )
    b.gauge(
        "kube_job_status_succeeded",
        {**ksm, "job_name": "invoice-batch-29071840"},
        lambda m: 1 if m >= 41.0 else 0,
    )
    db = {"job": "billing-db", "instance": "10.33.50.2:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 260.0 if run(m) else 60.0,
        connected=lambda m: 22,
        running=lambda m: 4 if run(m) else 1,
        slow=lambda m: 0.02 if run(m) else 0.0,
        scan_rows=lambda m: 9e4 if run(m) else 2e3,
    )
    for t in every(b, 10, 41, 60, 200):
        b.log(
            t,
            {"job": "billing-db", "instance": "10.33.50.2:3306", "log": "slow"},
            mysql_slow(
                b,
                t,
                user="batch",
                host="10.33.2.77",
                thread=rng.randint(10**5, 10**6),
                qt=rng.uniform(1.0, 3.0),
                lt=0.0001,
                sent=5000,
                examined=5000,
                sql="SELECT * FROM invoices WHERE period = '2034-07' AND id > "
                f"{rng.randint(10**6, 10**7)} ORDER BY id LIMIT 5000",
                db="billing",
            ),
        )
    return b


def search_sidecar_oomkills_none() -> Bundle:  # size: one linear scenario script
    """Two of four search-api pods carry a fluent-bit sidecar whose 64Mi limit is too small
    for a burst of multiline stack traces from a noisy debug logger; the sidecar is
    OOMKilled four times in 40 minutes (kube-state-metrics restarts for container
    fluent-bit, last terminated reason OOMKilled) and restarts in seconds.  The search-api
    containers never restart; traffic, errors and latency stay at baseline (only log
    shipping has gaps).  No incident for users.  Sources: Kubernetes docs "Assign Memory
    Resources to Containers and Pods" (a container over its limit is OOM-killed and
    restarted, the pod's other containers go on); fluent/fluent-bit docs "Buffering and
    Memory"."""
    b = Bundle(
        "search-sidecar-oomkills-none",
        "2034-09-19T13:00:00Z",
        description="KubePodCrashLooping alert for search pods",
        symptom={"component": "search-ingress"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    ns = "search"
    b.component(
        "search-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "job": "search-ingress"},
        ["search-api"],
    )
    b.component("search-api", "app", {"namespace": ns})
    pods = [
        Pod(f"10.77.{i}.{40 + i}:8080", f"search-api-58f-{s}", f"10.77.{i}.1:10250")
        for i, s in enumerate(("n1", "n2", "n3", "n4"))
    ]
    routes = [Route("GET", "/search?q={n}", "/search", 1.0, 0.04, 12000)]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.81.3.", "100.81.4.", "fd00:81:5::"],
        clients=800,
        rate=lambda m: 18.0,
        outcome=None,
        kind="ingress",
        edge_labels={
            "namespace": "ingress-nginx",
            "job": "search-ingress",
            "instance": "10.77.250.2:10254",
        },
        cluster="search-search-api-8080",
    )
    for t in every(b, 0, 45, 3, 9):
        i = rng.choice((1, 3))
        site.say(
            t,
            i,
            spring(
                b,
                t,
                "DEBUG",
                "http-nio-8080-exec-7",
                "c.s.search.QueryRewriter",
                "rewrite failed, keeping original",
                trace=[
                    "java.lang.IllegalStateException: no synonym set",
                    "\tat c.s.search.QueryRewriter.rewrite(QueryRewriter.java:88)",
                ]
                * 6,
            ),
        )
    site.apps(
        {"namespace": ns, "container": "search-api", "job": "search-api"},
        {"namespace": ns, "container": "search-api"},
        go=False,
        namespace=ns,
        container="search-api",
    )
    kills = {1: [7.5, 18.2, 29.9, 40.4], 3: [12.1, 33.0]}
    ksm_restarts(b, "10.77.250.9:8080", ns, "fluent-bit", pods, kills, reason="OOMKilled")
    ksm_restarts(b, "10.77.250.9:8080", ns, "search-api", pods, {}, reason="Completed")
    for i, ms in kills.items():
        for m in ms:
            t = b.t(m) + 1
            b.log(
                t,
                {"namespace": ns, "container": "fluent-bit", "pod": pods[i].pod},
                f"[{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')}] [ info] [fluent bit] version="
                "3.0.7, commit=73e72bdf9b, pid=1",
            )
            b.log(
                t - 30,
                {"job": "kubelet", "node": pods[i].node.split(":")[0]},
                klog(
                    b,
                    t - 30,
                    "I",
                    2811,
                    "kuberuntime_container.go:779",
                    f'"Killing container with a grace period" pod="{ns}/{pods[i].pod}" '
                    'containerName="fluent-bit" reason="OOMKilled"',
                ),
            )
    return b


def docs_scanner_404s_none() -> Bundle:  # size: one linear scenario script
    """From 15:08 to 15:34 a vulnerability scanner (one address, 45.155.205.233, "Mozilla/5.0
    zgrab/0.x" and nuclei templates) requests ~2,000 well-known paths -- /.env,
    /wp-login.php, /.git/config... -- ~1.5 req/s, all answered 404 in a few milliseconds by
    docs-site.  Users' traffic, latency and error rate stay at baseline; the 4xx share
    rises only from the scanner.  No incident (and blocking it is hygiene, not a fix).
    Sources: OWASP Automated Threats OAT-014 "Vulnerability Scanning"; projectdiscovery/
    nuclei docs (templates probe well-known paths)."""
    b = Bundle(
        "docs-scanner-404s-none",
        "2034-10-24T14:55:00Z",
        description="4xx rate alert on docs",
        symptom={"component": "docs-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    scanner = "45.155.205.233"
    b.component("docs-edge", "proxy", {"job": "docs-edge"}, ["docs-site"])
    b.component("docs-site", "app", {"job": "docs-site"})
    pods = [Pod(f"192.168.77.{11 + i}:3000") for i in range(2)]
    routes = [
        Route("GET", "/docs/guide/{n}", "/docs/guide/:page", 0.8, 0.015, 26000),
        Route("GET", "/search?q=install", "/search", 0.2, 0.05, 8000),
    ]

    def probe(t: float, k: int) -> Event:
        took = lognormal(b, 0.003)
        path = rng.choice(PROBES) + ("" if rng.random() < 0.6 else f"?v={rng.randint(1, 99)}")
        return Event(
            t=t,
            client=scanner,
            method=rng.choice(("GET", "GET", "POST")),
            path=path,
            status=404,
            duration=took,
            upstream=pods[k % 2].addr,
            upstream_status="404",
            agent=rng.choice(
                (
                    "Mozilla/5.0 zgrab/0.x",
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/118.0 nuclei",
                )
            ),
            size=162,
            extra={"pod": k % 2, "route": "/*", "app_dur": took},
        )

    probes = [probe(t, k) for k, t in enumerate(b.arrivals(lambda m: 1.5, 13.0, 39.0))]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["2003:e5:4f1a::", "91.64.18.", "84.160.7.", "2a02:908:1b60::"],
        clients=900,
        rate=lambda m: 7.0,
        outcome=None,
        kind="nginx",
        edge_labels={"job": "docs-edge", "instance": "192.168.77.2:9113"},
        extra_events=probes,
    )
    for e in probes:
        if rng.random() < 0.2:
            site.say(
                e.t, e.extra["pod"], logfmt(b, e.t, "info", "not found", path=e.path, status=404)
            )
    site.apps({"job": "docs-site"}, {"job": "docs-site"})
    return b
