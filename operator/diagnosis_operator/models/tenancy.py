"""What the cluster admin allows tenants, as the pure rules see it (frozen values).

Built from the operator's own configuration (``api.tenancy.TenancyConfig``, the
chart's ``tenancy`` values rendered into a ConfigMap in the operator's namespace);
a tenant's DiagnosisPolicy can never widen any of it.  Decisions over these values
live in ``core.tenancy`` (isolation) and ``core.remediation.caps`` (guard caps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GuardCaps:
    """Cluster-wide limits that cap whatever a policy's guards say (``None``: no cap)."""

    max_actions_per_window: int | None = None  # per action type and policy window
    min_cooldown_seconds: float | None = None
    max_targets: int | None = None  # blast radius: targets one action may touch
    # Added to the operator's protected namespaces; the global budget at most this.
    protected_namespaces: tuple[str, ...] = ()
    global_max_actions: int | None = None
    global_window_seconds: float | None = None
    # Set when the admin configuration could not be read or parsed: every action is
    # then a dry run, and this says why (fail closed).
    disabled_reason: str | None = None


@dataclass(frozen=True)
class TenancyRules:
    """Cross-namespace grants, the credential allow list and the guard caps.

    ``secret_grants`` / ``write_grants`` map a policy's namespace to the *other*
    namespaces its references may use (its own is always allowed).
    ``credential_origins`` are origins (``https://host:port``) or fnmatch patterns
    over origins that may receive a credential read from a Secret.
    """

    secret_grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    write_grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    credential_origins: tuple[str, ...] = ()
    caps: GuardCaps = GuardCaps()
    source: str = "defaults (no admin configuration)"


# Only the policy's own namespace, no credential sent to a URL a policy names.
STRICT_RULES = TenancyRules()


def locked_rules(reason: str) -> TenancyRules:
    """The rules when the admin configuration is unusable: strict, and no action runs."""
    return TenancyRules(caps=GuardCaps(disabled_reason=reason), source=reason)
