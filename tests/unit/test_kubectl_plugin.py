"""``kubectl diagnose`` against a fake cluster: what it sends, prints and refuses."""

from __future__ import annotations

import io
from typing import Any

import pytest

from diagnosis_operator.api import DiagnosisSpec
from diagnosis_operator.entrypoints.cli.kubectl.main import main
from diagnosis_operator.models.controls import (
    CONTROL_CONFIGMAP,
    ControlError,
    approval_annotation,
    approvals_from,
    parse_approval,
    paused_from,
)
from tests.fakes.plugin_cluster import FakeCluster

KEY_DRAIN = "0f3c9a7b1e2d4c5a6b7c8d9e0f1a2b3c"
KEY_KILL = "0f3c11112222333344445555666677ab"


def policy(name: str, *components: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {
            "components": [{"name": c, "kind": "app", "selector": {"job": c}} for c in components]
        },
    }


def cluster_with_policy() -> FakeCluster:
    cluster = FakeCluster()
    cluster.policies[("team-a", "shop")] = policy("shop", "checkout", "payments")
    return cluster


def run(cluster: FakeCluster, *argv: str) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(list(argv), cluster=cluster, out=out)
    return code, out.getvalue(), ""


def diagnosed(cluster: FakeCluster, *, annotations: dict[str, str] | None = None) -> None:
    cluster.diagnoses[("team-a", "checkout-1")] = {
        "metadata": {
            "name": "checkout-1",
            "namespace": "team-a",
            "creationTimestamp": "2031-03-04T05:00:00Z",
            "annotations": annotations or {},
        },
        "spec": {
            "symptom": {"component": "checkout"},
            "window": {"lookback": "30m"},
            "policyRef": {"name": "shop"},
            "mode": "dry-run",
        },
        "status": {
            "phase": "Completed",
            "rootCause": {
                "component": "payments-db",
                "confidence": 0.81,
                "summary": "lock waits on the orders table",
            },
            "candidates": [{"component": "payments-db", "score": 0.81}],
            "remediations": [
                {
                    "action": "drain-pod",
                    "target": "checkout-7d9f",
                    "state": "proposed",
                    "idempotencyKey": KEY_DRAIN,
                },
                {
                    "action": "kill-mysql-queries",
                    "target": "payments-db",
                    "state": "proposed",
                    "idempotencyKey": KEY_KILL,
                },
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Diagnosed",
                    "message": "",
                    "lastTransitionTime": "2031-03-04T05:01:00Z",
                }
            ],
            "reportRef": {"name": "checkout-1-report"},
        },
    }


# --------------------------------------------------------------------- create


