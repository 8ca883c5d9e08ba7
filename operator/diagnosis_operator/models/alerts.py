"""Alertmanager's webhook payload (``version: "4"``), as it arrives on ``POST /alertmanager``.

The fields follow Alertmanager's webhook_config documentation.  Unknown fields are
ignored rather than refused, unlike the project's own CRDs: Alertmanager has grown this
payload without bumping ``version`` (``truncatedAlerts`` came that way), and a refused
notification would silently lose an incident.  Everything else is checked strictly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AlertStatus = Literal["firing", "resolved"]

# Alertmanager sends Go's zero time ("0001-01-01T00:00:00Z") for "not ended yet".
_UNSET_YEAR = 1


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Alert(_Payload):
    """One alert of a notification."""

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @field_validator("ends_at")
    @classmethod
    def _zero_time_is_unset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.year <= _UNSET_YEAR:
            return None
        return value


class AlertmanagerWebhook(_Payload):
    """A whole notification: one alert group, as grouped by the Alertmanager route."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    status: AlertStatus
    receiver: str = ""
    alerts: list[Alert] = Field(min_length=1)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")

    @property
    def firing(self) -> list[Alert]:
        return [alert for alert in self.alerts if alert.status == "firing"]
