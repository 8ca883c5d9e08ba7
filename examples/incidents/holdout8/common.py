"""Round-8 helpers on top of rounds 3-7 (``holdout3.kit``/``stack``/``exporters``,
``holdout4``-``holdout7`` common helpers): RabbitMQ's built-in Prometheus plugin, the
kafka_exporter consumer-group series, the blackbox exporter's HTTP probe (with its TLS
expiry gauge), gunicorn/uvicorn access lines and the RabbitMQ log format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from examples.incidents.holdout3.kit import Bundle

Labels = dict[str, str]
F = Callable[[float], float]


def rabbitmq_exporter(  # size: one exporter's families, listed in one place
    b: Bundle,
    labels: Labels,
    *,
    queues: dict[str, tuple[F, F, F]],
    published: F,
    delivered: F,
    disk_free: F,
    disk_limit: float,
    mem_used: F,
    mem_limit: float,
    blocked: F | None = None,
) -> None:
    """rabbitmq_prometheus (port 15692): per-queue ready/unacked/consumers, global
    publish/deliver counters, disk and memory watermarks, alarms, connections."""
    for queue, (ready, unacked, consumers) in queues.items():
        ql = {**labels, "vhost": "/", "queue": queue}
        b.gauge("rabbitmq_queue_messages_ready", ql, per(lambda m, f: int(f(m)), ready))
        b.gauge("rabbitmq_queue_messages_unacked", ql, per(lambda m, f: int(f(m)), unacked))
        b.gauge("rabbitmq_queue_consumers", ql, per(lambda m, f: int(f(m)), consumers))
        b.gauge(
            "rabbitmq_queue_messages", ql, per2(lambda m, r, u: int(r(m) + u(m)), ready, unacked)
        )
    pl = {**labels, "protocol": "amqp091"}
    b.counter("rabbitmq_global_messages_received_total", pl, published, start=8.1e8)
    b.counter("rabbitmq_global_messages_routed_total", pl, published, start=8.1e8)
    b.counter("rabbitmq_global_messages_delivered_total", pl, delivered, start=8.0e8)
    b.counter("rabbitmq_global_messages_acknowledged_total", pl, delivered, start=8.0e8)
    b.counter(
        "rabbitmq_global_messages_confirmed_total", pl, lambda m: published(m) * 0.98, start=7e8
    )
    b.gauge("rabbitmq_disk_space_available_bytes", labels, lambda m: int(disk_free(m)))
    b.gauge("rabbitmq_disk_space_available_limit_bytes", labels, lambda m: int(disk_limit))
    b.gauge("rabbitmq_process_resident_memory_bytes", labels, lambda m: int(mem_used(m)))
    b.gauge("rabbitmq_resident_memory_limit_bytes", labels, lambda m: int(mem_limit))
    b.gauge(
        "rabbitmq_alarms_free_disk_space_watermark",
        labels,
        lambda m: 1 if disk_free(m) < disk_limit else 0,
    )
    b.gauge(
        "rabbitmq_alarms_memory_used_watermark",
        labels,
        lambda m: 1 if mem_used(m) > mem_limit else 0,
    )
    b.gauge("rabbitmq_alarms_file_descriptor_limit", labels, lambda m: 0)
    b.gauge("rabbitmq_connections", labels, lambda m: 46 + b.rng.randint(0, 3))
    b.gauge("rabbitmq_channels", labels, lambda m: 92 + b.rng.randint(0, 6))
    b.gauge("rabbitmq_consumers", labels, lambda m: 24)
    b.counter("rabbitmq_connections_opened_total", labels, lambda m: 0.02, start=18_204)
    b.gauge(
        "rabbitmq_connections_blocked",
        labels,
        (lambda m: int(blocked(m))) if blocked is not None else (lambda m: 0),
    )
    b.gauge("rabbitmq_process_open_fds", labels, lambda m: 212 + b.rng.randint(0, 9))
    b.gauge("rabbitmq_process_max_fds", labels, lambda m: 1048576)
    b.gauge("rabbitmq_erlang_processes_used", labels, lambda m: 1804 + b.rng.randint(0, 40))
    b.gauge(
        "rabbitmq_build_info",
        {**labels, "rabbitmq_version": "3.13.7", "erlang_version": "26.2.5"},
        lambda m: 1,
    )


def rabbit_log(b: Bundle, t: float, level: str, pid: str, msg: str) -> str:
    """RabbitMQ 3.13's default log line: ``2035-01-02 10:11:12.345678+00:00 [warning] <0.1.0> msg``."""
    d = b.dt(t)
    return f"{d.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00 [{level}] <{pid}> {msg}"


