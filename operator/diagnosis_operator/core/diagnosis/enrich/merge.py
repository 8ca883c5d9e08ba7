"""The diagnosis with the observations' evidence, advice and notes merged in.  Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from diagnosis_operator.core.diagnosis.enrich.model import (
    DEFAULT_THRESHOLDS,
    Enrichment,
    EnrichThresholds,
    SlowStatement,
)
from diagnosis_operator.core.diagnosis.enrich.mysql_explain import explain_findings
from diagnosis_operator.core.diagnosis.enrich.redis_findings import redis_findings
from diagnosis_operator.models.findings import (
    DiagnosisResult,
    Recommendation,
    Urgency,
)
from diagnosis_operator.models.observations import (
    ExplainObservation,
    RedisObservation,
)
from diagnosis_operator.models.sqltext import (
    fingerprint,
)


def enrich(
    *,
    result: DiagnosisResult,
    explains: Sequence[ExplainObservation] = (),
    redis: Sequence[RedisObservation] = (),
    refused: Sequence[SlowStatement] = (),
    notes: Sequence[str] = (),
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> DiagnosisResult:
    """Pure: the result with the observations' evidence, advice and notes added.

    Recommendations the observations answer (``Enrichment.superseded``) are
    replaced; refused statements are reported as warnings.
    """
    parts: list[Enrichment] = []
    for observation in explains:
        parts.append(
            explain_findings(
                observation=observation, earlier=result.recommendations, thresholds=thresholds
            )
        )
    for cache in redis:
        parts.append(redis_findings(observation=cache, window=result.window, thresholds=thresholds))
    warnings = list(result.warnings)
    for statement in refused:
        warnings.append(
            f"enrich: slow statement from {statement.component} not explained "
            f"({statement.refused}): {fingerprint(statement.statement)[:160]}"
        )
    warnings.extend(notes)
    for part in parts:
        warnings.extend(part.notes)
    return merge(result=result, parts=parts, warnings=tuple(warnings))


_URGENCY_ORDER = {Urgency.IMMEDIATE: 0, Urgency.SHORT_TERM: 1, Urgency.LONG_TERM: 2}


def merge(
    *, result: DiagnosisResult, parts: Sequence[Enrichment], warnings: tuple[str, ...]
) -> DiagnosisResult:
    """Pure: evidence appended, recommendations merged (superseded dropped, duplicates once)."""
    superseded = {advice for part in parts for advice in part.superseded}
    advice: list[Recommendation] = []
    seen: set[str] = set()
    candidates = [r for r in result.recommendations if r not in superseded]
    candidates += [r for part in parts for r in part.recommendations]
    for item in candidates:
        if item.text in seen:
            continue
        seen.add(item.text)
        advice.append(item)
    advice.sort(key=lambda r: _URGENCY_ORDER.get(r.urgency, 3))
    evidence = result.evidence + tuple(e for part in parts for e in part.evidence)
    return replace(
        result,
        evidence=evidence,
        recommendations=tuple(advice),
        warnings=warnings,
    )
