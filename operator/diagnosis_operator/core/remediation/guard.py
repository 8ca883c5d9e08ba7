"""Guards: may this action run now, for real or as a dry run?  Pure.

``check`` takes the action, the policy, the ledger of earlier decisions and ``now``
and returns ``Allowed(dry_run=...)`` or ``Denied(code, reason)``.  The checks run
in a fixed order, the first failing one wins:

1. pause switch, then a malformed allow/never-list entry (fail closed: an entry
   such as ``192.168.10.0/33`` would match nothing, so the list would protect
   nothing; the action is refused, even as a dry run);
2. idempotency (the same key already executed);
3. empty or oversized target set;
4. never list, then allow list;
5. cooldown per target;
6. budget: executed actions of this type in the sliding window;
7. approval, when the policy requires it and the action would really run.

An action the policy does not enable is still checked, then allowed as a dry run,
so that a report shows what *would* have happened and why.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Sequence

from diagnosis_operator.models.actions import (
    Action,
    ActionPolicy,
    Allowed,
    DenialCode,
    Denied,
    GuardPolicy,
    LedgerEntry,
    LedgerOutcome,
    Verdict,
    cooldown_targets_of,
    first_malformed,
    targets_of,
)


def _as_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "%" in text:  # an IPv6 zone index is no network to match
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def target_matches(*, target: str, pattern: str) -> bool:
    """Does a list entry name this target?  Pure.

    Networks compare as networks (a target inside or overlapping a listed CIDR
    matches it); everything else is an fnmatch glob, e.g. ``kube-system/*``.
    """
    target_net = _as_network(target)
    pattern_net = _as_network(pattern)
    if target_net is not None and pattern_net is not None:
        return target_net.version == pattern_net.version and target_net.overlaps(pattern_net)
    return fnmatch.fnmatchcase(target, pattern)


def _allow_covers(*, target: str, pattern: str) -> bool:
    """An allow entry admits a target only if it contains it entirely."""
    target_net = _as_network(target)
    pattern_net = _as_network(pattern)
    if target_net is not None and pattern_net is not None:
        return target_net.version == pattern_net.version and target_net.subnet_of(pattern_net)  # type: ignore[arg-type]
    return fnmatch.fnmatchcase(target, pattern)


def _first_match(targets: Iterable[str], patterns: Sequence[str]) -> tuple[str, str] | None:
    for target in targets:
        for pattern in patterns:
            if target_matches(target=target, pattern=pattern):
                return target, pattern
    return None


def _in_window(entry: LedgerEntry, *, now: float, seconds: float) -> bool:
    return now - seconds < entry.at <= now


def check(
    *,
    action: Action,
    policy: GuardPolicy,
    ledger: Sequence[LedgerEntry],
    now: float,
    key: str,
    approved: bool = False,
    targets_known: bool = True,
) -> Verdict:
    """The guard verdict for one action.  Pure.

    ``key`` is the action's idempotency key (``models.actions.action_key``);
    ``approved`` says a human approved this action (e.g. an annotation on the CR).
    The checks run in a fixed order; the first that refuses gives the verdict.
    ``targets_known=False`` (an offline preview of a kill, whose threads only the
    live processlist names) skips the target-count check, and a non-empty allow
    list must then cover the component; the never list still judges the component.
    """
    if policy.paused:
        return Denied(DenialCode.PAUSED, "remediation is paused by policy")
    rules: ActionPolicy = policy.for_action(action.kind)
    malformed = _malformed(action, rules)
    if malformed is not None:
        return malformed
    if any(e.key == key and e.outcome is LedgerOutcome.EXECUTED for e in ledger):
        return Denied(DenialCode.ALREADY_DONE, f"{action.kind.value} {key} was already executed")
    refusal = (
        (_target_count(action, rules) if targets_known else _component_allowed(action, rules))
        or _listed(action, rules)
        or _cooling_down(action, rules, ledger=ledger, now=now)
        or _over_budget(action, rules, ledger=ledger, now=now)
    )
    if refusal is not None:
        return refusal
    if not rules.enabled:
        why = "is not enabled by policy"
        if policy.disabled_reason is not None:
            why = f"is held by the operator's admin configuration ({policy.disabled_reason})"
        return Allowed(dry_run=True, reason=f"{action.kind.value} {why}: dry run")
    if rules.require_approval and not approved:
        return Denied(DenialCode.APPROVAL_REQUIRED, f"{action.kind.value} waits for approval")
    return Allowed(dry_run=False, reason="all guards passed")


def _malformed(action: Action, rules: ActionPolicy) -> Denied | None:
    """A list entry that is not a usable pattern disables the action (fail closed)."""
    for name, entries in (("neverList", rules.never), ("allowList", rules.allow)):
        found = first_malformed(entries)
        if found is not None:
            index, problem = found
            return Denied(
                DenialCode.MALFORMED_GUARD,
                f"{action.kind.value} is disabled: {name}[{index}]: {problem}",
            )
    return None


def _target_count(action: Action, rules: ActionPolicy) -> Denied | None:
    """No target, a target twice, or more than ``maxTargets``."""
    targets = targets_of(action)
    if not targets:
        return Denied(DenialCode.EMPTY_TARGETS, f"{action.kind.value} has no target")
    if len(set(targets)) != len(targets):
        return Denied(DenialCode.EMPTY_TARGETS, f"{action.kind.value} lists a target twice")
    if len(targets) > rules.max_targets:
        return Denied(
            DenialCode.TOO_MANY_TARGETS,
            f"{action.kind.value} has {len(targets)} targets, "
            f"more than maxTargets {rules.max_targets}",
        )
    return None


def _component_allowed(action: Action, rules: ActionPolicy) -> Denied | None:
    """Targets unknown yet: a non-empty allow list must name the component itself."""
    if not rules.allow or any(
        _allow_covers(target=action.component, pattern=p) for p in rules.allow
    ):
        return None
    return Denied(
        DenialCode.NOT_ALLOW_LISTED,
        f"{action.component} is not on the allow list (its targets are only known live)",
    )


def _listed(action: Action, rules: ActionPolicy) -> Denied | None:
    """A target (or the component) on the never list, or a target the allow list lacks."""
    targets = targets_of(action)
    never = _first_match((*targets, action.component), rules.never)
    if never is not None:
        return Denied(
            DenialCode.NEVER_LISTED, f"target {never[0]} is on the never list ({never[1]})"
        )
    if not rules.allow:
        return None
    component_allowed = any(_allow_covers(target=action.component, pattern=p) for p in rules.allow)
    for target in targets:
        if not component_allowed and not any(
            _allow_covers(target=target, pattern=p) for p in rules.allow
        ):
            return Denied(DenialCode.NOT_ALLOW_LISTED, f"target {target} is not on the allow list")
    return None


def _cooling_down(
    action: Action, rules: ActionPolicy, *, ledger: Sequence[LedgerEntry], now: float
) -> Denied | None:
    """A target acted on by the same kind of action within its cooldown."""
    cooldown_targets = cooldown_targets_of(action)
    for entry in ledger:
        if entry.action is not action.kind or entry.outcome is not LedgerOutcome.EXECUTED:
            continue
        if not _in_window(entry, now=now, seconds=rules.cooldown_seconds):
            continue
        for target in cooldown_targets:
            if any(target_matches(target=target, pattern=done) for done in entry.targets):
                remaining = rules.cooldown_seconds - (now - entry.at)
                return Denied(
                    DenialCode.COOLDOWN,
                    f"{action.kind.value} on {target} is cooling down for {remaining:.0f} s more",
                )
    return None


def _over_budget(
    action: Action, rules: ActionPolicy, *, ledger: Sequence[LedgerEntry], now: float
) -> Denied | None:
    """The action's budget for its window is spent."""
    used = sum(
        1
        for entry in ledger
        if entry.action is action.kind
        and entry.counts_against_budget
        and _in_window(entry, now=now, seconds=rules.window_seconds)
    )
    if used < rules.max_per_window:
        return None
    return Denied(
        DenialCode.BUDGET_EXHAUSTED,
        f"{action.kind.value} budget spent: {used} of {rules.max_per_window} "
        f"in the last {rules.window_seconds:.0f} s",
    )
