"""The operator's own configuration: what the cluster admin lets tenants do.

It is the chart's ``tenancy`` values, rendered into the ConfigMap
``<release>-tenancy`` (key ``tenancy.yaml``) in the operator's namespace, where
tenants have no rights; the same values render the RBAC (a RoleBinding per
namespace the operator may read Secrets or write objects in), so the two cannot
drift.  A DiagnosisPolicy never widens any of it (see docs/multi-tenancy.md).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from diagnosis_operator.api.common import NAME_PATTERN, CrdModel, Duration, parse_duration
from diagnosis_operator.models.tenancy import GuardCaps, TenancyRules

TENANCY_KEY = "tenancy.yaml"
# An origin or an origin pattern: scheme://host[:port], no path; '*' matches within the host.
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9*?.\-\[\]:]+$"
Origin = Annotated[str, Field(min_length=8, max_length=512, pattern=ORIGIN_PATTERN)]


class NamespaceGrant(CrdModel):
    """Policies in ``namespace`` may also use these other namespaces."""

    namespace: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    secret_namespaces: list[str] = Field(
        default_factory=list, max_length=64, description="Where they may also read Secrets."
    )
    write_namespaces: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Where they may also write objects (rate-limit policies, nginx ConfigMaps).",
    )


class GlobalBudgetConfig(CrdModel):
    max_actions: int | None = Field(default=None, ge=0)
    window: Duration | None = None


class GuardCapsConfig(CrdModel):
    """Caps over every policy's guards; empty: the policy's own values stand."""

    max_actions_per_window: int | None = Field(default=None, ge=0)
    min_cooldown: Duration | None = None
    max_targets: int | None = Field(default=None, ge=1)
    protected_namespaces: list[str] = Field(default_factory=list, max_length=256)
    global_budget: GlobalBudgetConfig = Field(default_factory=GlobalBudgetConfig)


class TenancyConfig(CrdModel):
    grants: list[NamespaceGrant] = Field(default_factory=list, max_length=1024)
    credential_urls: list[Origin] = Field(
        default_factory=list,
        max_length=256,
        description="Origins (or origin patterns) that may receive a credential from a Secret.",
    )
    guard: GuardCapsConfig = Field(default_factory=GuardCapsConfig)

    def to_rules(self, *, source: str) -> TenancyRules:
        """The frozen rules the core decides with."""
        secrets: dict[str, frozenset[str]] = {}
        writes: dict[str, frozenset[str]] = {}
        for grant in self.grants:
            secrets[grant.namespace] = secrets.get(grant.namespace, frozenset()) | frozenset(
                grant.secret_namespaces
            )
            writes[grant.namespace] = writes.get(grant.namespace, frozenset()) | frozenset(
                grant.write_namespaces
            )
        caps = self.guard
        return TenancyRules(
            secret_grants=secrets,
            write_grants=writes,
            credential_origins=tuple(self.credential_urls),
            caps=GuardCaps(
                max_actions_per_window=caps.max_actions_per_window,
                min_cooldown_seconds=(
                    parse_duration(caps.min_cooldown) if caps.min_cooldown is not None else None
                ),
                max_targets=caps.max_targets,
                protected_namespaces=tuple(caps.protected_namespaces),
                global_max_actions=caps.global_budget.max_actions,
                global_window_seconds=(
                    parse_duration(caps.global_budget.window)
                    if caps.global_budget.window is not None
                    else None
                ),
            ),
            source=source,
        )
