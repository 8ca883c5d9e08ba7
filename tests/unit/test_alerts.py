"""The Alertmanager payload model and the pure alert -> Diagnosis decision."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from diagnosis_operator.api import DiagnosisPolicySpec, DiagnosisSpec
from diagnosis_operator.core.alerts import (
    COMPONENT_LABEL,
    GROUP_KEY_ANNOTATION,
    AlertRouting,
    DiagnosisToCreate,
    Ignored,
    UnroutableAlert,
    dedup_name,
    diagnosis_for_alerts,
    label_value,
    routing_from_policy,
)
from diagnosis_operator.models.alerts import AlertmanagerWebhook

T0 = datetime(2031, 3, 4, 5, 10, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def alert(
    *,
    labels: dict[str, str],
    starts: float = T0,
    status: str = "firing",
    fingerprint: str = "f1",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "error ratio high"},
        "startsAt": iso(starts),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else iso(starts + 600),
        "generatorURL": "http://prometheus.test/graph",
        "fingerprint": fingerprint,
    }


def payload(
    *alerts: dict[str, Any], group_key: str = '{}:{alertname="HighErrors"}', status: str = "firing"
) -> AlertmanagerWebhook:
    return AlertmanagerWebhook.model_validate(
        {
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "diagnosis",
            "groupLabels": {"alertname": "HighErrors"},
            "commonLabels": {"alertname": "HighErrors"},
            "commonAnnotations": {"summary": "error ratio high"},
            "externalURL": "http://alertmanager.test",
            "alerts": list(alerts),
        }
    )


POLICY = DiagnosisPolicySpec.model_validate(
    {
        "components": [
            {
                "name": "gateway",
                "kind": "proxy",
                "selector": {"job": "edge-proxy"},
                "dependsOn": ["orders"],
            },
            {
                "name": "orders",
                "kind": "app",
                "selector": {"job": "orders-svc"},
                "dependsOn": ["db"],
            },
            {
                "name": "orders-canary",
                "kind": "app",
                "selector": {"job": "orders-svc", "track": "canary"},
            },
            {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
        ]
    }
)
TEMPLATE = AlertRouting(policy="default", namespace="ops")
ROUTING = routing_from_policy(spec=POLICY, name="shop", namespace="team-a", template=TEMPLATE)


def decide(
    body: AlertmanagerWebhook, *, now: float = T0 + 120, routing: AlertRouting = ROUTING
) -> DiagnosisToCreate:
    decision = diagnosis_for_alerts(payload=body, routing=routing, now=now)
    assert isinstance(decision, DiagnosisToCreate), decision
    return decision


# --------------------------------------------------------------------- dedup


def test_same_group_and_window_gives_the_same_name_on_repeats() -> None:
    first = decide(payload(alert(labels={"alertname": "HighErrors", "job": "orders-svc"})))
    # a repeat 20 minutes later, with a second alert joined to the group
    repeat = decide(
        payload(
            alert(labels={"alertname": "HighErrors", "job": "orders-svc"}),
            alert(
                labels={"alertname": "HighErrors", "job": "orders-svc", "instance": "b"},
                starts=T0 + 600,
                fingerprint="f2",
            ),
        ),
        now=T0 + 1200,
    )
    assert first.name == repeat.name
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", first.name)
    assert len(first.name) <= 63


def test_a_new_window_gives_a_new_name() -> None:
    first = decide(payload(alert(labels={"job": "orders-svc"})))
    refired = decide(
        payload(alert(labels={"job": "orders-svc"}, starts=T0 + 2 * HOUR)), now=T0 + 2 * HOUR + 60
    )
    assert first.name != refired.name


def test_another_group_or_policy_gives_another_name() -> None:
    first = decide(payload(alert(labels={"job": "orders-svc"})))
    other_group = decide(payload(alert(labels={"job": "orders-svc"}), group_key='{}:{x="y"}'))
    other_policy = decide(
        payload(alert(labels={"job": "orders-svc"})),
        routing=routing_from_policy(
            spec=POLICY, name="shop-2", namespace="team-a", template=TEMPLATE
        ),
    )
    assert len({first.name, other_group.name, other_policy.name}) == 3


def test_dedup_name_is_stable_and_bucketed() -> None:
    bucket = (T0 // HOUR) * HOUR
    name = dedup_name(policy="p", group_key="g", bucket_start=bucket)
    assert name == dedup_name(policy="p", group_key="g", bucket_start=bucket)
    assert name.endswith("-20310304t0500")


def test_resolved_group_creates_nothing() -> None:
    resolved = payload(alert(labels={"job": "orders-svc"}, status="resolved"), status="resolved")
    assert isinstance(diagnosis_for_alerts(payload=resolved, routing=ROUTING, now=T0), Ignored)


def test_only_firing_alerts_count_in_a_mixed_group() -> None:
    # The early alert resolved: the group's window follows the one still firing.
    body = payload(
        alert(labels={"job": "db"}, starts=T0 - 3 * HOUR, status="resolved", fingerprint="old"),
        alert(labels={"job": "orders-svc"}, starts=T0, fingerprint="new"),
    )
    decision = decide(body)
    assert decision.component == "orders"
    assert decision.window_start == T0 - ROUTING.lookback_seconds
    assert decision.annotations["diagnosis.dev/alert-fingerprints"] == "new"


# --------------------------------------------------------------------- mapping


def test_selector_match_picks_the_most_specific_component() -> None:
    assert decide(payload(alert(labels={"job": "orders-svc"}))).component == "orders"
    canary = payload(alert(labels={"job": "orders-svc", "track": "canary"}))
    assert decide(canary).component == "orders-canary"
    assert decide(payload(alert(labels={"job": "edge-proxy"}))).component == "gateway"


def test_service_label_naming_a_component() -> None:
    assert decide(payload(alert(labels={"service": "db", "job": "x"}))).component == "db"


def test_explicit_value_mapping() -> None:
    routing = routing_from_policy(
        spec=POLICY,
        name="shop",
        namespace="team-a",
        template=AlertRouting(policy="d", namespace="d", components={"mariadb": "db"}),
    )
    assert decide(payload(alert(labels={"app": "mariadb"})), routing=routing).component == "db"


def test_unknown_component_is_refused_with_what_was_seen() -> None:
    body = payload(alert(labels={"service": "billing", "job": "billing-svc"}))
    with pytest.raises(UnroutableAlert) as raised:
        diagnosis_for_alerts(payload=body, routing=ROUTING, now=T0)
    message = str(raised.value)
    assert "team-a/shop" in message
    assert "service='billing'" in message and "job='billing-svc'" in message


def test_default_component_applies_only_if_the_policy_has_it() -> None:
    with_default = routing_from_policy(
        spec=POLICY,
        name="shop",
        namespace="team-a",
        template=AlertRouting(policy="d", namespace="d", default_component="gateway"),
    )
    body = payload(alert(labels={"alertname": "Whatever"}))
    assert decide(body, routing=with_default).component == "gateway"
    missing_default = routing_from_policy(
        spec=POLICY,
        name="shop",
        namespace="team-a",
        template=AlertRouting(policy="d", namespace="d", default_component="nope"),
    )
    with pytest.raises(UnroutableAlert):
        diagnosis_for_alerts(payload=body, routing=missing_default, now=T0)


def test_static_routing_takes_only_valid_names() -> None:
    static = AlertRouting(policy="p", namespace="n")
    assert decide(payload(alert(labels={"service": "api"})), routing=static).component == "api"
    with pytest.raises(UnroutableAlert):
        diagnosis_for_alerts(
            payload=payload(alert(labels={"service": 'api"} or vector(1)'})),
            routing=static,
            now=T0,
        )


# --------------------------------------------------------------------- the object


def test_manifest_is_a_valid_diagnosis_spec() -> None:
    body = payload(alert(labels={"job": "orders-svc", "route": "/api/orders"}))
    decision = decide(body, now=T0 + 300)
    manifest = decision.manifest()
    spec = DiagnosisSpec.model_validate(manifest["spec"])
    assert spec.symptom.component == "orders"
    assert spec.symptom.route == "/api/orders"
    assert spec.policy_ref.name == "shop"
    window = spec.window.resolve(now=0)
    assert window.start == T0 - ROUTING.lookback_seconds and window.end == T0 + 300
    assert manifest["metadata"]["namespace"] == "team-a"
    assert manifest["metadata"]["labels"][COMPONENT_LABEL] == "orders"
    assert manifest["metadata"]["annotations"][GROUP_KEY_ANNOTATION] == body.group_key
    assert manifest["apiVersion"] == "diagnosis.dev/v1alpha1" and manifest["kind"] == "Diagnosis"


def test_route_that_is_not_a_path_is_dropped() -> None:
    decision = decide(payload(alert(labels={"job": "orders-svc", "route": "orders"})))
    assert decision.route is None
    assert "route" not in decision.manifest()["spec"]["symptom"]


def test_long_running_alert_window_is_capped() -> None:
    decision = decide(payload(alert(labels={"job": "db"}, starts=T0 - 48 * HOUR)), now=T0)
    assert decision.window_end - decision.window_start == ROUTING.max_window_seconds


def test_label_value_is_valid() -> None:
    assert label_value("a b/c" * 30) == label_value("a b/c" * 30)[:63]
    assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", label_value("-x y-"))


# --------------------------------------------------------------------- payload model


def test_payload_parses_alertmanager_times() -> None:
    body = payload(alert(labels={"job": "db"}))
    assert body.alerts[0].ends_at is None  # Go zero time = still firing
    nanos = AlertmanagerWebhook.model_validate(
        {
            **body.model_dump(by_alias=True, mode="json"),
            "alerts": [{**alert(labels={}), "startsAt": "2031-03-04T05:10:00.123456789Z"}],
        }
    )
    assert nanos.alerts[0].starts_at.microsecond == 123456


@pytest.mark.parametrize(
    ("change", "bad_field"),
    [
        ({"version": "3"}, "version"),
        ({"groupKey": ""}, "groupKey"),
        ({"status": "pending"}, "status"),
        ({"alerts": []}, "alerts"),
        ({"truncatedAlerts": -1}, "truncatedAlerts"),
    ],
)
def test_payload_errors_name_the_field(change: dict[str, Any], bad_field: str) -> None:
    good = payload(alert(labels={"job": "db"})).model_dump(by_alias=True, mode="json")
    with pytest.raises(ValidationError) as raised:
        AlertmanagerWebhook.model_validate({**good, **change})
    assert bad_field in {str(error["loc"][0]) for error in raised.value.errors()}


def test_alert_without_starts_at_is_refused() -> None:
    good = payload(alert(labels={"job": "db"})).model_dump(by_alias=True, mode="json")
    broken = dict(good["alerts"][0])
    del broken["startsAt"]
    with pytest.raises(ValidationError) as raised:
        AlertmanagerWebhook.model_validate({**good, "alerts": [broken]})
    assert ("alerts", 0, "startsAt") in {tuple(e["loc"]) for e in raised.value.errors()}


def test_routing_rejects_nonpositive_windows() -> None:
    with pytest.raises(ValueError, match="dedup_window_seconds"):
        AlertRouting(policy="p", namespace="n", dedup_window_seconds=0)


def test_rendered_rule_labels_pick_the_component_and_refuse_another_policy() -> None:
    spec = DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {"name": "api", "kind": "app", "selector": {"job": "shared"}},
                {"name": "worker", "kind": "app", "selector": {"job": "shared"}},
            ]
        }
    )
    routing = routing_from_policy(
        spec=spec, name="checkout", namespace="shop", template=AlertRouting(policy="", namespace="")
    )
    labels = {
        "alertname": "DiagnosisErrorRatioHigh",
        "job": "shared",
        "diagnosis_policy": "checkout",
        "diagnosis_namespace": "shop",
    }
    decision = diagnosis_for_alerts(
        payload=payload(alert(labels={**labels, "diagnosis_component": "worker"})),
        routing=routing,
        now=T0 + 60,
    )
    assert isinstance(decision, DiagnosisToCreate)
    assert decision.component == "worker"
    with pytest.raises(UnroutableAlert, match="rendered for policy shop/other"):
        diagnosis_for_alerts(
            payload=payload(alert(labels={**labels, "diagnosis_policy": "other"})),
            routing=routing,
            now=T0 + 60,
        )
