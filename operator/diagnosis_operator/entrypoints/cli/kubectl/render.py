"""What the plugin prints: the ``show`` summary, the ``list`` table, times and ages (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from diagnosis_operator import API_GROUP
from diagnosis_operator.models.controls import approvals_from

TRIGGER_LABEL = f"{API_GROUP}/trigger"
LIST_HEADER = ("NAME", "PHASE", "MODE", "COMPONENT", "ROOT CAUSE", "CONFIDENCE", "AGE")


def render_summary(item: Mapping[str, Any]) -> str:
    """The status summary ``show`` prints (pure)."""
    meta, spec, status = split_item(item)
    lines = _spec_lines(meta, spec, status)
    lines.extend(_finding_lines(status))
    lines.extend(_remediation_lines(meta, status))
    lines.extend(_closing_lines(meta, status))
    return "\n".join(lines)


def _spec_lines(
    meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]
) -> list[str]:
    """Name, phase, mode, policy, symptom, window and trigger."""
    symptom = spec.get("symptom") or {}
    window = spec.get("window") or {}
    lines = [
        f"Name:         {meta.get('name')}",
        f"Namespace:    {meta.get('namespace')}",
        f"Phase:        {status.get('phase') or 'Pending'}",
        f"Mode:         {spec.get('mode') or 'observe'}",
        f"Policy:       {(spec.get('policyRef') or {}).get('name', '-')}",
        "Symptom:      "
        + " ".join(f"{k}={symptom[k]}" for k in ("component", "route", "selector") if k in symptom),
    ]
    resolved = status.get("window") or {}
    if resolved:
        lines.append(f"Window:       {resolved.get('start')} .. {resolved.get('end')}")
    elif "lookback" in window:
        lines.append(f"Window:       last {window['lookback']}")
    else:
        lines.append(f"Window:       {window.get('start')} .. {window.get('end')}")
    trigger = (meta.get("labels") or {}).get(TRIGGER_LABEL)
    if trigger:
        lines.append(f"Trigger:      {trigger}")
    return lines


def _finding_lines(status: Mapping[str, Any]) -> list[str]:
    """Root cause, candidates, affected instances and abusive clients."""
    lines: list[str] = []
    root = status.get("rootCause")
    if root:
        confidence = root.get("confidence")
        shown = f" (confidence {confidence:.2f})" if isinstance(confidence, int | float) else ""
        instance = f" instance {root['instance']}" if root.get("instance") else ""
        lines.append(f"Root cause:   {root.get('component')}{instance}{shown}")
        if root.get("summary"):
            lines.append(f"              {root['summary']}")
    candidates = status.get("candidates") or []
    if candidates:
        lines.append(
            "Candidates:   "
            + ", ".join(f"{c.get('component')} {c.get('score', 0):.2f}" for c in candidates[:5])
        )
    for affected in status.get("affected") or []:
        lines.append(
            f"Affected:     {affected.get('component')} {affected.get('instance')}: "
            f"{affected.get('reason')}"
        )
    for client in status.get("clients") or []:
        lines.append(f"Client:       {client.get('ip')}: {client.get('reason')}")
    return lines


def _remediation_lines(meta: Mapping[str, Any], status: Mapping[str, Any]) -> list[str]:
    """The remediations as a table, with who approved each."""
    remediations = status.get("remediations") or []
    if not remediations:
        return []
    approvals = approvals_from(meta.get("annotations"))
    rows = [["KEY", "ACTION", "TARGET", "STATE", "APPROVED BY"]]
    for remediation in remediations:
        key = str(remediation.get("idempotencyKey") or "-")
        approval = approvals.get(key)
        approved_by = remediation.get("approvedBy") or (approval.user if approval else "-")
        rows.append(
            [
                key,
                str(remediation.get("action")),
                str(remediation.get("target")),
                str(remediation.get("state")),
                str(approved_by),
            ]
        )
    return ["Remediations:", *("  " + line for line in table_lines(rows))]


def _closing_lines(meta: Mapping[str, Any], status: Mapping[str, Any]) -> list[str]:
    """Conditions, warnings and where the full report is."""
    lines: list[str] = []
    for condition in status.get("conditions") or []:
        message = f": {condition['message']}" if condition.get("message") else ""
        lines.append(
            f"Condition:    {condition.get('type')}={condition.get('status')} "
            f"({condition.get('reason')}){message}"
        )
    for warning in status.get("warnings") or []:
        lines.append(f"Warning:      {warning}")
    report = (status.get("reportRef") or {}).get("name")
    if report:
        lines.append(
            f"Report:       ConfigMap {report} (kubectl diagnose report {meta.get('name')})"
        )
    return lines


def diagnosis_table(
    items: Sequence[Mapping[str, Any]], *, with_namespace: bool, now: float
) -> list[list[str]]:
    """The ``list`` table, newest first, with a NAMESPACE column if asked (pure)."""
    header = list(LIST_HEADER)
    if with_namespace:
        header.insert(0, "NAMESPACE")
    rows = [header]
    for item in sorted(items, key=_created_at, reverse=True):
        meta, spec, status = split_item(item)
        root = status.get("rootCause") or {}
        row = [
            str(meta.get("name", "")),
            str(status.get("phase") or "Pending"),
            str(spec.get("mode") or "observe"),
            str((spec.get("symptom") or {}).get("component") or "-"),
            str(root.get("component") or "-"),
            f"{root['confidence']:.2f}" if isinstance(root.get("confidence"), int | float) else "-",
            _age(meta.get("creationTimestamp"), now=now),
        ]
        if with_namespace:
            row.insert(0, str(meta.get("namespace", "")))
        rows.append(row)
    return rows


def split_item(
    item: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An object's metadata, spec and status, each ``{}`` when missing."""
    return (
        dict(item.get("metadata") or {}),
        dict(item.get("spec") or {}),
        dict(item.get("status") or {}),
    )


def _created_at(item: Mapping[str, Any]) -> str:
    return str((item.get("metadata") or {}).get("creationTimestamp") or "")


def _age(stamp: Any, *, now: float) -> str:
    if not stamp:
        return "-"
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int(now - moment.timestamp()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def iso_utc(seconds: float) -> str:
    """Epoch seconds as ``2026-12-06T05:00:00Z``."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns three spaces apart, trailing blanks trimmed."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    for line in table_lines(rows):
        print(line, file=out)
