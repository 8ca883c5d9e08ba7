"""Client rules at the edge: networks, the escalation ladder, the rules and refusals."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator

from diagnosis_operator.models.actions._spec import Spec

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str, *, where: str = "") -> IPNetwork:
    """An address or CIDR as a network (host bits must be zero).  Pure.

    A bare address becomes a /32 (IPv4) or /128 (IPv6) network.  An IPv6 zone
    index (``fe80::1%eth0``) is refused: ``ipaddress`` keeps any text after the
    ``%`` and would carry it into a rule's text (an nginx ``deny`` line, a CIDR).
    """
    if "%" in text:
        place = f" in {where}" if where else ""
        raise ValueError(
            f"invalid IP address or CIDR {text!r}{place}: a zone index (%) is not allowed"
        )
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as error:
        place = f" in {where}" if where else ""
        raise ValueError(f"invalid IP address or CIDR {text!r}{place}: {error}") from None


class RuleMode(StrEnum):
    RATE_LIMIT = "rate-limit"
    DENY = "deny"


class EscalationStep(Spec):
    mode: RuleMode
    ttl_seconds: Annotated[float, Field(gt=0)]
    requests_per_second: Annotated[float, Field(gt=0)] = 5.0


def _default_ladder() -> tuple[EscalationStep, ...]:
    return (
        EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=600),
        EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=3600),
        EscalationStep(mode=RuleMode.DENY, ttl_seconds=3600),
    )


class RateLimitPolicy(Spec):
    """How offending client networks are limited.

    ``ladder`` is the escalation for repeat offenders: the first offence gets step
    0, each earlier rule for an overlapping network within ``repeatWindowSeconds``
    moves one step up, capped at the last step.  ``allow`` networks are never
    limited (internal ranges, health checkers, the operator's own addresses);
    rules broader than ``maxPrefixV4`` / ``maxPrefixV6`` are refused.
    """

    ladder: tuple[EscalationStep, ...] = Field(default_factory=_default_ladder, min_length=1)
    repeat_window_seconds: Annotated[float, Field(gt=0)] = 86400.0
    max_ttl_seconds: Annotated[float, Field(gt=0)] = 86400.0
    allow: tuple[str, ...] = ()
    max_prefix_v4: Annotated[int, Field(ge=0, le=32)] = 24
    max_prefix_v6: Annotated[int, Field(ge=0, le=128)] = 64
    shadow: bool = False

    @field_validator("allow")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, text in enumerate(value):
            parse_network(text, where=f"allow[{index}]")
        return value

    def allow_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(parse_network(text) for text in self.allow)


@dataclass(frozen=True, slots=True)
class ClientRule:
    """One enforced (or, in shadow mode, only recorded) rule on one client network."""

    rule_id: str
    network: IPNetwork
    mode: RuleMode
    requests_per_second: float
    created_at: float
    expires_at: float
    level: int  # escalation step index
    shadow: bool = False
    reason: str = ""

    @property
    def ttl_seconds(self) -> float:
        return self.expires_at - self.created_at

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "network": str(self.network),
            "mode": self.mode.value,
            "requestsPerSecond": self.requests_per_second,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "level": self.level,
            "shadow": self.shadow,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClientRule:
        return cls(
            rule_id=str(data["ruleId"]),
            network=parse_network(str(data["network"])),
            mode=RuleMode(data["mode"]),
            requests_per_second=float(data["requestsPerSecond"]),
            created_at=float(data["createdAt"]),
            expires_at=float(data["expiresAt"]),
            level=int(data["level"]),
            shadow=bool(data.get("shadow", False)),
            reason=str(data.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class RuleRefusal:
    """A client network the planner would not limit, and why."""

    client: str
    reason: str


@dataclass(frozen=True, slots=True)
class RulePlan:
    rules: tuple[ClientRule, ...]
    refused: tuple[RuleRefusal, ...] = field(default_factory=tuple)
