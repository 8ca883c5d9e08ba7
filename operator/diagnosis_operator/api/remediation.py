"""The remediation part of a ``DiagnosisPolicy``: the guards and parameters per action."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from diagnosis_operator.api.common import (
    CrdModel,
    Duration,
    LabelMatchers,
    MySQLConnection,
    validations,
)
from diagnosis_operator.models.actions import (
    ENTRY_MAX_LENGTH,
    ENTRY_PATTERN,
    NETWORK_LIKE,
    KillPolicy,
    RateLimitPolicy,
    entry_problem,
)


def _usable_entry(entry: str) -> str:
    problem = entry_problem(entry)
    if problem is not None:
        raise ValueError(problem)
    return entry


# An allow/never-list entry: a glob over targets, or an IP address / CIDR that parses.
# A malformed one is refused here and by the apiserver (fail closed: it would match nothing).
GuardEntry = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ENTRY_MAX_LENGTH,
        pattern=ENTRY_PATTERN,
        json_schema_extra=validations(
            (
                f"!self.matches('{NETWORK_LIKE}') || isIP(self) || isCIDR(self)",
                "an entry that looks like an IP address or CIDR must be a valid one",
                None,
            ),
        ),
    ),
    AfterValidator(_usable_entry),
]


class Budget(CrdModel):
    max_actions: int = Field(default=1, ge=0, le=1000)
    window: Duration = "1h"


class ActionPolicy(CrdModel):
    """Guards shared by every action.  Off by default: a disabled action is a dry run."""

    enabled: bool = Field(default=False, description="false: plan and record, never act.")
    require_approval: bool = Field(default=True)
    budget: Budget = Field(default_factory=Budget)
    cooldown: Duration = "10m"
    allow_list: list[GuardEntry] = Field(
        default_factory=list,
        max_length=256,
        description="If non-empty, only these targets may be acted on.",
    )
    never_list: list[GuardEntry] = Field(
        default_factory=list, max_length=256, description="Targets never acted on."
    )
    ttl: Duration | None = Field(
        default=None, description="How long an applied action stays before it is undone."
    )


class DrainPodParams(CrdModel):
    grace_period_seconds: int = Field(default=30, ge=0, le=3600)
    max_pods: int = Field(default=1, ge=1, le=100, description="Pods drained per diagnosis.")
    min_ready_remaining: int = Field(
        default=1, ge=0, description="Never leave fewer ready pods than this in a component."
    )


class DrainPodPolicy(ActionPolicy):
    params: DrainPodParams = Field(default_factory=DrainPodParams)


class KillMysqlQueriesParams(CrdModel):
    min_query_seconds: int = Field(default=30, ge=1, description="Only queries running longer.")
    max_queries: int = Field(default=20, ge=1, le=1000)
    users: list[str] = Field(
        default_factory=list, max_length=64, description="Only these MySQL users (empty: any)."
    )
    commands: list[str] = Field(
        default_factory=lambda: ["Query"],
        max_length=8,
        description="Processlist commands eligible (Query, Execute).",
    )


class KillMysqlQueriesPolicy(ActionPolicy):
    """Kill runaway statements the pt-kill way.  Without a connection nothing is asked.

    ``match`` gives pt-kill's options in full; without it they are derived from
    ``params`` (busy longer than ``minQuerySeconds`` in ``commands``, by ``users``,
    every matching thread a victim).  The planner's own threshold and statement
    head narrow the match further.
    """

    params: KillMysqlQueriesParams = Field(default_factory=KillMysqlQueriesParams)
    connection: MySQLConnection | None = Field(
        default=None,
        description="The account kills run as (needs PROCESS and CONNECTION ADMIN or "
        "SUPER); defaults to the target component's mysql connection.",
    )
    match: KillPolicy | None = Field(
        default=None, description="pt-kill matching options (override the params)."
    )


class TrafficProvider(StrEnum):
    ENVOY_GATEWAY = "envoy-gateway"
    ISTIO = "istio"
    NGINX = "nginx"


class TrafficTargetKind(StrEnum):
    GATEWAY = "Gateway"
    HTTP_ROUTE = "HTTPRoute"
    GRPC_ROUTE = "GRPCRoute"


class TrafficTargetRef(CrdModel):
    """A Gateway API object in ``params.namespace`` that the policy objects attach to."""

    kind: TrafficTargetKind = TrafficTargetKind.GATEWAY
    name: str = Field(min_length=1, max_length=253)
    section_name: str | None = Field(default=None, min_length=1, max_length=253)


class RateLimitClientParams(CrdModel):
    requests_per_second: int = Field(default=10, ge=1)
    burst: int | None = Field(default=None, ge=1)
    provider: TrafficProvider = TrafficProvider.ENVOY_GATEWAY
    target_ref: TrafficTargetRef | None = Field(
        default=None,
        description="envoy-gateway: the Gateway / route the policies attach to (required); "
        "istio: optional, instead of selector.",
    )
    namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Where the policy objects (or the nginx ConfigMap) live; "
        "defaults to the Diagnosis' namespace; another only where the operator's admin "
        "grants it (docs/multi-tenancy.md).",
    )
    selector: LabelMatchers | None = Field(
        default=None, description="istio: the workloads (e.g. the ingress gateway) to protect."
    )
    config_map: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="nginx: the ConfigMap holding the include files (required for nginx).",
    )
    max_clients: int = Field(default=10, ge=1, le=1000)

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "!(has(self.selector) && has(self.targetRef))",
                "give a selector or a targetRef, not both",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _one_attachment(self) -> RateLimitClientParams:
        if self.selector and self.target_ref is not None:
            raise ValueError("give a selector or a targetRef, not both")
        return self

    def missing(self) -> str | None:
        """What the chosen provider still needs before a rule can be enforced (pure)."""
        if self.provider is TrafficProvider.ENVOY_GATEWAY and self.target_ref is None:
            return "envoy-gateway needs params.targetRef (the Gateway or HTTPRoute to attach to)"
        if self.provider is TrafficProvider.NGINX and self.config_map is None:
            return "nginx needs params.configMap (the ConfigMap nginx includes)"
        return None


class RateLimitClientPolicy(ActionPolicy):
    """Limit or deny abusive client networks at the edge, for a TTL.

    ``limits`` gives the escalation ladder, the networks never limited (``allow``),
    the broadest prefix allowed, the longest TTL and shadow mode; without it a
    ladder is derived from ``params.requestsPerSecond`` and ``ttl``.
    """

    params: RateLimitClientParams = Field(default_factory=RateLimitClientParams)
    limits: RateLimitPolicy | None = None


class VerificationSettings(CrdModel):
    """After an action: when to look again, and what counts as better."""

    enabled: bool = True
    after: Duration = Field(default="2m", description="How long after the action to verify.")
    sustain: Duration = Field(
        default="1m",
        description="PromQL verification: how long the symptom's error ratio and latency must "
        "stay under the incident gate's thresholds (read from Prometheus at the verdict, once "
        "the rate window no longer reaches back before the action).",
    )
    min_improvement: float = Field(
        default=0.5, gt=0, le=1, description="Relative improvement that counts as resolved."
    )
    settle: Duration = Field(
        default="0s",
        description="How long past its first look a verification that does not read resolved "
        "keeps looking: the verdict is resolved once every check passes, and not-resolved or "
        "unknown only when this has passed (a symptom still on its way back is not judged "
        "on its first look). 0s: one look.",
    )


class RemediationSettings(CrdModel):
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    drain_pod: DrainPodPolicy = Field(default_factory=DrainPodPolicy)
    kill_mysql_queries: KillMysqlQueriesPolicy = Field(default_factory=KillMysqlQueriesPolicy)
    rate_limit_client: RateLimitClientPolicy = Field(default_factory=RateLimitClientPolicy)
