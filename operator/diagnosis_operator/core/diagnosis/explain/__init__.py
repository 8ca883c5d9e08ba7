"""Evidence chain, timeline, recommendations, summary and key signals.  Pure.

The evidence chain runs from the root's layer up to where the symptom was seen
(root, aggravating factors, then the callers by distance from the root); every
item quotes the query or the log line behind it.  Recommendations follow only
from evidence that is present.
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.explain.evidence import (
    MAX_METRIC_EVIDENCE,
    chain_order,
    evidence_chain,
)
from diagnosis_operator.core.diagnosis.explain.recommendations import recommendations
from diagnosis_operator.core.diagnosis.explain.signals import MAX_KEY_SIGNALS, key_signals
from diagnosis_operator.core.diagnosis.explain.summary import summary
from diagnosis_operator.core.diagnosis.explain.timeline import timeline

__all__ = [
    "MAX_KEY_SIGNALS",
    "MAX_METRIC_EVIDENCE",
    "chain_order",
    "evidence_chain",
    "key_signals",
    "recommendations",
    "summary",
    "timeline",
]
