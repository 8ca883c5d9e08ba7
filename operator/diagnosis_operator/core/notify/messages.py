"""The messages sent to notification sinks (pure: facts in, a request body out).

* Slack incoming webhook: ``text`` (the fallback shown in notifications) and
  Block Kit ``blocks`` (header, sections, context).  User text is escaped as
  Slack's ``mrkdwn`` requires (``&``, ``<``, ``>``).
* CloudEvents 1.0, structured content mode (the JSON event format): the
  attributes ``specversion``, ``id``, ``source``, ``type``, ``subject``, ``time``,
  ``datacontenttype`` and the ``data`` object; sent as
  ``application/cloudevents+json``.  ``id`` is derived from the Diagnosis UID, its
  generation and the event, so a receiver can deduplicate on (source, id).
* Alertmanager API v2 ``POST /api/v2/silences`` (a ``postableSilence``: matchers,
  startsAt, endsAt, createdBy, comment): the group's common labels as equality
  matchers, the comment naming the root cause and linking the report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import NotificationEvent, SinkKind
from diagnosis_operator.core.notify.facts import NotificationFacts
from diagnosis_operator.models.signals import isoformat_z

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
SILENCES_PATH = "/api/v2/silences"
CREATED_BY = "diagnosis-operator"
EVENT_TYPES = {
    NotificationEvent.COMPLETED: "dev.diagnosis.diagnosis.completed.v1",
    NotificationEvent.APPROVAL_REQUIRED: "dev.diagnosis.diagnosis.approval-required.v1",
}
_SLACK_TEXT_LIMIT = 2900  # a section's text holds 3000 characters
_SLACK_HEADER_LIMIT = 150
_COMMENT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request to a sink: POST ``path`` (appended to the sink's URL) with ``body``."""

    path: str
    content_type: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send to this sink for this event, and why."""

    reason: str


def headline(facts: NotificationFacts, event: NotificationEvent) -> str:
    where = f"{facts.namespace}/{facts.name}"
    if event is NotificationEvent.APPROVAL_REQUIRED:
        count = len(facts.awaiting_approval)
        return f"Diagnosis {where}: {count} action(s) wait for approval"
    if not facts.found:
        return f"Diagnosis {where} completed: no incident found"
    return (
        f"Diagnosis {where} completed: root cause {facts.root_cause_line}, "
        f"confidence {facts.confidence:.0%}"
    )


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + _mrkdwn(text).replace("`", "'") + "`"


def _action_lines(facts: NotificationFacts, event: NotificationEvent) -> list[str]:
    chosen = (
        facts.awaiting_approval if event is NotificationEvent.APPROVAL_REQUIRED else facts.actions
    )
    lines = []
    for action in chosen:
        line = f"• {_code(action.action)} {_mrkdwn(action.target)}: {action.state}"
        if action.approve_command:
            line += f"\n    approve: {_code(action.approve_command)}"
        lines.append(line)
    return lines


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_SLACK_TEXT_LIMIT]}}


def slack_message(facts: NotificationFacts, event: NotificationEvent) -> dict[str, Any]:
    """A Slack incoming-webhook payload: ``text`` plus Block Kit ``blocks``."""
    title = headline(facts, event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:_SLACK_HEADER_LIMIT]}}
    ]
    fields = [
        f"*Root cause:* {_mrkdwn(facts.root_cause_line)}",
        f"*Confidence:* {facts.confidence:.0%}",
    ]
    if facts.failure_mode:
        fields.append(f"*Failure mode:* {_mrkdwn(facts.failure_mode)}")
    if facts.window is not None:
        fields.append(f"*Window:* {isoformat_z(facts.window[0])} – {isoformat_z(facts.window[1])}")
    blocks.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]}
    )
    if facts.summary:
        blocks.append(_section(_mrkdwn(facts.summary)))
    if facts.affected:
        more = facts.affected_total - len(facts.affected)
        listed = "\n".join(f"• {_mrkdwn(item)}" for item in facts.affected)
        suffix = f"\n… and {more} more" if more > 0 else ""
        blocks.append(_section(f"*Affected instances:*\n{listed}{suffix}"))
    actions = _action_lines(facts, event)
    if actions:
        blocks.append(_section("*Proposed actions:*\n" + "\n".join(actions)))
    if facts.report_url:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{facts.report_url}|Open the full report>"}
                ],
            }
        )
    text = _mrkdwn(title) + (f" — report: <{facts.report_url}>" if facts.report_url else "")
    return {"text": text, "blocks": blocks}


def event_data(facts: NotificationFacts, event: NotificationEvent) -> dict[str, Any]:
    """The ``data`` of a CloudEvent (camelCase, as the CRDs are)."""
    return {
        "event": event.value,
        "diagnosis": {
            "namespace": facts.namespace,
            "name": facts.name,
            "uid": facts.uid,
            "generation": facts.generation,
            "phase": facts.phase,
        },
        "summary": headline(facts, event),
        "rootCause": {
            "component": facts.root_component,
            "kind": facts.root_kind,
            "instance": facts.root_instance,
            "failureMode": facts.failure_mode,
            "confidence": round(facts.confidence, 2),
            "summary": facts.summary,
            "found": facts.found,
        },
        "window": (
            {"start": isoformat_z(facts.window[0]), "end": isoformat_z(facts.window[1])}
            if facts.window is not None
            else None
        ),
        "affectedInstances": list(facts.affected),
        "affectedTotal": facts.affected_total,
        "actions": [
            {
                "action": a.action,
                "target": a.target,
                "state": a.state,
                "idempotencyKey": a.key,
                "reason": a.reason,
                "approveCommand": a.approve_command,
            }
            for a in facts.actions
        ],
        "reportUrl": facts.report_url,
    }


def event_id(facts: NotificationFacts, event: NotificationEvent) -> str:
    """Stable per Diagnosis, generation and event: a resend carries the same id."""
    seed = f"{facts.uid or facts.namespace + '/' + facts.name}/{facts.generation}/{event.value}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def cloud_event(
    facts: NotificationFacts, event: NotificationEvent, *, now: float
) -> dict[str, Any]:
    """A CloudEvents 1.0 event in the JSON format (structured content mode)."""
    return {
        "specversion": "1.0",
        "id": event_id(facts, event),
        "source": (
            f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{facts.namespace}/diagnoses/{facts.name}"
        ),
        "type": EVENT_TYPES[event],
        "subject": facts.name,
        "time": isoformat_z(now),
        "datacontenttype": JSON_CONTENT_TYPE,
        "data": event_data(facts, event),
    }


def silence(facts: NotificationFacts, *, now: float, seconds: float) -> dict[str, Any] | Skip:
    """An Alertmanager v2 ``postableSilence`` for the alert group, or why there is none."""
    if facts.alert is None or not facts.alert.labels:
        return Skip("not created from an Alertmanager alert group: nothing to annotate")
    if not facts.found:
        return Skip("no root cause found: the alerts stay unsilenced")
    comment = headline(facts, NotificationEvent.COMPLETED)
    if facts.report_url:
        comment += f" — report: {facts.report_url}"
    return {
        "matchers": [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in facts.alert.labels
        ],
        "startsAt": isoformat_z(now),
        "endsAt": isoformat_z(now + seconds),
        "createdBy": CREATED_BY,
        "comment": comment[:_COMMENT_LIMIT],
    }


def build(
    *,
    kind: SinkKind,
    facts: NotificationFacts,
    event: NotificationEvent,
    now: float,
    silence_seconds: float | None,
) -> Outgoing | Skip:
    """The request for one sink and event (pure)."""
    if kind is SinkKind.SLACK:
        return Outgoing(path="", content_type=JSON_CONTENT_TYPE, body=slack_message(facts, event))
    if kind is SinkKind.WEBHOOK:
        return Outgoing(
            path="",
            content_type=CLOUDEVENTS_CONTENT_TYPE,
            body=cloud_event(facts, event, now=now),
        )
    if event is not NotificationEvent.COMPLETED:
        return Skip("an Alertmanager silence is only set when the Diagnosis completes")
    made = silence(facts, now=now, seconds=silence_seconds or 0.0)
    if isinstance(made, Skip):
        return made
    return Outgoing(path=SILENCES_PATH, content_type=JSON_CONTENT_TYPE, body=made)
