"""The lab's live DiagnosisPolicy: ``tests/lab/policy.yaml`` made live (``tests/lab/live.py``).

The lab's Prometheus and Loki as signals, the backends' ``podSelector``, range
queries at the lab's scrape interval, the three actions enabled without approval
(a MariaDB account for kills in a Secret), and a verification delay and TTLs set
per scenario (``timing``).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

import yaml
from kubernetes import client

from tests.lab.cluster import CONFIGMAP
from tests.lab.config import SCRAPE_SECONDS
from tests.lab.scenarios import POLICY
from tests.lab.stack import LOKI_TENANT, Lab

POLICY_NAME = "lab"
VERIFY_AFTER = 40.0  # seconds: past the first seconds after an action (requests in flight)
# How long a verification short of resolved keeps looking (``verification.settle``): on
# the loaded 2-core machine a latency comes back over a minute or more after its cause
# ended (the reference's, 0.31 s at its first look against a 0.25 s threshold, then 0.21).
SETTLE = 40.0
SUSTAIN = 20.0  # seconds the symptom must stay healthy (``verification.sustain``)
RATE_WINDOW = 30.0  # the verification's rate window at that sustain (its 30 s minimum)
TTL_MARGIN = 15.0  # seconds a drain or a client rule outlives the last verdict possible


def policy_spec(namespace: str, *, secret: str, lab: Lab | None = None) -> dict[str, Any]:
    """The lab's policy, with the lab's live signals and the three actions enabled."""
    spec: dict[str, Any] = yaml.safe_load(POLICY.read_text(encoding="utf-8"))["spec"]
    for component in spec["components"]:
        if component["name"] == "api":
            component["podSelector"] = {"matchLabels": {"app": "api"}}
            component["namespace"] = namespace
    if lab is not None:
        spec["signals"] = {
            "prometheus": {"url": lab.prometheus.url},
            "loki": {"url": lab.loki_url, "tenant": LOKI_TENANT},
        }
    # A symptom counts once it lasted this long (the alert's `for`, the engine's gate);
    # range queries at the lab's scrape interval: a window of a minute or two of fault
    # holds a dozen points of it, not four (15 s, the default for windows up to 2 h).
    # A latency counts as risen (gate, verification) at twice its baseline: a healthy API's
    # mean latency on the loaded 2-core machine wanders by half (two backends serving
    # while one is drained: 0.565 s against a 0.37 s baseline, the 50% default's 0.555 s).
    spec["thresholds"] = {
        "minSymptomDuration": "30s",
        "step": f"{SCRAPE_SECONDS}s",
        "minLatencyRise": 1.0,
    }
    spec["alerts"] = {"baseline": "4m"}  # the shortest allowed
    # the module's scenarios in one lab within the hour: five actions, and room for those
    # of a Diagnosis a load swing's latency alert makes between scenarios (seen once)
    now = {
        "enabled": True,
        "requireApproval": False,
        "cooldown": "1s",
        "budget": {"maxActions": 12, "window": "1h"},
    }
    timed = timing(VERIFY_AFTER)
    spec["remediation"] = {
        "verification": timed["verification"],
        "drainPod": {**now, **timed["drainPod"]},
        "killMysqlQueries": {
            **now,
            "connection": {"secretRef": {"name": secret}},
            "params": {"minQuerySeconds": 2},
        },
        "rateLimitClient": {
            **now,
            **timed["rateLimitClient"],
            "params": {"provider": "nginx", "configMap": CONFIGMAP, "requestsPerSecond": 1},
        },
    }
    return spec


def timing(after: float) -> dict[str, Any]:
    """The policy's verification delay, settle and TTLs for a scenario whose actions are
    first looked at ``after`` seconds on: the sustained period as short as its rate window
    allows, a pod or a client given back after the last verdict possible (for the next
    scenario, and the TTL restore is seen)."""
    last = max(after, RATE_WINDOW + SUSTAIN) + SETTLE
    ttl = f"{last + TTL_MARGIN:.0f}s"
    return {
        "verification": {
            "after": f"{after:.0f}s",
            "sustain": f"{SUSTAIN:.0f}s",
            "settle": f"{SETTLE:.0f}s",
        },
        "drainPod": {"ttl": ttl},
        "rateLimitClient": {"ttl": ttl},
    }


def mysql_secret(core: client.CoreV1Api, namespace: str, lab: Lab) -> str:
    password = secrets.token_hex(10)
    user = f"killer{uuid.uuid4().hex[:4]}"
    lab.mariadb.create_user(
        name=user, password=password, grants=["PROCESS ON *.*", "CONNECTION ADMIN ON *.*"]
    )
    data = {
        "host": lab.mariadb.host,
        "port": str(lab.mariadb.port),
        "user": user,
        "password": password,
    }
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="lab-mysql-killer"),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )
    return "lab-mysql-killer"
