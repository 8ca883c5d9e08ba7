"""Round-7 helpers on top of rounds 3-6 (``holdout3.kit``/``stack``/``exporters``,
``holdout4.common``, ``holdout5.common``, ``holdout6.common``): CoreDNS's own metrics,
prom-client's Node.js runtime series, kube-state-metrics pod phase/reason series, cAdvisor's
CFS throttling counters, and the ``mysqld_exporter`` auto-increment collector.
"""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.kit import Bundle
from examples.incidents.holdout4.common import Pod

Labels = dict[str, str]
F = Callable[[float], float]
G = Callable[[float, int], float]


def coredns_exporter(  # size: one exporter's families, listed in one place
    b: Bundle,
    labels: Labels,
    *,
    qps: F,
    nxdomain: F,
    servfail: F,
    latency: F,
    cpu: F,
) -> None:
    """CoreDNS ``prometheus`` plugin: requests, responses by rcode, forward and cache."""
    zone = {**labels, "server": "dns://:53", "zone": "."}
    for proto, share in (("udp", 0.97), ("tcp", 0.03)):
        for qtype, q in (("A", 0.5), ("AAAA", 0.5)):
            b.counter(
                "coredns_dns_requests_total",
                {**zone, "proto": proto, "family": "1", "type": qtype},
                lambda m, s=share * q: qps(m) * s,
                start=4.1e9 * share * q,
            )
    for rcode, fn in (
        ("NOERROR", lambda m: max(0.0, qps(m) - nxdomain(m) - servfail(m))),
        ("NXDOMAIN", nxdomain),
        ("SERVFAIL", servfail),
    ):
        b.counter(
            "coredns_dns_responses_total",
            {**zone, "rcode": rcode, "plugin": ""},
            fn,
            start=1.1e9 if rcode == "NOERROR" else 2.9e9 if rcode == "NXDOMAIN" else 1_204,
        )
    b.counter(
        "coredns_cache_hits_total",
        {**labels, "server": "dns://:53", "type": "success"},
        lambda m: qps(m) * 0.3,
        start=9.9e8,
    )
    b.counter(
        "coredns_cache_misses_total",
        {**labels, "server": "dns://:53"},
        lambda m: qps(m) * 0.7,
        start=3.0e9,
    )
    b.counter(
        "coredns_forward_requests_total",
        {**labels, "to": "10.0.0.2:53"},
        lambda m: qps(m) * 0.25,
        start=7.7e8,
    )
    b.histogram(
        "coredns_dns_request_duration_seconds",
        {**zone, "type": "A"},
        [(b.t(k / 6.0), latency(k / 6.0)) for k in range(int(b.minutes * 6))],
        buckets=(
            0.00025,
            0.0005,
            0.001,
            0.002,
            0.004,
            0.008,
            0.016,
            0.032,
            0.064,
            0.128,
            0.256,
            0.512,
            1.024,
            2.048,
            4.096,
            8.192,
        ),
    )
    b.gauge(
        "coredns_build_info",
        {**labels, "version": "1.11.1", "revision": "ae2bbc2", "goversion": "go1.20.7"},
        lambda m: 1,
    )
    b.runtime(labels, cpu=cpu, rss=lambda m: 48e6 + qps(m) * 900, goroutines=lambda m: 70)


def nodejs_runtime(
    b: Bundle,
    labels: Labels,
    *,
    lag: F,
    heap: F,
    cpu: F,
    present: Callable[[float], bool] | None = None,
) -> None:
    """prom-client's default Node.js metrics (event loop lag, heap, handles, CPU)."""

    def gate(fn: F) -> Callable[[float], float | None]:
        return lambda m: fn(m) if present is None or present(m) else None

    b.gauge("nodejs_eventloop_lag_seconds", labels, gate(lambda m: round(lag(m), 6)))
    for q, f in (("0.5", 0.8), ("0.9", 1.3), ("0.99", 2.0)):
        b.gauge(
            "nodejs_eventloop_lag_p50_seconds"
            if q == "0.5"
            else "nodejs_eventloop_lag_p90_seconds"
            if q == "0.9"
            else "nodejs_eventloop_lag_p99_seconds",
            labels,
            gate(lambda m, f=f: round(lag(m) * f * b.rng.uniform(0.9, 1.1), 6)),
        )
    b.gauge("nodejs_heap_size_used_bytes", labels, gate(lambda m: int(heap(m))))
    b.gauge("nodejs_heap_size_total_bytes", labels, gate(lambda m: int(heap(m) * 1.3)))
    b.gauge("nodejs_active_handles_total", labels, gate(lambda m: b.rng.randint(20, 40)))
    b.gauge(
        "nodejs_version_info",
        {**labels, "version": "v20.11.1", "major": "20", "minor": "11", "patch": "1"},
        gate(lambda m: 1),
    )
    _ = cpu  # process_* series come from the app side (``Site.apps``)


def ksm_pod_phase(
    b: Bundle,
    ksm: Labels,
    namespace: str,
    pods: list[Pod],
    *,
    reason: Callable[[float, int], str | None] | None = None,
) -> None:
    """kube-state-metrics: ready condition per pod and ``kube_pod_status_reason``."""
    for i, p in enumerate(pods):
        pl = {**ksm, "namespace": namespace, "pod": p.pod, "uid": f"{0x7A110000 + i:08x}"}
        b.gauge(
            "kube_pod_status_ready",
            {**pl, "condition": "true"},
            lambda m, p=p: 1 if p.up(m) else None,
        )
        for r in ("Evicted", "NodeLost", "UnexpectedAdmissionError"):
            b.gauge(
                "kube_pod_status_reason",
                {**pl, "reason": r},
                lambda m, i=i, r=r: 1 if reason is not None and reason(m, i) == r else 0,
            )


def cfs(
    b: Bundle,
    pods: list[Pod],
    namespace: str,
    container: str,
    *,
    throttled: G,
    quota_cores: float,
) -> None:
    """cAdvisor's CFS counters: periods (10/s) and throttled periods and seconds."""
    for i, p in enumerate(pods):
        labels = {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "instance": p.node,
            "namespace": namespace,
            "pod": p.pod,
            "container": container,
        }

        def gate(fn: F, p: Pod = p) -> Callable[[float], float | None]:
            return lambda m: fn(m) if p.up(m) else None

        b.counter("container_cpu_cfs_periods_total", labels, gate(lambda m: 10.0), start=8.1e6)
        b.counter(
            "container_cpu_cfs_throttled_periods_total",
            labels,
            gate(lambda m, i=i: 10.0 * throttled(m, i)),
            start=2.2e5,
        )
        b.counter(
            "container_cpu_cfs_throttled_seconds_total",
            labels,
            gate(lambda m, i=i: 10.0 * throttled(m, i) * 0.04),
            start=9.1e3,
            integer=False,
        )
        b.gauge("container_spec_cpu_quota", labels, gate(lambda m: int(quota_cores * 100000)))
        b.gauge("container_spec_cpu_period", labels, gate(lambda m: 100000))


def auto_increment(
    b: Bundle, labels: Labels, schema: str, table: str, column: str, value: F, maximum: float
) -> None:
    """mysqld_exporter's ``info_schema.auto_increment`` collector."""
    al = {**labels, "schema": schema, "table": table, "column": column}
    b.gauge("mysql_info_schema_auto_increment_column", al, lambda m: int(value(m)))
    b.gauge("mysql_info_schema_auto_increment_column_max", al, lambda m: int(maximum))
