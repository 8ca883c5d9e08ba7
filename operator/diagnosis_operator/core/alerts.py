"""From an Alertmanager notification to the Diagnosis to create (pure).

One alert group gives one Diagnosis per dedup window, however often Alertmanager
repeats the notification (group_interval, repeat_interval, both members of an HA
pair): the Diagnosis name is derived from the policy, the ``groupKey`` and the dedup
bucket of the group's earliest firing ``startsAt``, and creating it is
create-if-absent, so a repeat lands on the existing object.  A group that fires
again after resolving has a new ``startsAt``; in a later bucket it gives a new
Diagnosis.  A resolved group creates nothing.

Alert labels pick the component (``spec.symptom.component``) through the policy:

0. the ``diagnosis_component`` label of the rules rendered from the policy
   (``core.rules``), when it names a component of the policy;
1. a component whose ``selector`` the alert's labels satisfy (every matcher is a
   label of the alert; the most specific selector wins), e.g. ``{job: api}``;
2. else the first of ``component_labels`` (``service``, ``job``, ``app``) whose value,
   mapped through ``components`` when listed there, names a policy component;
3. else ``default_component``.

Alert labels are untrusted: a label value is only compared with the policy's names
and selectors, and used verbatim only when the routing knows no components (a
static setup without a policy) and the value is a valid component name.  Nothing
here builds a query.  An alert rendered for another policy (its ``diagnosis_policy`` /
``diagnosis_namespace`` labels name another one) is refused as unroutable: it was
routed to the wrong receiver, and a Diagnosis under this policy would be wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import (
    DIAGNOSIS_KIND,
    NAME_PATTERN,
    DiagnosisPolicySpec,
)
from diagnosis_operator.core.rules.symptoms import COMPONENT_LABEL as RULE_COMPONENT_LABEL
from diagnosis_operator.core.rules.symptoms import NAMESPACE_LABEL as RULE_NAMESPACE_LABEL
from diagnosis_operator.core.rules.symptoms import POLICY_LABEL as RULE_POLICY_LABEL
from diagnosis_operator.models.alerts import AlertmanagerWebhook
from diagnosis_operator.models.signals import isoformat_z, utc_seconds

TRIGGER_LABEL = f"{API_GROUP}/trigger"
COMPONENT_LABEL = f"{API_GROUP}/component"
POLICY_LABEL = f"{API_GROUP}/policy"
GROUP_KEY_ANNOTATION = f"{API_GROUP}/alert-group-key"
ALERTNAMES_ANNOTATION = f"{API_GROUP}/alertnames"
FINGERPRINTS_ANNOTATION = f"{API_GROUP}/alert-fingerprints"
SOURCE_ANNOTATION = f"{API_GROUP}/alertmanager-url"
# The group's common labels (JSON): what a notification sink silences (docs/notifications.md).
ALERT_LABELS_ANNOTATION = f"{API_GROUP}/alert-common-labels"
TRIGGER_ALERTMANAGER = "alertmanager"

Mode = Literal["observe", "dry-run", "remediate"]

_COMPONENT_NAME = re.compile(NAME_PATTERN)
_MAX_COMPONENT_NAME = 63
_MAX_ROUTE = 1024
_MAX_DESCRIPTION = 1024
_MAX_ANNOTATION_ITEMS = 20
_MAX_ANNOTATION_VALUE = 4096
_LABEL_VALUE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class AlertRouting:
    """How a policy turns alerts into Diagnoses.

    ``selectors`` holds the policy's components and their label matchers; it is
    empty only for a static routing without a policy, where any valid name goes.
    ``components`` maps label values to component names where they differ.
    """

    policy: str
    namespace: str
    selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    component_labels: tuple[str, ...] = ("service", "job", "app")
    components: Mapping[str, str] = field(default_factory=dict)
    default_component: str | None = None
    route_label: str | None = "route"
    mode: Mode | None = None
    # How far before the group's first firing alert the diagnosis looks.
    lookback_seconds: float = 1800.0
    # Caps the window when an alert has fired for a long time.
    max_window_seconds: float = 6 * 3600.0
    # Width of a dedup bucket: repeats of one group inside it give one Diagnosis.
    dedup_window_seconds: float = 3600.0

    def __post_init__(self) -> None:
        for name, value in (
            ("lookback_seconds", self.lookback_seconds),
            ("max_window_seconds", self.max_window_seconds),
            ("dedup_window_seconds", self.dedup_window_seconds),
        ):
            if not value > 0:
                raise ValueError(f"alert routing {name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class DiagnosisToCreate:
    """A Diagnosis custom object, ready to be created if absent."""

    name: str
    namespace: str
    policy: str
    component: str
    route: str | None
    description: str | None
    window_start: float
    window_end: float
    mode: Mode | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    def manifest(self) -> dict[str, Any]:
        """The object body for the custom objects API (pure)."""
        symptom: dict[str, Any] = {"component": self.component}
        if self.route:
            symptom["route"] = self.route
        if self.description:
            symptom["description"] = self.description
        spec: dict[str, Any] = {
            "symptom": symptom,
            "window": {
                "start": isoformat_z(self.window_start),
                "end": isoformat_z(self.window_end),
            },
            "policyRef": {"name": self.policy},
        }
        if self.mode is not None:
            spec["mode"] = self.mode
        return {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": DIAGNOSIS_KIND,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": dict(self.labels),
                "annotations": dict(self.annotations),
            },
            "spec": spec,
        }


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to create, and why (for the webhook's answer and the logs)."""

    reason: str


