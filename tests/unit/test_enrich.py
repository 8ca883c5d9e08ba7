"""core.enrich: slow statements out of evidence, EXPLAIN and Redis observations -> advice."""

from __future__ import annotations

import pytest

from diagnosis_operator.core.diagnosis.enrich import (
    EnrichThresholds,
    explain_findings,
    filter_columns,
    index_columns,
    keys_worth_sizing,
    redis_findings,
    slow_statements,
    statement_in_entry,
    table_references,
)
from diagnosis_operator.core.diagnosis.enrich import (
    enrich as enrich_result,
)
from diagnosis_operator.models.actions import ExplainRow
from diagnosis_operator.models.findings import (
    DiagnosisResult,
    Evidence,
    EvidenceSource,
    Recommendation,
    RootCause,
    Urgency,
)
from diagnosis_operator.models.observations import (
    ExplainObservation,
    KeySize,
    LatencyEvent,
    RedisInfo,
    RedisObservation,
    SlowlogEntry,
)
from diagnosis_operator.models.signals import Window

T0 = 1_800_000_000.0
WINDOW = Window(T0, T0 + 3600)


def slow_entry(statement: str, *, query_time: float = 4.2, examined: int = 250_000) -> str:
    return (
        "# Time: 251211  9:07:07\n# User@Host: app[app] @  [10.1.2.3]\n"
        f"# Query_time: {query_time}  Lock_time: 0.000  Rows_sent: 1  Rows_examined: {examined}\n"
        f"SET timestamp=1765444027;\n{statement}"
    )


def slow_evidence(statement: str, *, component: str = "db") -> Evidence:
    return Evidence(
        component=component,
        source=EvidenceSource.LOKI,
        query='{job="db"}',
        summary=f"slow query `{statement.split(';')[0]}`, Query_time 4.2 s",
        line=slow_entry(statement),
    )


def diagnosis(
    *evidence: Evidence, recommendations: tuple[Recommendation, ...] = ()
) -> DiagnosisResult:
    return DiagnosisResult(
        window=WINDOW,
        root_cause=RootCause("db", "mysql", None, 0.8, "db went bad first"),
        evidence=tuple(evidence),
        recommendations=recommendations,
    )


def full_scan(table: str, rows: int = 200_000, possible: str | None = None) -> ExplainRow:
    return ExplainRow(
        table=table, access_type="ALL", possible_keys=possible, key=None, rows=rows,
        extra="Using where",
    )  # fmt: skip


def by_index(table: str, key: str, rows: int = 3) -> ExplainRow:
    return ExplainRow(
        table=table, access_type="ref", possible_keys=key, key=key, rows=rows, extra=None
    )


# --------------------------------------------------------------------------- statements


def test_statement_is_read_whole_from_a_slow_log_entry() -> None:
    entry = slow_entry("SELECT * FROM invoices WHERE state = 'open';")
    assert statement_in_entry(entry) == "SELECT * FROM invoices WHERE state = 'open';"
    hostile = slow_entry("SELECT 1 FROM a WHERE b = 1; DROP TABLE a;")
    assert statement_in_entry(hostile) == "SELECT 1 FROM a WHERE b = 1; DROP TABLE a;"
    with_use = "# Query_time: 3\nuse shop;\nSET timestamp=1;\nselect id from carts where uid=7;"
    assert statement_in_entry(with_use) == "select id from carts where uid=7;"


def test_statement_is_read_from_json_entries() -> None:
    line = '{"level":"warn","msg":"slow","query_time":2.5,"query":"SELECT x FROM y WHERE z=1"}'
    assert statement_in_entry(line) == "SELECT x FROM y WHERE z=1"
    assert statement_in_entry('{"msg": "no statement here"}') is None


