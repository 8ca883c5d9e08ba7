"""Envoy Gateway (v1.9 CRDs): deny by ``SecurityPolicy``, rate limit by ``BackendTrafficPolicy``.

* deny rules -> one ``SecurityPolicy`` with ``authorization.defaultAction: Allow``
  and one ``Deny`` rule per client network (``principal.clientCIDRs``);
* rate-limit rules -> one ``BackendTrafficPolicy`` with ``rateLimit.local.rules``,
  each selecting its network with ``clientSelectors[].sourceCIDR`` (type
  ``Exact``: the whole network shares one budget) and a ``limit``.

Both attach through ``targetRefs`` to the Gateway or HTTPRoute the policy names.
Envoy Gateway honours one policy of a kind per target (the oldest wins), so all
of the operator's rules for a target live in one object of each kind; an
HTTPRoute target overrides a Gateway-level policy.  Behind a load balancer the
client address must come from a ``ClientTrafficPolicy`` (``clientIPDetection``),
or every request looks like it comes from the balancer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diagnosis_operator.adapters.traffic.common import (
    RULES_ANNOTATION,
    TooManyRules,
    by_mode,
    decode_rules,
    merged,
    metadata,
    without,
)
from diagnosis_operator.models.actions import ClientRule, RuleMode
from diagnosis_operator.ports import ObjectStore

API_VERSION = "gateway.envoyproxy.io/v1alpha1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
# rateLimit.local.rules has maxItems 16 in the v1.9 schema.
MAX_LOCAL_RULES = 16
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class PolicyTarget(BaseModel):
    """The Gateway API object a policy attaches to (same namespace as the policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["Gateway", "HTTPRoute", "GRPCRoute"] = "Gateway"
    name: Annotated[str, Field(min_length=1, max_length=253)]
    section_name: Annotated[str | None, Field(alias="sectionName")] = None

    def ref(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": GATEWAY_GROUP, "kind": self.kind, "name": self.name}
        if self.section_name:
            out["sectionName"] = self.section_name
        return out


def limit_of(rule: ClientRule) -> dict[str, Any]:
    """``requestsPerSecond`` as the coarsest whole-number ``limit`` that keeps it.  Pure."""
    for unit, seconds in (("Second", 1), ("Minute", 60), ("Hour", 3600)):
        requests = rule.requests_per_second * seconds
        if requests >= 1 and abs(requests - round(requests)) < 1e-9:
            return {"requests": round(requests), "unit": unit}
    return {"requests": max(1, round(rule.requests_per_second * 3600)), "unit": "Hour"}


class EnvoyGatewayBackend:
    """``TrafficPolicyBackend`` writing Envoy Gateway policies through an ``ObjectStore``."""

    name = "envoy-gateway"

    def __init__(
        self,
        *,
        store: ObjectStore,
        namespace: str,
        targets: Sequence[PolicyTarget],
        name_prefix: str = "diagnosis-operator",
    ) -> None:
        if not targets:
            raise ValueError(
                "envoy-gateway backend: at least one target (Gateway/HTTPRoute) needed"
            )
        self.store = store
        self.namespace = namespace
        self.targets = tuple(targets)
        self.deny_name = f"{name_prefix}-deny"
        self.rate_limit_name = f"{name_prefix}-ratelimit"

    # -- pure rendering

    def security_policy(self, rules: Sequence[ClientRule]) -> dict[str, Any]:
        deny = by_mode(rules, RuleMode.DENY)
        return {
            "apiVersion": API_VERSION,
            "kind": "SecurityPolicy",
            "metadata": metadata(name=self.deny_name, namespace=self.namespace, rules=deny),
            "spec": {
                "targetRefs": [target.ref() for target in self.targets],
                "authorization": {
                    "defaultAction": "Allow",
                    "rules": [
                        {
                            "name": f"deny-{rule.rule_id}",
                            "action": "Deny",
                            "principal": {"clientCIDRs": [str(rule.network)]},
                        }
                        for rule in deny
                    ],
                },
            },
        }

    def backend_traffic_policy(self, rules: Sequence[ClientRule]) -> dict[str, Any]:
        limited = by_mode(rules, RuleMode.RATE_LIMIT)
        if len(limited) > MAX_LOCAL_RULES:
            raise TooManyRules(
                f"envoy-gateway: {len(limited)} rate-limit rules, the BackendTrafficPolicy "
                f"schema allows {MAX_LOCAL_RULES}"
            )
        return {
            "apiVersion": API_VERSION,
            "kind": "BackendTrafficPolicy",
            "metadata": metadata(
                name=self.rate_limit_name, namespace=self.namespace, rules=limited
            ),
            "spec": {
                "targetRefs": [target.ref() for target in self.targets],
                "rateLimit": {
                    "local": {
                        "rules": [
                            {
                                "clientSelectors": [
                                    {"sourceCIDR": {"type": "Exact", "value": str(rule.network)}}
                                ],
                                "limit": limit_of(rule),
                            }
                            for rule in limited
                        ]
                    }
                },
            },
        }

    def render(self, *, rules: Sequence[ClientRule]) -> list[dict[str, Any]]:
        """The objects enforcing ``rules`` (kinds with no rule are left out).  Pure."""
        objects: list[dict[str, Any]] = []
        if by_mode(rules, RuleMode.DENY):
            objects.append(self.security_policy(rules))
        if by_mode(rules, RuleMode.RATE_LIMIT):
            objects.append(self.backend_traffic_policy(rules))
        return objects

    # -- TrafficPolicyBackend

    def _read(self, kind: str, name: str) -> tuple[ClientRule, ...]:
        obj = self.store.get(
            api_version=API_VERSION, kind=kind, namespace=self.namespace, name=name
        )
        if obj is None:
            return ()
        annotations = obj.get("metadata", {}).get("annotations") or {}
        return decode_rules(
            annotations.get(RULES_ANNOTATION), where=f"{kind} {self.namespace}/{name}"
        )

    def active(self) -> tuple[ClientRule, ...]:
        return self._read("SecurityPolicy", self.deny_name) + self._read(
            "BackendTrafficPolicy", self.rate_limit_name
        )

    def _sync(self, rules: Sequence[ClientRule]) -> None:
        for kind, name, mode, build in (
            ("SecurityPolicy", self.deny_name, RuleMode.DENY, self.security_policy),
            (
                "BackendTrafficPolicy",
                self.rate_limit_name,
                RuleMode.RATE_LIMIT,
                self.backend_traffic_policy,
            ),
        ):
            if by_mode(rules, mode):
                self.store.put(obj=build(rules))
            else:
                self.store.delete(
                    api_version=API_VERSION, kind=kind, namespace=self.namespace, name=name
                )

    def apply(self, *, rules: Sequence[ClientRule]) -> None:
        self._sync(merged(self.active(), rules))

    def remove(self, *, rules: Sequence[ClientRule]) -> None:
        self._sync(without(self.active(), rules))
