# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Edges: nginx refusing an upstream whose serving certificate expired, and an Envoy
route that lost its long timeout in a config migration (the edge's own fault)."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout4.common import envoy_json_line, logrus
from examples.incidents.holdout5.common import nginx_ctx, nginx_error, py_log, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout8.common import blackbox_probe


def billing_upstream_cert_expired() -> Bundle:  # size: one linear scenario script
    """billing-api serves HTTPS on 8443 with a cert-manager certificate; its renewal has
    failed for 30 days (the issuer's credentials were rotated) and nobody read the events.
    At 07:12 the certificate expires.  The nginx edge proxies with ``proxy_ssl_verify on``:
    from then every handshake fails, "upstream SSL certificate verify error: (10:certificate
    has expired) while SSL handshaking to upstream", nginx tries the next pod, then answers
    502 for everything.  billing-api receives no request any more (its logs: "TLS handshake
    error ... remote error: tls: bad certificate"), the blackbox probe of its HTTPS endpoint
    fails with probe_ssl_earliest_cert_expiry at 07:12.  Root: billing-api (certificate
    expired); renew it.  Sources: nginx docs ``proxy_ssl_verify``; errorcanon "SSL:
    certificate verify failed while SSL handshaking to upstream"; cert-manager docs
    "Certificate renewal"; Let's Encrypt "Expiration emails"."""
    b = Bundle(
        "billing-upstream-cert-expired",
        "2035-07-24T06:50:00Z",
        description="billing portal: 502 Bad Gateway on every page",
        symptom={"component": "billing-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    expiry = 22.0
    gone = within(expiry, 99)
    ns = "billing"
    b.component("billing-edge", "proxy", {"job": "billing-edge"}, ["billing-api"])
    b.component("billing-api", "app", {"namespace": ns, "app": "billing-api"}, ["billing-pg"])
    b.component("billing-pg", "other", {"namespace": ns, "app": "billing-pg"})
    pods = [
        Pod(f"10.73.{4 + i}.{15 + i * 6}:8443", f"billing-api-59c7d-{s}", f"10.73.{4 + i}.1:10250")
        for i, s in enumerate(("fw2", "lq8", "tz5"))
    ]
    ups = ", ".join(p.addr for p in pods)
    routes = [
        Route("GET", "/api/invoices?page={n}", "/api/invoices", 0.5, 0.05, 16000),
        Route("GET", "/api/invoices/{n}/pdf", "/api/invoices/{id}/pdf", 0.3, 0.2, 120000),
        Route("POST", "/api/payment-methods", "/api/payment-methods", 0.2, 0.08, 300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if gone(m):
            e.status, e.size = 502, 157
            e.duration = rng.uniform(0.006, 0.02)
            e.upstream, e.upstream_status = ups, "502, 502, 502"
            e.extra.pop("pod", None)
            e.extra["urt"] = "0.002, 0.003, 0.002"

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["62.7.139.", "84.21.11.", "141.0.154.", "2a02:8010:6406::"],
        clients=380,
        rate=lambda m: 8.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "billing-edge", "instance": "10.73.1.5:9113"},
    )
    el = {"job": "billing-edge", "instance": "10.73.1.5:9113", "log": "error"}
    for e in site.events:
        if e.status == 502 and rng.random() < 0.5:
            conn = rng.randint(10**6, 10**7)
            for k, p in enumerate(pods):
                b.log(
                    e.t - 0.003 + k * 0.001,
                    el,
                    nginx_error(
                        b,
                        e.t,
                        "error",
                        "upstream SSL certificate verify error: (10:certificate has expired) "
                        "while SSL handshaking to upstream",
                        pid=2114,
                        conn=conn,
                        ctx=nginx_ctx(e, "billing.example.org", p.addr).replace(
                            "http://", "https://"
                        ),
                    ),
                )
    for e in site.events:
        if e.status == 502 and rng.random() < 0.3:
            i = rng.randrange(3)
            site.say(
                e.t - 0.004,
                i,
                logrus(
                    b,
                    e.t - 0.004,
                    "info",
                    f"http: TLS handshake error from 10.73.1.5:{rng.randint(30000, 60000)}: "
                    "remote error: tls: bad certificate",
                    component="server",
                ),
            )
    for t in every(b, 0, 45, 90, 240):
        site.say(
            t,
            rng.randrange(3),
            logrus(b, t, "info", "dunning run finished", overdue=rng.randint(3, 40)),
        )
    site.apps(
        {"namespace": ns, "app": "billing-api"},
        {"namespace": ns, "app": "billing-api", "container": "billing-api"},
        namespace=ns,
        container="billing-api",
    )
    blackbox_probe(
        b,
        {
            "job": "blackbox",
            "namespace": ns,
            "app": "billing-api",
            "instance": "https://billing-api.billing.svc:8443/healthz",
            "module": "https_2xx",
        },
        success=lambda m: not gone(m),
        status=lambda m: 0 if gone(m) else 200,
        duration=lambda m: 0.011 if gone(m) else 0.018,
        cert_expiry=b.t(expiry),
    )
    postgres_exporter(
        b,
        {"namespace": ns, "app": "billing-pg", "instance": "10.73.9.2:9187"},
        tps=lambda m: 3.0 if gone(m) else 40.0,
        active=lambda m: 1 if gone(m) else 3,
        idle=lambda m: 20,
        datname="billing",
    )
    return b


def exports_gateway_default_timeout() -> Bundle:  # size: one linear scenario script
    """At 10:09 the platform team replaces the hand-written Envoy config of exports-gw with
    one generated from Gateway API routes; the /api/exports route loses its ``timeout:
    120s`` and gets Envoy's default route timeout of 15 s.  Exports take 20-60 s: from then
    every export ends 504 "upstream request timeout" (flag UT) at 15.0 s, while exports-api
    keeps working and finishes each export (then writes to a closed connection).  Users
    press the button again: export requests double, exports-api CPU rises; every other
    route is fine.  Root: exports-gw (its route timeout); restore the timeout.  Sources:
    envoyproxy/envoy issue #14606 ("Issues with route timeout configuration": 504 upstream
    request timeout at the default 15 s); envoyproxy/gateway issue #1169 ("Envoy route
    timeout can't custom modification": downloads cut at 15 s); hashicorp/consul issue
    #6382; Envoy docs FAQ "How do I configure timeouts?"."""
    b = Bundle(
        "exports-gateway-default-timeout",
        "2035-08-14T09:50:00Z",
        description="CSV exports fail with 504 since this morning",
        symptom={"component": "exports-gw", "route": "/api/exports"},
        step=20,
        minutes=50,
    )
    rng = b.rng
    change = 19.0
    cut = within(change, 99)
    b.component("exports-gw", "proxy", {"service": "exports-gw"}, ["exports-api"])
    b.component("exports-api", "app", {"service": "exports-api"}, ["exports-pg"])
    b.component("exports-pg", "other", {"service": "exports-pg"})
    pods = [Pod(f"192.168.44.{31 + i}:8000", f"exports-api-{i}") for i in range(3)]
    routes = [
        Route("GET", "/api/reports/{n}", "/api/reports/{id}", 0.6, 0.08, 9000),
        Route("GET", "/api/reports/{n}/chart", "/api/reports/{id}/chart", 0.3, 0.15, 30000),
        Route("POST", "/api/exports/{n}", "/api/exports/{id}", 0.1, 28.0, 2_400_000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method != "POST":
            return
        took = max(16.0, lognormal(b, 31.0, 0.35))
        e.duration = e.extra["app_dur"] = took
        if cut(m):
            e.status, e.size, e.duration = 504, 24, 15.0 + rng.uniform(0.0, 0.004)
            e.extra["flags"] = "UT"
            e.extra["details"] = "upstream_response_timeout"

    def fmt(e: Event) -> str:
        line = envoy_json_line(b, e, "exports-api", "exports.internal")
        if e.extra.get("flags") != "UT":
            return line
        row = json.loads(line)
        row["upstream_service_time"] = None
        return json.dumps(row, separators=(",", ":"))

    def rate(m: float) -> float:
        return 3.0 * (1.09 if cut(m) else 1.0)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["192.168.120.", "192.168.121.", "192.168.122."],
        clients=70,
        rate=rate,
        outcome=outcome,
        kind="envoy",
        edge_labels={"service": "exports-gw", "instance": "192.168.44.10:9901"},
        cluster="exports-api",
        fmt=fmt,
    )
    for e in site.events:
        if e.method == "POST":
            done = e.t - e.duration + e.extra["app_dur"]
            line = f"export {e.path.rsplit('/', 1)[-1]} finished in {e.extra['app_dur']:.1f}s"
            site.say(done, e.extra["pod"], py_log(b, done, "INFO", "exports.worker", line))
            if e.extra.get("flags") == "UT":
                site.say(
                    done + 0.001,
                    e.extra["pod"],
                    py_log(
                        b,
                        done + 0.001,
                        "WARNING",
                        "gunicorn.error",
                        "Ignoring EPIPE: client closed the connection before the response",
                    ),
                )
    site.apps(
        {"service": "exports-api"},
        {"service": "exports-api"},
        go=False,
        cpu=lambda m, i: 1.3 if cut(m) else 0.8,
    )
    gl = {"service": "exports-gw", "instance": "192.168.44.10:9901"}
    t = b.t(change) - 4
    b.log(
        t,
        gl,
        f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}][1][info][upstream] "
        "[source/common/upstream/cds_api_helper.cc:32] cds: add 3 cluster(s), remove 1 cluster(s)",
    )
    b.log(
        t + 0.4,
        gl,
        f"[{b.dt(t + 0.4).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}][1][info][config] "
        "[source/common/listener_manager/listener_manager_impl.cc:944] all dependencies "
        "initialized. starting workers",
    )
    postgres_exporter(
        b,
        {"service": "exports-pg", "instance": "192.168.44.50:9187"},
        tps=lambda m: 70.0,
        active=lambda m: 4 if cut(m) else 3,
        idle=lambda m: 30,
        datname="exports",
    )
    return b