class UnroutableAlert(ValueError):
    """Firing alerts whose labels name no component of the policy."""


def dedup_name(*, policy: str, group_key: str, bucket_start: float) -> str:
    """``alert-<hash of policy and groupKey>-<bucket start, UTC>`` (pure).

    A valid DNS-1123 name of 36 characters, whatever the groupKey holds.
    """
    digest = hashlib.sha256(f"{policy}\x00{group_key}".encode()).hexdigest()[:16]
    stamp = isoformat_z(bucket_start)[:16]  # 2025-12-11T09:00
    compact = stamp.replace("-", "").replace(":", "").lower()  # 20251211t0900
    return f"alert-{digest}-{compact}"


def diagnosis_for_alerts(
    *, payload: AlertmanagerWebhook, routing: AlertRouting, now: float
) -> DiagnosisToCreate | Ignored:
    """The Diagnosis one notification asks for, or why none (pure).

    Raises ``UnroutableAlert`` when alerts fire but none maps to a component and the
    policy has no default: a configuration error worth surfacing to Alertmanager.
    """
    firing = payload.firing
    if payload.status == "resolved" or not firing:
        return Ignored(reason="the alert group is resolved")
    first_start = min(utc_seconds(alert.starts_at) for alert in firing)
    bucket = routing.dedup_window_seconds
    bucket_start = (first_start // bucket) * bucket
    window_end = max(now, first_start + 1.0)
    window_start = max(
        first_start - routing.lookback_seconds, window_end - routing.max_window_seconds
    )

    _check_rendered_for(payload=payload, routing=routing)
    component = _component(payload=payload, routing=routing)
    alertnames = sorted({alert.labels.get("alertname", "") for alert in firing} - {""})
    fingerprints = sorted({alert.fingerprint for alert in firing} - {""})
    annotations = {
        GROUP_KEY_ANNOTATION: payload.group_key[:_MAX_ANNOTATION_VALUE],
        ALERTNAMES_ANNOTATION: ",".join(alertnames[:_MAX_ANNOTATION_ITEMS]),
        FINGERPRINTS_ANNOTATION: ",".join(fingerprints[:_MAX_ANNOTATION_ITEMS]),
        SOURCE_ANNOTATION: payload.external_url[:_MAX_ANNOTATION_VALUE],
        ALERT_LABELS_ANNOTATION: _common_labels(payload),
    }
    return DiagnosisToCreate(
        name=dedup_name(
            policy=routing.policy, group_key=payload.group_key, bucket_start=bucket_start
        ),
        namespace=routing.namespace,
        policy=routing.policy,
        component=component,
        route=_route(payload=payload, routing=routing),
        description=_description(alertnames=alertnames, payload=payload),
        window_start=window_start,
        window_end=window_end,
        mode=routing.mode,
        labels={
            TRIGGER_LABEL: TRIGGER_ALERTMANAGER,
            COMPONENT_LABEL: label_value(component),
            POLICY_LABEL: label_value(routing.policy),
        },
        annotations={key: value for key, value in annotations.items() if value},
    )


def _common_labels(payload: AlertmanagerWebhook) -> str:
    """The group's common labels as JSON, at most 20, or "" when they would not fit."""
    labels = dict(sorted(payload.common_labels.items())[:_MAX_ANNOTATION_ITEMS])
    text = json.dumps(labels, sort_keys=True, ensure_ascii=False) if labels else ""
    return text if len(text) <= _MAX_ANNOTATION_VALUE else ""


def routing_from_policy(
    *, spec: DiagnosisPolicySpec, name: str, namespace: str, template: AlertRouting
) -> AlertRouting:
    """``template`` (the operator's alert settings) bound to one policy's components (pure)."""
    names = {component.name for component in spec.components}
    return replace(
        template,
        policy=name,
        namespace=namespace,
        selectors={component.name: dict(component.selector) for component in spec.components},
        default_component=(
            template.default_component if template.default_component in names else None
        ),
    )


def label_value(text: str) -> str:
    """``text`` made into a valid Kubernetes label value (pure): at most 63 characters."""
    return _LABEL_VALUE_UNSAFE.sub("-", text)[:63].strip("-_.")


def _check_rendered_for(*, payload: AlertmanagerWebhook, routing: AlertRouting) -> None:
    """Refuse alerts whose rendered-rule labels name another policy (pure)."""
    for alert in payload.firing:
        policy = alert.labels.get(RULE_POLICY_LABEL)
        namespace = alert.labels.get(RULE_NAMESPACE_LABEL)
        if (policy is not None and policy != routing.policy) or (
            namespace is not None and namespace != routing.namespace
        ):
            raise UnroutableAlert(
                f"policy {routing.namespace}/{routing.policy}: alert "
                f"{alert.labels.get('alertname', '')[:100]!r} was rendered for policy "
                f"{(namespace or '?')[:63]}/{(policy or '?')[:253]}; route it to that "
                "policy's webhook path"
            )


def _component(*, payload: AlertmanagerWebhook, routing: AlertRouting) -> str:
    label_sets = [alert.labels for alert in payload.firing]
    label_sets.append(payload.common_labels)
    for labels in label_sets:
        named = labels.get(RULE_COMPONENT_LABEL)
        if named is not None and named in routing.selectors:
            return named
    for labels in label_sets:
        by_selector = _match_selector(labels=labels, routing=routing)
        if by_selector is not None:
            return by_selector
    seen: list[str] = []
    for label_name in routing.component_labels:
        for labels in label_sets:
            value = labels.get(label_name)
            if value is None:
                continue
            component = _map_value(value=value, routing=routing)
            if component is not None:
                return component
            seen.append(f"{label_name}={value[:100]!r}")
    if routing.default_component is not None:
        return routing.default_component
    looked_for = ", ".join(routing.component_labels) or "(none configured)"
    known = ", ".join(sorted(routing.selectors)) or "any valid name"
    found = "found " + ", ".join(dict.fromkeys(seen)) if seen else "none of them is set"
    raise UnroutableAlert(
        f"policy {routing.namespace}/{routing.policy}: no firing alert matches a component "
        f"selector, and no label among [{looked_for}] names a component ({known}); {found}"
    )


def _match_selector(*, labels: Mapping[str, str], routing: AlertRouting) -> str | None:
    matching = sorted(
        (
            (-len(selector), name)
            for name, selector in routing.selectors.items()
            if selector and all(labels.get(key) == value for key, value in selector.items())
        ),
    )
    if not matching:
        return None
    if len(matching) > 1 and matching[0][0] == matching[1][0]:
        return None  # two equally specific components: let the naming labels decide
    return matching[0][1]


def _map_value(*, value: str, routing: AlertRouting) -> str | None:
    candidate = routing.components.get(value, value)
    if routing.selectors:
        return candidate if candidate in routing.selectors else None
    if len(candidate) <= _MAX_COMPONENT_NAME and _COMPONENT_NAME.match(candidate):
        return candidate
    return None


def _route(*, payload: AlertmanagerWebhook, routing: AlertRouting) -> str | None:
    if routing.route_label is None:
        return None
    routes = {alert.labels.get(routing.route_label) for alert in payload.firing}
    # Only a route every firing alert agrees on narrows the diagnosis.
    if len(routes) != 1:
        return None
    route = routes.pop()
    if route is None or not route.startswith("/") or len(route) > _MAX_ROUTE:
        return None
    return route


def _description(*, alertnames: list[str], payload: AlertmanagerWebhook) -> str:
    names = ", ".join(alertnames[:5]) + (", ..." if len(alertnames) > 5 else "")
    text = f"Alertmanager: {names}" if names else "Alertmanager alert group"
    summary = payload.common_annotations.get("summary", "")
    if summary:
        text = f"{text}: {summary}"
    return text[:_MAX_DESCRIPTION]
