"""Notifications of a Diagnosis (pure): the facts, what is due, and each sink's message.

``facts``: ``facts_from`` (status -> ``NotificationFacts``), ``due`` (what still has
to be sent for this generation); ``messages``: ``build`` (the request for one sink
and event: Slack blocks, a CloudEvent, an Alertmanager silence).
"""

from diagnosis_operator.core.notify.facts import (
    AWAITING_APPROVAL,
    NotificationFacts,
    ProposedAction,
    due,
    events_now,
    facts_from,
)
from diagnosis_operator.core.notify.messages import Outgoing, Skip, build

__all__ = [
    "AWAITING_APPROVAL",
    "NotificationFacts",
    "Outgoing",
    "ProposedAction",
    "Skip",
    "build",
    "due",
    "events_now",
    "facts_from",
]
