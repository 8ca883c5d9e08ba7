# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Message brokers: RabbitMQ's disk alarm blocking the API's publishers, and a Kafka
consumer release that keeps its group rebalancing while the lag grows."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Pod as StackPod
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import envoy_json_line, spring
from examples.incidents.holdout5.common import ecs, within
from examples.incidents.holdout6.common import Pod, Route, every, web
from examples.incidents.holdout8.common import (
    kafka_exporter,
    per,
    per2,
    rabbit_log,
    rabbitmq_exporter,
)

GB = 1e9


def orders_rabbitmq_disk_alarm() -> Bundle:  # size: one linear scenario script
    """A decommissioned audit consumer leaves ``audit.order-events`` without consumers;
    its persistent messages pile up on orders-mq's 60 GB data disk.  At 10:14 the free
    space falls below ``disk_free_limit.absolute = 5GB``: RabbitMQ raises the disk alarm
    and blocks every publishing connection ("Publishers will be blocked until this alarm
    clears").  orders-api publishes OrderPlaced inside POST /api/orders and waits for the
    publisher confirm: each checkout hangs 10 s and ends 500 on every pod alike; GETs work,
    MySQL is calm.  Root: orders-mq (disk alarm).  Sources: RabbitMQ docs "Free Disk Space
    Alarms" and "Blocked Connection Notifications"; the yaook operator MR "single RMQ node
    disk alarm -> stop node" (a disk alarm blocks all publishing connections)."""
    b = Bundle(
        "orders-rabbitmq-disk-alarm",
        "2035-01-16T09:55:00Z",
        description="checkout spins and fails since ~10:15, browsing works",
        symptom={"component": "shop-ingress", "route": "/api/orders"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    alarm = 19.0
    blocked = within(alarm, 99)
    ns = "shop"
    b.component(
        "shop-ingress",
        "proxy",
        {"namespace": "ingress-nginx", "app": "ingress-nginx"},
        ["orders-api"],
    )
    b.component(
        "orders-api", "app", {"namespace": ns, "app": "orders-api"}, ["orders-mq", "orders-db"]
    )
    b.component("orders-mq", "other", {"job": "rabbitmq", "cluster": "orders-mq"})
    b.component("orders-db", "mysql", {"job": "mysql", "cluster": "orders-db"})
    pods = [
        Pod(
            f"10.60.{4 + i // 2}.{31 + i * 7}:8080",
            f"orders-api-7c9d-{s}",
            f"10.60.0.{11 + i}:10250",
        )
        for i, s in enumerate(("hx2k", "p9qz", "w4tn", "zb7m"))
    ]
    routes = [
        Route("GET", "/api/products/{n}", "/api/products/{id}", 0.55, 0.02, 5200),
        Route("GET", "/api/cart", "/api/cart", 0.25, 0.015, 1200),
        Route("POST", "/api/orders", "/api/orders", 0.2, 0.09, 420),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if blocked(m) and e.method == "POST":
            fail(e, 500, 10.0 + rng.uniform(0.01, 0.2), size=96)
            e.extra["blocked"] = True

    edge = {"namespace": "ingress-nginx", "app": "ingress-nginx", "instance": "10.60.0.5:10254"}
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["81.2.69.", "86.147.22.", "92.40.175.", "2a00:23c6:9b0e::"],
        clients=420,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="ingress",
        edge_labels=edge,
        cluster="shop-orders-api-8080",
    )
    seen: set[int] = set()
    for e in site.events:
        i = e.extra["pod"]
        if e.extra.get("blocked"):
            if i not in seen:
                seen.add(i)
                t = b.t(alarm) + rng.uniform(0.1, 1.5)
                site.say(
                    t,
                    i,
                    ecs(
                        b,
                        t,
                        "WARN",
                        "o.s.a.r.c.CachingConnectionFactory",
                        "Connection blocked by broker: low on disk",
                        thread="AMQP Connection 10.60.2.20:5672",
                    ),
                )
            oid = rng.randint(4_100_000, 4_190_000)
            site.say(
                e.t,
                i,
                ecs(
                    b,
                    e.t,
                    "ERROR",
                    "c.s.orders.OrderEventsPublisher",
                    f"Failed to publish OrderPlaced for order {oid}: "
                    "org.springframework.amqp.AmqpTimeoutException: "
                    "java.util.concurrent.TimeoutException: no publisher confirm within 10000 ms",
                    thread=f"http-nio-8080-exec-{rng.randint(1, 200)}",
                ),
            )
    for t in every(b, 0, 50, 120, 300):
        i = rng.randrange(4)
        site.say(t, i, ecs(b, t, "INFO", "c.s.orders.StockSync", "stock snapshot refreshed"))
    site.apps(
        {"namespace": ns, "app": "orders-api"},
        {"namespace": ns, "app": "orders-api", "container": "orders-api"},
        go=False,
        namespace=ns,
        container="orders-api",
        mem=lambda m, i: 910e6,
    )
    mq = {"job": "rabbitmq", "cluster": "orders-mq", "instance": "10.60.2.20:15692"}

    def free(m: float) -> float:
        return 5.9 * GB - m * 0.047 * GB if m < alarm else 4.99 * GB - (m - alarm) * 0.0004 * GB

    def audit(m: float) -> float:
        return 2.61e7 + m * 52_000 if m < alarm else 2.61e7 + alarm * 52_000

    rabbitmq_exporter(
        b,
        mq,
        queues={
            "audit.order-events": (audit, lambda m: 0, lambda m: 0),
            "email.order-confirmation": (
                lambda m: rng.randint(0, 12),
                lambda m: rng.randint(0, 4),
                lambda m: 6,
            ),
            "fulfilment.order-placed": (
                lambda m: rng.randint(0, 20),
                lambda m: rng.randint(0, 8),
                lambda m: 8,
            ),
        },
        published=lambda m: 2.9 if m < alarm else 0.0,
        delivered=lambda m: 1.9 if m < alarm else 0.05,
        disk_free=free,
        disk_limit=5 * GB,
        mem_used=lambda m: 1.31 * GB,
        mem_limit=6.4 * GB,
        blocked=lambda m: 14 if blocked(m) else 0,
    )
    node_exporter(
        b,
        {"job": "rabbitmq", "cluster": "orders-mq", "instance": "10.60.2.20:9100"},
        busy=lambda m: 0.12,
        avail=lambda m: 9.1e9,
        mem_total=16e9,
        fs_avail=free,
        fs_size=60 * GB,
        cores=4,
    )
    mql = {"job": "rabbitmq", "cluster": "orders-mq", "instance": "10.60.2.20:15692"}
    ta = b.t(alarm) - 0.4
    for t, level, msg in (
        (
            ta,
            "warning",
            "Free disk space is insufficient. Free bytes: 4998127616. Limit: 5000000000",
        ),
        (ta + 0.01, "warning", "disk resource limit alarm set on node 'rabbit@orders-mq-1'."),
        (
            ta + 0.02,
            "warning",
            "\n**********************************************************\n"
            "*** Publishers will be blocked until this alarm clears ***\n"
            "**********************************************************",
        ),
    ):
        b.log(t, mql, rabbit_log(b, t, level, "0.443.0", msg))
    for t in every(b, 0, 50, 200, 500):
        b.log(
            t,
            mql,
            rabbit_log(
                b,
                t,
                "info",
                f"0.{rng.randint(20000, 90000)}.0",
                f"accepting AMQP connection 10.60.{rng.randint(4, 5)}.{rng.randint(10, 90)}:"
                f"{rng.randint(30000, 60000)} -> 10.60.2.20:5672",
            ),
        )
    mysqld_exporter(
        b,
        {"job": "mysql", "cluster": "orders-db", "instance": "10.60.3.10:9104"},
        qps=lambda m: 410.0,
        connected=lambda m: 48,
        running=lambda m: 2,
    )
    return b


def shipping_kafka_poll_interval_release() -> Bundle:  # size: one linear scenario script
    """label-worker 5.2.0 (rolled out 08:06-08:10) calls the carrier's label API for each
    record inside the poll loop, with ``max.poll.records`` still 500: one batch takes
    ~6-9 min, over ``max.poll.interval.ms`` = 300000.  Each member leaves the group ("consumer
    poll timeout has expired"), the group rebalances again and again, commits fail
    (CommitFailedException) and the same batches are redone.  The consumer lag of
    ``shipments.created`` climbs from ~200 to ~400 k; shipping-api's label endpoint waits 5 s
    for a label and answers 503 "label not ready" for most new shipments, on every pod
    alike.  Kafka itself is healthy.  Root: label-worker (bad release); roll back or lower
    max.poll.records.  Sources: spring-kafka issue #2337 ("Group consumer stop-the-world
    when one consumer exceed max.poll.interval.ms"); confluent-kafka-python issue #552;
    Apache Kafka consumer configs ``max.poll.interval.ms`` / ``max.poll.records``."""
    b = Bundle(
        "shipping-kafka-poll-interval-release",
        "2035-02-06T07:55:00Z",
        description="warehouse cannot print shipping labels",
        symptom={"component": "ship-gw", "route": "/v1/shipments/{id}/label"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    roll = 11.0
    new = within(roll + 4, 99)
    b.component("ship-gw", "proxy", {"service": "ship-gw"}, ["shipping-api"])
    b.component(
        "shipping-api", "app", {"service": "shipping-api"}, ["shipping-pg", "shipping-kafka"]
    )
    b.component(
        "label-worker", "app", {"service": "label-worker"}, ["shipping-kafka", "shipping-pg"]
    )
    b.component("shipping-kafka", "other", {"service": "shipping-kafka"})
    b.component("shipping-pg", "other", {"service": "shipping-pg"})
    pods = [
        Pod(f"172.19.{40 + i}.{17 + i * 3}:8000", f"shipping-api-66f-{s}")
        for i, s in enumerate("abc")
    ]
    routes = [
        Route("POST", "/v1/shipments", "/v1/shipments", 0.35, 0.04, 600),
        Route("GET", "/v1/shipments/{n}/label", "/v1/shipments/{id}/label", 0.4, 0.03, 48000),
        Route("GET", "/v1/shipments/{n}", "/v1/shipments/{id}", 0.25, 0.01, 1400),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if new(m) and e.extra["route"].endswith("label") and rng.random() < min(0.85, (m - 15) / 8):
            fail(e, 503, 5.0 + rng.uniform(0.0, 0.05), size=71)
            e.extra["pending"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["172.19.100.", "172.19.101.", "172.19.102."],
        clients=90,
        rate=lambda m: 6.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"service": "ship-gw", "instance": "172.19.2.4:9901"},
        cluster="shipping-api",
        fmt=lambda e: envoy_json_line(b, e, "shipping-api", "ship.internal"),
    )
    for e in site.events:
        if e.extra.get("pending") and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                f'{{"level":"warning","logger":"shipping.labels","event":"label not ready",'
                f'"shipment":"{e.path.split("/")[3]}","waited_s":5.0}}',
            )
    site.apps({"service": "shipping-api"}, {"service": "shipping-api"}, go=False)
    workers = [
        StackPod(
            f"172.19.50.{21 + i}:8081",
            f"label-worker-{'5c8f' if i < 3 else '77d4'}-{s}",
            present=(per(lambda m, i: m < roll + 2 + i, i))
            if i < 3
            else (per(lambda m, i: m >= roll + i - 3, i)),
        )
        for i, s in enumerate(("q1", "q2", "q3", "r7", "r8", "r9"))
    ]
    rebalances: list[float] = []
    t = b.t(roll + 9)
    while t < b.t(55):
        rebalances.append(t)
        t += rng.uniform(200, 330)
    for i, w in enumerate(workers):
        wl = {"service": "label-worker", "instance": w.addr, "pod": w.pod}
        b.runtime(wl, cpu=lambda m: 0.2, rss=lambda m: 610e6, present=w.present, go=False)
        b.counter_steps(
            "kafka_consumer_coordinator_rebalance_total",
            {**wl, "client_id": f"consumer-label-worker-{i + 1}"},
            [r for r in rebalances if w.up(b.m(r))] if i >= 3 else [],
            start=3 + i,
            present=w.present,
        )
        b.gauge(
            "kafka_consumer_fetch_manager_records_lag_max",
            {**wl, "client_id": f"consumer-label-worker-{i + 1}"},
            per(
                lambda m, w: (
                    (12000 + (m - 15) * 4200 if m >= 15 else rng.randint(10, 90))
                    if w.up(m)
                    else None
                ),
                w,
            ),
        )
        b.counter(
            "label_worker_labels_created_total",
            wl,
            per2(lambda m, w, i: (0.02 if i >= 3 else 1.1) if w.up(m) else None, w, i),
            start=1.4e6,
        )
    wlog = {"service": "label-worker"}
    for r in rebalances:
        for i in (3, 4, 5):
            w = workers[i]
            t = r + rng.uniform(-8, 8)
            b.log(
                t,
                {**wlog, "instance": w.addr, "pod": w.pod},
                spring(
                    b,
                    t,
                    "WARN",
                    "ntainer#0-0-C-1",
                    "o.a.k.c.c.internals.ConsumerCoordinator",
                    f"[Consumer clientId=consumer-label-worker-{i + 1}, groupId=label-worker] "
                    "consumer poll timeout has expired. This means the time between subsequent "
                    "calls to poll() was longer than the configured max.poll.interval.ms, which "
                    "typically implies that the poll loop is spending too much time processing "
                    "messages. You can address this either by increasing max.poll.interval.ms or "
                    "by reducing the maximum size of batches returned in poll() with "
                    "max.poll.records.",
                ),
            )
            if rng.random() < 0.7:
                t2 = t + rng.uniform(1, 30)
                b.log(
                    t2,
                    {**wlog, "instance": w.addr, "pod": w.pod},
                    spring(
                        b,
                        t2,
                        "ERROR",
                        "ntainer#0-0-C-1",
                        "o.s.k.l.KafkaMessageListenerContainer",
                        "Consumer exception",
                        [
                            "org.apache.kafka.clients.consumer.CommitFailedException: Offset "
                            "commit cannot be completed since the consumer is not part of an "
                            "active group for auto partition assignment; it is likely that the "
                            "consumer was kicked out of the group.",
                            "\tat org.apache.kafka.clients.consumer.internals.ConsumerCoordinator"
                            ".sendOffsetCommitRequest(ConsumerCoordinator.java:1351)",
                        ],
                    ),
                )
    for i, w in enumerate(workers):
        if i >= 3:
            t = b.t(roll + i - 3) + 20
            b.log(
                t,
                {**wlog, "instance": w.addr, "pod": w.pod},
                spring(
                    b,
                    t,
                    "INFO",
                    "main",
                    "c.s.labels.LabelWorkerApplication",
                    "Started LabelWorkerApplication in 14.2 seconds (process running for 15.1) "
                    "version=5.2.0",
                ),
            )
    kafka_exporter(
        b,
        {"service": "shipping-kafka", "instance": "172.19.60.5:9308"},
        topic="shipments.created",
        group="label-worker",
        partitions=6,
        produced=lambda m: 2.1,
        lag=lambda m, p: ramp(m, 15, 55, 30 + p * 4, 64_000 + p * 1_500 * rng.uniform(0.9, 1.1)),
        members=lambda m: 3 if (m < 15 or rng.random() < 0.6) else rng.choice((0, 1, 2)),
    )
    postgres_exporter(
        b,
        {"service": "shipping-pg", "instance": "172.19.61.5:9187"},
        tps=lambda m: 140.0,
        active=lambda m: 4,
        idle=lambda m: 36,
        datname="shipping",
    )
    return b
