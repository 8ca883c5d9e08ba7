"""The plugin's commands: create, list, show, report, approve, pause, resume.

Each ``cmd_*`` takes the parsed arguments, a ``Cluster`` and the output stream and
returns the exit code; a failure to explain to the user is a ``PluginError``.
Approvals and the pause switch are written as described in ``models/controls.py``
(docs/approvals.md).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import DIAGNOSIS_KIND, DiagnosisSpec, Mode, report_config_map
from diagnosis_operator.entrypoints.cli.kubectl.client import Cluster, PluginError
from diagnosis_operator.entrypoints.cli.kubectl.render import (
    TRIGGER_LABEL,
    diagnosis_table,
    iso_utc,
    print_table,
    render_summary,
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
from diagnosis_operator.report import ResultFormatError, render_html, result_from_json

REPORT_JSON_KEY = "diagnosis.json"
REPORT_MARKDOWN_KEY = "report.md"
MIN_KEY_PREFIX = 4
# Remediations that can no longer be approved.
_FINAL_STATES = ("running", "succeeded", "failed", "rolled-back", "skipped")


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
        _refuse_foreign_report(cluster, namespace=namespace, name=args.name)
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


def _refuse_foreign_report(cluster: Cluster, *, namespace: str, name: str) -> None:
    """A ConfigMap already named like this Diagnosis' report is not the operator's:
    refuse the name rather than have the operator's report collide with it."""
    report = report_config_map(name)
    try:
        existing = cluster.get_configmap(namespace=namespace, name=report)
    except PluginError:
        return  # cannot read ConfigMaps here: the operator checks ownership itself
    if existing is not None:
        raise PluginError(
            f"ConfigMap {namespace}/{report} already exists and no Diagnosis {name} owns it: "
            "the operator never patches a ConfigMap it did not create, so the report "
            "would be lost; choose another --name (or delete that ConfigMap)"
        )


def cmd_list(args: argparse.Namespace, cluster: Cluster, out: TextIO) -> int:
    namespace = None if args.all_namespaces else (args.namespace or cluster.namespace())
    items = cluster.list_diagnoses(namespace=namespace)
    if not items:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"No diagnoses in {where}.", file=out)
        return 0
    print_table(diagnosis_table(items, with_namespace=namespace is None, now=time.time()), out)
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
    if args.format == "html":
        return _html_report(args, data=data, where=f"{namespace}/{ref['name']}", out=out)
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


def _html_report(
    args: argparse.Namespace, *, data: Mapping[str, str], where: str, out: TextIO
) -> int:
    """The report as one HTML page, rendered here from the saved result; ``--open`` shows it."""
    text = data.get(REPORT_JSON_KEY)
    if text is None:
        raise PluginError(f"the report ConfigMap {where} has no {REPORT_JSON_KEY!r}")
    try:
        page = render_html(result_from_json(json.loads(text)))
    except (ValueError, ResultFormatError) as error:
        raise PluginError(
            f"the report ConfigMap {where} holds no readable result: {error}"
        ) from None
    target: Path | None = Path(args.out) if args.out else None
    if target is None and args.open:
        handle, name = tempfile.mkstemp(prefix=f"{args.name}-", suffix=".html")
        os.close(handle)
        target = Path(name)
    if target is None:
        out.write(page if page.endswith("\n") else page + "\n")
        return 0
    target.write_text(page, encoding="utf-8")
    print(f"wrote {target}", file=out)
    if args.open:
        args.opener(target.resolve().as_uri())
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
            f"by {existing.user} at {iso_utc(existing.at)}",
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
        PAUSED_AT_KEY: iso_utc(time.time()),
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
        PAUSE_REASON_KEY: f"resumed by {user} at {iso_utc(time.time())}",
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
