"""Istio: deny client networks with an ``AuthorizationPolicy`` (``action: DENY``).

One policy holds every deny rule, one ``from.source.remoteIpBlocks`` entry per
rule.  ``remoteIpBlocks`` is the original client address (X-Forwarded-For /
PROXY protocol, as the mesh's ``numTrustedProxies`` says), not the last hop.
Istio has no per-client rate limit in its authorization API (that needs an
EnvoyFilter), so rate-limit rules are refused with ``UnsupportedRule``: give an
Istio policy a deny-only escalation ladder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnosis_operator.adapters.traffic.common import (
    RULES_ANNOTATION,
    UnsupportedRule,
    by_mode,
    decode_rules,
    merged,
    metadata,
    without,
)
from diagnosis_operator.adapters.traffic.envoy_gateway import PolicyTarget
from diagnosis_operator.models.actions import ClientRule, RuleMode
from diagnosis_operator.ports import ObjectStore

API_VERSION = "security.istio.io/v1"
KIND = "AuthorizationPolicy"


class IstioBackend:
    """``TrafficPolicyBackend`` writing one Istio ``AuthorizationPolicy``.

    The policy applies to the workloads ``selector`` picks (e.g. the ingress
    gateway's pods) or, with ``target``, to a Gateway API Gateway; with neither it
    covers the whole namespace.
    """

    name = "istio"

    def __init__(
        self,
        *,
        store: ObjectStore,
        namespace: str,
        selector: Mapping[str, str] | None = None,
        target: PolicyTarget | None = None,
        policy_name: str = "diagnosis-operator-deny",
    ) -> None:
        if selector and target is not None:
            raise ValueError("istio backend: give a selector or a target, not both")
        self.store = store
        self.namespace = namespace
        self.selector = dict(selector or {})
        self.target = target
        self.policy_name = policy_name

    def _check(self, rules: Sequence[ClientRule]) -> None:
        limited = by_mode(rules, RuleMode.RATE_LIMIT)
        if limited:
            names = ", ".join(f"{rule.rule_id} ({rule.network})" for rule in limited)
            raise UnsupportedRule(
                f"istio backend enforces deny rules only; refused rate-limit {names}"
            )

    def render(self, *, rules: Sequence[ClientRule]) -> list[dict[str, Any]]:
        """The AuthorizationPolicy for the deny rules (none if there are none).  Pure."""
        self._check(rules)
        deny = by_mode(rules, RuleMode.DENY)
        if not deny:
            return []
        spec: dict[str, Any] = {
            "action": "DENY",
            "rules": [
                {"from": [{"source": {"remoteIpBlocks": [str(rule.network) for rule in deny]}}]}
            ],
        }
        if self.selector:
            spec["selector"] = {"matchLabels": dict(self.selector)}
        if self.target is not None:
            spec["targetRefs"] = [self.target.ref()]
        return [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": metadata(name=self.policy_name, namespace=self.namespace, rules=deny),
                "spec": spec,
            }
        ]

    def active(self) -> tuple[ClientRule, ...]:
        obj = self.store.get(
            api_version=API_VERSION, kind=KIND, namespace=self.namespace, name=self.policy_name
        )
        if obj is None:
            return ()
        annotations = obj.get("metadata", {}).get("annotations") or {}
        return decode_rules(
            annotations.get(RULES_ANNOTATION), where=f"{KIND} {self.namespace}/{self.policy_name}"
        )

    def _sync(self, rules: Sequence[ClientRule]) -> None:
        objects = self.render(rules=rules)
        if objects:
            self.store.put(obj=objects[0])
        else:
            self.store.delete(
                api_version=API_VERSION, kind=KIND, namespace=self.namespace, name=self.policy_name
            )

    def apply(self, *, rules: Sequence[ClientRule]) -> None:
        self._check(rules)
        self._sync(merged(self.active(), rules))

    def remove(self, *, rules: Sequence[ClientRule]) -> None:
        self._sync(without(self.active(), rules))
