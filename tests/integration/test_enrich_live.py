"""Enrichment against a real MariaDB and a real Redis.

MariaDB: a table with many rows and no index on the filtered column; the slow
statement is taken from the server's own slow-query log, handed over as the
engine does (an Evidence line), explained through the operator's account, and
the index advice names that table and column, until the index exists.  Hostile
statements in evidence are refused and never run, although the account could
drop the table.

Redis: the slow log records everything (``slowlog-log-slower-than 0``); a hot
key, rejected connections and evictions are provoked for real.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Generator
from pathlib import Path

import pytest
import redis as redis_client
from examples.incidents.generate import generate
from pydantic import SecretStr

from diagnosis_operator.adapters.mysql import MySQLConnectionSettings
from diagnosis_operator.adapters.redis import RedisAdapter, RedisError
from diagnosis_operator.entrypoints.bootstrap.connections import make_enricher
from diagnosis_operator.entrypoints.bootstrap.enrichment import EnrichmentSettings
from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle
from diagnosis_operator.models.findings import DiagnosisResult, Evidence, EvidenceSource, RootCause
from diagnosis_operator.models.signals import Window
from tests.services.mariadb import MariaDBServer
from tests.services.ports import free_port
from tests.services.redis import RedisServer

pytestmark = pytest.mark.integration

ROWS = 20_000


def recent_window() -> Window:
    now = time.time()
    return Window(now - 600, now + 600)


def result_with(*evidence: Evidence) -> DiagnosisResult:
    return DiagnosisResult(
        window=recent_window(),
        root_cause=RootCause("orders-db", "mysql", None, 0.8, "orders-db went bad first"),
        evidence=evidence,
    )


def log_evidence(line: str) -> Evidence:
    return Evidence(
        component="orders-db",
        source=EvidenceSource.LOKI,
        query='{job="orders-db"}',
        summary="slow query",
        line=line,
    )


# --------------------------------------------------------------------------- MariaDB


@pytest.fixture(scope="module")
def shipments(mariadb_server: MariaDBServer) -> Generator[str, None, None]:
    """A table of ROWS rows, its ``carrier_code`` column not indexed."""
    table = f"shipments_{secrets.token_hex(3)}"
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE `{table}` (id INT PRIMARY KEY AUTO_INCREMENT, "
            "carrier_code VARCHAR(16) NOT NULL, weight INT NOT NULL) ENGINE=InnoDB"
        )
        rows = [(f"c{i % 5000:04d}", i % 97) for i in range(ROWS)]
        cursor.executemany(
            f"INSERT INTO `{table}` (carrier_code, weight) VALUES (%s, %s)",
            rows,
        )
        cursor.execute(f"ANALYZE TABLE `{table}`")
        cursor.fetchall()
    yield table
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS `{table}`")


def operator_settings(server: MariaDBServer, *, grants: list[str]) -> MySQLConnectionSettings:
    name = f"diag_{secrets.token_hex(3)}"
    params = server.create_user(name=name, password=secrets.token_hex(10), grants=grants)
    return MySQLConnectionSettings(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=SecretStr(params["password"]),
        database=server.database,
    )


def slow_log_entry(server: MariaDBServer, statement: str, marker: str) -> str:
    """Run ``statement`` with long_query_time 0 and return its entry from the slow log."""
    with server.app() as connection, connection.cursor() as cursor:
        cursor.execute("SET SESSION long_query_time = 0")
        cursor.execute(statement)
        cursor.fetchall()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = Path(server.slow_log).read_text(errors="replace")
        at = text.find(marker)
        if at >= 0:
            start = max(text.rfind("# Time:", 0, at), text.rfind("# User@Host:", 0, at))
            end = text.find("\n", at)
            return text[start : end if end >= 0 else len(text)]
        time.sleep(0.2)
    pytest.fail(f"statement with {marker} never reached the slow log {server.slow_log}")


def test_full_scan_gets_an_index_advice_until_the_index_exists(
    mariadb_server: MariaDBServer, shipments: str
) -> None:
    marker = f"/* probe-{secrets.token_hex(4)} */"
    statement = f"SELECT * FROM {shipments} WHERE carrier_code = 'c0042' {marker}"
    entry = slow_log_entry(mariadb_server, statement, marker)
    assert "Query_time" in entry  # a real slow-log entry, headers and all
    settings = EnrichmentSettings(
        mysql=operator_settings(mariadb_server, grants=[f"SELECT ON `{mariadb_server.database}`.*"])
    )
    enrich = make_enricher(settings=settings)

    before = enrich(result_with(log_evidence(entry)))
    advice = [r for r in before.recommendations if r.text.startswith("Add an index on")]
    assert [r.text.split(":")[0] for r in advice] == [f"Add an index on {shipments}(carrier_code)"]
    assert f"table={shipments} type=ALL" in advice[0].because
    (explained,) = [e for e in before.evidence if e.source is EvidenceSource.MYSQL]
    assert explained.line is not None and "key=NULL" in explained.line
    assert before.warnings == ()

    update = log_evidence(
        "# Query_time: 7.5  Lock_time: 0.1  Rows_sent: 0  Rows_examined: 20000\n"
        f"UPDATE {shipments} SET weight = weight + 1 WHERE carrier_code = 'c0007';"
    )
    via_rows = enrich(result_with(update))
    assert [r.text.split(":")[0] for r in via_rows.recommendations] == [
        f"Add an index on {shipments}(carrier_code)"
    ]
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(weight) FROM `{shipments}` WHERE carrier_code = 'c0007'")
        unchanged = cursor.fetchone()[0]
        cursor.execute(f"CREATE INDEX ix_carrier ON `{shipments}` (carrier_code)")
    assert unchanged == sum(i % 97 for i in range(7, ROWS, 5000))  # EXPLAIN changed nothing
    try:
        after = enrich(result_with(log_evidence(entry)))
        assert not any("index on" in r.text.lower() for r in after.recommendations)
        (explained,) = [e for e in after.evidence if e.source is EvidenceSource.MYSQL]
        assert "read through index ix_carrier" in explained.summary
    finally:
        with mariadb_server.app() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX ix_carrier ON `{shipments}`")


def test_hostile_statements_are_refused_and_never_run(
    mariadb_server: MariaDBServer, shipments: str
) -> None:
    # The account could drop the table: only the refusal keeps it.
    settings = EnrichmentSettings(
        mysql=operator_settings(
            mariadb_server, grants=[f"ALL PRIVILEGES ON `{mariadb_server.database}`.*"]
        )
    )
    header = "# Query_time: 12.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 20000\n"
    hostile = [
        f"SELECT * FROM {shipments} WHERE id = 1; DROP TABLE {shipments};",
        f"SELECT * FROM {shipments} WHERE weight = 3 -- x\n; DROP TABLE {shipments}",
        f"SELECT * FROM {shipments} WHERE id = 2;\nDELETE FROM {shipments}",
        f"DELETE FROM {shipments} WHERE weight > 0",
        f"SELECT * FROM {shipments} WHERE weight = 4 /*!; DROP TABLE {shipments} */",
    ]
    result = result_with(*(log_evidence(header + statement) for statement in hostile))
    enriched = make_enricher(settings=settings)(result)
    refusals = [w for w in enriched.warnings if "not explained" in w]
    assert len(refusals) == 3, enriched.warnings
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM `{shipments}`")
        assert cursor.fetchone()[0] == ROWS
    # The DELETE is explained through the SELECT of its rows; the executable comment is
    # removed before EXPLAIN, so only the plain SELECT was planned.
    explained = [e.summary for e in enriched.evidence if e.source is EvidenceSource.MYSQL]
    assert len(explained) == 2
    assert explained[0].startswith(f"EXPLAIN of `delete from {shipments} where weight > ?`")
    assert explained[1].startswith(f"EXPLAIN of `select * from {shipments} where weight = ?`")


def test_unreachable_mysql_is_a_warning(mariadb_server: MariaDBServer) -> None:
    settings = EnrichmentSettings(
        mysql=MySQLConnectionSettings(
            host="127.0.0.1", port=free_port(), user="x", password=SecretStr("y")
        ),
        timeout_seconds=20,
    )
    result = result_with(log_evidence("# Query_time: 3\nSELECT * FROM t WHERE a = 1;"))
    enriched = make_enricher(settings=settings)(result)
    assert enriched.recommendations == ()
    assert any("EXPLAIN for orders-db failed" in w for w in enriched.warnings)


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def loud_redis(redis_db: RedisServer) -> Generator[RedisServer, None, None]:
    """The test Redis logging every command as slow, its counters reset."""
    with redis_db.client() as client:
        before = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
        client.config_set("slowlog-log-slower-than", 0)
        client.config_resetstat()
        client.slowlog_reset()
    yield redis_db
    with redis_db.client() as client:
        client.config_set("slowlog-log-slower-than", before)
        client.config_set("maxclients", 10000)
        client.config_set("maxmemory", 0)
        client.config_set("maxmemory-policy", "noeviction")


def redis_settings(server: RedisServer) -> EnrichmentSettings:
    return EnrichmentSettings(redis_url=SecretStr(server.url), redis_component="sessions")


def test_hot_key_and_whole_value_reads_are_named(loud_redis: RedisServer) -> None:
    hot = f"cart:{{{secrets.token_hex(3)}}} items"
    with loud_redis.client() as client:
        client.hset(hot, mapping={f"sku-{i}": i for i in range(2000)})
        for _ in range(25):
            client.hgetall(hot)
        for i in range(5):
            client.get(f"price:{i}")
    enriched = make_enricher(settings=redis_settings(loud_redis))(result_with())
    hot_evidence = [e for e in enriched.evidence if e.summary.startswith("hot key")]
    assert len(hot_evidence) == 1 and repr(hot) in hot_evidence[0].summary
    assert (
        hot_evidence[0].component == "sessions" and hot_evidence[0].source is EvidenceSource.REDIS
    )
    assert "hash, 2000 elements" in hot_evidence[0].summary
    texts = [r.text for r in enriched.recommendations]
    assert any(f"hot key {hot!r}" in t for t in texts)
    assert any(t.startswith(f"Split the HGETALL reads of {hot!r}") for t in texts)
    assert not any("price:" in t for t in texts)
    assert enriched.warnings == ()


def test_rejected_connections_and_evictions_are_observed(loud_redis: RedisServer) -> None:
    with loud_redis.client() as client:
        client.config_set("maxclients", 4)
        extra = [
            redis_client.Redis(host=loud_redis.host, port=loud_redis.port, socket_timeout=5)
            for _ in range(8)
        ]
        rejected = 0
        for other in extra:
            try:
                other.ping()
            except redis_client.ConnectionError:
                rejected += 1
        for other in extra:
            other.close()
        client.config_set("maxclients", 10000)
        assert rejected > 0
        client.config_set("maxmemory-policy", "allkeys-lru")
        client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 600_000)
        for i in range(400):
            client.set(f"blob:{i}", b"x" * 5000)
        evicted = int(client.info("stats")["evicted_keys"])
        assert evicted > 0
    enriched = make_enricher(settings=redis_settings(loud_redis))(result_with())
    texts = [r.text for r in enriched.recommendations]
    assert any(t.startswith("Keep connections to sessions under maxclients") for t in texts)
    assert any(t.startswith("Size sessions's memory") for t in texts)
    (connections,) = [e for e in enriched.evidence if e.summary.startswith("connections:")]
    assert f"{rejected} connection(s) rejected" in connections.summary


def test_adapter_reads_the_real_server(loud_redis: RedisServer) -> None:
    with loud_redis.client() as client:
        client.sadd("tag set", *(f"t{i}" for i in range(30)))
        client.smembers("tag set")
    adapter = RedisAdapter(url=loud_redis.url, timeout=5)
    try:
        entries = adapter.slowlog(limit=50)
        assert ("SMEMBERS", "tag set") in [e.args for e in entries]
        assert all(e.duration >= 0 and e.started > 0 for e in entries)
        assert len(adapter.slowlog(limit=1)) == 1
        assert adapter.slowlog_threshold() == 0.0
        info = adapter.info()
        assert info.keys_by_db.get("db0", 0) >= 1 and info.maxclients == 10000
        (size,) = adapter.key_sizes(keys=["tag set"])
        assert (size.value_type, size.length) == ("set", 30) and (size.memory_bytes or 0) > 0
        assert adapter.key_sizes(keys=["absent"])[0].value_type == "none"
        assert isinstance(adapter.latency_latest(), tuple)
    finally:
        adapter.close()


def test_adapter_errors_say_what_was_asked_without_the_password() -> None:
    port = free_port()
    adapter = RedisAdapter(url=f"redis://:s3cret-pw@127.0.0.1:{port}/2", timeout=2)
    with pytest.raises(RedisError) as caught:
        adapter.slowlog(limit=10)
    message = str(caught.value)
    assert f"127.0.0.1:{port}/2" in message and "SLOWLOG GET 10" in message
    assert "s3cret" not in message
    with contextlib.suppress(Exception):
        adapter.close()


# --------------------------------------------------------------------------- with the engine


def test_reference_bundle_slow_query_is_explained(
    mariadb_server: MariaDBServer, tmp_path: Path
) -> None:
    """The engine's own evidence hands the statement over; EXPLAIN replaces its guess."""
    schema = f"shop_{secrets.token_hex(3)}"
    with mariadb_server.root() as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{schema}`")
        cursor.execute(
            f"CREATE TABLE `{schema}`.payments (id INT PRIMARY KEY AUTO_INCREMENT, "
            "status VARCHAR(12) NOT NULL, amount INT NOT NULL)"
        )
        cursor.executemany(
            f"INSERT INTO `{schema}`.payments (status, amount) VALUES (%s, %s)",
            [("FAILED" if i % 500 == 0 else "OK", i) for i in range(5000)],
        )
        cursor.execute(f"ANALYZE TABLE `{schema}`.payments")
        cursor.fetchall()
    try:
        settings = operator_settings(mariadb_server, grants=[f"SELECT ON `{schema}`.*"])
        enrich = make_enricher(
            settings=EnrichmentSettings(
                mysql=settings.model_copy(update={"database": schema}), mysql_component="mysql"
            )
        )
        result = diagnose_bundle(generate("reference", tmp_path))
        guessed = [r.text for r in result.recommendations if "index on payments" in r.text]
        assert guessed and all("check with EXPLAIN first" in t for t in guessed)

        enriched = enrich(result)
        texts = [r.text for r in enriched.recommendations]
        assert not any("check with EXPLAIN first" in t for t in texts)
        confirmed = [t for t in texts if t.startswith("Add an index on payments(status): EXPLAIN")]
        assert len(confirmed) == 1
        assert any(e.source is EvidenceSource.MYSQL for e in enriched.evidence)
        assert enriched.root_cause == result.root_cause
    finally:
        with mariadb_server.root() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{schema}`")
