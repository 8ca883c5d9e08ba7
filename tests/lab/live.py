"""The loop closed, live: a lab fault, an alert, a Diagnosis, the operator's actions, verified.

``run_live(scenario, ...)`` plays one scenario against an operator release of its
own (``tests/controlplane/release.py``: the chart's ServiceAccount, the webhook
in ``remediate`` mode) on the test apiserver:

1. a namespace the operator serves; a fresh lab whose Alertmanager routes to the
   operator's webhook for the policy ``lab`` of that namespace; the backends as
   Pods behind the Service ``api`` and nginx's upstream synced from its
   EndpointSlices (``tests/lab/cluster.py``); the chart's nginx-reloader sidecar
   delivering the operator's rule ConfigMap into nginx; Prometheus with
   ``LIVE_RULES``;
2. users browse through nginx; after ``WARMUP + BASELINE``, once no lab alert
   fires or pends, the lab's DiagnosisPolicy (``tests/lab/policy.yaml`` with its
   signals, the backends' ``podSelector``, a MariaDB account for kills in a
   Secret and the three actions enabled without approval) is created and the
   fault script runs as its own process (``python -m tests.lab.fault NAME``);
3. what happens is watched and kept in a ``LiveRun``: when a lab alert first fires
   in Prometheus, when the first Diagnosis is created, every Diagnosis the fault's
   alert groups make, each action's own record, what the world looks like once
   it is applied (``tests/lab/observe.py``), each verification, the final
   statuses and Events.

Nothing here judges the diagnosis: the tests do, from the ``LiveRun``.  Every wait
has a deadline for failing, not a measured threshold.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.cluster import ControlPlane, start_process
from tests.controlplane.operator import apply_objects, onboard, rendered_objects
from tests.controlplane.release import ReleaseOperator
from tests.e2e.drain_world import new_namespace, ready_addresses
from tests.k8s_json import as_json, minted_token
from tests.lab import fault as faults
from tests.lab import traffic
from tests.lab.cluster import SERVICE, UpstreamSync, backend_pods, pod_ips
from tests.lab.config import RULES_DIR
from tests.lab.observe import Observations, observe_applied
from tests.lab.scenarios import POLICY
from tests.lab.stack import LOKI_TENANT, Lab, start_lab
from tests.services.loki import REPO_ROOT
from tests.services.ports import clean_env

T = TypeVar("T")
WARMUP = 20.0
BASELINE = 90.0
WAIT = 240.0  # deadlines for failing, not measured thresholds
POLICY_NAME = "lab"
CONFIGMAP = "lab-edge-rules"

# The lab's rules (tests/lab/config.py) with the latency rule relative to its own recent
# past: on a loaded 2-core machine the API's p95 sits near the lab's absolute 0.5 s all
# the time.  The rules the operator renders from a policy (`policy render`) compare with
# a 4m baseline behind a 2m rate window: six minutes of history a short CI run lacks.
LIVE_RULES = """\
groups:
  - name: lab-live
    rules:
      - alert: LabApiErrorRatioHigh
        expr: >
          sum(rate(http_requests_total{job="api",code=~"5.."}[1m]))
          / sum(rate(http_requests_total{job="api"}[1m])) > 0.05
        for: 30s
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
            sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[1m]))) > 0.5
        for: 30s
        labels: {severity: page, component: api}
        annotations: {summary: "API p95 latency 50% above what it was and above 0.5 s"}
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


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


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
    # A symptom counts once it lasted this long (the alert's `for`, the engine's gate).
    spec["thresholds"] = {"minSymptomDuration": "30s"}
    spec["alerts"] = {"baseline": "4m"}
    now = {"enabled": True, "requireApproval": False, "cooldown": "1s"}
    spec["remediation"] = {
        "verification": {"after": "30s", "sustain": "30s"},
        "drainPod": {**now, "ttl": "15m"},
        "killMysqlQueries": {
            **now,
            "connection": {"secretRef": {"name": secret}},
            "params": {"minQuerySeconds": 2},
        },
        "rateLimitClient": {
            **now,
            "ttl": "2m",
            "params": {"provider": "nginx", "configMap": CONFIGMAP, "requestsPerSecond": 1},
        },
    }
    return spec


def _mysql_secret(core: client.CoreV1Api, namespace: str, lab: Lab) -> str:
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


