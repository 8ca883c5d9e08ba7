"""Why a live run went wrong, in words a failing test can print (``tests/lab/live.py``).

* ``verdict_readings``: an applied action's verification as the operator judged it
  (outcome, follow-up, each check's before, after and threshold, when it was
  reached) and the PromQL checks' own readings read again from the lab's
  Prometheus: the symptom's queries as the verification renders them
  (``core.remediation.verify_metrics``), over the same baseline, before and
  sustained windows, at the same step, each value with its time.
* ``delivery_report``: where an alert's way to a Diagnosis stopped: the lab's
  alerts in Prometheus, Alertmanager's alerts, its notification counters and the
  lines of its log about notifying, the webhook's lines in the operator's log, and
  the Diagnoses of the namespace.

Each part that cannot be read says so and why; nothing here raises.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from diagnosis_operator.api import DiagnosisStatus, parse_duration
from diagnosis_operator.core.remediation.verify_metrics import metric_windows, symptom_queries
from diagnosis_operator.models.signals import Window
from tests.lab.stack import Lab

MAX_LINES = 40  # of a log, the last matching ones


def clock(at: float | None) -> str:
    """``at`` (epoch seconds) as UTC time of day with tenths, or ``-``."""
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, tz=UTC).strftime("%H:%M:%S.%f")[:-5]


def _guarded(what: str, read: Callable[[], str]) -> str:
    try:
        return read()
    except Exception as error:  # an explanation never hides the failure it explains
        return f"{what}: could not be read ({type(error).__name__}: {error})"


# ------------------------------------------------------------------ verification


def verdict_text(action: str, item: dict[str, Any]) -> str:
    """The verdict of one applied action as the operator recorded it."""
    executor = (item.get("params") or {}).get("executor") or {}
    verdict = executor.get("verification") or {}
    lines = [
        f"{action} {item.get('target')}: applied {clock(executor.get('appliedAt'))}, "
        f"verified {clock(verdict.get('at'))}: {verdict.get('outcome')} "
        f"(follow-up {verdict.get('followUp')})",
        f"  summary: {verdict.get('summary')}",
    ]
    lines += [
        f"  check {c.get('name')}: {c.get('outcome')}, before {c.get('before')}, "
        f"after {c.get('after')}, threshold {c.get('threshold')}"
        for c in verdict.get("checks") or []
    ]
    return "\n".join(lines)


def _series_text(lab: Lab, promql: str, window: Window, step: float) -> str:
    answer = lab.prometheus.api(
        "query_range",
        query=promql,
        start=repr(window.start),
        end=repr(window.end),
        step=f"{step:g}",
    )
    if answer.get("status") != "success":
        return f"    failed: {answer}"
    rows = []
    for series in answer["data"]["result"] or [{"metric": {}, "values": []}]:
        values = " ".join(f"{clock(float(t))}={float(v):.4g}" for t, v in series["values"])
        rows.append(f"    {series['metric'] or ''} {values or 'no samples'}")
    return "\n".join(rows)


def promql_readings(lab: Lab, diagnosis: dict[str, Any], item: dict[str, Any]) -> str:
    """The verification's PromQL queries over its three windows, read again."""
    status = DiagnosisStatus.model_validate(diagnosis.get("status") or {})
    executor = (item.get("params") or {}).get("executor") or {}
    verdict = executor.get("verification") or {}
    component_name = ((diagnosis.get("spec") or {}).get("symptom") or {}).get("component")
    if status.window is None or status.policy_snapshot is None or "at" not in verdict:
        return "  PromQL readings: no window, policy snapshot or verdict time"
    spec = status.policy_snapshot.spec
    component = next((c for c in spec.components if c.name == component_name), None)
    if component is None:
        return f"  PromQL readings: symptom component {component_name!r} not in the policy"
    sustain = parse_duration(spec.remediation.verification.sustain)
    baseline = parse_duration(spec.alerts.baseline)
    incident_start = status.window.start.timestamp()
    windows = metric_windows(
        incident_start=incident_start,
        acted_at=float(executor["appliedAt"]),
        now=float(verdict["at"]),
        baseline=baseline,
        sustain=sustain,
    )
    if windows is None:
        return "  PromQL readings: verdict reached before its sustained period (none)"
    step = max(1.0, min(15.0, sustain / 4))  # the verification's step (verify_promql)
    lines = [f"  PromQL readings (incident start {clock(incident_start)}, step {step:g}s):"]
    for query in symptom_queries(component, sustain=sustain):
        lines.append(f"  {query.signal}: {query.promql}")
        for name, window in (
            ("baseline", windows.baseline),
            ("before", windows.before),
            ("sustained", windows.sustained),
        ):
            lines.append(f"   {name} {clock(window.start)}..{clock(window.end)}:")
            lines.append(_series_text(lab, query.promql, window, step))
    return "\n".join(lines)


