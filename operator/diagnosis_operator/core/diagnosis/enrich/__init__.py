"""Evidence and recommendations from asking MySQL and Redis directly.  Pure.

The engine diagnoses from metrics and logs.  Where a database or cache can be
asked directly, what it answers can confirm, sharpen or contradict what the
logs suggested:

* ``EXPLAIN`` of the slow statements the diagnosis found shows which tables are
  read in full (``type=ALL`` with no usable key) and which columns the statement
  filters them on: that is an index to add, named by table and columns.  A plan
  that already uses an index contradicts a log-based "add an index" advice,
  which is then dropped.
* The Redis slow log shows whether one key or one command dominates the slow
  operations (a hot key; whole-value reads such as ``HGETALL`` or ``KEYS`` on
  big values); ``INFO`` shows rejected connections and memory pressure;
  ``LATENCY LATEST`` shows latency spikes and their kind.

Every recommendation names what was observed (table, columns, key, figures) and
quotes it in ``because``; nothing here knows any particular schema or key.
This package only reads text and numbers: it builds no SQL and runs nothing.
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.enrich.index_advice import (
    FilterColumn,
    TableRef,
    filter_columns,
    index_columns,
    table_references,
)
from diagnosis_operator.core.diagnosis.enrich.merge import (
    enrich,
    merge,
)
from diagnosis_operator.core.diagnosis.enrich.model import (
    DEFAULT_THRESHOLDS,
    Enrichment,
    EnrichThresholds,
    SlowStatement,
)
from diagnosis_operator.core.diagnosis.enrich.mysql_explain import (
    explain_findings,
)
from diagnosis_operator.core.diagnosis.enrich.redis_findings import (
    redis_findings,
)
from diagnosis_operator.core.diagnosis.enrich.redis_slowlog import (
    in_window,
    keys_worth_sizing,
    workload,
)
from diagnosis_operator.core.diagnosis.enrich.statements import (
    select_of_rows,
    slow_statements,
    statement_in_entry,
    statement_of,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EnrichThresholds",
    "Enrichment",
    "FilterColumn",
    "SlowStatement",
    "TableRef",
    "enrich",
    "explain_findings",
    "filter_columns",
    "in_window",
    "index_columns",
    "keys_worth_sizing",
    "merge",
    "redis_findings",
    "select_of_rows",
    "slow_statements",
    "statement_in_entry",
    "statement_of",
    "table_references",
    "workload",
]
