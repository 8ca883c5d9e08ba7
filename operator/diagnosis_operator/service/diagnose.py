"""collect -> detect -> correlate -> explain -> plan: one diagnosis.

``run_diagnosis`` is the one entry point of both paths: the kopf handler calls
it with the live Prometheus and Loki adapters, ``diagnose --bundle`` with a
``BundleSource``.  Everything after ``collect`` is the pure core
(``core.diagnosis.analyse``), so offline and live give the same result for the
same signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from diagnosis_operator.core.diagnosis.analyse import analyse
from diagnosis_operator.models.coverage import Outcome
from diagnosis_operator.models.engine import DEFAULT_ENGINE_SETTINGS, EngineSettings, PolicySignal
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Topology
from diagnosis_operator.ports import LogSource, PromQLSource, SeriesSource
from diagnosis_operator.service import metrics
from diagnosis_operator.service.collect import collect


def run_diagnosis(  # noqa: PLR0913 (the keyword-only contract of the kopf handler, the CLI and tests)
    *,
    topology: Topology,
    window: Window,
    symptom: str | None,
    series: SeriesSource,
    logs: LogSource,
    now: float,
    on_stage: Callable[[str], None] | None = None,
    enrich: Callable[[DiagnosisResult], DiagnosisResult] | None = None,
    settings: EngineSettings | None = None,
    policy_signals: Sequence[PolicySignal] = (),
    promql: PromQLSource | None = None,
    symptom_component: str | None = None,
    deadline: float | None = None,
    aggregate: bool = True,
) -> DiagnosisResult:
    """Collect the window's signals through the sources and diagnose them.

    ``enrich`` (optional, e.g. ``service.enrich.make_enricher``) adds what the
    databases answer when asked directly; it never fails the diagnosis.
    ``settings`` (the policy's thresholds) default to the engine's built-in values;
    ``policy_signals`` (its ``signalOverrides``) are asked through ``promql``.
    ``service.policy_engine.engine_inputs`` makes all three from a policy.
    ``symptom_component`` names the component whose own metrics must be readable
    for any conclusion; ``deadline`` (a ``time.monotonic()`` instant) bounds the
    collection; ``aggregate=False`` pulls every raw series instead of the planned
    queries.  ``coverage`` says complete, degraded or failed.
    """
    settings = settings or DEFAULT_ENGINE_SETTINGS
    del now  # the diagnosis depends on the window only; kept for the callers' contract
    stage = on_stage or (lambda _name: None)
    # Counted while collecting and analysing: the diagnoses_running gauge.
    with metrics.diagnosis_running():
        stage("collecting")
        signal_set = collect(
            topology=topology,
            window=window,
            series=series,
            logs=logs,
            step=settings.step,
            policy_signals=policy_signals,
            promql=promql,
            deadline=deadline,
            aggregate=aggregate,
        )
        stage("correlating")
        result = analyse(
            topology=topology,
            signals=signal_set,
            symptom=symptom,
            on_stage=stage,
            settings=settings,
            symptom_component=symptom_component,
        )
    if enrich is None or result.coverage.outcome is Outcome.FAILED:
        return result
    stage("enriching")
    return enrich(result)
