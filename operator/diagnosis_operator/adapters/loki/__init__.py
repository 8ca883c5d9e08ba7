"""Loki over its documented HTTP API, and a ``LogSource`` on top of it.

``LokiClient`` speaks Loki's HTTP API within its limits (``client``; transport
in ``http``, answers decoded in ``wire``, paging in ``paging``, pushing in
``push``); ``LokiLogSource`` implements ``ports.LogSource`` with it: aggregation
runs in Loki (``count_over_time``), raw lines come back only as bounded samples.
"""

from diagnosis_operator.adapters.loki.client import Direction, LokiClient
from diagnosis_operator.adapters.loki.limits import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_QUERY_LENGTH,
    MAX_POINTS_PER_SERIES,
    default_step,
    metric_chunks,
)
from diagnosis_operator.adapters.loki.nanos import from_nanos, to_nanos
from diagnosis_operator.adapters.loki.push import PUSH_BATCH_BYTES
from diagnosis_operator.adapters.loki.source import LokiLogSource
from diagnosis_operator.adapters.loki.wire import (
    QueryResult,
    parse_matrix,
    parse_streams,
    parse_vector,
)

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_QUERY_LENGTH",
    "MAX_POINTS_PER_SERIES",
    "PUSH_BATCH_BYTES",
    "Direction",
    "LokiClient",
    "LokiLogSource",
    "QueryResult",
    "default_step",
    "from_nanos",
    "metric_chunks",
    "parse_matrix",
    "parse_streams",
    "parse_vector",
    "to_nanos",
]
