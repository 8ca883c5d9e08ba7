"""A DiagnosisPolicy as the engine's inputs, and what its guards would decide: one path.

``engine_inputs`` is the one place a policy becomes the engine's topology,
settings (``thresholds``) and extra signals (``signalOverrides`` rendered per
component): the kopf handler (live) and ``diagnose --bundle --policy``
(offline) both call it, so a policy means the same in both.
``preview`` says, for a finished diagnosis, which proposed actions the
policy's guards would let run and which they would refuse, and why
(``core.remediation.preview``: the executor's pure guards, nothing executed).
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.api import DiagnosisPolicySpec, DiagnosisStatus, PolicySnapshot
from diagnosis_operator.catalog.signals import DEFAULT_RATE_WINDOW
from diagnosis_operator.core.phases import with_result
from diagnosis_operator.core.remediation.preview import PREVIEW_UID, preview_actions
from diagnosis_operator.models.engine import EngineSettings, PolicySignal
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.preview import ActionPreview
from diagnosis_operator.models.topology import Topology
from diagnosis_operator.service.policy_check import render_overrides
from diagnosis_operator.service.remediate.policy import guard_policy_from


class PolicyInputError(ValueError):
    """A policy the engine cannot use; the message names the field."""


@dataclass(frozen=True)
class EngineInputs:
    topology: Topology
    settings: EngineSettings
    signals: tuple[PolicySignal, ...]


def engine_inputs(spec: DiagnosisPolicySpec) -> EngineInputs:
    """The engine's topology, settings and policy signals of ``spec``.

    Raises ``TopologyError`` (components) or ``PolicyInputError`` (a
    ``signalOverrides`` entry that cannot be rendered for its component).
    """
    topology = spec.to_topology()
    renderings, problems = render_overrides(spec=spec, rate_window=DEFAULT_RATE_WINDOW)
    if problems:
        raise PolicyInputError("; ".join(problem.describe() for problem in problems))
    return EngineInputs(
        topology=topology,
        settings=spec.thresholds.to_engine_settings(),
        signals=tuple(
            PolicySignal(name=r.override, component=r.component, promql=r.promql)
            for r in renderings
        ),
    )


def preview(
    *,
    result: DiagnosisResult,
    spec: DiagnosisPolicySpec,
    policy_name: str,
    namespace: str,
    now: float,
) -> tuple[ActionPreview, ...]:
    """What the policy's guards would decide about ``result``'s proposed actions.

    The remediations are turned into status entries the way the live handler
    does (``core.phases.with_result``), then judged in ``remediate`` mode with
    an empty ledger, no approval and remediation not paused.
    """
    snapshot = PolicySnapshot(name=policy_name, resource_version="", generation=0, spec=spec)
    status = with_result(
        DiagnosisStatus(policy_snapshot=snapshot),
        result=result,
        diagnosis_uid=PREVIEW_UID,
        namespace=namespace,
    )
    return preview_actions(
        remediations=status.remediations,
        policy=spec,
        guard=guard_policy_from(spec.remediation, paused=False),
        namespace=namespace,
        now=now,
    )