def kafka_exporter(
    b: Bundle,
    labels: Labels,
    *,
    topic: str,
    group: str,
    partitions: int,
    produced: F,
    lag: Callable[[float, int], float],
    members: F,
) -> None:
    """danielqsj/kafka_exporter: offsets per partition, consumer-group lag and members."""
    b.gauge("kafka_brokers", labels, lambda m: 3)
    b.gauge("kafka_topic_partitions", {**labels, "topic": topic}, lambda m: partitions)
    for p in range(partitions):
        pl = {**labels, "topic": topic, "partition": str(p)}
        base = 4.1e7 + p * 3.3e5

        def offset(m: float, base: float = base) -> float:
            return base + produced(0) * 60 * m / partitions

        b.gauge("kafka_topic_partition_current_offset", pl, per(lambda m, o: int(o(m)), offset))
        b.gauge(
            "kafka_topic_partition_oldest_offset", pl, per(lambda m, o: int(o(0) - 9e6), offset)
        )
        b.gauge("kafka_topic_partition_in_sync_replica", pl, lambda m: 3)
        b.gauge("kafka_topic_partition_leader", pl, per(lambda m, p: p % 3, p))
        b.gauge("kafka_topic_partition_under_replicated_partition", pl, lambda m: 0)
        gl = {**pl, "consumergroup": group}
        b.gauge(
            "kafka_consumergroup_current_offset",
            gl,
            per2(lambda m, o, p: int(o(m) - lag(m, p)), offset, p),
        )
        b.gauge("kafka_consumergroup_lag", gl, per(lambda m, p: int(lag(m, p)), p))
    b.gauge(
        "kafka_consumergroup_lag_sum",
        {**labels, "consumergroup": group, "topic": topic},
        lambda m: int(sum(lag(m, p) for p in range(partitions))),
    )
    b.gauge("kafka_consumergroup_members", {**labels, "consumergroup": group}, members)


def blackbox_probe(
    b: Bundle,
    labels: Labels,
    *,
    success: Callable[[float], bool],
    status: F,
    duration: F,
    cert_expiry: float | None = None,
) -> None:
    """blackbox_exporter's http prober series as Prometheus stores them."""
    b.gauge("probe_success", labels, lambda m: 1 if success(m) else 0)
    b.gauge("probe_http_status_code", labels, lambda m: int(status(m)))
    b.gauge("probe_duration_seconds", labels, lambda m: round(duration(m), 6))
    b.gauge("probe_http_redirects", labels, lambda m: 0)
    b.gauge("probe_http_ssl", labels, lambda m: 1 if cert_expiry is not None else 0)
    b.gauge("probe_ip_protocol", labels, lambda m: 4)
    b.gauge("probe_http_content_length", labels, lambda m: 0 if status(m) >= 300 else 17)
    for phase, share in (
        ("resolve", 0.02),
        ("connect", 0.1),
        ("tls", 0.3),
        ("processing", 0.5),
        ("transfer", 0.08),
    ):
        b.gauge(
            "probe_http_duration_seconds",
            {**labels, "phase": phase},
            per(lambda m, s: round(duration(m) * s, 6), share),
        )
    if cert_expiry is not None:
        b.gauge("probe_ssl_earliest_cert_expiry", labels, lambda m: int(cert_expiry))


def gunicorn_line(
    b: Bundle, t: float, client: str, method: str, path: str, status: int, us: int
) -> str:
    """gunicorn's access log with ``%(D)s`` (microseconds) appended."""
    d = b.dt(t)
    return (
        f'{client} - - [{d.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {path} HTTP/1.1" '
        f'{status} {b.rng.randint(90, 2400)} "-" "python-requests/2.32.3" {us}'
    )


def node_disk(
    b: Bundle,
    labels: Labels,
    device: str,
    *,
    util: F,
    latency: F,
    iops: F,
) -> None:
    """node_exporter's diskstats collector: io time, read/write time and completions."""
    dl = {**labels, "device": device}
    b.counter("node_disk_io_time_seconds_total", dl, util, start=8.8e5, integer=False)
    b.counter(
        "node_disk_read_time_seconds_total",
        dl,
        lambda m: iops(m) * 0.7 * latency(m),
        start=2.1e6,
        integer=False,
    )
    b.counter(
        "node_disk_write_time_seconds_total",
        dl,
        lambda m: iops(m) * 0.3 * latency(m),
        start=1.4e6,
        integer=False,
    )
    b.counter("node_disk_reads_completed_total", dl, lambda m: iops(m) * 0.7, start=9.2e8)
    b.counter("node_disk_writes_completed_total", dl, lambda m: iops(m) * 0.3, start=4.4e8)
    b.gauge("node_disk_io_now", dl, lambda m: int(iops(m) * latency(m)))


def node_fs_readonly(b: Bundle, labels: Labels, mountpoint: str, device: str, ro: F) -> None:
    """node_exporter's filesystem collector: ``node_filesystem_readonly`` and errors."""
    fl = {**labels, "mountpoint": mountpoint, "device": device, "fstype": "ext4"}
    b.gauge("node_filesystem_readonly", fl, lambda m: int(ro(m)))
    b.gauge("node_filesystem_device_error", fl, lambda m: 0)


A = TypeVar("A")
B = TypeVar("B")
R = TypeVar("R")


def per(fn: Callable[[float, A], R], a: A) -> Callable[[float], R]:
    """``fn`` with its second argument bound (a typed stand-in for ``lambda m, a=a: ...``)."""

    def bound(m: float) -> R:
        return fn(m, a)

    return bound


def per2(fn: Callable[[float, A, B], R], a: A, b2: B) -> Callable[[float], R]:
    """``fn`` with its second and third arguments bound."""

    def bound(m: float) -> R:
        return fn(m, a, b2)

    return bound
