"""kopf handlers for ``DiagnosisPolicy``: check it by meaning, say so on ``status``.

The apiserver checks shapes (schema and CEL); this handler checks what only the
whole policy can say: ``dependsOn`` cycles and the topology the engine will use.
``Ready`` is True with reason ``Valid``, or False with reason ``Invalid`` and a
message naming the problem.  Diagnoses read the policy themselves when they start
(and keep a snapshot), so an invalid policy fails them with ``PolicyInvalid``.

``signalOverrides`` are rendered for their components and put to the policy's
Prometheus (``service.policy_check``): a refused one makes ``Ready`` False with
reason ``InvalidPromQL`` and Prometheus' own message.  Every refused override
is reported, not only the first: named by index and name in the message (each
shortened so that all fit), one ``InvalidSignalOverride`` Warning Event each, and
in full in ``status.overrideProblems``.  ``PromQLChecked`` says
whether that check ran: True, False (``InvalidPromQL``), or Unknown
(``PrometheusUnavailable``, retried a bounded number of times; ``NoPrometheus``).
A Prometheus that cannot be asked never makes a policy Invalid.

A valid policy's alerting rules are synced as a PrometheusRule (``alert_rules.py``,
``alerts.sync``); the ``AlertRules`` condition says how that went, and never makes
the policy Invalid either.

Tenant isolation (``core.tenancy``): a policy naming a Secret in another namespace,
a credential for a URL off the admin's allow list, or a rate-limit namespace it
may not write is not Ready (reason ``NotAllowed``, the fields named); the same
references are refused again where they would be used, so nothing acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import (
    POLICY_PLURAL,
    Condition,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisPolicyStatus,
    OverrideProblemStatus,
)
from diagnosis_operator.core.phases import set_condition, status_patch
from diagnosis_operator.core.tenancy import policy_refusals
from diagnosis_operator.entrypoints.bootstrap.signals import (
    SourceConfigError,
    prometheus_adapter,
    prometheus_endpoint,
)
from diagnosis_operator.entrypoints.kopf.alert_rules import announce, sync_rules, with_outcome
from diagnosis_operator.entrypoints.kopf.context import OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.inputs import plain, validation_message
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules
from diagnosis_operator.models.topology import TopologyError
from diagnosis_operator.ports import SignalError
from diagnosis_operator.service.policy_check import (
    OverrideProblem,
    check_overrides,
    render_overrides,
)

READY = "Ready"
# Ready's reason when the policy references a namespace or URL the admin does not allow.
NOT_ALLOWED = "NotAllowed"
PROMQL_CHECKED = "PromQLChecked"
MESSAGE_LIMIT = 4096


def check_policy(spec: dict[str, Any]) -> tuple[int | None, str | None]:
    """(components, None) for a usable policy, (None, why) for one that is not."""
    try:
        parsed = DiagnosisPolicySpec.model_validate(spec)
        topology = parsed.to_topology()
    except ValidationError as error:
        return None, validation_message("spec", error)
    except TopologyError as error:
        return None, f"spec.components: {error}"
    return len(topology.components), None


@dataclass(frozen=True)
class PromQLVerdict:
    """What the override check found; ``retry`` when it should run again later."""

    status: ConditionStatus
    reason: str
    message: str
    problems: tuple[OverrideProblem, ...] = ()
    retry: bool = False


def check_promql(
    *,
    spec: DiagnosisPolicySpec,
    namespace: str,
    context: OperatorContext,
    retry: int,
    rules: TenancyRules = STRICT_RULES,
) -> PromQLVerdict:
    """Every override judged: the template's refusals and Prometheus' for the rest."""
    renderings, problems = render_overrides(spec=spec)
    if not renderings:
        if problems:
            return refused_verdict(problems)
        return PromQLVerdict(ConditionStatus.TRUE, "NothingToCheck", "no signalOverrides apply")
    settings = context.settings
    try:
        endpoint = prometheus_endpoint(
            policy=spec, namespace=namespace, settings=settings, kube=context.kube, rules=rules
        )
        if endpoint is None:
            if problems:
                return refused_verdict(problems, unchecked=len(renderings))
            return PromQLVerdict(
                ConditionStatus.UNKNOWN,
                "NoPrometheus",
                "signalOverrides not checked: set spec.signals.prometheus.url or "
                "DIAG_PROMETHEUS_URL",
            )
        with prometheus_adapter(endpoint) as prometheus:
            problems = [*problems, *check_overrides(renderings=renderings, checker=prometheus)]
    except (SignalError, SourceConfigError) as error:
        if problems:  # known bad already: say so now, the rest are checked on the next edit
            return refused_verdict(problems, unchecked=len(renderings))
        again = retry < settings.source_retries
        later = (
            f"; retry {retry + 1} of {settings.source_retries} in {settings.source_retry_delay:g}s"
            if again
            else f"; gave up after {retry} retries: edit the policy to check again"
        )
        return PromQLVerdict(
            ConditionStatus.UNKNOWN,
            "PrometheusUnavailable",
            f"signalOverrides not checked: {error}{later}",
            retry=again,
        )
    if problems:
        return refused_verdict(problems)
    return PromQLVerdict(
        ConditionStatus.TRUE,
        "Accepted",
        f"{len(renderings)} signalOverride queries accepted by {endpoint.url}",
    )


def refused_verdict(problems: list[OverrideProblem], *, unchecked: int = 0) -> PromQLVerdict:
    """All problems, in spec order: in the message (shortened to fit) and in status."""
    ordered = sorted(problems, key=lambda problem: problem.index)
    count = len(ordered)
    head = f"{count} signalOverride{'s' if count > 1 else ''} refused"
    tail = f" ({unchecked} queries of the others not put to Prometheus)" if unchecked else ""
    each = max(200, (MESSAGE_LIMIT - len(head) - len(tail)) // count - 2)
    parts = [_shorten(problem.describe(), each) for problem in ordered]
    message = f"{head}{tail}: " + "; ".join(parts)
    return PromQLVerdict(
        ConditionStatus.FALSE, "InvalidPromQL", message[:MESSAGE_LIMIT], tuple(ordered)
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem_status(problem: OverrideProblem) -> OverrideProblemStatus:
    return OverrideProblemStatus(
        index=problem.index,
        name=problem.override,
        component=problem.component,
        promql=None if problem.promql is None else problem.promql[:16384],
        error=problem.error[:4096],
        found_by=problem.found_by,
    )


@kopf.on.resume(API_GROUP, API_VERSION, POLICY_PLURAL)
@kopf.on.create(API_GROUP, API_VERSION, POLICY_PLURAL)
@kopf.on.update(API_GROUP, API_VERSION, POLICY_PLURAL, field="spec")
def reconcile_policy(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    name: str | None,
    namespace: str | None,
    memo: kopf.Memo,
    retry: int,
    **_: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None
    uid = str(meta.get("uid") or "")
    generation = int(meta.get("generation") or 0)
    before = plain(status)
    try:
        current = DiagnosisPolicyStatus.model_validate(before)
    except ValidationError:
        current = DiagnosisPolicyStatus()
    components, problem = check_policy(plain(spec))
    conditions: list[Condition] = list(current.conditions)
    verdict = PromQLVerdict(
        ConditionStatus.UNKNOWN, "NotChecked", "signalOverrides not checked: the policy is invalid"
    )
    invalid = "Invalid"
    if problem is None:
        parsed = DiagnosisPolicySpec.model_validate(plain(spec))
        problem, invalid, verdict = check_allowed_then_promql(
            parsed, namespace=namespace, context=context, retry=retry
        )
        rules = sync_rules(spec=parsed, name=name, namespace=namespace, uid=uid, context=context)
        conditions = with_outcome(conditions, rules, generation=generation)
        announce(body, rules)
    conditions, problem, reason = _policy_conditions(
        conditions,
        problem=problem,
        verdict=verdict,
        components=components,
        generation=generation,
        invalid=invalid,
    )
    after = DiagnosisPolicyStatus(
        conditions=conditions,
        observed_generation=generation,
        components=components,
        override_problems=[problem_status(problem) for problem in verdict.problems],
    ).to_wire()
    context.kube.patch_policy_status(
        namespace=namespace, name=name, status=status_patch(before, after)
    )
    _tell(body, problem=problem, reason=reason, components=components, verdict=verdict)
    if verdict.retry:
        raise kopf.TemporaryError(verdict.message, delay=context.settings.source_retry_delay)


def _tell(
    body: kopf.Body,
    *,
    problem: str | None,
    reason: str,
    components: int | None,
    verdict: PromQLVerdict,
) -> None:
    """The Events of one check: accepted or why not, each refused override, a retry."""
    if problem is None:
        kopf.info(body, reason="Valid", message=f"policy accepted: {components} components")
    else:
        kopf.warn(body, reason=reason, message=problem[:1024])
    for refused in verdict.problems:  # one Event each: none is lost to the message's size
        kopf.warn(body, reason="InvalidSignalOverride", message=refused.describe()[:1024])
    if verdict.retry:
        kopf.warn(body, reason=verdict.reason, message=verdict.message[:1024])


def check_allowed_then_promql(
    spec: DiagnosisPolicySpec, *, namespace: str, context: OperatorContext, retry: int
) -> tuple[str | None, str, PromQLVerdict]:
    """(problem, Ready's reason if any, PromQL verdict): tenancy first, then the overrides.

    Fail closed: a reference the admin does not allow makes the policy not Ready
    (``NotAllowed``); it is refused again where it would be used.
    """
    rules = context.tenancy()
    refusals = policy_refusals(spec, namespace=namespace, rules=rules)
    if refusals:
        problem = "; ".join(refusals)
        skipped = PromQLVerdict(
            ConditionStatus.UNKNOWN, "NotChecked", "signalOverrides not checked: " + problem
        )
        return problem, NOT_ALLOWED, skipped
    verdict = check_promql(
        spec=spec, namespace=namespace, context=context, retry=retry, rules=rules
    )
    return None, "Invalid", verdict


def _policy_conditions(
    conditions: list[Condition],
    *,
    problem: str | None,
    verdict: PromQLVerdict,
    components: int | None,
    generation: int,
    invalid: str = "Invalid",
) -> tuple[list[Condition], str | None, str]:
    """PromQLChecked and Ready after a check; the problem (if any) and Ready's reason."""
    now = datetime.now(UTC)
    conditions = set_condition(
        conditions,
        type=PROMQL_CHECKED,
        status=verdict.status,
        reason=verdict.reason,
        message=verdict.message,
        generation=generation,
        now=now,
    )
    reason = "Valid" if problem is None else invalid
    if problem is None and verdict.status is ConditionStatus.FALSE:
        problem, reason = verdict.message, verdict.reason
    conditions = set_condition(
        conditions,
        type=READY,
        status=ConditionStatus.TRUE if problem is None else ConditionStatus.FALSE,
        reason=reason,
        message=f"{components} components" if problem is None else problem[:MESSAGE_LIMIT],
        generation=generation,
        now=now,
    )
    return conditions, problem, reason