def test_slow_statements_are_classified_and_hostile_ones_refused() -> None:
    result = diagnosis(
        slow_evidence("SELECT * FROM invoices WHERE state = 'open';"),
        slow_evidence("SELECT * FROM invoices WHERE state = 'paid';"),  # same fingerprint
        slow_evidence("SELECT id FROM a WHERE b = 1; DROP TABLE a;"),
        slow_evidence("SELECT id FROM a WHERE c = 1 -- hidden\n; DELETE FROM a"),
        slow_evidence("INSERT INTO a SELECT * FROM b WHERE c = 3;"),
        slow_evidence("UPDATE a SET b = 2 WHERE c = 3; DROP TABLE a"),
        Evidence("db", EvidenceSource.PROMETHEUS, "rate(x[1m])", "qps rose"),
    )
    found = slow_statements(result=result)
    assert [s.explainable for s in found] == [True, False, False, False, False]
    assert found[0].explain == "SELECT * FROM invoices WHERE state = 'open'"
    assert "more than one statement" in (found[1].refused or "")
    assert "more than one statement" in (found[2].refused or "")
    assert "INSERT" in (found[3].refused or "")
    assert "more than one statement" in (found[4].refused or "")  # even after the rewrite


@pytest.mark.parametrize(
    ("statement", "select"),
    [
        (
            "UPDATE ledger SET settled = 1 WHERE batch = 7;",
            "SELECT * FROM ledger WHERE batch = 7",
        ),
        (
            "update `db`.`inv` i set note = 'where x', v = (select 1 from t where b = 1) "
            "where i.state = 'x' limit 5",
            "SELECT * FROM `db`.`inv` AS i where i.state = 'x' limit 5",
        ),
        (
            "DELETE LOW_PRIORITY FROM carts WHERE user_id = 8",
            "SELECT * FROM carts WHERE user_id = 8",
        ),
    ],
)
def test_single_table_update_and_delete_are_explained_through_their_rows(
    statement: str, select: str
) -> None:
    (found,) = slow_statements(result=diagnosis(slow_evidence(statement)))
    assert found.explainable and found.rewritten
    assert found.explain == select


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE a JOIN b ON a.id = b.id SET a.x = 1 WHERE b.y = 2",
        "DELETE a FROM a JOIN b ON a.id = b.id WHERE b.y = 2",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
    ],
)
def test_other_writes_are_not_explained(statement: str) -> None:
    (found,) = slow_statements(result=diagnosis(slow_evidence(statement)))
    assert not found.explainable and found.explain == ""


def test_slow_statements_follow_component_and_limit() -> None:
    result = diagnosis(
        slow_evidence("SELECT * FROM t1 WHERE a = 1", component="orders-db"),
        slow_evidence("SELECT * FROM t2 WHERE a = 1", component="users-db"),
        slow_evidence("SELECT * FROM t3 WHERE a = 1", component="users-db"),
    )
    assert [s.statement for s in slow_statements(result=result, component="users-db")] == [
        "SELECT * FROM t2 WHERE a = 1",
        "SELECT * FROM t3 WHERE a = 1",
    ]
    assert len(slow_statements(result=result, limit=1)) == 1


def test_summary_is_the_fallback_when_there_is_no_line() -> None:
    item = Evidence(
        "db", EvidenceSource.LOKI, "q", "slow query `SELECT a FROM `t` WHERE b = ?`, 3 s"
    )
    (found,) = slow_statements(result=diagnosis(item))
    assert found.statement == "SELECT a FROM `t` WHERE b = ?"


# --------------------------------------------------------------------------- SQL shape


def test_table_references_with_aliases_joins_and_comma_lists() -> None:
    statement = (
        "SELECT * FROM `shop`.`orders` AS o, regions r JOIN customers c ON c.id = o.customer_id "
        "WHERE o.state = 'x'"
    )
    refs = table_references(statement)
    assert [(r.name, r.alias) for r in refs] == [
        ("shop.orders", "o"),
        ("regions", "r"),
        ("customers", "c"),
    ]


def test_filter_columns_skip_functions_and_leading_wildcards() -> None:
    statement = (
        "SELECT * FROM people WHERE LOWER(email) = 'a@b' AND name LIKE '%son' "
        "AND city LIKE 'Ber%' AND age > 30 AND country = 'DE'"
    )
    columns = index_columns(
        table=table_references(statement)[0],
        tables=table_references(statement),
        filters=filter_columns(statement),
    )
    # equality first, then ranges; no LOWER(email), no leading-wildcard LIKE
    assert columns == ("country", "city", "age")


