"""bad-pod: one checkout pod leaks memory and burns CPU; only its requests fail.

2026-03-04, window 02:10-03:10 UTC.  Kubernetes labels (pod, namespace) on
the app's series and streams; ingress-nginx access-log format and metrics.  From
02:31 pod ``checkout-6f7c9d8b4-x7k2p`` (10.244.2.17:8080) grows its resident
memory from 300 MB to 1.9 GB with GC pauses, CPU near 1.9 cores, and fails a
third of its requests (500s, zap JSON error logs).  Its three siblings, MySQL
(orders-db) and Redis (cart-redis) stay normal.  Expected: root ``checkout``,
affected that pod's instance, remediation ``drain-pod``.
"""

from __future__ import annotations

import random

from examples.incidents.sim import BundleWriter, epoch, json_line, ramp
from examples.incidents.web_stack import Stack, build_stack

NAME = "bad-pod"
BAD = "10.244.2.17:8080"
PODS = {
    "10.244.1.12:8080": "checkout-6f7c9d8b4-2mzqv",
    "10.244.1.31:8080": "checkout-6f7c9d8b4-9tq4d",
    BAD: "checkout-6f7c9d8b4-x7k2p",
    "10.244.3.8:8080": "checkout-6f7c9d8b4-hw5lr",
}


def at(when: str) -> float:
    return epoch(f"2026-03-04T{when}Z")


def leak(upstream: str, t: float) -> float:
    return ramp(t, at("02:31:00"), at("02:38:00")) if upstream == BAD else 0.0


def app_error(rng: random.Random, upstream: str, t: float) -> str:
    message = rng.choice(
        (
            "handler panic recovered: runtime: out of memory allocating order snapshot",
            "context deadline exceeded while rendering cart (gc pause 1.8s)",
            "http: Handler timeout",
        )
    )
    return json_line(
        level="error",
        ts=round(t, 6),
        caller="checkout/handler.go:212",
        msg=message,
        pod=PODS[upstream],
    )


def build() -> BundleWriter:
    stack = Stack(
        name=NAME,
        bundle_name="checkout-pod-oom",
        description="Intermittent 500s on checkout",
        seed=2026030402,
        data_start=at("02:00:00"),
        window=("2026-03-04T02:10:00Z", "2026-03-04T03:10:00Z"),
        data_end=at("03:10:00"),
        proxy=("ingress", {"job": "ingress-nginx"}),
        app=("checkout", {"app": "checkout"}),
        mysql=("orders-db", {"job": "orders-mysql"}),
        redis=("cart-redis", {"job": "cart-redis"}),
        proxy_instance="ingress-nginx-controller-7b9c4d6f5-kq2lm",
        proxy_format="ingress",
        app_instances={
            upstream: {"pod": pod, "namespace": "shop"} for upstream, pod in PODS.items()
        },
        mysql_instance="orders-mysql-0",
        redis_instance="cart-redis-master-0",
        mysql_flavor="mysql8",
        client_prefixes=("100.64.12", "100.64.40", "100.64.77"),
        routes=(
            ("POST", "/checkout/confirm", 1.0, 640),
            ("GET", "/checkout/summary", 3.0, 2400),
            ("GET", "/checkout/shipping-options", 1.5, 900),
            ("GET", "/favicon.ico", 0.05, 0),
        ),
        rate=lambda t: 5.5,
        symptom={"component": "ingress", "route": "/checkout/confirm"},
        app_trouble=leak,
        app_error=app_error,
        failure_share=0.33,
        slowdown=20.0,
        cpu=lambda instance, t: 0.3 + 1.6 * leak(instance, t),
        memory=lambda instance, t: 3.1e8 + 1.6e9 * leak(instance, t),
    )
    return build_stack(stack)
