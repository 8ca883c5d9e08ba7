"""Request simulation and the exporters that observe it (edge proxies, app RED, cAdvisor, KSM)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from examples.incidents.holdout3.kit import USER_AGENTS, Bundle, Event, lognormal


@dataclass
class Pod:
    addr: str  # ip:port the proxy and Prometheus use
    pod: str = ""
    node: str = ""  # node's kubelet address (cAdvisor's instance)
    present: Callable[[float], bool] | None = None

    def up(self, m: float) -> bool:
        return self.present is None or self.present(m)


@dataclass
class Route:
    method: str
    path: str
    template: str
    weight: float
    median: float
    size: int = 900


Outcome = Callable[[Event, float, int], None]


def serve(
    b: Bundle,
    *,
    rate: Callable[[float], float],
    clients: Callable[[], str],
    routes: list[Route],
    pods: list[Pod],
    outcome: Outcome | None = None,
    agents: tuple[str, ...] = USER_AGENTS,
    start: float = 0.0,
    end: float | None = None,
    choose: Callable[[float, list[int]], int] | None = None,
) -> list[Event]:
    """Ordinary traffic spread over the pods that are up; ``outcome`` bends single requests."""
    out = []
    weights = [r.weight for r in routes]
    rr = 0
    for t in b.arrivals(rate, start, end):
        m = b.m(t)
        live = [i for i, p in enumerate(pods) if p.up(m)] or [0]
        if choose is not None:
            idx = choose(m, live)
        else:
            rr += 1
            idx = live[(rr + b.rng.randint(0, 1)) % len(live)]
        route = b.rng.choices(routes, weights)[0]
        path = route.path.replace("{n}", str(b.rng.randint(1000, 98000)))
        d = lognormal(b, route.median)
        e = Event(
            t=t,
            client=clients(),
            method=route.method,
            path=path,
            status=200,
            duration=d,
            upstream=pods[idx].addr,
            upstream_status="200",
            agent=b.rng.choice(agents),
            size=int(route.size * b.rng.uniform(0.6, 1.5)),
            extra={"pod": idx, "route": route.template, "app_dur": d},
        )
        if outcome is not None:
            outcome(e, m, idx)
        if e.upstream != "-":
            e.extra.setdefault("urt", f"{e.extra['app_dur']:.3f}")
        out.append(e)
    return out


def fail(
    e: Event, status: int, duration: float | None = None, *, reached: bool = True, size: int = 150
) -> None:
    """Turn a request into an error; ``reached`` is whether the app answered it."""
    e.status = status
    e.size = size
    if duration is not None:
        e.duration = duration
        e.extra["app_dur"] = duration
    if reached:
        e.upstream_status = str(status)
    else:
        e.upstream, e.upstream_status = "-", "-"


def app_red(
    b: Bundle,
    pods: list[Pod],
    events: list[Event],
    base: dict[str, str],
    *,
    histogram: str = "http_request_duration_seconds",
    counter: str | None = "http_requests_total",
    code_label: str = "code",
    route_label: str = "handler",
    present_all: bool = False,
) -> None:
    """prometheus_client style RED metrics of every pod, from what reached it."""
    per: dict[tuple[int, str, str, str], list[float]] = defaultdict(list)
    lat: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        if e.upstream == "-" or "pod" not in e.extra:
            continue
        i = e.extra["pod"]
        code = e.upstream_status if e.upstream_status.isdigit() else "499"
        per[(i, e.method, e.extra["route"], code)].append(e.t)
        lat[i].append((e.t, e.extra["app_dur"]))
    for i, pod in enumerate(pods):
        labels = {**base, "instance": pod.addr}
        if pod.pod:
            labels["pod"] = pod.pod
        keys = sorted(k for k in per if k[0] == i)
        if not any(k[3] == "200" for k in keys):
            keys.append((i, "GET", "/healthz", "200"))
        for key in keys if counter else []:
            _, method, route, code = key
            b.counter_steps(
                counter,
                {**labels, "method": method, route_label: route, code_label: code},
                per.get(key, []),
                present=pod.present,
            )
        b.histogram(histogram, labels, lat[i], present=pod.present)


def nginx_exporter(
    b: Bundle,
    labels: dict[str, str],
    events: list[Event],
    active: Callable[[float], float],
    *,
    cap: float | None = None,
) -> None:
    """nginx-prometheus-exporter (stub_status) series of one nginx."""
    times = [e.t for e in events]
    b.counter_steps("nginx_http_requests_total", labels, times, start=1_204_311)
    b.counter_steps("nginx_connections_accepted", labels, times[::3], start=402_118)
    b.counter_steps(
        "nginx_connections_handled",
        labels,
        [e.t for e in events[::3] if not e.extra.get("edge_alert")],
        start=402_118,
    )

    def act(m: float) -> float:
        v = active(m) * b.rng.uniform(0.9, 1.1)
        return int(min(v, cap) if cap else v)

    b.gauge("nginx_connections_active", labels, act)
    b.gauge("nginx_connections_reading", labels, lambda m: b.rng.randint(0, 3))
    b.gauge("nginx_connections_writing", labels, lambda m: max(1, int(act(m) * 0.3)))
    b.gauge("nginx_connections_waiting", labels, lambda m: int(act(m) * 0.65))
    b.gauge("nginx_up", labels, lambda m: 1)


def ingress_metrics(b: Bundle, labels: dict[str, str], events: list[Event]) -> None:
    """ingress-nginx controller request counters and duration histogram per status."""
    by_status: dict[str, list[float]] = defaultdict(list)
    for e in events:
        by_status[str(e.status)].append(e.t)
    for status, times in sorted(by_status.items()):
        b.counter_steps(
            "nginx_ingress_controller_requests",
            {**labels, "status": status, "method": "GET"},
            times,
        )
    b.histogram(
        "nginx_ingress_controller_request_duration_seconds",
        labels,
        [(e.t, e.duration) for e in events],
    )


def cadvisor(
    b: Bundle,
    pods: list[Pod],
    namespace: str,
    container: str,
    cpu: Callable[[float, int], float],
    mem: Callable[[float, int], float],
    limit: float | None = None,
) -> None:
    """container_* series as the kubelet's cAdvisor endpoint publishes them."""
    for i, pod in enumerate(pods):
        labels = {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "instance": pod.node,
            "namespace": namespace,
            "pod": pod.pod,
            "container": container,
        }

        def gate(fn: Callable[[float], float], i: int = i, pod: Pod = pod) -> Callable:
            return lambda m: fn(m) if pod.up(m) else None

        b.counter(
            "container_cpu_usage_seconds_total",
            labels,
            gate(lambda m, i=i: cpu(m, i)),
            integer=False,
            help_text="Cumulative cpu time consumed in seconds.",
        )
        b.gauge(
            "container_memory_working_set_bytes",
            labels,
            gate(lambda m, i=i: int(mem(m, i) * b.rng.uniform(0.995, 1.005))),
            "Current working set in bytes.",
        )
        if limit:
            b.gauge("container_spec_memory_limit_bytes", labels, gate(lambda m: limit))


