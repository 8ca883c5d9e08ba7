"""The loop closed, live: lab faults, alerts, Diagnoses, the operator's actions, verified.

One lab serves a module's scenarios, one after the other, against an operator
release of its own (``tests/controlplane/release.py``: the chart's ServiceAccount,
the webhook in ``remediate`` mode) on the test apiserver.  ``live_stage(world)``:

1. a namespace the operator serves; the lab, whose Alertmanager routes to the
   operator's webhook for the policy ``lab`` of that namespace; the backends as
   Pods behind the Service ``api`` and nginx's upstream synced from its
   EndpointSlices (``tests/lab/cluster.py``); the chart's nginx-reloader sidecar
   delivering the operator's rule ConfigMap into nginx; Prometheus with
   ``LIVE_RULES``;
2. users browse through nginx; after ``WARMUP + BASELINE``, once no lab alert
   fires or pends, the lab's DiagnosisPolicy (``tests/lab/policy.yaml`` with its
   signals, the backends' ``podSelector``, a MariaDB account for kills in a
   Secret, the three actions enabled without approval and short TTLs) is created.

``run_live(world, stage, scenario)``: once every pod is served again (a drain's
TTL ran out) and no lab alert fires or pends, and after ``GAP`` more of calm
traffic (the next window's baseline; ``RETURNED_GAP`` when a pod was still out), the
fault script runs as its own process
(``python -m tests.lab.fault NAME``) until the scenario is observed; what happens
is kept in a ``LiveRun``: when a lab alert first fires in Prometheus, when the
first Diagnosis (created since the fault) appeared, every Diagnosis the fault's
alert groups make, each action's own record, what the world looks like once it
is applied (``tests/lab/observe.py``), each verification, the final statuses and
Events.

Nothing here judges the diagnosis: the tests do, from the ``LiveRun``.  Every wait
has a deadline for failing, not a measured threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.operator import onboard
from tests.controlplane.release import ReleaseOperator
from tests.e2e.drain_world import new_namespace, ready_addresses
from tests.k8s_json import as_json
from tests.lab import fault as faults
from tests.lab import traffic
from tests.lab.cluster import (
    SERVICE,
    UpstreamSync,
    backend_pods,
    pod_ips,
    reloader_sidecar,
    remove_namespace,
)
from tests.lab.explain import delivery_report
from tests.lab.live_policy import POLICY_NAME, VERIFY_AFTER, mysql_secret, policy_spec, timing
from tests.lab.observe import Observations, observe_applied, wait_for
from tests.lab.stack import LOKI_TENANT, Lab, start_lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import clean_env

WARMUP = 20.0
BASELINE = 50.0
GAP = 30.0  # calm traffic between one scenario's end and the next fault
# ... when a pod came back (a drain's TTL ran out) only now: the next Diagnosis' window
# opens its 90 s lookback before the alert, about 30-40 s before the fault; a pod back for
# less than a rate window by then has no points in the window's first part, no baseline
# of its own, and is judged on its siblings alone (a run: the pod back from the failing
# backend's drain 35 s before the lock-holding job, singled out by its latency during the
# lock waits all three shared, and drained beside the kill).
RETURNED_GAP = 75.0
USERS_SECONDS = 30 * 60.0  # the users' bound (stopped with the lab)

# The lab's rules (tests/lab/config.py) with the latency rule relative to its own recent
# past: on a loaded 2-core machine the API's p95 sits near the lab's absolute 0.5 s all the
# time, while on an idle one a flood of one client raises it from tens of milliseconds to
# a few tenths (CPU-bound backends): its floor is 0.1 s, not 0.5 s, so the flood is an
# incident on either.  Pending 45 s: the Diagnosis' window, which ends at the notification,
# holds what a per-instance 1m rate shows of one instance's own trouble for long enough to
# be sustained (at 30 s it ended about as soon as that rate had risen).  The rules the
# operator renders from a policy (`policy render`) compare with a 4m baseline behind a
# 2m rate window: six minutes of history a short CI run lacks.
LIVE_RULES = """\
groups:
  - name: lab-live
    rules:
      - alert: LabApiErrorRatioHigh
        expr: >
          sum(rate(http_requests_total{job="api",code=~"5.."}[1m]))
          / sum(rate(http_requests_total{job="api"}[1m])) > 0.05
        for: 45s
        labels: {severity: page, component: api}
        annotations: {summary: "more than 5% of API requests fail"}
      - alert: LabApiLatencyHigh
        expr: >
          histogram_quantile(0.95,
            sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[1m])))
          > 1.5 * quantile_over_time(0.5, histogram_quantile(0.95,
            sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[1m])))[2m:10s]
            offset 1m)
          and histogram_quantile(0.95,
            sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[1m]))) > 0.1
        for: 45s
        labels: {severity: page, component: api}
        annotations: {summary: "API p95 latency 50% above what it was and above 0.1 s"}