def test_join_columns_belong_to_their_table() -> None:
    statement = "SELECT * FROM a JOIN b ON a.id = b.a_ref WHERE a.kind = 'z'"
    tables = table_references(statement)
    filters = filter_columns(statement)
    assert index_columns(table=tables[1], tables=tables, filters=filters) == ("a_ref",)
    assert index_columns(table=tables[0], tables=tables, filters=filters) == ("id", "kind")


# --------------------------------------------------------------------------- EXPLAIN


@pytest.mark.parametrize(
    ("table", "column"), [("invoices", "state"), ("audit_log", "actor_id"), ("Kunden", "plz")]
)
def test_full_scan_with_a_filter_recommends_that_index(table: str, column: str) -> None:
    statement = f"SELECT * FROM {table} WHERE {column} = 'v'"
    found = explain_findings(
        observation=ExplainObservation("db", statement, (full_scan(table),), "slow query")
    )
    (advice,) = found.recommendations
    assert advice.text.startswith(f"Add an index on {table}({column})")
    assert "type=ALL" in advice.because and "key=NULL" in advice.because
    (evidence,) = found.evidence
    assert evidence.source is EvidenceSource.MYSQL
    assert f"full scan of {table}" in evidence.summary
    assert evidence.line is not None and f"table={table} type=ALL" in evidence.line
    assert "'v'" not in evidence.summary + evidence.query  # literals stay out of evidence


def test_index_in_use_or_small_table_gives_no_index_advice() -> None:
    statement = "SELECT * FROM invoices WHERE state = 'v'"
    indexed = explain_findings(
        observation=ExplainObservation("db", statement, (by_index("invoices", "ix_state"),), "")
    )
    assert indexed.recommendations == ()
    assert "read through index ix_state" in indexed.evidence[0].summary
    small = explain_findings(
        observation=ExplainObservation("db", statement, (full_scan("invoices", rows=40),), "")
    )
    assert small.recommendations == ()


def test_unused_existing_index_is_named_not_a_new_one() -> None:
    statement = "SELECT * FROM invoices WHERE ref = 1234"
    found = explain_findings(
        observation=ExplainObservation(
            "db", statement, (full_scan("invoices", possible="ix_ref"),), ""
        )
    )
    (advice,) = found.recommendations
    assert "ignores the index(es) ix_ref on invoices" in advice.text
    assert not advice.text.startswith("Add an index")


def test_join_scan_recommends_the_join_column() -> None:
    statement = "SELECT * FROM parcels p JOIN scans s ON s.parcel = p.id WHERE p.hub = 'x'"
    rows = (by_index("p", "ix_hub", rows=20), full_scan("s", rows=500_000))
    (advice,) = explain_findings(
        observation=ExplainObservation("db", statement, rows, "")
    ).recommendations
    assert advice.text.startswith("Add an index on scans(parcel)")


def test_unfiltered_scan_of_one_table_asks_to_bound_it() -> None:
    found = explain_findings(
        observation=ExplainObservation("db", "SELECT * FROM events", (full_scan("events"),), "")
    )
    (advice,) = found.recommendations
    assert "no filter an index could serve" in advice.text


def test_explain_supersedes_log_based_index_advice() -> None:
    earlier = (
        Recommendation("db", Urgency.SHORT_TERM, "Add an index on invoices(state) for `...`", "x"),
        Recommendation("db", Urgency.SHORT_TERM, "Add an index on other(col) for `...`", "x"),
        Recommendation("cache", Urgency.SHORT_TERM, "Add an index on invoices(state)", "x"),
    )
    statement = "SELECT * FROM invoices WHERE state = 'v'"
    indexed = explain_findings(
        observation=ExplainObservation("db", statement, (by_index("invoices", "ix"),), ""),
        earlier=earlier,
    )
    assert indexed.superseded == (earlier[0],)
    confirmed = explain_findings(
        observation=ExplainObservation("db", statement, (full_scan("invoices"),), ""),
        earlier=earlier,
    )
    assert confirmed.superseded == (earlier[0],)


