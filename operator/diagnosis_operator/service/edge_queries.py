"""The client-traffic queries an edge component gets (``service.collect``).  Pure data.

An edge component (a proxy, or one nothing depends on) is where clients
arrive: its access lines are counted per client address, per failing client,
request and agent at a fine step (tight retry loops), per client network, per
client address and user agent (many users behind one address, ``core.diagnosis.
crowds``), and per client its costly requests: those that took a second or more,
and those whose response was 100 kB or more, and 10 MB or more
(``catalog.client_cost``); and per route its requests by status, and its refused
requests by client (``catalog.routes``: a served route refused to everyone), and its
requests refused 403 by client (its own access rules refusing most of its clients).
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.catalog.client_cost import (
    BIG_RESPONSE_FILTER,
    HUGE_RESPONSE_FILTER,
    SLOW_REQUEST_FILTER,
)
from diagnosis_operator.catalog.routes import (
    ROUTE_CLIENT_LABELS,
    ROUTE_CLIENT_PATTERN,
    ROUTE_LOST_FILTER,
    ROUTE_STATUS_LABELS,
    ROUTE_STATUS_PATTERN,
    RULE_REFUSED_FILTER,
)
from diagnosis_operator.core.diagnosis.collected import (
    BIG_RESPONSES,
    CLIENT_AGENTS,
    CLIENTS,
    HUGE_RESPONSES,
    NETWORKS,
    RETRIES,
    ROUTE_REFUSALS,
    ROUTE_STATUSES,
    RULE_REFUSALS,
    SLOW_REQUESTS,
)
from diagnosis_operator.core.diagnosis.logs import (
    ACCESS_PATTERN,
    CLIENT_AGENT_LABELS,
    CLIENT_AGENT_PATTERN,
    CLIENT_LABELS,
    FAILED_REQUEST_FILTER,
    NETWORK_LABELS,
    NETWORK_PATTERN,
    RETRY_LABELS,
)

CLIENT_TOP = 20
RETRY_TOP = 10
NETWORK_TOP = 10
AGENT_TOP = 50
ROUTE_TOP = 50


@dataclass(frozen=True)
class ExtractedCount:
    """One ``count_extracted`` query that an edge component (where clients arrive) gets."""

    key: str
    what: str
    line_filter: str | None
    pattern: str
    by: tuple[str, ...]
    top: int
    at_retry_step: bool  # the finer step that tight retry loops need


EDGE_EXTRACTIONS = (
    ExtractedCount(
        key=CLIENTS,
        what="client counts",
        line_filter=None,
        pattern=ACCESS_PATTERN,
        by=CLIENT_LABELS,
        top=CLIENT_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=RETRIES,
        what="retry counts",
        line_filter=FAILED_REQUEST_FILTER,
        pattern=ACCESS_PATTERN,
        by=RETRY_LABELS,
        top=RETRY_TOP,
        at_retry_step=True,
    ),
    ExtractedCount(
        key=NETWORKS,
        what="client network counts",
        line_filter=None,
        pattern=NETWORK_PATTERN,
        by=NETWORK_LABELS,
        top=NETWORK_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=CLIENT_AGENTS,
        what="client agent counts",
        line_filter=None,
        pattern=CLIENT_AGENT_PATTERN,
        by=CLIENT_AGENT_LABELS,
        top=AGENT_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=SLOW_REQUESTS,
        what="slow request counts",
        line_filter=SLOW_REQUEST_FILTER,
        pattern=ACCESS_PATTERN,
        by=CLIENT_LABELS,
        top=CLIENT_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=BIG_RESPONSES,
        what="big response counts",
        line_filter=BIG_RESPONSE_FILTER,
        pattern=ACCESS_PATTERN,
        by=CLIENT_LABELS,
        top=CLIENT_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=HUGE_RESPONSES,
        what="huge response counts",
        line_filter=HUGE_RESPONSE_FILTER,
        pattern=ACCESS_PATTERN,
        by=CLIENT_LABELS,
        top=CLIENT_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=ROUTE_STATUSES,
        what="route status counts",
        line_filter=None,
        pattern=ROUTE_STATUS_PATTERN,
        by=ROUTE_STATUS_LABELS,
        top=ROUTE_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=ROUTE_REFUSALS,
        what="route refusal counts",
        line_filter=ROUTE_LOST_FILTER,
        pattern=ROUTE_CLIENT_PATTERN,
        by=ROUTE_CLIENT_LABELS,
        top=ROUTE_TOP,
        at_retry_step=False,
    ),
    ExtractedCount(
        key=RULE_REFUSALS,
        what="rule refusal counts",
        line_filter=RULE_REFUSED_FILTER,
        pattern=ROUTE_CLIENT_PATTERN,
        by=ROUTE_CLIENT_LABELS,
        top=ROUTE_TOP,
        at_retry_step=False,
    ),
)
