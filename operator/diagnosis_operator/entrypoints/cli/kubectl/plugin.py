"""``kubectl-diagnose``: the kubectl plugin (``kubectl diagnose ...``).

    kubectl diagnose create --service api --since 30m [--policy P] [--mode dry-run]
    kubectl diagnose list [-A]
    kubectl diagnose show NAME
    kubectl diagnose report NAME [--format markdown|json]
    kubectl diagnose approve NAME ACTION_KEY
    kubectl diagnose pause [--reason TEXT] | resume

It talks to the apiserver with the user's kubeconfig (``--kubeconfig``,
``--context``, ``-n``) and the user's own RBAC.  Approvals and the pause switch are
written as described in ``models/controls.py`` (docs/approvals.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION, __version__
from diagnosis_operator.api.crd import (
    DIAGNOSIS_KIND,
    DIAGNOSIS_PLURAL,
    DiagnosisSpec,
    Mode,
)
from diagnosis_operator.models.controls import (
    CONTROL_CONFIGMAP,
    PAUSE_REASON_KEY,
    PAUSED_AT_KEY,
    PAUSED_BY_KEY,
    PAUSED_KEY,
    ControlError,
    approval_annotation,
    approval_value,
    approvals_from,
    paused_from,
)

PROG = "kubectl-diagnose"
DEFAULT_OPERATOR_NAMESPACE = "diagnosis-operator"
REPORT_JSON_KEY = "diagnosis.json"
REPORT_MARKDOWN_KEY = "report.md"
TRIGGER_LABEL = f"{API_GROUP}/trigger"
MIN_KEY_PREFIX = 4
# Remediations that can no longer be approved.
_FINAL_STATES = ("running", "succeeded", "failed", "rolled-back", "skipped")


class PluginError(Exception):
    """A failure to explain to the user (printed without a traceback)."""


class Cluster(Protocol):
    """The plugin's apiserver calls (``KubeCluster``; a fake in tests)."""

    def namespace(self) -> str: ...

    def whoami(self) -> str: ...

    def list_policies(self, *, namespace: str) -> list[dict[str, Any]]: ...

    def create_diagnosis(self, *, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_diagnoses(self, *, namespace: str | None) -> list[dict[str, Any]]: ...

    def get_diagnosis(self, *, namespace: str, name: str) -> dict[str, Any] | None: ...

    def annotate_diagnosis(
        self, *, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> None: ...

    def get_configmap(self, *, namespace: str, name: str) -> dict[str, str] | None: ...

    def merge_configmap(self, *, namespace: str, name: str, data: Mapping[str, str]) -> None: ...


# --------------------------------------------------------------------------- commands


def cmd_create(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = args.namespace or cluster.namespace()
    policies = cluster.list_policies(namespace=namespace)
    policy = _choose_policy(policies, wanted=args.policy, namespace=namespace)
    components = [c.get("name") for c in policy.get("spec", {}).get("components", [])]
    if args.service not in components:
        raise PluginError(
            f"DiagnosisPolicy {namespace}/{policy['metadata']['name']} has no component "
            f"{args.service!r}; its components: {', '.join(map(str, components)) or '(none)'}"
        )
    symptom: dict[str, Any] = {"component": args.service}
    if args.route:
        symptom["route"] = args.route
    raw_spec = {
        "symptom": symptom,
        "window": {"lookback": args.since},
        "policyRef": {"name": policy["metadata"]["name"]},
        "mode": args.mode,
    }
    try:
        spec = DiagnosisSpec.model_validate(raw_spec)
    except ValidationError as error:
        raise PluginError(_validation_text(error)) from error
    metadata: dict[str, Any] = {"namespace": namespace, "labels": {TRIGGER_LABEL: "kubectl"}}
    if args.name:
        metadata["name"] = args.name
    else:
        metadata["generateName"] = f"{args.service}-"
    body = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": DIAGNOSIS_KIND,
        "metadata": metadata,
        "spec": spec.to_wire(),
    }
    created = cluster.create_diagnosis(namespace=namespace, body=body)
    name = created.get("metadata", {}).get("name", args.name)
    print(f"diagnosis.{API_GROUP}/{name} created in {namespace}", file=out)
    print(f"  follow it:  kubectl diagnose show {name} -n {namespace}", file=out)
    return 0


def cmd_list(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = None if args.all_namespaces else (args.namespace or cluster.namespace())
    items = cluster.list_diagnoses(namespace=namespace)
    if not items:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"No diagnoses in {where}.", file=out)
        return 0
    header = ["NAME", "PHASE", "MODE", "COMPONENT", "ROOT CAUSE", "CONFIDENCE", "AGE"]
    if namespace is None:
        header.insert(0, "NAMESPACE")
    rows = [header]
    now = time.time()
    for item in sorted(items, key=_created_at, reverse=True):
        meta, spec, status = _parts(item)
        root = status.get("rootCause") or {}
        row = [
            str(meta.get("name", "")),
            str(status.get("phase") or "Pending"),
            str(spec.get("mode") or "observe"),
            str((spec.get("symptom") or {}).get("component") or "-"),
            str(root.get("component") or "-"),
            f"{root['confidence']:.2f}" if isinstance(root.get("confidence"), int | float) else "-",
            _age(meta.get("creationTimestamp"), now=now),
        ]
        if namespace is None:
            row.insert(0, str(meta.get("namespace", "")))
        rows.append(row)
    _print_table(rows, out)
    return 0


def cmd_show(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = args.namespace or cluster.namespace()
    item = _require_diagnosis(cluster, namespace=namespace, name=args.name)
    print(render_summary(item), file=out)
    return 0


def cmd_report(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = args.namespace or cluster.namespace()
    item = _require_diagnosis(cluster, namespace=namespace, name=args.name)
    ref = (item.get("status") or {}).get("reportRef") or {}
    if not ref.get("name"):
        print(render_summary(item), file=out)
        print("\n(no full report yet: status.reportRef is not set)", file=out)
        return 0
    data = cluster.get_configmap(namespace=namespace, name=str(ref["name"]))
    if data is None:
        raise PluginError(
            f"the report ConfigMap {namespace}/{ref['name']} named in status.reportRef is missing"
        )
    key = REPORT_JSON_KEY if args.format == "json" else REPORT_MARKDOWN_KEY
    text = data.get(key)
    if text is None and args.format == "markdown" and REPORT_JSON_KEY in data:
        text = data[REPORT_JSON_KEY]
    if text is None:
        raise PluginError(
            f"the report ConfigMap {namespace}/{ref['name']} has no {key!r} "
            f"(keys: {', '.join(sorted(data)) or 'none'})"
        )
    out.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_approve(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = args.namespace or cluster.namespace()
    item = _require_diagnosis(cluster, namespace=namespace, name=args.name)
    remediation = find_remediation(item, wanted=args.action_key)
    key = str(remediation["idempotencyKey"])
    state = str(remediation.get("state", ""))
    mode = str((item.get("spec") or {}).get("mode") or Mode.OBSERVE.value)
    if mode == Mode.OBSERVE.value:
        # An approval approves what the approver saw; recorded now, it would act later,
        # on whatever a re-run proposes under the same key, without anyone looking again.
        switch = json.dumps({"spec": {"mode": "remediate"}}, separators=(",", ":"))
        raise PluginError(
            "mode observe: nothing will run; switch the Diagnosis to dry-run or remediate "
            f"(kubectl patch diagnosis {args.name} --type merge -p '{switch}'), which "
            "diagnoses it again, then approve what it proposes "
            f"({remediation.get('action')} on {remediation.get('target')}, key {key}, "
            "was not approved)"
        )
    if state in _FINAL_STATES:
        raise PluginError(
            f"{remediation.get('action')} on {remediation.get('target')} is already {state}; "
            "nothing to approve"
        )
    meta = item.get("metadata") or {}
    existing = approvals_from(meta.get("annotations")).get(key)
    if existing is not None:
        print(
            f"{remediation.get('action')} on {remediation.get('target')} was already approved "
            f"by {existing.user} at {_iso(existing.at)}",
            file=out,
        )
        return 0
    user = cluster.whoami()
    try:
        annotation = {approval_annotation(key): approval_value(user=user, at=time.time())}
    except ControlError as error:
        raise PluginError(str(error)) from error
    cluster.annotate_diagnosis(namespace=namespace, name=args.name, annotations=annotation)
    print(
        f"approved {remediation.get('action')} on {remediation.get('target')} "
        f"(key {key}) as {user}",
        file=out,
    )
    return 0


def cmd_pause(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    user = cluster.whoami()
    data = {
        PAUSED_KEY: "true",
        PAUSED_BY_KEY: user,
        PAUSED_AT_KEY: _iso(time.time()),
        PAUSE_REASON_KEY: args.reason or "",
    }
    cluster.merge_configmap(namespace=args.operator_namespace, name=CONTROL_CONFIGMAP, data=data)
    print(
        f"remediation paused cluster-wide by {user} "
        f"(ConfigMap {args.operator_namespace}/{CONTROL_CONFIGMAP}); diagnoses continue",
        file=out,
    )
    return 0


def cmd_resume(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    current = cluster.get_configmap(namespace=args.operator_namespace, name=CONTROL_CONFIGMAP)
    if not paused_from(current):
        print("remediation is not paused", file=out)
        return 0
    user = cluster.whoami()
    data = {
        PAUSED_KEY: "false",
        PAUSED_BY_KEY: "",
        PAUSED_AT_KEY: "",
        PAUSE_REASON_KEY: f"resumed by {user} at {_iso(time.time())}",
    }
    cluster.merge_configmap(namespace=args.operator_namespace, name=CONTROL_CONFIGMAP, data=data)
    print(f"remediation resumed by {user}", file=out)
    return 0


# --------------------------------------------------------------------------- pure helpers


def find_remediation(item: Mapping[str, Any], *, wanted: str) -> dict[str, Any]:
    """The remediation ``wanted`` names: its key, a unique key prefix, or a unique action."""
    remediations = [
        r for r in (item.get("status") or {}).get("remediations") or [] if isinstance(r, dict)
    ]
    name = (item.get("metadata") or {}).get("name", "?")
    keyed = [r for r in remediations if r.get("idempotencyKey")]
    exact = [r for r in keyed if r["idempotencyKey"] == wanted]
    if exact:
        return exact[0]
    if len(wanted) >= MIN_KEY_PREFIX:
        prefixed = [r for r in keyed if str(r["idempotencyKey"]).startswith(wanted)]
        if len(prefixed) == 1:
            return prefixed[0]
    by_action = [r for r in keyed if r.get("action") == wanted]
    if len(by_action) == 1:
        return by_action[0]
    if not remediations:
        raise PluginError(f"diagnosis {name} proposes no remediation (yet)")
    listing = "\n".join(
        f"  {r.get('idempotencyKey', '(no key)')}  {r.get('action')}  {r.get('target')}  "
        f"{r.get('state')}"
        for r in remediations
    )
    ambiguous = " matches several" if len(by_action) > 1 else " matches none"
    raise PluginError(f"{wanted!r}{ambiguous} of diagnosis {name}'s remediations:\n{listing}")


def render_summary(item: Mapping[str, Any]) -> str:
    """The status summary ``show`` prints (pure)."""
    meta, spec, status = _parts(item)
    symptom = spec.get("symptom") or {}
    window = spec.get("window") or {}
    lines = [
        f"Name:         {meta.get('name')}",
        f"Namespace:    {meta.get('namespace')}",
        f"Phase:        {status.get('phase') or 'Pending'}",
        f"Mode:         {spec.get('mode') or 'observe'}",
        f"Policy:       {(spec.get('policyRef') or {}).get('name', '-')}",
        "Symptom:      "
        + " ".join(f"{k}={symptom[k]}" for k in ("component", "route", "selector") if k in symptom),
    ]
    resolved = status.get("window") or {}
    if resolved:
        lines.append(f"Window:       {resolved.get('start')} .. {resolved.get('end')}")
    elif "lookback" in window:
        lines.append(f"Window:       last {window['lookback']}")
    else:
        lines.append(f"Window:       {window.get('start')} .. {window.get('end')}")
    trigger = (meta.get("labels") or {}).get(TRIGGER_LABEL)
    if trigger:
        lines.append(f"Trigger:      {trigger}")
    root = status.get("rootCause")
    if root:
        confidence = root.get("confidence")
        shown = f" (confidence {confidence:.2f})" if isinstance(confidence, int | float) else ""
        instance = f" instance {root['instance']}" if root.get("instance") else ""
        lines.append(f"Root cause:   {root.get('component')}{instance}{shown}")
        if root.get("summary"):
            lines.append(f"              {root['summary']}")
    candidates = status.get("candidates") or []
    if candidates:
        lines.append(
            "Candidates:   "
            + ", ".join(f"{c.get('component')} {c.get('score', 0):.2f}" for c in candidates[:5])
        )
    for affected in status.get("affected") or []:
        lines.append(
            f"Affected:     {affected.get('component')} {affected.get('instance')}: "
            f"{affected.get('reason')}"
        )
    for client in status.get("clients") or []:
        lines.append(f"Client:       {client.get('ip')}: {client.get('reason')}")
    remediations = status.get("remediations") or []
    if remediations:
        approvals = approvals_from(meta.get("annotations"))
        lines.append("Remediations:")
        rows = [["KEY", "ACTION", "TARGET", "STATE", "APPROVED BY"]]
        for remediation in remediations:
            key = str(remediation.get("idempotencyKey") or "-")
            approval = approvals.get(key)
            approved_by = remediation.get("approvedBy") or (approval.user if approval else "-")
            rows.append(
                [
                    key,
                    str(remediation.get("action")),
                    str(remediation.get("target")),
                    str(remediation.get("state")),
                    str(approved_by),
                ]
            )
        lines.extend("  " + line for line in _table_lines(rows))
    for condition in status.get("conditions") or []:
        message = f": {condition['message']}" if condition.get("message") else ""
        lines.append(
            f"Condition:    {condition.get('type')}={condition.get('status')} "
            f"({condition.get('reason')}){message}"
        )
    for warning in status.get("warnings") or []:
        lines.append(f"Warning:      {warning}")
    report = (status.get("reportRef") or {}).get("name")
    if report:
        lines.append(
            f"Report:       ConfigMap {report} (kubectl diagnose report {meta.get('name')})"
        )
    return "\n".join(lines)


def _choose_policy(
    policies: Sequence[Mapping[str, Any]], *, wanted: str | None, namespace: str
) -> Mapping[str, Any]:
    names = [str(p.get("metadata", {}).get("name")) for p in policies]
    if wanted is not None:
        for policy in policies:
            if policy.get("metadata", {}).get("name") == wanted:
                return policy
        raise PluginError(
            f"no DiagnosisPolicy {wanted!r} in namespace {namespace}"
            + (f"; there are: {', '.join(names)}" if names else "")
        )
    if len(policies) == 1:
        return policies[0]
    if not policies:
        raise PluginError(
            f"no DiagnosisPolicy in namespace {namespace}: create one (docs/policies.md) "
            "or pick another namespace with -n"
        )
    raise PluginError(
        f"namespace {namespace} has several DiagnosisPolicies ({', '.join(names)}): "
        "choose one with --policy"
    )


def _require_diagnosis(cluster: Cluster, *, namespace: str, name: str) -> dict[str, Any]:
    item = cluster.get_diagnosis(namespace=namespace, name=name)
    if item is None:
        raise PluginError(
            f"no diagnosis {name!r} in namespace {namespace} (kubectl diagnose list -n {namespace})"
        )
    return item


def _parts(item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return (
        dict(item.get("metadata") or {}),
        dict(item.get("spec") or {}),
        dict(item.get("status") or {}),
    )


def _created_at(item: Mapping[str, Any]) -> str:
    return str((item.get("metadata") or {}).get("creationTimestamp") or "")


def _age(stamp: Any, *, now: float) -> str:
    if not stamp:
        return "-"
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int(now - moment.timestamp()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    for line in _table_lines(rows):
        print(line, file=out)


def _validation_text(error: ValidationError) -> str:
    flags = {
        "symptom.component": "--service",
        "symptom.route": "--route",
        "window.lookback": "--since",
        "mode": "--mode",
        "policyRef.name": "--policy",
    }
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        flag = next((f for path, f in flags.items() if location.startswith(path)), location)
        problems.append(f"{flag}: {item['msg']}")
    return "invalid diagnosis: " + "; ".join(problems)


# --------------------------------------------------------------------------- the cluster


class KubeCluster:
    """``Cluster`` through the kubernetes client and the user's kubeconfig."""

    def __init__(self, *, kubeconfig: str | None, context: str | None) -> None:
        from kubernetes import client, config

        self._client = client
        configuration = client.Configuration()
        self._namespace = "default"
        self._context_user: str | None = None
        try:
            if kubeconfig is None and context is None and _in_cluster():
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                self._namespace = _in_cluster_namespace() or "default"
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
                _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
                if context is not None:
                    contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
                    active = next((c for c in contexts if c.get("name") == context), active)
                details = (active or {}).get("context") or {}
                self._namespace = details.get("namespace") or "default"
                self._context_user = details.get("user")
        except (config.ConfigException, OSError, TypeError) as error:
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise PluginError(f"cannot load the kubeconfig {where}: {error}") from error
        self._server = configuration.host
        api_client = client.ApiClient(configuration)
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._auth = client.AuthenticationV1Api(api_client)

    def namespace(self) -> str:
        return self._namespace

    def whoami(self) -> str:
        try:
            review = self._auth.create_self_subject_review(
                body=self._client.V1SelfSubjectReview(), _request_timeout=30
            )
        except self._client.ApiException as error:
            if error.status in (404, 403) and self._context_user:
                # An apiserver older than 1.28: fall back to the kubeconfig's user name.
                return str(self._context_user)
            raise self._error("create selfsubjectreview", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        user = review.status.user_info.username if review.status and review.status.user_info else ""
        if not user:
            raise PluginError("the apiserver did not say who you are (SelfSubjectReview)")
        return str(user)

    def list_policies(self, *, namespace: str) -> list[dict[str, Any]]:
        found = self._call(
            f"list diagnosispolicies in {namespace}",
            self._custom.list_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            "diagnosispolicies",
        )
        return list(found.get("items") or [])

    def create_diagnosis(self, *, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        created = self._call(
            f"create diagnoses in {namespace}",
            self._custom.create_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            dict(body),
        )
        return dict(created)

    def list_diagnoses(self, *, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is None:
            found = self._call(
                "list diagnoses in all namespaces",
                self._custom.list_cluster_custom_object,
                API_GROUP,
                API_VERSION,
                DIAGNOSIS_PLURAL,
            )
        else:
            found = self._call(
                f"list diagnoses in {namespace}",
                self._custom.list_namespaced_custom_object,
                API_GROUP,
                API_VERSION,
                namespace,
                DIAGNOSIS_PLURAL,
            )
        return list(found.get("items") or [])

    def get_diagnosis(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(
            f"get diagnosis {namespace}/{name}",
            self._custom.get_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            name,
        )

    def annotate_diagnosis(
        self, *, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> None:
        self._call(
            f"patch diagnosis {namespace}/{name}",
            self._custom.patch_namespaced_custom_object,
            API_GROUP,
            API_VERSION,
            namespace,
            DIAGNOSIS_PLURAL,
            name,
            {"metadata": {"annotations": dict(annotations)}},
            _content_type="application/merge-patch+json",
        )

    def get_configmap(self, *, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = self._core.read_namespaced_config_map(name, namespace, _request_timeout=30)
        except self._client.ApiException as error:
            if error.status == 404:
                return None
            raise self._error(f"get configmap {namespace}/{name}", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        return dict(found.data or {})

    def merge_configmap(self, *, namespace: str, name: str, data: Mapping[str, str]) -> None:
        what = f"configmap {namespace}/{name}"
        try:
            self._core.patch_namespaced_config_map(
                name,
                namespace,
                {"data": dict(data)},
                _content_type="application/merge-patch+json",
                _request_timeout=30,
            )
            return
        except self._client.ApiException as error:
            if error.status != 404:
                raise self._error(f"patch {what}", error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        body = self._client.V1ConfigMap(
            metadata=self._client.V1ObjectMeta(name=name, namespace=namespace),
            data=dict(data),
        )
        self._call(f"create {what}", self._core.create_namespaced_config_map, namespace, body)

    def _get(self, what: str, method: Any, *positional: Any) -> dict[str, Any] | None:
        try:
            found = method(*positional, _request_timeout=30)
        except self._client.ApiException as error:
            if error.status == 404 and "could not find the requested resource" not in str(
                error.body or ""
            ):
                return None
            raise self._error(what, error) from error
        except OSError as error:
            raise self._unreachable(error) from error
        return dict(found) if isinstance(found, Mapping) else None

    def _call(self, what: str, method: Any, *positional: Any, **keywords: Any) -> Any:
        try:
            return method(*positional, _request_timeout=30, **keywords)
        except self._client.ApiException as error:
            raise self._error(what, error) from error
        except OSError as error:
            raise self._unreachable(error) from error

    def _error(self, what: str, error: Any) -> PluginError:
        # Imported here, as kubernetes itself is (see __init__).
        from diagnosis_operator.adapters.kubernetes.errors import from_api_exception

        failure = from_api_exception(error, what=what)
        status, message = failure.status, failure.body[:500]
        if status == 401:
            return PluginError(f"{what}: not authenticated (HTTP 401); check your kubeconfig")
        if status == 403:
            return PluginError(f"{what}: forbidden (HTTP 403): {message}")
        if status == 404 and "could not find the requested resource" in message:
            return PluginError(
                f"{what}: the Diagnosis CRDs are not installed on {self._server} (HTTP 404)"
            )
        return PluginError(f"{what}: HTTP {status}: {message}")

    def _unreachable(self, error: OSError) -> PluginError:
        return PluginError(f"cannot reach the apiserver at {self._server}: {error}")


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG")


def _in_cluster_namespace() -> str | None:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


# --------------------------------------------------------------------------- the CLI


def _add_connection_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--kubeconfig", default=default, help="path to the kubeconfig (default: $KUBECONFIG)"
    )
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=default, help="namespace (default: the context's)"
    )
    parser.add_argument(
        "--operator-namespace",
        default=(
            os.environ.get("DIAG_OPERATOR_NAMESPACE", DEFAULT_OPERATOR_NAMESPACE)
            if default is None
            else default
        ),
        help=f"where the operator runs, for pause/resume (default: {DEFAULT_OPERATOR_NAMESPACE})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl diagnose",
        description="Create, read and approve diagnoses of the diagnosis-operator.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_connection_flags(parser, default=None)
    # The same flags after the subcommand (``kubectl diagnose show X -n ns``), where
    # they override the ones before it only when given.
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_flags(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    create = commands.add_parser(
        "create", parents=[common], help="diagnose a component over a recent window"
    )
    create.add_argument("--service", required=True, help="component of the policy's topology")
    create.add_argument("--since", default="30m", help="how far back to look (default: 30m)")
    create.add_argument("--policy", help="DiagnosisPolicy (default: the namespace's only one)")
    create.add_argument(
        "--mode",
        choices=("observe", "dry-run", "remediate"),
        default="observe",
        help="observe (default), dry-run (plan and guard), remediate (act as allowed)",
    )
    create.add_argument("--route", help="HTTP route the symptom shows on, e.g. /api/orders")
    create.add_argument("--name", help="name of the Diagnosis (default: generated)")
    create.set_defaults(run=cmd_create)

    listing = commands.add_parser("list", parents=[common], help="list diagnoses")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", parents=[common], help="status summary of a diagnosis")
    show.add_argument("name")
    show.set_defaults(run=cmd_show)

    report = commands.add_parser("report", parents=[common], help="the full report of a diagnosis")
    report.add_argument("name")
    report.add_argument("--format", choices=("markdown", "json"), default="markdown")
    report.set_defaults(run=cmd_report)

    approve = commands.add_parser(
        "approve", parents=[common], help="approve a proposed remediation"
    )
    approve.add_argument("name")
    approve.add_argument("action_key", help="idempotency key (or a unique prefix, or the action)")
    approve.set_defaults(run=cmd_approve)

    pause = commands.add_parser(
        "pause", parents=[common], help="pause all remediation (diagnoses continue)"
    )
    pause.add_argument("--reason", help="why (shown to others)")
    pause.set_defaults(run=cmd_pause)

    resume = commands.add_parser("resume", parents=[common], help="resume remediation")
    resume.set_defaults(run=cmd_resume)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    cluster: Cluster | None = None,
    out: TextIO | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    stream = out or sys.stdout
    try:
        if cluster is None:
            cluster = KubeCluster(kubeconfig=args.kubeconfig, context=args.context)
        return int(args.run(args, cluster, stream))
    except PluginError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