"""


@dataclass(frozen=True)
class LiveScenario:
    """A fault and what healing it takes (from the injection, never from the engine)."""

    name: str
    fault: str
    seconds: float  # how long the fault script runs
    kill: bool = False
    drain: bool = False
    client: str | None = None  # the client address to be limited or denied
    ttl_restore: bool = False  # wait for the client rule's TTL to run out
    # When actions are verified: past the end of any part of the fault no action removes
    # (the reference's slow cache lasts as long as its script does).
    verify_after: float = VERIFY_AFTER

    @property
    def actions(self) -> set[str]:
        return (
            ({"kill-mysql-queries"} if self.kill else set())
            | ({"drain-pod"} if self.drain else set())
            | ({"rate-limit-client"} if self.client else set())
        )


@dataclass
class LiveRun:
    scenario: LiveScenario
    namespace: str
    degraded: str  # the pod address of the backend a fault degrades
    marks: dict[str, float] = field(default_factory=dict)  # epoch seconds of each step
    diagnoses: list[dict[str, Any]] = field(default_factory=list)  # final objects, first first
    events: set[str] = field(default_factory=set)
    seen: Observations = field(default_factory=Observations)
    sync_errors: list[str] = field(default_factory=list)
    firing: list[str] = field(default_factory=list)  # lab alerts that fired
    others: list[dict[str, Any]] = field(default_factory=list)  # every Diagnosis, in short

    @property
    def diagnosis(self) -> dict[str, Any]:
        """The first Diagnosis the fault's alerts made."""
        return self.diagnoses[0] if self.diagnoses else {}

    @property
    def remediations(self) -> list[dict[str, Any]]:
        """Every Diagnosis' actions (one alert group each: several may act)."""
        return [
            item
            for diagnosis in self.diagnoses
            for item in (diagnosis.get("status") or {}).get("remediations") or []
        ]

    def timings(self) -> dict[str, float | None]:
        """alert fired -> Diagnosis created -> first action -> last action verified (s)."""
        marks = self.marks

        def between(a: str, b: str) -> float | None:
            return round(marks[b] - marks[a], 1) if a in marks and b in marks else None

        return {
            "alert_to_diagnosis": between("alert", "created"),
            "diagnosis_to_first_action": between("created", "first_action"),
            "first_action_to_verified": between("first_action", "verified"),
        }


@dataclass
class World:
    """The handles one run needs."""

    plane: ControlPlane
    kube_admin: client.ApiClient
    operator: ReleaseOperator
    workdir: Path

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.kube_admin)

    def diagnoses(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's Diagnoses, the first created first."""
        found = self.custom.list_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnoses"
        )
        items: list[dict[str, Any]] = as_json(found)["items"]
        return sorted(items, key=lambda d: str(d["metadata"]["creationTimestamp"]))

    def events(self, namespace: str, name: str) -> set[str]:
        listed = client.CoreV1Api(self.kube_admin).list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}"
        )
        return {str(event.reason) for event in listed.items}


@dataclass
class Stage:
    """The one lab a module's scenarios share, as a cluster runs it (module docstring)."""

    namespace: str
    lab: Lab
    sync: UpstreamSync
    pods: dict[str, str]  # pod name -> pod address


def _prepare(world: World, stack: ExitStack) -> Stage:
    kube_admin = world.kube_admin
    core = client.CoreV1Api(kube_admin)
    namespace = new_namespace(core, "live")
    stack.callback(remove_namespace, core, namespace)
    onboard(kube_admin, world.operator.install, namespace)
    lab = start_lab(
        workdir=world.workdir / "lab",
        webhook_url=world.operator.webhook_url(namespace, POLICY_NAME),
        token=world.operator.webhook_token,
        pod_ips=pod_ips(),
        rules=LIVE_RULES,
    )
    stack.callback(lab.stop)
    hosts = [address.rsplit(":", 1)[0] for address in lab.backends]
    pods = backend_pods(core, client.AppsV1Api(kube_admin), namespace, hosts)
    discovery = client.DiscoveryV1Api(kube_admin)
    wait_for(
        "every backend pod in the Service's EndpointSlice",
        lambda: ready_addresses(discovery, namespace, SERVICE) == set(pods.values()),
    )
    port = int(lab.backends[0].rsplit(":", 1)[1])
    sync = UpstreamSync(discovery=discovery, namespace=namespace, nginx=lab.nginx, port=port)
    sync.sync_once()
    sync.start()
    stack.callback(sync.stop)
    stack.enter_context(reloader_sidecar(world.plane, kube_admin, namespace, lab))
    return Stage(namespace=namespace, lab=lab, sync=sync, pods=pods)


