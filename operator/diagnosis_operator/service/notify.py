"""Tell a Diagnosis' notification sinks what it found (the imperative shell of core/notify).

``notify`` sends every (sink, event) that is due for this generation and returns
what happened to each as ``NotificationStatus`` records, for the handler to
write to status (so nothing is sent twice, whatever restarts).  A sink that
cannot be opened (a Secret missing, a URL the administrator did not allow) or
that fails is a ``failed`` record with the reason, never an exception: a
notification never fails a Diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from diagnosis_operator.api import (
    NotificationEvent,
    NotificationResult,
    NotificationSink,
    NotificationStatus,
    parse_duration,
)
from diagnosis_operator.core.notify import NotificationFacts, Skip, build, due, events_now
from diagnosis_operator.models.signals import from_seconds
from diagnosis_operator.ports import NotificationError, NotificationPort

MAX_RECORDS = 32


class SinkUnavailable(RuntimeError):
    """A sink cannot be built: its Secret, its URL; the message names the field."""


OpenSink = Callable[[NotificationSink], NotificationPort]


def _one(
    sink: NotificationSink,
    event: NotificationEvent,
    *,
    facts: NotificationFacts,
    open_sink: OpenSink,
    now: float,
) -> tuple[NotificationResult, str]:
    outgoing = build(
        kind=sink.kind,
        facts=facts,
        event=event,
        now=now,
        silence_seconds=parse_duration(sink.silence_for) if sink.silence_for else None,
    )
    if isinstance(outgoing, Skip):
        return NotificationResult.SKIPPED, outgoing.reason
    try:
        port = open_sink(sink)
        port.send(path=outgoing.path, content_type=outgoing.content_type, body=outgoing.body)
    except (SinkUnavailable, NotificationError) as error:
        return NotificationResult.FAILED, str(error)
    except Exception as error:  # a sink never fails a Diagnosis
        return NotificationResult.FAILED, f"{type(error).__name__}: {error}"
    return NotificationResult.SENT, ""


def notify(
    *,
    sinks: Sequence[NotificationSink],
    facts: NotificationFacts,
    sent: Sequence[NotificationStatus],
    open_sink: OpenSink,
    now: float,
    record: Callable[[list[NotificationStatus]], None],
) -> list[NotificationStatus]:
    """Send what is due and return the new records.

    ``record`` is called with the whole list (the last ``MAX_RECORDS``) after each send.
    """
    records = list(sent)
    added: list[NotificationStatus] = []
    moment: datetime = from_seconds(now)
    for sink, event in due(
        sinks=sinks, events=events_now(facts), sent=sent, generation=facts.generation
    ):
        result, message = _one(sink, event, facts=facts, open_sink=open_sink, now=now)
        item = NotificationStatus(
            sink=sink.name,
            event=event,
            generation=facts.generation,
            result=result,
            message=message[:1024],
            at=moment,
        )
        added.append(item)
        records = [*records, item][-MAX_RECORDS:]
        record(records)
    return added
