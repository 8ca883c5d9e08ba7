"""Hostile text against the real query engines: it stays a literal, it never becomes syntax.

PromQL: a selector built from hostile label values is put to a real Prometheus
inside ``absent(...)``, which answers with exactly the labels of its equality
matchers: each value must come back unchanged (parsed by Prometheus' own parser,
as one string literal).  SQL: hostile statements, as a slow log or a log line
could carry them, go to ``PyMySQLAdmin.explain`` on a real MariaDB under a user
that could drop the table: each is refused (``NotASelect``), planned, or refused
by the server, and the sentinel table is always still there, even in a session
where backslashes are no escape (``NO_BACKSLASH_ESCAPES``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis_operator.adapters import promql
from diagnosis_operator.adapters.mysql import MySQLConnectionSettings, MySQLError, PyMySQLAdmin
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.catalog.signals import render
from diagnosis_operator.models.querytext import QueryBuildError
from diagnosis_operator.models.sqltext import NotASelect
from tests.services.mariadb import MariaDBServer
from tests.services.prometheus import PrometheusServer
from tests.unit.test_hostile_input import NASTY, hostile_text, label_maps

pytestmark = pytest.mark.integration

SENTINEL_ROWS = 3


def _round_trip(prometheus: PrometheusAdapter, query: str) -> dict[str, str]:
    [series] = prometheus.query_instant(promql=query, at=time.time())
    return dict(series.labels)


@pytest.fixture(scope="module")
def prometheus(prometheus_server: PrometheusServer) -> Iterator[PrometheusAdapter]:
    with PrometheusAdapter(prometheus_server.url) as adapter:
        yield adapter


@given(selector=label_maps)
@settings(max_examples=80)
def test_hostile_label_values_reach_prometheus_as_literals_only(
    prometheus: PrometheusAdapter, selector: dict[str, str]
) -> None:
    try:
        built = promql.selector(selector)
    except QueryBuildError as error:
        assert "UTF-8" in str(error)  # a lone surrogate: refused before any query
        return
    # absent() of a series that cannot exist answers with its equality matchers' labels;
    # Prometheus drops empty label values from that answer.
    expected = {name: value for name, value in selector.items() if value}
    assert _round_trip(prometheus, f"absent(hostile_input_never_scraped{built})") == expected
    # The catalog renders the same selector into templates ({selector} and {matchers}).
    rendered = render("absent(hostile_input_never_scraped{selector})", selector=selector)
    assert _round_trip(prometheus, rendered) == expected


@pytest.mark.parametrize("value", NASTY[:-1])
def test_each_nasty_value_round_trips_through_prometheus(
    prometheus: PrometheusAdapter, value: str
) -> None:
    built = promql.selector({"job": "api", "pod": value})
    labels = _round_trip(prometheus, f"absent(hostile_input_never_scraped{built})")
    assert labels == {"job": "api", **({"pod": value} if value else {})}


# --------------------------------------------------------------------------- SQL


@pytest.fixture(scope="module")
def sentinel(mariadb_server: MariaDBServer) -> MariaDBServer:
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS hostile_sentinel")
        cursor.execute("CREATE TABLE hostile_sentinel (id INT PRIMARY KEY, name VARCHAR(64))")
        cursor.execute("INSERT INTO hostile_sentinel VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return mariadb_server


@pytest.fixture(scope="module")
def mighty(sentinel: MariaDBServer) -> Iterator[PyMySQLAdmin]:
    """The adapter under a user that could drop or change the table, were it asked to."""
    params = sentinel.create_user(
        name="diag_hostile",
        password="diag-hostile-pw",
        grants=[f"ALL ON `{sentinel.database}`.*"],
    )
    adapter = PyMySQLAdmin(
        settings=MySQLConnectionSettings(
            host=params["host"],
            port=params["port"],
            user=params["user"],
            password=params["password"],
            database=sentinel.database,
        ),
        name="mariadb-hostile",
    )
    yield adapter
    adapter.close()


def _sentinel_intact(server: MariaDBServer) -> None:
    with server.app() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), GROUP_CONCAT(name ORDER BY id) FROM hostile_sentinel")
        assert cursor.fetchone() == (SENTINEL_ROWS, "a,b,c")


def _explain(admin: PyMySQLAdmin, statement: str) -> str:
    try:
        admin.explain(statement=statement)
    except NotASelect:
        return "refused"
    except MySQLError:
        return "server refused"
    return "planned"


INJECTIONS = [
    "SELECT * FROM hostile_sentinel WHERE name = '{v}'",
    'SELECT * FROM hostile_sentinel WHERE name = "{v}"',
    "SELECT * FROM hostile_sentinel WHERE name = '{v}'; DELETE FROM hostile_sentinel",
    "SELECT * FROM hostile_sentinel /* {v} */ WHERE id = 1",
    "SELECT * FROM hostile_sentinel WHERE id = 1 -- {v}\n; DROP TABLE hostile_sentinel",
    "{v}",
]


@given(template=st.sampled_from(INJECTIONS), value=hostile_text)
@settings(max_examples=120)
def test_hostile_sql_text_is_explained_as_one_select_or_refused(
    mighty: PyMySQLAdmin, sentinel: MariaDBServer, template: str, value: str
) -> None:
    statement = template.replace("{v}", value)
    outcome = _explain(mighty, statement)
    assert outcome in ("refused", "server refused", "planned")
    _sentinel_intact(sentinel)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT '\\'; DROP TABLE hostile_sentinel; -- '",
        "SELECT '\\'; DELETE FROM hostile_sentinel; SELECT '",
        'SELECT "\\"; UPDATE hostile_sentinel SET name = \'x\'; -- "',
    ],
)
def test_without_backslash_escapes_a_statement_still_cannot_be_split(
    mighty: PyMySQLAdmin, sentinel: MariaDBServer, statement: str
) -> None:
    """Where a backslash escapes nothing, the checker's view of the quotes is wrong; the
    connection still runs one statement only (no multi-statements), so nothing runs."""
    connection = mighty._connect()
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    try:
        assert _explain(mighty, statement) in ("refused", "server refused")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
    _sentinel_intact(sentinel)