def ksm_restarts(
    b: Bundle,
    ksm_addr: str,
    namespace: str,
    container: str,
    pods: list[Pod],
    restarts: dict[int, list[float]],
    reason: str = "OOMKilled",
) -> None:
    """kube-state-metrics: restart counters and the last termination reason."""
    for i, pod in enumerate(pods):
        labels = {
            "job": "kube-state-metrics",
            "instance": ksm_addr,
            "namespace": namespace,
            "pod": pod.pod,
            "container": container,
            "uid": "%08x" % (0x5EED0000 + i),
        }
        times = [b.t(m) for m in restarts.get(i, [])]
        b.counter_steps(
            "kube_pod_container_status_restarts_total", labels, times, present=pod.present
        )
        first = min(times) if times else None
        b.gauge(
            "kube_pod_container_status_last_terminated_reason",
            {**labels, "reason": reason},
            lambda m, first=first: None if first is None or b.t(m) < first else 1,
        )


def envoy_exporter(
    b: Bundle,
    labels: dict[str, str],
    cluster: str,
    events: list[Event],
    *,
    cx_active: Callable[[float], float] | None = None,
) -> None:
    """Envoy admin /stats/prometheus: downstream and upstream request counters by class."""
    down: dict[str, list[float]] = defaultdict(list)
    up: dict[str, list[float]] = defaultdict(list)
    upstream_times = []
    for e in events:
        down[str(e.status)[0]].append(e.t)
        if e.upstream != "-":
            upstream_times.append(e.t)
            up[(e.upstream_status if e.upstream_status.isdigit() else "503")[0]].append(e.t)
    hcm = {**labels, "envoy_http_conn_manager_prefix": "ingress_http"}
    for cls in ("2", "4", "5"):
        b.counter_steps(
            "envoy_http_downstream_rq_xx",
            {**hcm, "envoy_response_code_class": cls},
            down.get(cls, []),
            start=0,
        )
    cl = {**labels, "envoy_cluster_name": cluster}
    b.counter_steps("envoy_cluster_upstream_rq_total", cl, upstream_times)
    for cls in ("2", "4", "5"):
        b.counter_steps(
            "envoy_cluster_upstream_rq_xx",
            {**cl, "envoy_response_code_class": cls},
            up.get(cls, []),
        )
    b.counter_steps("envoy_cluster_upstream_rq_pending_overflow", cl, [])
    b.counter_steps(
        "envoy_cluster_upstream_rq_timeout",
        cl,
        [e.t for e in events if e.extra.get("flags") == "UT"],
    )
    b.gauge(
        "envoy_cluster_upstream_cx_active", cl, cx_active or (lambda m: 24 + b.rng.randint(0, 4))
    )
    b.gauge(
        "envoy_cluster_membership_healthy",
        cl,
        lambda m: len({e.upstream for e in events[:200] if e.upstream != "-"}),
    )
    b.gauge("envoy_server_live", labels, lambda m: 1)
    b.gauge("envoy_server_uptime", labels, lambda m: int(912_000 + m * 60))
    b.histogram(
        "envoy_http_downstream_rq_time",
        hcm,
        [(e.t, e.duration * 1000) for e in events],
        buckets=(5, 25, 100, 500, 1000, 5000, 30000, 60000),
    )
