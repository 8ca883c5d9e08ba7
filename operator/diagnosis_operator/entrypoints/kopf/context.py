"""What every handler gets through kopf's ``memo``: settings, the apiserver client, and
the bootstrap functions that build the adapters (tests pass fakes in their place)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from diagnosis_operator.entrypoints.bootstrap.notifications import NotifySettings, open_sink
from diagnosis_operator.entrypoints.bootstrap.signals import Sources, open_signal_sources
from diagnosis_operator.entrypoints.kopf.kube import Kube
from diagnosis_operator.models.tenancy import STRICT_RULES, TenancyRules
from diagnosis_operator.ports import NotificationPort
from diagnosis_operator.settings import OperatorSettings

MEMO_KEY = "context"


def _strict() -> TenancyRules:
    return STRICT_RULES


@dataclass(frozen=True)
class OperatorContext:
    settings: OperatorSettings
    configuration: client.Configuration
    kube: Kube
    # (policy=, namespace=, settings=, kube=) -> Sources; see bootstrap.signals
    open_sources: Callable[..., Sources] = open_signal_sources
    # Notifications (DIAG_NOTIFY_*), and (sink, namespace=, kube=, settings=) -> its port.
    notify: NotifySettings = field(default_factory=NotifySettings)
    open_sink: Callable[..., NotificationPort] = open_sink
    # () -> the admin's tenancy rules, read when a diagnosis or policy is handled
    # (bootstrap.connections.tenancy_rules); tests keep the strict defaults.
    tenancy: Callable[[], TenancyRules] = _strict


def context_of(memo: Any) -> OperatorContext:
    found = memo.get(MEMO_KEY) if hasattr(memo, "get") else None
    if not isinstance(found, OperatorContext):
        raise RuntimeError(
            "the operator was started without its context (use `diagnosis-operator run`)"
        )
    return found
