# size: two linear scenario scripts of one family, each telling one story
"""Ingress-controller and node scenarios of round 10 (written blind)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Pod, Route, cadvisor, fail, ksm_restarts
from examples.incidents.holdout4.common import ksm_node_conditions
from examples.incidents.holdout5.common import klog, nginx_error, within
from examples.incidents.holdout9.common import pino
from examples.incidents.holdout10.common import every, finish, pods, tier, tracing


def portal_ingress_reload_worker_pileup() -> Bundle:  # size: one linear scenario script
    """From 13:10 Argo CD and a mutating webhook fight over an annotation on the portal
    Ingress: ingress-nginx reloads every ~20 s.  The portal keeps thousands of websockets,
    so each reload leaves a generation of old workers 'shutting down' for 240 s: nginx
    processes 9 -> 110, the controller's memory climbs to its 1.5 GiB limit, the kernel
    kills workers ('exited on signal 9') and twice the whole controller (OOMKilled, 13:29 and
    13:41).  Requests in flight fail (502) and during each restart all traffic fails.
    Root: portal-ingress (the controller, reloading in a loop)."""
    b = Bundle(
        "portal-ingress-reload-worker-pileup",
        "2037-06-02T12:55:00Z",
        description="portal disconnects and 502s, ingress controller restarting",
        symptom={"component": "portal-ingress"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    onset = 15.0
    kills = [34.0, 46.0]

    def restarting(m: float) -> bool:
        return any(k <= m < k + 0.5 for k in kills)

    def procs(m: float) -> float:
        if m < onset:
            return 9.0
        last = max([k for k in kills if k <= m], default=onset)
        return min(110.0, 9.0 + (m - last) * 9.0)

    ns = "portal"
    il = {"job": "portal-ingress", "instance": "10.244.0.31:10254"}
    b.component("portal-ingress", "proxy", {"job": "portal-ingress"}, ["portal-web"])
    b.component("portal-web", "app", {"namespace": ns, "app": "portal-web"})
    ps = pods("10.244.{k}.70:3000", "portal-web-8d6c5", ("gq", "hr", "js"), "10.244.0.{k}:10250")
    routes = [
        Route("GET", "/dashboard", "/dashboard", 0.5, 0.04, 32000),
        Route("GET", "/api/notifications", "/api/notifications", 0.4, 0.01, 800),
        Route("GET", "/ws", "/ws", 0.1, 0.002, 0),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if restarting(m):
            fail(e, 502, rng.uniform(0.0, 0.01), reached=False, size=150)
        elif procs(m) > 60 and rng.random() < (procs(m) - 60) / 400:
            fail(e, 502, rng.uniform(0.1, 1.0), reached=False, size=150)
            e.extra["sig9"] = True

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.180.", "10.181.", "fd00:10:180::"],
        clients=900,
        outcome=outcome,
        kind="ingress",
        edge=il,
        rate=lambda m: 0.0 if restarting(m) else 10.0,
        cluster="portal-portal-web-3000",
    )
    ctl = {**il, "container": "controller"}
    for t in every(b, onset, b.minutes, 16, 24):
        if restarting(b.m(t)):
            continue
        b.log(
            t,
            ctl,
            klog(
                b,
                t,
                "I",
                7,
                "controller.go:193",
                "Configuration changes detected, backend reload required.",
            ),
        )
        b.log(
            t + 1.1,
            ctl,
            klog(b, t + 1.1, "I", 7, "controller.go:213", "Backend successfully reloaded."),
        )
        b.log(
            t + 1.2,
            ctl,
            klog(
                b,
                t + 1.2,
                "I",
                7,
                "event.go:377",
                'Event(v1.ObjectReference{Kind:"Pod", Namespace:"ingress", Name:"portal-ingress-controller-7f9c-x2", '
                "APIVersion:\"v1\"}): type: 'Normal' reason: 'RELOAD' NGINX reload triggered due to a change in configuration",
            ),
        )
    for e in site.events:
        if e.extra.get("sig9") and rng.random() < 0.3:
            b.log(
                e.t,
                ctl,
                nginx_error(
                    b,
                    e.t,
                    "alert",
                    f"worker process {rng.randint(20000, 90000)} exited on signal 9",
                    pid=25,
                ),
            )
    for t in every(b, 0, b.minutes, 30, 70):
        k = rng.randrange(3)
        site.say(t, k, pino(b, t, 30, ps[k].pod, "session refreshed"))
    finish(site, ns, "portal-web", "web", go=False)
    b.gauge("nginx_ingress_controller_nginx_process_num_procs", il, procs)
    b.gauge(
        "nginx_ingress_controller_nginx_process_resident_memory_bytes",
        il,
        lambda m: None if restarting(m) else procs(m) * 14e6,
    )
    b.counter(
        "nginx_ingress_controller_success", il, lambda m: 3.0 if m >= onset else 0.0, start=11
    )
    b.gauge("nginx_ingress_controller_config_last_reload_successful", il, lambda m: 1)
    b.gauge(
        "nginx_ingress_controller_nginx_process_connections",
        {**il, "state": "active"},
        lambda m: 4200 + rng.randint(-80, 80),
    )
    ctrl = Pod("10.244.0.31:10254", "portal-ingress-controller-7f9c-x2", "10.244.0.9:10250")
    cadvisor(
        b,
        [ctrl],
        "ingress",
        "controller",
        cpu=lambda m, i: 0.9 if m >= onset else 0.3,
        mem=lambda m, i: procs(m) * 14e6,
        limit=1.5 * 2**30,
    )
    ksm_restarts(
        b, "10.244.0.5:8080", "ingress", "controller", [ctrl], {0: [k + 0.2 for k in kills]}
    )
    return b


def tasks_node_pleg_unhealthy() -> Bundle:  # size: one linear scenario script
    """At 06:40 the root disk of node ip-10-50-0-13 degrades (I/O time 100 %, 2 s
    latencies): containerd stalls, the kubelet reports 'PLEG is not healthy' and the node
    flaps Ready/NotReady, never long enough for eviction.  The two tasks-api pods on it
    block writing their stdout logs and answer slowly or not at all: ~60 % of their
    requests 504; the four pods on the other nodes are fine.  Root: the two pods on that
    node; cordon and drain it."""
    b = Bundle(
        "tasks-node-pleg-unhealthy",
        "2036-02-16T06:25:00Z",
        description="a third of task requests timing out",
        symptom={"component": "tasks-edge"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "tasks"
    b.component("tasks-edge", "proxy", {"job": "tasks-envoy"}, ["tasks-api"])
    b.component("tasks-api", "app", {"namespace": ns, "app": "tasks-api"})
    suffixes = ("b6k2", "c7l3", "d8m4", "f9n5", "g2p6", "h3q7")
    ps = [
        Pod(
            f"10.50.{3 * (k // 2) + 64}.{20 + k}:8443",
            f"tasks-api-75cf9d-{s}",
            f"10.50.0.{11 + k // 2}:10250",
        )
        for k, s in enumerate(suffixes)
    ]
    sick = {4, 5}
    routes = [
        Route("GET", "/v2/tasks?assignee={n}", "/v2/tasks", 0.7, 0.02, 6400),
        Route("POST", "/v2/tasks/{n}/complete", "/v2/tasks/{id}/complete", 0.3, 0.03, 200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i in sick and bad(m):
            if rng.random() < 0.6:
                fail(e, 504, 15.0, reached=False, size=24)
                e.extra["flags"] = "UT"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1, 9)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a01:cb00:", "90.12.", "2a01:e0a:", "82.64."],
        clients=500,
        outcome=outcome,
        kind="envoy",
        edge={"job": "tasks-envoy", "instance": "10.50.0.5:9901"},
        rate=lambda m: 9.0,
        cluster="tasks_api",
    )
    for t in every(b, 0, b.minutes, 15, 40):
        k = rng.choice([0, 1, 2, 3] if b.m(t) >= onset else range(6))
        site.say(
            t,
            k,
            tracing(b, t, "INFO", "tasks_api::handlers", "listed tasks", count=rng.randint(1, 60)),
        )
    finish(site, ns, "tasks-api", "api", go=False)
    for n in range(3):
        addr = f"10.50.0.{11 + n}"
        nl = {"job": "node", "instance": f"{addr}:9100"}
        sick_node = n == 2
        node_exporter(
            b,
            nl,
            busy=lambda m, s=sick_node: 0.2 if s and bad(m) else 0.35,
            avail=lambda m: 10e9,
            iowait=lambda m, s=sick_node: 0.55 if s and bad(m) else 0.02,
        )
        dl = {**nl, "device": "nvme0n1"}
        b.counter(
            "node_disk_io_time_seconds_total",
            dl,
            lambda m, s=sick_node: 1.0 if s and bad(m) else 0.08,
            start=4.4e5,
        )
        b.counter(
            "node_disk_write_time_seconds_total",
            dl,
            lambda m, s=sick_node: 45.0 if s and bad(m) else 0.3,
            start=9.1e5,
        )
        b.counter(
            "node_disk_writes_completed_total",
            dl,
            lambda m, s=sick_node: 22.0 if s and bad(m) else 180.0,
            start=7.7e8,
        )

        def ready(m: float, s: bool = sick_node) -> bool:
            return not (s and bad(m) and int(m) % 5 in (1, 2))

        ksm_node_conditions(b, "10.50.0.6:8080", f"ip-10-50-0-{11 + n}", {"Ready": ready})
    kl = {"job": "kubelet", "instance": "10.50.0.13:10250", "unit": "kubelet.service"}
    for t in every(b, onset + 3, b.minutes, 40, 80):
        b.log(
            t,
            kl,
            klog(
                b,
                t,
                "E",
                1184,
                "kubelet.go:2412",
                f'"Skipping pod synchronization" err="PLEG is not healthy: pleg was last seen active '
                f'{3 + rng.randint(0, 2)}m{rng.uniform(0, 59):.6f}s ago; threshold is 3m0s"',
            ),
        )
        if rng.random() < 0.4:
            b.log(
                t + 2,
                kl,
                klog(
                    b,
                    t + 2,
                    "I",
                    1184,
                    "setters.go:334",
                    '"Node became not ready" node="ip-10-50-0-13"',
                ),
            )
    return b