@contextmanager
def live_stage(world: World) -> Iterator[Stage]:
    """Start the shared lab: users browse through nginx; after ``WARMUP + BASELINE``, once
    no lab alert fires or pends, the lab's DiagnosisPolicy is created.

    Until the policy exists the webhook refuses the lab's alerts (404), so a warm-up's
    false alarm makes no Diagnosis.  Everything started is stopped on exit, the
    namespace deleted.
    """
    with ExitStack() as stack:
        stage = _prepare(world, stack)
        stop = threading.Event()
        users = threading.Thread(
            target=traffic.users,
            kwargs={"url": stage.lab.nginx.url, "seconds": USERS_SECONDS, "stop": stop},
            daemon=True,
        )
        users.start()
        stack.callback(users.join, 60)
        stack.callback(stop.set)
        time.sleep(WARMUP + BASELINE)
        wait_for("the lab calm", lambda: _calm(stage.lab), timeout=180)
        _create_policy(world, stage.namespace, stage.lab)
        yield stage


def _create_policy(world: World, namespace: str, lab: Lab) -> None:
    """The lab's DiagnosisPolicy: from now on the webhook routes the lab's alerts to it."""
    secret = mysql_secret(client.CoreV1Api(world.kube_admin), namespace, lab)
    world.custom.create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnosispolicies",
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "DiagnosisPolicy",
            "metadata": {"name": POLICY_NAME},
            "spec": policy_spec(namespace, secret=secret, lab=lab),
        },
    )


def _calm(lab: Lab) -> bool:
    """No lab alert firing or pending (a loaded machine's warm-up can page)."""
    return not lab.prometheus.api("alerts")["data"]["alerts"]


def _served(world: World, stage: Stage) -> bool:
    """Every pod in the Service and nginx's upstream."""
    discovery = client.DiscoveryV1Api(world.kube_admin)
    pods = set(stage.pods.values())
    served = ready_addresses(discovery, stage.namespace, SERVICE) == pods
    return served and set(stage.sync.served()) == pods


def _ready_for_a_fault(world: World, stage: Stage) -> bool:
    """Every pod back in the Service and nginx's upstream, and no lab alert."""
    return _served(world, stage) and _calm(stage.lab)


@contextmanager
def _injected(stage: Stage, scenario: LiveScenario) -> Iterator[None]:
    """The fault script as its own process, stopped (its changes undone) on exit."""
    injector = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.lab.fault", scenario.fault),
            *("--workdir", str(stage.lab.workdir), "--seconds", str(scenario.seconds)),
        ],
        cwd=REPO_ROOT,
        env=clean_env({"PYTHONPATH": f"{REPO_ROOT / 'operator'}:{REPO_ROOT}"}),
    )
    try:
        yield
    finally:
        injector.terminate()
        try:
            injector.wait(timeout=60)
        except subprocess.TimeoutExpired:
            injector.kill()
            injector.wait()


def delivery(world: World, stage: Stage) -> str:
    """Where a lab alert's way to a Diagnosis stopped (``explain.delivery_report``)."""
    return delivery_report(
        stage.lab,
        operator_log=world.operator.log_text,
        diagnoses=lambda: [_short(d) for d in world.diagnoses(stage.namespace)],
    )


def _firing(lab: Lab) -> list[str]:
    alerts = lab.prometheus.api("alerts")["data"]["alerts"]
    return sorted({a["labels"]["alertname"] for a in alerts if a["state"] == "firing"})


def _created(run: LiveRun, lab: Lab, current: Callable[[], list[dict[str, Any]]]) -> bool:
    if "alert" not in run.marks and (fired := _firing(lab)):
        run.marks["alert"] = time.time()
        run.firing = fired
    found = current()
    if not found:
        return False
    run.marks["created"] = _stamp(found[0])
    return True


