"""Look again after an action: count the signals that made the diagnosis, before and after.

``checks_for`` builds the ``SignalCheck``s of one applied remediation for
``service.remediate.aftercare.follow_up``:

* the log signals ``core.remedy.rechecks_for`` selects, counted through the live
  ``LogSource`` over equal spans just before and since the action (a query that
  fails gives no data: the verdict is then unknown, and the action escalated);
* for kill-mysql-queries, the server itself: how many threads still match the
  kill options now, against how many were killed (healthy at zero).

``is_due`` says whether enough time has passed since the action.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from diagnosis_operator.api import (
    KillMysqlQueriesPolicy,
    RemediationAction,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.remedy import (
    kill_policy_for,
    lines_in,
    recheck_windows,
    rechecks_for,
    signal_checks,
)
from diagnosis_operator.core.remediation.verify import Better, SignalCheck
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Topology
from diagnosis_operator.ports import LogSource, MySQLAdmin
from diagnosis_operator.service.remediate.mysql_kill import select_kill
from diagnosis_operator.service.remediate.run import EXECUTOR_PARAM, PortUnavailable

STEP = 60.0


def _executor(item: RemediationStatus) -> dict[str, Any]:
    found = item.params.get(EXECUTOR_PARAM) or {}
    return dict(found) if isinstance(found, dict) else {}


def applied_at(item: RemediationStatus) -> float | None:
    value = _executor(item).get("appliedAt")
    return float(value) if isinstance(value, int | float) else None


def is_due(*, item: RemediationStatus, now: float, after_seconds: float) -> bool:
    """Has ``after_seconds`` passed since the action was applied?  Pure."""
    at = applied_at(item)
    return at is not None and now >= at + after_seconds


def _count(logs: LogSource, *, selector: Any, line_filter: str | None, window: Window) -> float:
    step = window.duration / max(1, math.ceil(window.duration / STEP))
    counts = logs.count_lines(
        selector=selector, window=window, step=step, line_filter=line_filter, by=()
    )
    return lines_in(counts=counts, window=window)


def checks_for(
    *,
    item: RemediationStatus,
    topology: Topology,
    symptom_component: str | None,
    logs: LogSource | None,
    mysql: Callable[[str], MySQLAdmin] | None,
    kill_spec: KillMysqlQueriesPolicy,
    now: float,
) -> list[SignalCheck]:
    """The before / after checks of one applied remediation (see the module docstring)."""
    at = applied_at(item)
    if at is None:
        return []
    checks: list[SignalCheck] = []
    windows = recheck_windows(acted_at=at, now=now)
    if logs is not None and windows is not None:
        checks.extend(
            _log_checks(
                item=item,
                topology=topology,
                symptom_component=symptom_component,
                logs=logs,
                windows=windows,
            )
        )
    if item.action is RemediationAction.KILL_MYSQL_QUERIES and mysql is not None:
        checks.append(_kill_check(item=item, mysql=mysql, kill_spec=kill_spec))
    return checks


def _log_checks(
    *,
    item: RemediationStatus,
    topology: Topology,
    symptom_component: str | None,
    logs: LogSource,
    windows: tuple[Window, Window],
) -> tuple[SignalCheck, ...]:
    """The log signals of the diagnosis, counted just before and since the action."""
    before_window, after_window = windows
    rechecks = rechecks_for(
        action=item.action,
        target=item.target,
        params=item.params,
        topology=topology,
        symptom_component=symptom_component,
    )
    before: dict[str, float | None] = {}
    after: dict[str, float | None] = {}
    for recheck in rechecks:
        for window, into in ((before_window, before), (after_window, after)):
            try:
                into[recheck.name] = _count(
                    logs,
                    selector=recheck.selector,
                    line_filter=recheck.line_filter,
                    window=window,
                )
            except Exception:  # no data is an unknown verdict, not a crash
                into[recheck.name] = None
    return signal_checks(rechecks=rechecks, before=before, after=after, span=after_window.duration)


def _kill_check(
    *,
    item: RemediationStatus,
    mysql: Callable[[str], MySQLAdmin],
    kill_spec: KillMysqlQueriesPolicy,
) -> SignalCheck:
    """Threads still matching the kill options now, against how many were killed."""
    killed = sum(1 for record in _executor(item).get("audit") or [] if record.get("executed"))
    still: float | None
    try:
        policy = kill_policy_for(policy=kill_spec, proposal=item.params)
        still = float(
            len(
                select_kill(
                    admin=mysql(item.target), policy=policy, component=item.target
                ).action.victims
            )
        )
    except (PortUnavailable, ValueError, RuntimeError, OSError):
        still = None
    return SignalCheck(
        name=f"threads of {item.target} matching the kill options",
        before=float(killed),
        after=still,
        better=Better.LOWER,
        healthy=0.0,
    )
