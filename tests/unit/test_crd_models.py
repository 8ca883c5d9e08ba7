"""The CR models: the rules the apiserver checks with CEL hold in Python too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    DiagnosisSpec,
    DiagnosisWindow,
    LabelSelector,
    Mode,
    parse_duration,
)
from diagnosis_operator.models.topology import ComponentKind

VALID: dict[str, Any] = {
    "symptom": {"component": "gateway", "route": "/api/orders"},
    "window": {"lookback": "30m"},
    "policyRef": {"name": "shop"},
}

POLICY: dict[str, Any] = {
    "components": [
        {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["svc"]},
        {"name": "svc", "kind": "app", "selector": {"job": "svc"}, "dependsOn": ["store", "cache"]},
        {"name": "store", "kind": "mysql", "selector": {"job": "db"}},
        {"name": "cache", "kind": "redis", "selector": {"job": "kv"}},
    ]
}


def test_spec_reads_camel_case_and_defaults_mode_to_observe() -> None:
    spec = DiagnosisSpec.model_validate(VALID)
    assert spec.mode is Mode.OBSERVE
    assert spec.policy_ref.name == "shop"
    assert spec.to_wire()["policyRef"] == {"name": "shop"}
    assert spec.to_wire()["mode"] == "observe"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"mode": "bogus"}, "mode"),
        ({"window": {}}, "exactly one form"),
        (
            {
                "window": {
                    "lookback": "5m",
                    "start": "2024-05-01T10:00:00Z",
                    "end": "2024-05-01T11:00:00Z",
                }
            },
            "exactly one form",
        ),
        ({"window": {"start": "2024-05-01T10:00:00Z"}}, "go together"),
        (
            {"window": {"start": "2024-05-01T11:00:00Z", "end": "2024-05-01T10:00:00Z"}},
            "after start",
        ),
        ({"window": {"lookback": "0s"}}, "longer than zero"),
        ({"window": {"lookback": "half an hour"}}, "pattern"),
        ({"symptom": {}}, "at least one of component, selector or route"),
        ({"symptom": {"route": "api/orders"}}, "pattern"),
        ({"policyRef": {}}, "name"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_refused_with_the_reason(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DiagnosisSpec.model_validate({**VALID, **change})
    assert words in str(caught.value)


def test_window_resolves_lookback_from_now_and_absolute_as_given() -> None:
    now = 1_700_000_000.0
    relative = DiagnosisWindow.model_validate({"lookback": "1h30m"}).resolve(now=now)
    assert (relative.start, relative.end) == (now - 5400, now)
    absolute = DiagnosisWindow.model_validate(
        {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T14:20:00+02:00"}
    ).resolve(now=now)
    assert absolute.start == datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()
    assert absolute.end == datetime(2024, 5, 1, 12, 20, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "-5m", "5w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_policy_converts_to_the_engines_topology() -> None:
    topology = DiagnosisPolicySpec.model_validate(POLICY).to_topology()
    assert topology.names == ("edge", "svc", "store", "cache")
    assert topology.get("svc").kind is ComponentKind.APP
    assert dict(topology.get("store").selector) == {"job": "db"}
    assert topology.downstream_of("edge") == {"svc", "store", "cache"}


def test_policy_defaults_are_safe() -> None:
    remediation = DiagnosisPolicySpec.model_validate(POLICY).remediation
    for action in (
        remediation.drain_pod,
        remediation.kill_mysql_queries,
        remediation.rate_limit_client,
    ):
        assert action.enabled is False
        assert action.require_approval is True


@pytest.mark.parametrize(
    ("components", "words"),
    [
        (
            [{"name": "a", "kind": "app", "selector": {"j": "a"}, "dependsOn": ["ghost"]}],
            "unknown component 'ghost'",
        ),
        (
            [
                {"name": "a", "kind": "app", "selector": {"j": "a"}, "dependsOn": ["b"]},
                {"name": "b", "kind": "app", "selector": {"j": "b"}, "dependsOn": ["a"]},
            ],
            "cycle",
        ),
        (
            [
                {"name": "a", "kind": "app", "selector": {"j": "a"}},
                {"name": "a", "kind": "redis", "selector": {"j": "b"}},
            ],
            "declared twice",
        ),
        ([{"name": "a", "kind": "app", "selector": {}}], "at least one label matcher"),
        ([{"name": "a", "kind": "queue", "selector": {"j": "a"}}], "kind"),
        ([{"name": "Not_DNS", "kind": "app", "selector": {"j": "a"}}], "pattern"),
        ([], "at least 1 item"),
    ],
)
def test_policy_is_checked_by_meaning(components: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DiagnosisPolicySpec.model_validate({"components": components})
    assert words in str(caught.value)


def test_signal_override_needs_exactly_one_known_target() -> None:
    both = {"name": "extra", "component": "svc", "componentKind": "app", "promql": "up"}
    with pytest.raises(ValidationError, match="exactly one of component or componentKind"):
        DiagnosisPolicySpec.model_validate({**POLICY, "signalOverrides": [both]})
    unknown = {"name": "extra", "component": "nope", "promql": "up"}
    with pytest.raises(ValidationError, match="unknown component 'nope'"):
        DiagnosisPolicySpec.model_validate({**POLICY, "signalOverrides": [unknown]})


def test_label_selector_renders_a_list_query() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"app": "api", "tier": "web"},
            "matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.to_query() == "app=api,tier=web,zone in (a,b),!canary"
    with pytest.raises(ValidationError, match="values must be non-empty"):
        LabelSelector.model_validate({"matchExpressions": [{"key": "k", "operator": "In"}]})
