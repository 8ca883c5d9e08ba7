"""quiet: an hour of normal traffic and ordinary noise; nothing to diagnose.

2026-05-02, window 10:00-11:00 UTC.  Combined access logs with scanners'
404s, a few benign MariaDB and Redis notes, one slow report query, daily
traffic rising gently.  Expected: root ``none``, no affected instance, no
client, no remediation.
"""

from __future__ import annotations

import math

from examples.incidents.sim import BundleWriter, epoch
from examples.incidents.web_stack import Stack, build_stack

NAME = "quiet"


def at(when: str) -> float:
    return epoch(f"2026-05-02T{when}Z")


def build() -> BundleWriter:
    stack = Stack(
        name=NAME,
        bundle_name="quiet-hour",
        description="A normal hour (no incident)",
        seed=2026050210,
        data_start=at("09:50:00"),
        window=("2026-05-02T10:00:00Z", "2026-05-02T11:00:00Z"),
        data_end=at("11:00:00"),
        proxy=("frontend", {"service": "frontend"}),
        app=("accounts", {"service": "accounts"}),
        mysql=("accounts-db", {"service": "accounts-db"}),
        redis=("accounts-cache", {"service": "accounts-cache"}),
        proxy_instance="frontend-0",
        proxy_format="combined",
        app_instances={"10.60.0.5:8081": {}, "10.60.0.6:8081": {}},
        mysql_instance="10.60.1.2:9104",
        redis_instance="10.60.1.3:9121",
        mysql_flavor="mariadb",
        client_prefixes=("192.0.2", "198.18.7", "203.0.113"),
        routes=(
            ("GET", "/accounts/me", 3.0, 700),
            ("POST", "/accounts/login", 1.0, 300),
            ("GET", "/favicon.ico", 0.1, 0),
        ),
        rate=lambda t: 3.0 + 0.5 * math.sin((t - at("10:00:00")) / 3600 * math.pi),
    )
    return build_stack(stack)