def _short(diagnosis: dict[str, Any]) -> dict[str, Any]:
    status = diagnosis.get("status") or {}
    return {
        "name": diagnosis["metadata"]["name"],
        "alerts": diagnosis["metadata"].get("annotations", {}).get(f"{API_GROUP}/alertnames"),
        "created": diagnosis["metadata"]["creationTimestamp"],
        "phase": status.get("phase"),
        "rootCause": (status.get("rootCause") or {}).get("component"),
        "actions": [
            (i.get("action"), i.get("target"), i.get("state"))
            for i in status.get("remediations") or []
        ],
    }


def _mine(diagnoses: list[dict[str, Any]], since: float) -> list[dict[str, Any]]:
    """The Diagnoses created at or after ``since`` (the apiserver stamps whole seconds)."""
    return [d for d in diagnoses if _stamp(d) >= int(since)]


def _stamp(diagnosis: dict[str, Any]) -> float:
    text = str(diagnosis["metadata"]["creationTimestamp"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def record_window(stage: Stage, diagnosis: dict[str, Any], out: Path) -> None:
    """The Diagnosis' window as an incident bundle in ``out`` (``bundle record`` from the
    lab's Prometheus and Loki under the live policy), to diagnose it again offline."""
    window = diagnosis["spec"]["window"]
    policy = out.with_suffix(".policy.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        yaml.safe_dump(
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "DiagnosisPolicy",
                "metadata": {"name": POLICY_NAME},
                "spec": policy_spec(stage.namespace, secret="unused", lab=stage.lab),
            }
        ),
        encoding="utf-8",
    )
    bounds = [
        repr(datetime.fromisoformat(window[k].replace("Z", "+00:00")).timestamp())
        for k in ("start", "end")
    ]
    subprocess.run(
        [
            *(sys.executable, "-m", "diagnosis_operator", "bundle", "record"),
            *("--prometheus", stage.lab.prometheus.url, "--loki", stage.lab.loki_url),
            *("--loki-tenant", LOKI_TENANT, "--policy", str(policy)),
            *("--from", bounds[0], "--to", bounds[1], "--out", str(out)),
            *("--symptom-component", diagnosis["spec"]["symptom"]["component"]),
        ],
        check=True,
        cwd=REPO_ROOT,
        env=clean_env({"PYTHONPATH": f"{REPO_ROOT / 'operator'}:{REPO_ROOT}"}),
        timeout=300,
    )


def run_live(world: World, stage: Stage, scenario: LiveScenario) -> LiveRun:
    """Play ``scenario`` on the shared lab (module docstring); its fault stopped on return."""
    lab, namespace = stage.lab, stage.namespace
    returned = not _served(world, stage)  # a pod out now comes back below
    wait_for("every pod served and the lab calm", lambda: _ready_for_a_fault(world, stage))
    # the next window's baseline: calm traffic, every pod served, before the fault
    time.sleep(RETURNED_GAP if returned else GAP)
    wait_for("the lab calm", lambda: _calm(lab), timeout=180)
    run = LiveRun(
        scenario=scenario,
        namespace=namespace,
        # the pod's address (an instance is ADDRESS:PORT; slices and upstreams name addresses)
        degraded=lab.state["instances"][lab.backends[faults.DEGRADED]].rsplit(":", 1)[0],
    )
    world.custom.patch_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnosispolicies",
        POLICY_NAME,
        {"spec": {"remediation": timing(scenario.verify_after)}},
    )
    run.marks["fault"] = time.time()

    def current() -> list[dict[str, Any]]:
        return _mine(world.diagnoses(namespace), run.marks["fault"])

    with _injected(stage, scenario):
        wait_for(
            "the webhook's Diagnosis",
            lambda: _created(run, lab, current),
            explain=lambda: delivery(world, stage),
        )
        run.marks.setdefault("alert", run.marks["created"])
        if keep := os.environ.get("DIAG_LIVE_RECORD"):  # a person's look at a run, offline
            record_window(stage, current()[0], Path(keep) / scenario.name)
        observe_applied(
            run_record=run,
            lab=lab,
            world=world,
            sync=stage.sync,
            current=current,
            explain=lambda: delivery(world, stage),
        )
    run.diagnoses = current()
    for diagnosis in run.diagnoses:
        run.events |= world.events(namespace, diagnosis["metadata"]["name"])
    run.firing = sorted(set(run.firing) | set(_firing(lab)))
    run.others = [_short(d) for d in run.diagnoses]
    (lab.workdir / f"diagnoses-{scenario.name}.json").write_text(
        json.dumps(run.diagnoses, indent=1, default=str), encoding="utf-8"
    )
    run.sync_errors = list(stage.sync.errors)
    return run