def verdict_readings(lab: Lab, diagnosis: dict[str, Any], item: dict[str, Any]) -> str:
    """``verdict_text`` and ``promql_readings`` of one applied action."""
    action = str(item.get("action"))
    return (
        verdict_text(action, item)
        + "\n"
        + _guarded("PromQL readings", lambda: promql_readings(lab, diagnosis, item))
    )


# ------------------------------------------------------------------ alert delivery


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _prometheus_alerts(lab: Lab) -> str:
    alerts = lab.prometheus.api("alerts")["data"]["alerts"]
    rows = [
        f"  {a['labels'].get('alertname')} {a['state']} since {a.get('activeAt')} "
        f"value {a.get('value')}"
        for a in alerts
    ]
    return "Prometheus alerts:\n" + ("\n".join(rows) or "  none")


def _alertmanager_alerts(lab: Lab) -> str:
    alerts = _get_json(f"{lab.alertmanager.url}/api/v2/alerts")
    rows = [
        f"  {a['labels'].get('alertname')} {a['status'].get('state')} "
        f"starts {a.get('startsAt')} ends {a.get('endsAt')} fingerprint {a.get('fingerprint')}"
        for a in alerts
    ]
    counters = {
        name: lab.alertmanager.metric(name)
        for name in (
            "alertmanager_notifications_total",
            "alertmanager_notifications_failed_total",
            "alertmanager_alerts_received_total",
        )
    }
    return (
        "Alertmanager alerts:\n"
        + ("\n".join(rows) or "  none")
        + f"\nAlertmanager counters: {counters}"
    )


def matching_lines(text: str, words: Iterable[str], limit: int = MAX_LINES) -> str:
    """The last ``limit`` lines of ``text`` holding any of ``words`` (case-insensitive)."""
    wanted = [w.lower() for w in words]
    lines = [line for line in text.splitlines() if any(w in line.lower() for w in wanted)]
    return "\n".join(f"  {line[:400]}" for line in lines[-limit:]) or "  none"


def _alertmanager_log(lab: Lab) -> str:
    text = lab.alertmanager.process.log_path.read_text(encoding="utf-8", errors="replace")
    return "Alertmanager log (notify, flush, errors):\n" + matching_lines(
        text, ("notify", "flushing", "error", "warn")
    )


def delivery_report(
    lab: Lab, *, operator_log: Callable[[], str], diagnoses: Callable[[], Sequence[Any]]
) -> str:
    """Where the way from a Prometheus alert to a Diagnosis stopped (module docstring)."""
    parts = [
        _guarded("Prometheus alerts", lambda: _prometheus_alerts(lab)),
        _guarded("Alertmanager alerts", lambda: _alertmanager_alerts(lab)),
        _guarded("Alertmanager log", lambda: _alertmanager_log(lab)),
        _guarded(
            "webhook log",
            lambda: (
                "webhook log lines:\n" + matching_lines(operator_log(), ("alertmanager", "webhook"))
            ),
        ),
        _guarded(
            "Diagnoses",
            lambda: (
                "Diagnoses:\n"
                + ("\n".join(f"  {json.dumps(d, default=str)}" for d in diagnoses()) or "  none")
            ),
        ),
    ]
    return "\n".join(parts)
