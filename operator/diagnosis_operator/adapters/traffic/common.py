"""What the traffic backends share: the rule record they keep, and rule-set arithmetic.

Backends keep the rules they enforce next to the enforcement itself (an
annotation on the Kubernetes object, a JSON file next to the nginx include), so
``active()`` reads back exactly what is in force, even after an operator restart.
Shadow rules are never handed to a backend's store: shadow mode records in the
ledger only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from diagnosis_operator.models.actions import ClientRule, RuleMode
from diagnosis_operator.ports import TooManyRules, UnsupportedRule

__all__ = [
    "MANAGED_BY",
    "RULES_ANNOTATION",
    "TooManyRules",
    "UnsupportedRule",
    "by_mode",
    "decode_rules",
    "encode_rules",
    "merged",
    "metadata",
    "without",
]

MANAGED_BY = {"app.kubernetes.io/managed-by": "diagnosis-operator"}
RULES_ANNOTATION = "diagnosis-operator/rules"


def encode_rules(rules: Iterable[ClientRule]) -> str:
    """Rules as compact JSON, sorted by id (stable output, stable diffs).  Pure."""
    ordered = sorted(rules, key=lambda rule: rule.rule_id)
    return json.dumps([rule.to_json() for rule in ordered], separators=(",", ":"), sort_keys=True)


def decode_rules(text: str | None, *, where: str) -> tuple[ClientRule, ...]:
    """The rules recorded in ``text``; a clear error names ``where`` when it is damaged."""
    if not text:
        return ()
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            raise TypeError("not a list")
        return tuple(ClientRule.from_json(item) for item in data)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{where}: unreadable rule record: {error}") from None


def merged(current: Sequence[ClientRule], added: Sequence[ClientRule]) -> tuple[ClientRule, ...]:
    """``current`` with ``added`` on top (same rule id: the added one wins); no shadows.  Pure."""
    by_id = {rule.rule_id: rule for rule in current}
    by_id.update({rule.rule_id: rule for rule in added})
    return tuple(sorted((r for r in by_id.values() if not r.shadow), key=lambda r: r.rule_id))


def without(current: Sequence[ClientRule], removed: Sequence[ClientRule]) -> tuple[ClientRule, ...]:
    """``current`` minus the rules with ``removed``'s ids.  Pure."""
    gone = {rule.rule_id for rule in removed}
    return tuple(rule for rule in current if rule.rule_id not in gone)


def by_mode(rules: Sequence[ClientRule], mode: RuleMode) -> tuple[ClientRule, ...]:
    return tuple(rule for rule in rules if rule.mode is mode and not rule.shadow)


def metadata(
    *,
    name: str,
    namespace: str,
    rules: Sequence[ClientRule],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**MANAGED_BY, **(labels or {})},
        "annotations": {RULES_ANNOTATION: encode_rules(rules)},
    }