@contextmanager
def reloader_sidecar(
    plane: ControlPlane, kube_admin: client.ApiClient, namespace: str, lab: Lab
) -> Iterator[None]:
    """The chart's nginx-reloader (Role, binding, sidecar args) for the lab's nginx."""
    settings = {
        "enabled": "true",
        "namespace": namespace,
        "configMap": CONFIGMAP,
        "serviceAccount": "nginx",
        "directory": str(lab.nginx.conf_dir / RULES_DIR),
        "interval": "1",
        "pidFile": str(lab.nginx.prefix / "nginx.pid"),
    }
    flags = [arg for k, v in settings.items() for arg in ("--set", f"nginxReloader.{k}={v}")]
    objects = [
        o for o in rendered_objects(*flags) if o["metadata"]["name"].endswith("-nginx-reloader")
    ]
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nginx"))
    )
    apply_objects(kube_admin, objects)
    minted = core.create_namespaced_service_account_token(
        "nginx",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    token = plane.directory / f"nginx-{namespace}.token"
    token.write_text(minted_token(minted), encoding="utf-8")
    [sidecar] = yaml.safe_load(
        next(o for o in objects if o["kind"] == "ConfigMap")["data"]["sidecar.yaml"]
    )
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *sidecar["args"],
        f"--server={plane.server}",
        f"--token-file={token}",
        f"--certificate-authority={plane.ca_file}",
    ]
    process = start_process(f"nginx-reloader-{namespace}", argv, directory=plane.directory)
    try:
        yield
    finally:
        process.stop()


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


def _prepare(
    world: World, stack: ExitStack, scenario: LiveScenario
) -> tuple[str, Lab, UpstreamSync]:
    kube_admin = world.kube_admin
    core = client.CoreV1Api(kube_admin)
    namespace = new_namespace(core, f"live-{scenario.name}")
    stack.callback(core.delete_namespace, namespace)
    onboard(kube_admin, world.operator.install, namespace)
    lab = start_lab(
        workdir=world.workdir / scenario.name,
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
    return namespace, lab, sync


def _create_policy(world: World, namespace: str, lab: Lab) -> None:
    """The lab's DiagnosisPolicy: from now on the webhook routes the lab's alerts to it."""
    secret = _mysql_secret(client.CoreV1Api(world.kube_admin), namespace, lab)
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


def _background(
    stack: ExitStack, lab: Lab, scenario: LiveScenario, start: Callable[[], None]
) -> None:
    """Users for the whole run; after the baseline, once no lab alert fires or pends,
    ``start()`` (the policy) and the fault script (everything stopped on exit).

    Until the policy exists the webhook refuses the lab's alerts (404), so a
    warm-up's false alarm makes no Diagnosis; the fault's alerts are the first
    the policy sees.
    """
    stop = threading.Event()
    users = threading.Thread(
        target=traffic.users,
        kwargs={"url": lab.nginx.url, "seconds": 15 * 60.0, "stop": stop},
        daemon=True,
    )
    users.start()
    stack.callback(users.join, 60)
    stack.callback(stop.set)
    time.sleep(WARMUP + BASELINE)
    wait_for("the lab calm (no lab alert firing or pending)", lambda: _calm(lab), timeout=180)
    start()
    injector = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.lab.fault", scenario.fault),
            *("--workdir", str(lab.workdir), "--seconds", str(scenario.seconds)),
        ],
        cwd=REPO_ROOT,
        env=clean_env({"PYTHONPATH": f"{REPO_ROOT / 'operator'}:{REPO_ROOT}"}),
    )

    def end() -> None:
        injector.terminate()
        try:
            injector.wait(timeout=60)
        except subprocess.TimeoutExpired:
            injector.kill()
            injector.wait()

    stack.callback(end)


def _firing(lab: Lab) -> list[str]:
    alerts = lab.prometheus.api("alerts")["data"]["alerts"]
    return sorted({a["labels"]["alertname"] for a in alerts if a["state"] == "firing"})


def _created(world: World, run: LiveRun, lab: Lab) -> bool:
    if "alert" not in run.marks and (fired := _firing(lab)):
        run.marks["alert"] = time.time()
        run.firing = fired
    found = world.diagnoses(run.namespace)
    if not found:
        return False
    stamp = str(found[0]["metadata"]["creationTimestamp"]).replace("Z", "+00:00")
    run.marks["created"] = datetime.fromisoformat(stamp).timestamp()
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


def run_live(world: World, scenario: LiveScenario) -> LiveRun:
    """Play ``scenario`` (module docstring); everything started is stopped on return."""
    with ExitStack() as stack:
        namespace, lab, sync = _prepare(world, stack, scenario)
        run = LiveRun(
            scenario=scenario,
            namespace=namespace,
            degraded=lab.state["instances"][lab.backends[faults.DEGRADED]],
        )
        _background(stack, lab, scenario, lambda: _create_policy(world, namespace, lab))
        run.marks["fault"] = time.time()
        wait_for("the webhook's Diagnosis", lambda: _created(world, run, lab))
        run.marks.setdefault("alert", run.marks["created"])
        observe_applied(
            run_record=run,
            lab=lab,
            world=world,
            sync=sync,
            current=lambda: world.diagnoses(namespace),
        )
        run.diagnoses = world.diagnoses(namespace)
        for diagnosis in run.diagnoses:
            run.events |= world.events(namespace, diagnosis["metadata"]["name"])
        run.firing = sorted(set(run.firing) | set(_firing(lab)))
        run.others = [_short(d) for d in run.diagnoses]
        (lab.workdir / "diagnoses.json").write_text(
            json.dumps(run.diagnoses, indent=1, default=str), encoding="utf-8"
        )
        run.sync_errors = list(sync.errors)
    return run