# --------------------------------------------------------------------------- Redis


def entry(
    n: int, *args: str, duration: float = 0.02, at: float = T0 + 60, client: str = "10.0.0.9:5"
) -> SlowlogEntry:
    return SlowlogEntry(
        entry_id=n, started=at, duration=duration, args=args, client=client, client_name=None
    )


def observe(*entries: SlowlogEntry, **fields: object) -> RedisObservation:
    return RedisObservation(
        component="cache",
        server="127.0.0.1:6379/0",
        slowlog=entries,
        slowlog_limit=128,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("key", ["session:42", "feed{7}", "hot key with spaces"])
def test_hot_key_is_named(key: str) -> None:
    entries = [entry(i, "HGET", key, "f") for i in range(6)]
    entries += [entry(10, "GET", "other"), entry(11, "CONFIG", "SET", "x", "y")]
    found = redis_findings(observation=observe(*entries), window=WINDOW)
    hot = [e for e in found.evidence if e.summary.startswith("hot key")]
    assert len(hot) == 1 and repr(key) in hot[0].summary
    assert "6 of 7 slow commands" in hot[0].summary  # CONFIG is not workload
    assert any(repr(key) in r.text and "hot key" in r.text.lower() for r in found.recommendations)


def test_spread_load_is_not_a_hot_key() -> None:
    entries = [entry(i, "GET", f"k{i % 4}") for i in range(12)]
    found = redis_findings(observation=observe(*entries), window=WINDOW)
    assert not any("hot key" in e.summary for e in found.evidence)
    assert found.recommendations == ()


def test_entries_outside_the_window_are_reported_but_not_advised_on() -> None:
    entries = [entry(i, "HGET", "k", "f", at=T0 - 7200) for i in range(6)]
    found = redis_findings(observation=observe(*entries), window=WINDOW)
    assert found.recommendations == ()
    assert [e.summary for e in found.evidence] == [
        "slow log: 6 slow command(s), none in the window"
    ]


def test_whole_value_read_of_a_big_value_is_split() -> None:
    entries = [entry(i, "HGETALL", "catalog", duration=0.001) for i in range(2)]
    sizes = (KeySize("catalog", "hash", 50_000, 4_000_000),)
    found = redis_findings(observation=observe(*entries, key_sizes=sizes), window=WINDOW)
    (split,) = [r for r in found.recommendations if r.text.startswith("Split")]
    assert "HGETALL reads of 'catalog'" in split.text and "HSCAN" in split.text
    assert "50000 elements" in split.because


def test_small_fast_whole_value_reads_are_left_alone() -> None:
    entries = [entry(1, "SMEMBERS", "tags", duration=0.0001), entry(2, "LRANGE", "q", "0", "10")]
    sizes = (KeySize("tags", "set", 12, 400),)
    found = redis_findings(
        observation=observe(*entries, key_sizes=sizes),
        window=WINDOW,
        thresholds=EnrichThresholds(slow_command_seconds=0.5),
    )
    assert not any(r.text.startswith("Split") for r in found.recommendations)


def test_keys_on_a_large_keyspace_is_replaced_by_scan() -> None:
    info = RedisInfo(keys_by_db={"db0": 80_000})
    found = redis_findings(
        observation=observe(entry(1, "KEYS", "user:*", duration=0.3), info=info), window=WINDOW
    )
    assert any(r.text.startswith("Replace KEYS with SCAN") for r in found.recommendations)
    assert any("'user:*'" in e.summary for e in found.evidence)


def test_rejected_and_saturated_connections() -> None:
    info = RedisInfo(
        connected_clients=95, maxclients=100, rejected_connections=12, uptime_seconds=999
    )
    found = redis_findings(observation=observe(info=info), window=WINDOW)
    (advice,) = found.recommendations
    assert "maxclients 100" in advice.text
    assert (
        "12 connection(s) rejected" in advice.because and "95 of maxclients 100" in advice.because
    )
    calm = redis_findings(
        observation=observe(info=RedisInfo(connected_clients=5, maxclients=100)), window=WINDOW
    )
    assert calm.recommendations == () and calm.evidence == ()


def test_memory_near_maxmemory_with_evictions() -> None:
    info = RedisInfo(
        used_memory=980, maxmemory=1000, evicted_keys=321, maxmemory_policy="allkeys-lru"
    )
    found = redis_findings(observation=observe(info=info), window=WINDOW)
    (advice,) = found.recommendations
    assert advice.text.startswith("Size cache's memory") and "321 keys were evicted" in advice.text
    roomy = RedisInfo(used_memory=100, maxmemory=1000, evicted_keys=0)
    assert redis_findings(observation=observe(info=roomy), window=WINDOW).evidence == ()
    unlimited = RedisInfo(used_memory=10**9, maxmemory=0, evicted_keys=0)
    assert redis_findings(observation=observe(info=unlimited), window=WINDOW).evidence == ()


def test_latency_spikes_in_the_window() -> None:
    events = (
        LatencyEvent("fork", T0 + 100, 0.4, 0.9),
        LatencyEvent("command", T0 + 100, 0.001, 0.002),
        LatencyEvent("expire-cycle", T0 - 9999, 0.5, 0.5),
    )
    found = redis_findings(observation=observe(latency=events), window=WINDOW)
    assert [e.summary.split(":")[1].split()[0] for e in found.evidence] == ["fork"]
    assert any("Persistence forks" in r.text for r in found.recommendations)


def test_keys_worth_sizing_skip_admin_commands_and_other_windows() -> None:
    entries = [
        entry(1, "HGETALL", "a"),
        entry(2, "HGETALL", "a"),
        entry(3, "GET", "b"),
        entry(4, "CONFIG", "GET", "maxmemory"),
        entry(5, "GET", "old", at=T0 - 9999),
        entry(6, "EVAL", "return 1", "1", "scripted"),
    ]
    assert keys_worth_sizing(entries=entries, window=WINDOW) == ("a", "b", "scripted")


# --------------------------------------------------------------------------- together


def test_rewritten_write_is_named_as_such() -> None:
    found = explain_findings(
        observation=ExplainObservation(
            "db",
            "SELECT * FROM ledger WHERE batch = 7",
            (full_scan("ledger"),),
            "slow",
            original="UPDATE ledger SET settled = 1 WHERE batch = 7",
        )
    )
    (evidence,) = found.evidence
    assert evidence.summary.startswith(
        "EXPLAIN of `update ledger set settled = ? where batch = ?` (the rows it changes"
    )
    assert evidence.query == "EXPLAIN select * from ledger where batch = ?"
    assert found.recommendations[0].text.startswith("Add an index on ledger(batch)")


def test_enrich_merges_replaces_and_warns() -> None:
    statement = "SELECT * FROM invoices WHERE state = 'v'"
    stale = Recommendation("db", Urgency.SHORT_TERM, "Add an index on invoices(state) (check)", "x")
    keep = Recommendation("db", Urgency.LONG_TERM, "Put circuit breakers in front of db", "y")
    urgent = Recommendation("api", Urgency.IMMEDIATE, "Drain api-1", "z")
    result = diagnosis(slow_evidence(statement), recommendations=(stale, keep, urgent))
    refused = slow_statements(result=diagnosis(slow_evidence("SELECT 1 FROM a; DROP TABLE a")))
    enriched = enrich_result(
        result=result,
        explains=(ExplainObservation("db", statement, (full_scan("invoices"),), "slow"),),
        refused=refused,
        notes=("enrich: redis x: refused",),
    )
    texts = [r.text for r in enriched.recommendations]
    assert stale.text not in texts and keep.text in texts
    assert texts[0] == urgent.text and texts[-1] == keep.text
    assert texts[1].startswith("Add an index on invoices(state): EXPLAIN shows")
    assert len(enriched.evidence) == 2 and enriched.evidence[0] == result.evidence[0]
    assert any("not explained (more than one statement)" in w for w in enriched.warnings)
    assert "enrich: redis x: refused" in enriched.warnings
    assert result.recommendations == (stale, keep, urgent)  # the input is not changed
