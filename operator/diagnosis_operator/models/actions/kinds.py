"""The three actions (``DrainPod | KillQueries | RateLimitClient``), the plan, the keys.

The pure helpers here say what an action touches (``targets_of``,
``cooldown_targets_of``) and name "this action on this target for this diagnosis"
(``idempotency_key``, ``action_key``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from diagnosis_operator.models.actions.clients import ClientRule, IPNetwork
from diagnosis_operator.models.actions.mysql import KillMode, ProcessRow
from diagnosis_operator.models.findings import ActionType


@dataclass(frozen=True, slots=True)
class DrainPod:
    """Take one pod out of service (evict it through the API, PDBs respected)."""

    component: str
    namespace: str
    pod: str
    reason: str
    kind: Literal[ActionType.DRAIN_POD] = ActionType.DRAIN_POD


@dataclass(frozen=True, slots=True)
class KillQueries:
    """Kill the listed MySQL threads of one server (``component``).

    ``victims`` are the selection made by ``core.killer``; the adapter kills by the
    integer ids only, re-checking each thread right before the kill.
    """

    component: str
    victims: tuple[ProcessRow, ...]
    mode: KillMode
    reason: str
    kind: Literal[ActionType.KILL_MYSQL_QUERIES] = ActionType.KILL_MYSQL_QUERIES

    @property
    def thread_ids(self) -> tuple[int, ...]:
        return tuple(victim.id for victim in self.victims)


@dataclass(frozen=True, slots=True)
class RateLimitClient:
    """Rate-limit or deny client networks at the edge (rules planned by ``core.ratelimit``)."""

    component: str
    rules: tuple[ClientRule, ...]
    reason: str
    kind: Literal[ActionType.RATE_LIMIT_CLIENT] = ActionType.RATE_LIMIT_CLIENT

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        return tuple(rule.network for rule in self.rules)


Action = DrainPod | KillQueries | RateLimitClient


def targets_of(action: Action) -> tuple[str, ...]:
    """The target set an action touches, as strings the guard lists are matched against.  Pure."""
    if isinstance(action, DrainPod):
        return (f"{action.namespace}/{action.pod}",)
    if isinstance(action, KillQueries):
        return tuple(str(thread_id) for thread_id in action.thread_ids)
    return tuple(str(network) for network in action.networks)


def cooldown_targets_of(action: Action) -> tuple[str, ...]:
    """What a cooldown is kept per: the pod, the MySQL server, each client network.  Pure.

    Thread ids are reused by the server, so a cooldown per thread would mean nothing;
    a kill's cooldown is per server (the component).
    """
    if isinstance(action, KillQueries):
        return (action.component,)
    return targets_of(action)


def idempotency_key(*, diagnosis_uid: str, action: ActionType, target: str) -> str:
    """A stable key for "this action on this target for this diagnosis".  Pure.

    The same diagnosis re-reconciled after a restart derives the same key, so the
    ledger tells that the action was already taken.
    """
    material = "\x1f".join((diagnosis_uid, action.value, target))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def action_key(*, diagnosis_uid: str, action: Action) -> str:
    """``idempotency_key`` over the action's sorted target set.  Pure."""
    target = ",".join(sorted(targets_of(action)))
    return idempotency_key(diagnosis_uid=diagnosis_uid, action=action.kind, target=target)


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions proposed for one diagnosis, in the order they should run."""

    diagnosis_uid: str
    actions: tuple[Action, ...]
