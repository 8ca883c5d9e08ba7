"""Reading log lines: categories, slow queries, hot keys, upstreams, templates.  Pure.

Parsing is tolerant on purpose: the same facts are looked for in plain text,
key=value and JSON lines, in any field order, and a line that gives only part
of them still counts for what it gives.  Nothing depends on one exact format.

The regular expressions the collector sends to Loki (``SIGNIFICANT_FILTER``,
``ACCESS_PATTERN``, ``FAILED_REQUEST_FILTER``) stay in the common subset of
RE2 and Python ``re``: no look-around, no back-references, named groups as
``(?P<name>...)``.
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.logs.access import (
    parse_access,
    upstream_errors,
)
from diagnosis_operator.core.diagnosis.logs.cache import (
    hot_keys,
    parse_slow_command,
)
from diagnosis_operator.core.diagnosis.logs.categories import (
    categorize,
    read_event,
)
from diagnosis_operator.core.diagnosis.logs.component import (
    read_component_logs,
)
from diagnosis_operator.core.diagnosis.logs.model import (
    EVENT_NAMES,
    SEVERITY,
    AccessRecord,
    ComponentLogs,
    LogCategory,
    LogEvent,
    LogTemplate,
    SlowCommand,
    SlowQuery,
)
from diagnosis_operator.core.diagnosis.logs.patterns import (
    ACCESS_PATTERN,
    AGENT_LABELS,
    CLIENT_AGENT_AGENTS,
    CLIENT_AGENT_LABELS,
    CLIENT_AGENT_PATTERN,
    CLIENT_LABELS,
    FAILED_REQUEST_FILTER,
    NETWORK_LABELS,
    NETWORK_PATTERN,
    REQUEST_LABELS,
    RETRY_LABELS,
    SIGNIFICANT_FILTER,
)
from diagnosis_operator.core.diagnosis.logs.sql import (
    parse_slow_query,
    statement_fingerprint,
    statement_prefix,
    tables_of,
    where_columns,
)
from diagnosis_operator.core.diagnosis.logs.templates import (
    mask,
    mine_templates,
)

__all__ = [
    "ACCESS_PATTERN",
    "AGENT_LABELS",
    "CLIENT_AGENT_AGENTS",
    "CLIENT_AGENT_LABELS",
    "CLIENT_AGENT_PATTERN",
    "CLIENT_LABELS",
    "EVENT_NAMES",
    "FAILED_REQUEST_FILTER",
    "NETWORK_LABELS",
    "NETWORK_PATTERN",
    "REQUEST_LABELS",
    "RETRY_LABELS",
    "SEVERITY",
    "SIGNIFICANT_FILTER",
    "AccessRecord",
    "ComponentLogs",
    "LogCategory",
    "LogEvent",
    "LogTemplate",
    "SlowCommand",
    "SlowQuery",
    "categorize",
    "hot_keys",
    "mask",
    "mine_templates",
    "parse_access",
    "parse_slow_command",
    "parse_slow_query",
    "read_component_logs",
    "read_event",
    "statement_fingerprint",
    "statement_prefix",
    "tables_of",
    "upstream_errors",
    "where_columns",
]
