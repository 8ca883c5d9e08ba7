"""How a Diagnosis run ends when it cannot conclude: ``Stop``, the deadline, the coverage.

* ``Stop`` ends a run as ``Failed`` with a CamelCase reason and a message.
* ``Deadline``: the overall deadline (``DIAG_DIAGNOSIS_DEADLINE``, counted
  from the first attempt, retries included) is over; the run ends
  ``DeadlineExceeded`` naming what it was doing and the last problem seen.
* ``policy_inputs``: the engine's inputs from the policy (``PolicyInvalid`` when
  they cannot be made), the symptom's component checked by ``check_component``.
* ``check_component``: the symptom names no component of the policy: nothing
  to anchor the diagnosis on, so it fails rather than answer about something else.
* ``check_window``: a window that starts after now has nothing to read yet
  (``WindowInFuture``), never "no incident".
* ``no_conclusion``: the engine's ``coverage`` (``core.diagnosis.coverage``) says
  there is nothing to conclude from.  Failed queries may be a passing outage and
  are retried like an unreachable source; no data in the window, or the
  deadline, end the run at once.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass

from diagnosis_operator.api import PolicySnapshot
from diagnosis_operator.models.coverage import (
    DEADLINE_EXCEEDED,
    SOURCES_FAILED,
    SYMPTOM_SOURCE_FAILED,
    Outcome,
)
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.signals import Window, from_seconds
from diagnosis_operator.models.topology import Topology, TopologyError
from diagnosis_operator.service.policy_engine import EngineInputs, PolicyInputError, engine_inputs


class Stop(Exception):
    """End this run as Failed with ``reason`` (a CamelCase word) and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class NoConclusion:
    """Why the engine concluded nothing, and whether trying again may help."""

    reason: str
    message: str
    retryable: bool


def no_conclusion(result: DiagnosisResult) -> NoConclusion | None:
    """None when the result concludes something (complete or degraded)."""
    coverage = result.coverage
    if coverage.outcome is not Outcome.FAILED:
        return None
    return NoConclusion(
        reason=coverage.reason,
        message=coverage.message,
        retryable=coverage.reason in (SOURCES_FAILED, SYMPTOM_SOURCE_FAILED),
    )


@dataclass(frozen=True)
class Deadline:
    """The overall deadline of one run: ``at`` a ``time.monotonic()`` instant (None: none)."""

    at: float | None
    limit: float = 0.0  # the configured seconds, for the message

    @classmethod
    def after(cls, limit: float, *, spent: float = 0.0) -> Deadline:
        """``limit`` seconds from the first attempt, ``spent`` of them already gone."""
        return cls(at=time.monotonic() + limit - spent, limit=limit)

    @classmethod
    def unbounded(cls) -> Deadline:
        return cls(at=None)

    def check(self, *, what: str, last: str = "", slack: float = 0.0) -> None:
        """Raise ``Stop(DeadlineExceeded)`` when the deadline is less than ``slack`` s away."""
        if self.at is None or time.monotonic() + slack < self.at:
            return
        raise Stop(
            DEADLINE_EXCEEDED,
            f"the diagnosis ran out of its {self.limit:g} s deadline (DIAG_DIAGNOSIS_DEADLINE) "
            f"{what}" + (f"; last problem: {last}" if last else ""),
        )


def check_window(window: Window, *, now: float) -> None:
    """Raise ``Stop(WindowInFuture)`` when ``window`` starts at or after ``now``."""
    if window.start < now:
        return
    raise Stop(
        "WindowInFuture",
        f"spec.window starts at {from_seconds(window.start).isoformat()}, after now "
        f"({from_seconds(now).isoformat()}): there is nothing to read yet",
    )


def policy_inputs(snapshot: PolicySnapshot, component: str | None) -> EngineInputs:
    """The engine's inputs from the snapshot's policy, after checking the symptom's component."""
    try:
        inputs = engine_inputs(snapshot.spec)
    except (TopologyError, PolicyInputError) as error:
        raise Stop("PolicyInvalid", f"policy {snapshot.name}: {error}") from error
    check_component(component, inputs.topology, snapshot.name)
    return inputs


def check_component(wanted: str | None, topology: Topology, policy: str) -> None:
    """Raise ``Stop(UnknownComponent)`` when ``wanted`` is not a component of the policy."""
    known = [component.name for component in topology.components]
    if wanted is None or wanted in known:
        return
    close = difflib.get_close_matches(wanted, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise Stop(
        "UnknownComponent",
        f"spec.symptom.component: {wanted!r} is not a component of DiagnosisPolicy {policy} "
        f"(it has {', '.join(known)}){hint}"[:4096],
    )
