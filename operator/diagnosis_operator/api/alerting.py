"""A ``DiagnosisPolicy``'s ``alerts``: the alerting rules rendered from its symptoms.

``core/rules`` turns the policy's components, their symptom signals (5xx ratio, mean
latency, significant log lines, a data store's own up gauge) and ``thresholds`` into
Prometheus and Loki alerting rules; ``diagnosis-operator policy render`` prints them,
and with ``sync: true`` the operator keeps them as a ``PrometheusRule`` (Prometheus
Operator) owned by the policy.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from diagnosis_operator.api.common import (
    CrdModel,
    Duration,
    SignalLabelMatchers,
    parse_duration,
    validations,
)

# The labels the rendered rules set themselves (routing back to the policy).
RESERVED_ALERT_LABELS = ("alertname",)
RESERVED_ALERT_PREFIX = "diagnosis_"
# The baseline must hold a few of the catalog's 2-minute rate windows.
MIN_BASELINE_SECONDS = 240.0


class AlertRules(CrdModel):
    """How the policy's alerting rules are rendered, and whether the operator applies them."""

    sync: bool = Field(
        default=False,
        description=(
            "Keep the rules as a PrometheusRule named '<policy>-diagnosis-alerts' in the "
            "policy's namespace, owned by the policy: created, corrected when edited or "
            "deleted, removed with the policy. Off: nothing is written (render them with "
            "'diagnosis-operator policy render')."
        ),
    )
    baseline: Duration = Field(
        default="1h",
        description=(
            "How far back the baseline a symptom is compared with reaches (its median over "
            "this window, ending where the rate window starts); at least 4m."
        ),
    )
    labels: SignalLabelMatchers = Field(
        default_factory=dict,
        description="Extra labels on every alert (e.g. severity); they cannot replace the "
        "diagnosis_* routing labels.",
    )
    rule_labels: SignalLabelMatchers = Field(
        default_factory=dict,
        description="Labels on the PrometheusRule object itself, for the Prometheus "
        "ruleSelector (e.g. release: kube-prometheus-stack).",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "!has(self.labels) || self.labels.all(k, k != 'alertname' && "
                "!k.startsWith('diagnosis_'))",
                "alerts.labels cannot set alertname or diagnosis_* (the routing labels)",
                ".labels",
            ),
        )
    )

    @field_validator("labels")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name in RESERVED_ALERT_LABELS or name.startswith(RESERVED_ALERT_PREFIX):
                raise ValueError(
                    f"label {name!r} is set by the rendered rules (alertname, diagnosis_*)"
                )
        return value

    @field_validator("baseline")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if parse_duration(value) < MIN_BASELINE_SECONDS:
            raise ValueError(f"baseline {value} is shorter than 4m (two 2m rate windows)")
        return value
