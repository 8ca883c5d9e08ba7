"""A DiagnosisPolicy's notification sinks, and what a Diagnosis records it sent.

A sink is told when a Diagnosis completes (``completed``) and when one of its
actions waits for a person's approval (``approvalRequired``):

* ``slack``: a Slack-compatible incoming webhook (``text`` and ``blocks``);
* ``webhook``: a generic JSON receiver, sent a CloudEvents 1.0 event in structured
  mode (``application/cloudevents+json``);
* ``alertmanager``: the Alertmanager (API v2) the alert came from; a Diagnosis
  created from an alert group silences that group's alerts for ``silenceFor``
  with a comment naming the root cause and linking the report.  API v2 has no
  way to annotate an alert or a group in place: a silence is what it offers.

The URL is given in the policy (``url``) or read from a Secret of the policy's
namespace (``urlSecretRef``: a Slack webhook URL is itself a credential).  A sink
that gets credentials (a URL from a Secret, or ``authSecretRef``) is only sent to
when the operator's administrator allows its URL (see docs/notifications.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from diagnosis_operator.api.common import (
    NAME_PATTERN,
    CrdModel,
    Duration,
    SecretKeyRef,
    parse_duration,
    validations,
)

MAX_SINKS = 8
MAX_SILENCE_SECONDS = 24 * 3600.0


class SinkKind(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"
    ALERTMANAGER = "alertmanager"


class NotificationEvent(StrEnum):
    COMPLETED = "completed"
    APPROVAL_REQUIRED = "approvalRequired"


class UrlSecretRef(SecretKeyRef):
    """A key of a Secret in the policy's namespace holding the sink's URL."""

    key: str = Field(default="url", min_length=1, max_length=253)


class NotificationSink(CrdModel):
    name: str = Field(
        min_length=1, max_length=63, pattern=NAME_PATTERN, description="Names the sink in status."
    )
    kind: SinkKind
    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="The receiver (Alertmanager: its base URL). Or urlSecretRef.",
    )
    url_secret_ref: UrlSecretRef | None = Field(
        default=None, description="The URL from a Secret of the policy's namespace (key: url)."
    )
    auth_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="webhook, alertmanager: a bearer token in a Secret of the policy's namespace.",
    )
    events: list[NotificationEvent] = Field(
        default_factory=lambda: [NotificationEvent.COMPLETED], min_length=1, max_length=2
    )
    silence_for: Duration | None = Field(
        default=None,
        description="alertmanager only (required there): how long the silence lasts (max 24h).",
    )
    timeout: Duration = "10s"

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "has(self.url) != has(self.urlSecretRef)",
                "set exactly one of url or urlSecretRef",
                None,
            ),
            (
                "(self.kind == 'alertmanager') == has(self.silenceFor)",
                "silenceFor is required for kind alertmanager and only allowed there",
                ".silenceFor",
            ),
            (
                "self.kind != 'slack' || !has(self.authSecretRef)",
                "slack sinks take no authSecretRef (the URL is the credential)",
                ".authSecretRef",
            ),
        )
    )

    @model_validator(mode="after")
    def _consistent(self) -> NotificationSink:
        if (self.url is None) == (self.url_secret_ref is None):
            raise ValueError("set exactly one of url or urlSecretRef")
        if (self.kind is SinkKind.ALERTMANAGER) != (self.silence_for is not None):
            raise ValueError("silenceFor is required for kind alertmanager and only allowed there")
        if self.kind is SinkKind.SLACK and self.auth_secret_ref is not None:
            raise ValueError("slack sinks take no authSecretRef (the URL is the credential)")
        if self.silence_for is not None and not (
            0 < parse_duration(self.silence_for) <= MAX_SILENCE_SECONDS
        ):
            raise ValueError("silenceFor must be longer than zero and at most 24h")
        if len(set(self.events)) != len(self.events):
            raise ValueError("events must not repeat")
        return self


class NotificationResult(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class NotificationStatus(CrdModel):
    """One (sink, event) of one generation: sent, failed or skipped, never tried twice."""

    sink: str = Field(max_length=63)
    event: NotificationEvent
    generation: int = Field(ge=0)
    result: NotificationResult
    message: str = Field(default="", max_length=1024)
    at: datetime | None = None
