"""Alerting rules rendered from a DiagnosisPolicy (pure): Prometheus, PrometheusRule, Loki.

``symptoms.render_rules`` measures what the incident gate measures (the catalog's
5xx ratio and mean latency against their own baseline, a data store's up gauge,
significant log lines) with the policy's thresholds; ``documents`` turns the rules
into a ``PrometheusRule`` object, a Prometheus rule file and a Loki ruler file.
"""

from __future__ import annotations

from diagnosis_operator.core.rules.documents import (
    PROMETHEUS_RULE_API_VERSION,
    PROMETHEUS_RULE_KIND,
    loki_rule_file,
    prometheus_rule,
    prometheus_rule_file,
    rule_object_name,
)
from diagnosis_operator.core.rules.symptoms import (
    COMPONENT_LABEL,
    NAMESPACE_LABEL,
    POLICY_LABEL,
    SIGNAL_LABEL,
    AlertRule,
    RulesError,
    RuleSet,
    render_rules,
    template_literal,
)

__all__ = [
    "COMPONENT_LABEL",
    "NAMESPACE_LABEL",
    "POLICY_LABEL",
    "PROMETHEUS_RULE_API_VERSION",
    "PROMETHEUS_RULE_KIND",
    "SIGNAL_LABEL",
    "AlertRule",
    "RuleSet",
    "RulesError",
    "loki_rule_file",
    "prometheus_rule",
    "prometheus_rule_file",
    "render_rules",
    "rule_object_name",
    "template_literal",
]
