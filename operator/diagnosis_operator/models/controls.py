"""Human controls over the operator: approvals and the cluster-wide pause switch (pure).

Both are written by ``kubectl diagnose`` (or by hand with kubectl) and read by the
operator; this module is the one place their names and formats are defined.

Approvals are annotations on the Diagnosis, not status: the operator owns status
(written only through the status subresource), while approving is a user's write,
gated by RBAC ``patch`` on ``diagnoses``::

    diagnosis.dev/approved-<idempotencyKey>: "<user>@<RFC 3339 time>"

The pause switch is one ConfigMap in the operator's namespace::

    kind: ConfigMap
    metadata: {name: diagnosis-operator-control}
    data: {paused: "true", pausedBy: "...", pausedAt: "...", reason: "..."}

While ``paused`` is ``"true"`` no remediation runs anywhere; diagnoses continue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from diagnosis_operator.models.signals import isoformat_z, utc_seconds

APPROVAL_PREFIX = "diagnosis.dev/approved-"
# An annotation name part is at most 63 characters; the prefix takes 9 of them.
MAX_ACTION_KEY_LENGTH = 63 - len("approved-")
_ACTION_KEY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

CONTROL_CONFIGMAP = "diagnosis-operator-control"
PAUSED_KEY = "paused"
PAUSED_BY_KEY = "pausedBy"
PAUSED_AT_KEY = "pausedAt"
PAUSE_REASON_KEY = "reason"


class ControlError(ValueError):
    """A malformed approval or action key; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Approval:
    action_key: str
    user: str
    at: float  # epoch seconds


def approval_annotation(action_key: str) -> str:
    """The annotation that approves ``action_key`` (pure).  Raises ``ControlError``."""
    if len(action_key) > MAX_ACTION_KEY_LENGTH or not _ACTION_KEY.match(action_key):
        raise ControlError(
            f"action key {action_key!r} cannot name an approval: expected lowercase letters, "
            f"digits and '-', at most {MAX_ACTION_KEY_LENGTH} characters"
        )
    return APPROVAL_PREFIX + action_key


def approval_value(*, user: str, at: float) -> str:
    """``<user>@<time>`` (pure); the user may itself contain ``@`` (an e-mail address)."""
    if not user.strip():
        raise ControlError("an approval needs a user name")
    return f"{user.strip()}@{isoformat_z(at)}"


def parse_approval(*, action_key: str, value: str) -> Approval:
    """Read one approval annotation's value (pure).  Raises ``ControlError``."""
    user, separator, stamp = value.rpartition("@")
    if not separator or not user:
        raise ControlError(f"approval of {action_key}: expected '<user>@<time>', got {value!r}")
    try:
        at = utc_seconds(datetime.fromisoformat(stamp))
    except ValueError as error:
        raise ControlError(
            f"approval of {action_key}: {stamp!r} is not an RFC 3339 time"
        ) from error
    return Approval(action_key=action_key, user=user, at=at)


def approvals_from(annotations: Mapping[str, str] | None) -> dict[str, Approval]:
    """Every well-formed approval on an object, by action key (pure).

    Malformed values are skipped: an approval the operator cannot read is no approval.
    """
    found: dict[str, Approval] = {}
    for name, value in (annotations or {}).items():
        if not name.startswith(APPROVAL_PREFIX):
            continue
        key = name[len(APPROVAL_PREFIX) :]
        try:
            found[key] = parse_approval(action_key=key, value=value)
        except ControlError:
            continue
    return found


def paused_from(data: Mapping[str, str] | None) -> bool:
    """Whether the control ConfigMap's data pauses remediation (pure).

    Only an explicit true pauses; a missing ConfigMap (``None``) does not.
    """
    if not data:
        return False
    return data.get(PAUSED_KEY, "").strip().lower() in ("true", "yes", "1")
