"""A data store's server-side limits as its callers report them (``modes_mysql_more``).

An AUTO_INCREMENT key at the largest value of its integer type refuses every
INSERT: InnoDB answers ER_DUP_ENTRY (1062) on the maximum itself, strict mode
and MariaDB handler error 167 "Out of range value".  A duplicate on any other
value is the application's own data (a unique e-mail, a retried id): no limit.
"""

from __future__ import annotations

import pytest

from diagnosis_operator.catalog.failure_modes import modes_of
from diagnosis_operator.catalog.mode_types import MYSQL
from diagnosis_operator.catalog.modes_mysql_more import INTEGER_MAXIMA
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import (
    ComponentLogs,
    LogCategory,
    LogEvent,
    read_event,
)
from diagnosis_operator.core.diagnosis.modes import rank_modes
from diagnosis_operator.core.diagnosis.reported import reported_failures
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
DB = Component("store", ComponentKind.MYSQL, Labels({"job": "store"}))
API = Component("api", ComponentKind.APP, Labels({"job": "api"}), ("store",))
TOPOLOGY = Topology(components=(API, DB))


def _reported(line: str) -> dict[str, dict[LogCategory, list[LogEvent]]]:
    events = tuple(
        read_event(component="api", instance=None, ts=T0 + 2400.0 + 10 * i, line=line, query="")
        for i in range(20)
    )
    evidence = {
        "store": ComponentEvidence(component=DB),
        "api": ComponentEvidence(component=API, logs=ComponentLogs(component="api", events=events)),
    }
    return reported_failures(topology=TOPOLOGY, evidence=evidence, window=WINDOW)


def _top_mode(line: str) -> str:
    fits = rank_modes(modes_of([MYSQL]), metric_names=[], own_lines=[], caller_lines=[line] * 8)
    return fits[0].mode.name


def test_the_integer_maxima_are_those_of_tinyint_to_bigint() -> None:
    assert {127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295} <= set(
        INTEGER_MAXIMA
    )
    assert {9223372036854775807, 18446744073709551615} <= set(INTEGER_MAXIMA)


@pytest.mark.parametrize(
    "line",
    [
        'level=error msg="insert failed" error="Error 1062 (23000): Duplicate entry '
        "'2147483647' for key 'events.PRIMARY'\"",
        "ERROR pymysql.err.IntegrityError: (1062, \"Duplicate entry '4294967295' for key "
        "'PRIMARY'\")",
        "ERROR SQLSTATE[22003]: Numeric value out of range: 167 Out of range value for column "
        "'id' at row 1",
        "level=error error=\"Error 167 (22003): Out of range value for column 'id' at row 1\"",
    ],
)
def test_a_key_at_its_types_maximum_is_the_store_refusing_inserts(line: str) -> None:
    assert _top_mode(line) == "auto-increment exhausted"
    assert LogCategory.REFUSED in _reported(line)["store"]


@pytest.mark.parametrize(
    "line",
    [
        "level=error error=\"Error 1062 (23000): Duplicate entry 'ana@example.org' for key "
        "'users.email'\"",
        "level=error error=\"Error 1062 (23000): Duplicate entry '2147483646' for key "
        "'events.PRIMARY'\"",
        "level=error error=\"Error 1264 (22003): Out of range value for column 'qty' at row 1\"",
    ],
)
def test_an_ordinary_duplicate_or_a_bad_value_is_no_server_limit(line: str) -> None:
    assert _reported(line) == {}