def test_create_sends_a_valid_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = cluster_with_policy()
    code, out, _ = run(
        cluster,
        "create",
        "--service",
        "checkout",
        "--since",
        "45m",
        "--mode",
        "dry-run",
        "--route",
        "/api/pay",
    )
    assert code == 0, capsys.readouterr().err
    (((namespace, name), body),) = cluster.diagnoses.items()
    assert namespace == "team-a" and name.startswith("checkout-")
    assert name in out
    spec = DiagnosisSpec.model_validate(body["spec"])
    assert spec.symptom.component == "checkout" and spec.symptom.route == "/api/pay"
    assert spec.window.lookback == "45m" and spec.policy_ref.name == "shop"
    assert spec.mode.value == "dry-run"
    assert body["metadata"]["labels"]["diagnosis.dev/trigger"] == "kubectl"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "--service", "nope"], "has no component 'nope'"),
        (["create", "--service", "checkout", "--since", "soon"], "--since"),
        (["create", "--service", "checkout", "--route", "api"], "--route"),
        (["create", "--service", "checkout", "--policy", "other"], "no DiagnosisPolicy 'other'"),
    ],
)
def test_create_refuses_bad_input_clearly(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = cluster_with_policy()
    code, _, _ = run(cluster, *argv)
    assert code == 1
    assert message in capsys.readouterr().err
    assert cluster.diagnoses == {}


def test_create_needs_a_policy_choice_when_there_are_several(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cluster_with_policy()
    cluster.policies[("team-a", "other")] = policy("other", "checkout")
    assert run(cluster, "create", "--service", "checkout")[0] == 1
    assert "--policy" in capsys.readouterr().err
    assert run(cluster, "create", "--service", "checkout", "--policy", "other")[0] == 0
    ((_, body),) = cluster.diagnoses.items()
    assert body["spec"]["policyRef"] == {"name": "other"}


def test_create_without_any_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(FakeCluster(), "create", "--service", "x")[0] == 1
    assert "no DiagnosisPolicy in namespace team-a" in capsys.readouterr().err


# --------------------------------------------------------------------- read


def test_list_and_show() -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    code, out, _ = run(cluster, "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:3] == ["NAME", "PHASE", "MODE"]
    assert row.split()[:6] == [
        "checkout-1",
        "Completed",
        "dry-run",
        "checkout",
        "payments-db",
        "0.81",
    ]
    code, out, _ = run(cluster, "-n", "elsewhere", "list")
    assert "No diagnoses in namespace elsewhere" in out
    code, out, _ = run(cluster, "-n", "team-a", "list", "-n", "elsewhere")  # after wins
    assert "No diagnoses in namespace elsewhere" in out
    assert "checkout-1" in run(cluster, "-n", "elsewhere", "list", "-A")[1]
    code, out, _ = run(cluster, "show", "checkout-1")
    assert "Root cause:   payments-db (confidence 0.81)" in out
    assert KEY_DRAIN in out and "drain-pod" in out
    assert "Report:       ConfigMap checkout-1-report" in out


def test_show_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cluster_with_policy(), "show", "ghost")[0] == 1
    assert "no diagnosis 'ghost' in namespace team-a" in capsys.readouterr().err


def test_report_prints_the_configmap_or_the_summary() -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    cluster.configmaps[("team-a", "checkout-1-report")] = {
        "report.md": "# Diagnosis\nlock waits\n",
        "diagnosis.json": '{"rootCause": {}}',
    }
    assert run(cluster, "report", "checkout-1")[1] == "# Diagnosis\nlock waits\n"
    assert run(cluster, "report", "checkout-1", "--format", "json")[1] == '{"rootCause": {}}\n'
    del cluster.diagnoses[("team-a", "checkout-1")]["status"]["reportRef"]
    code, out, _ = run(cluster, "report", "checkout-1")
    assert code == 0 and "Root cause:" in out and "no full report yet" in out


def test_report_with_missing_configmap(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    assert run(cluster, "report", "checkout-1")[0] == 1
    assert "checkout-1-report" in capsys.readouterr().err


# --------------------------------------------------------------------- approve


def test_approve_by_key_prefix_records_user_and_time() -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    code, out, _ = run(cluster, "approve", "checkout-1", KEY_DRAIN[:8])
    assert code == 0 and "alice@example.org" in out
    annotations = cluster.diagnoses[("team-a", "checkout-1")]["metadata"]["annotations"]
    approvals = approvals_from(annotations)
    assert set(approvals) == {KEY_DRAIN}
    assert approvals[KEY_DRAIN].user == "alice@example.org"
    # approving again keeps the first approval
    cluster.user = "bob"
    code, out, _ = run(cluster, "approve", "checkout-1", "drain-pod")
    assert code == 0 and "already approved by alice@example.org" in out
    assert (
        approvals_from(cluster.diagnoses[("team-a", "checkout-1")]["metadata"]["annotations"])[
            KEY_DRAIN
        ].user
        == "alice@example.org"
    )


def test_approve_ambiguous_or_unknown_key_lists_the_remediations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    assert run(cluster, "approve", "checkout-1", "0f3c")[0] == 1  # prefix of both keys
    err = capsys.readouterr().err
    assert KEY_DRAIN in err and KEY_KILL in err
    assert run(cluster, "approve", "checkout-1", "rate-limit-client")[0] == 1
    assert "matches none" in capsys.readouterr().err
    assert (
        "annotations" not in cluster.diagnoses[("team-a", "checkout-1")]["metadata"]
        or not (cluster.diagnoses[("team-a", "checkout-1")]["metadata"]["annotations"])
    )


def test_approve_a_finished_remediation_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    cluster.diagnoses[("team-a", "checkout-1")]["status"]["remediations"][0]["state"] = "succeeded"
    assert run(cluster, "approve", "checkout-1", KEY_DRAIN)[0] == 1
    assert "already succeeded" in capsys.readouterr().err


def test_approve_in_observe_mode_is_refused_and_records_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    body = cluster.diagnoses[("team-a", "checkout-1")]
    body["spec"]["mode"] = "observe"
    assert run(cluster, "approve", "checkout-1", "drain-pod")[0] == 1
    err = capsys.readouterr().err
    assert "mode observe: nothing will run; switch the Diagnosis to dry-run or remediate" in err
    assert KEY_DRAIN in err  # says what was not approved
    assert approvals_from(body["metadata"].get("annotations")) == {}
    # A Diagnosis without a mode is in observe mode (the CRD's default).
    del body["spec"]["mode"]
    assert run(cluster, "approve", "checkout-1", KEY_DRAIN)[0] == 1
    assert approvals_from(body["metadata"].get("annotations")) == {}
    body["spec"]["mode"] = "remediate"
    assert run(cluster, "approve", "checkout-1", KEY_DRAIN)[0] == 0
    assert set(approvals_from(body["metadata"]["annotations"])) == {KEY_DRAIN}


# --------------------------------------------------------------------- pause


def test_pause_and_resume_write_the_control_configmap() -> None:
    cluster = cluster_with_policy()
    assert run(cluster, "--operator-namespace", "ops", "pause", "--reason", "db migration")[0] == 0
    data = cluster.configmaps[("ops", CONTROL_CONFIGMAP)]
    assert paused_from(data)
    assert data["pausedBy"] == "alice@example.org" and data["reason"] == "db migration"
    code, out, _ = run(cluster, "--operator-namespace", "ops", "resume")
    assert code == 0 and "resumed" in out
    assert not paused_from(cluster.configmaps[("ops", CONTROL_CONFIGMAP)])
    code, out, _ = run(cluster, "--operator-namespace", "ops", "resume")
    assert "not paused" in out


# --------------------------------------------------------------------- controls model


def test_approval_annotation_format() -> None:
    assert approval_annotation(KEY_DRAIN) == f"diagnosis.dev/approved-{KEY_DRAIN}"
    with pytest.raises(ControlError):
        approval_annotation("Bad Key")
    with pytest.raises(ControlError):
        approval_annotation("a" * 60)
    approval = parse_approval(action_key="k", value="carol@corp.example@2031-03-04T05:00:00Z")
    assert approval.user == "carol@corp.example"
    with pytest.raises(ControlError):
        parse_approval(action_key="k", value="carol")
    assert approvals_from({f"diagnosis.dev/approved-{KEY_KILL}": "garbage", "other": "x"}) == {}


def test_paused_needs_an_explicit_true() -> None:
    assert not paused_from(None)
    assert not paused_from({"paused": "false"})
    assert not paused_from({"pausedBy": "x"})
    assert paused_from({"paused": "True"})


def test_create_refuses_a_name_whose_report_configmap_is_taken(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cluster_with_policy()
    cluster.configmaps[("team-a", "x-report")] = {"keep": "me"}
    code, _, _ = run(cluster, "create", "--service", "checkout", "--name", "x")
    assert code == 1
    err = capsys.readouterr().err
    assert "team-a/x-report already exists" in err and "--name" in err
    assert cluster.diagnoses == {}
    assert cluster.configmaps[("team-a", "x-report")] == {"keep": "me"}
    assert run(cluster, "create", "--service", "checkout", "--name", "y")[0] == 0
