"""kopf handlers for ``DiagnosisPolicy``: check it by meaning, say so on ``status``.

The apiserver checks shapes (schema and CEL); this handler checks what only the
whole policy can say: ``dependsOn`` cycles and the topology the engine will use.
``Ready`` is True with reason ``Valid``, or False with reason ``Invalid`` and a
message naming the problem.  Diagnoses read the policy themselves when they start
(and keep a snapshot), so an invalid policy fails them with ``PolicyInvalid``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.core.phases import set_condition, status_patch
from diagnosis_operator.handlers.context import context_of
from diagnosis_operator.handlers.inputs import plain, validation_message
from diagnosis_operator.models.crd import (
    POLICY_PLURAL,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisPolicyStatus,
)
from diagnosis_operator.models.topology import TopologyError

READY = "Ready"


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
    **_: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None
    generation = int(meta.get("generation") or 0)
    before = plain(status)
    try:
        current = DiagnosisPolicyStatus.model_validate(before)
    except ValidationError:
        current = DiagnosisPolicyStatus()
    components, problem = check_policy(plain(spec))
    conditions = set_condition(
        current.conditions,
        type=READY,
        status=ConditionStatus.TRUE if problem is None else ConditionStatus.FALSE,
        reason="Valid" if problem is None else "Invalid",
        message=f"{components} components" if problem is None else problem[:4096],
        generation=generation,
        now=datetime.now(UTC),
    )
    after = DiagnosisPolicyStatus(
        conditions=conditions, observed_generation=generation, components=components
    ).to_wire()
    context.kube.patch_policy_status(
        namespace=namespace, name=name, status=status_patch(before, after)
    )
    if problem is None:
        kopf.info(body, reason="Valid", message=f"policy accepted: {components} components")
    else:
        kopf.warn(body, reason="Invalid", message=problem[:1024])
