"""service.enrich with fakes: what is asked, what is refused, failures and the time budget."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pytest
from pydantic import SecretStr, ValidationError

from diagnosis_operator.entrypoints.bootstrap.connections import make_enricher
from diagnosis_operator.entrypoints.bootstrap.enrichment import (
    EnrichmentSettings,
    mysql_settings_from_url,
)
from diagnosis_operator.models.actions import ExplainRow
from diagnosis_operator.models.findings import DiagnosisResult, Evidence, EvidenceSource, RootCause
from diagnosis_operator.models.observations import KeySize, RedisInfo, SlowlogEntry
from diagnosis_operator.models.signals import Window
from diagnosis_operator.service.enrich import enrich_diagnosis
from tests.fakes.mysql import FakeMySQLAdmin
from tests.fakes.redis import FakeRedisProbe

T0 = 1_800_000_000.0
WINDOW = Window(T0, T0 + 1800)
SETTINGS = EnrichmentSettings(mysql_component=None, timeout_seconds=30)


def slow(statement: str, component: str = "db") -> Evidence:
    return Evidence(
        component=component,
        source=EvidenceSource.LOKI,
        query='{app="db"}',
        summary="slow query",
        line=f"# Query_time: 9.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 900000\n{statement}",
    )


def result_with(*evidence: Evidence) -> DiagnosisResult:
    return DiagnosisResult(
        window=WINDOW,
        root_cause=RootCause("db", "mysql", None, 0.7, "db went bad first"),
        evidence=evidence,
    )


def scan(table: str) -> tuple[ExplainRow, ...]:
    return (ExplainRow(table, "ALL", None, None, 900_000, "Using where"),)


@dataclass
class FailingMySQL(FakeMySQLAdmin):
    def explain(self, *, statement: str) -> tuple[ExplainRow, ...]:
        self.explains.append(statement)
        raise RuntimeError("mysql db (app@127.0.0.1:3306): EXPLAIN ... failed: (1146, 'no table')")


def test_nothing_configured_returns_the_result_unchanged() -> None:
    result = result_with(slow("SELECT * FROM t WHERE c = 1;"))
    assert enrich_diagnosis(result=result, settings=SETTINGS) is result
    assert make_enricher(settings=EnrichmentSettings())(result) is result


def test_slow_select_is_explained_and_hostile_statements_never_reach_mysql() -> None:
    mysql = FakeMySQLAdmin(explain_rows=scan("ledger"))
    result = result_with(
        slow("SELECT * FROM ledger WHERE account = 'a-1';"),
        slow("SELECT * FROM ledger WHERE id = 1; DROP TABLE ledger;"),
        slow("SELECT * FROM ledger /* x */ WHERE id = 2 -- y\n; TRUNCATE ledger"),
        slow("INSERT INTO ledger SELECT * FROM ledger;"),
        slow("DELETE FROM ledger WHERE kind = 'x';"),
    )
    enriched = enrich_diagnosis(result=result, settings=SETTINGS, mysql=mysql)
    assert mysql.explains == [
        "SELECT * FROM ledger WHERE account = 'a-1'",
        "SELECT * FROM ledger WHERE kind = 'x'",  # the DELETE's rows, as a SELECT
    ]
    assert any(
        r.text.startswith("Add an index on ledger(account)") for r in enriched.recommendations
    )
    refusals = [w for w in enriched.warnings if "not explained" in w]
    assert len(refusals) == 3
    assert sum("more than one statement" in w for w in refusals) == 2


def test_only_the_configured_component_is_explained() -> None:
    mysql = FakeMySQLAdmin(explain_rows=scan("t"))
    result = result_with(
        slow("SELECT * FROM t WHERE a = 1", "orders-db"), slow("SELECT * FROM u WHERE b = 1", "x")
    )
    settings = EnrichmentSettings(mysql_component="orders-db")
    enrich_diagnosis(result=result, settings=settings, mysql=mysql)
    assert mysql.explains == ["SELECT * FROM t WHERE a = 1"]


def test_mysql_failure_is_a_warning_not_a_crash() -> None:
    mysql = FailingMySQL()
    result = result_with(slow("SELECT * FROM t WHERE a = 1"))
    enriched = enrich_diagnosis(result=result, settings=SETTINGS, mysql=mysql, close_probes=True)
    assert enriched.recommendations == ()
    assert any("EXPLAIN for db failed" in w and "1146" in w for w in enriched.warnings)


def test_redis_observations_become_evidence_and_a_failing_call_a_warning() -> None:
    entries = [
        SlowlogEntry(i, T0 + 30, 0.05, ("HGETALL", "inventory"), "10.0.0.7:4000", None)
        for i in range(5)
    ]
    redis = FakeRedisProbe(
        entries=entries,
        sizes={"inventory": KeySize("inventory", "hash", 20_000, 2_000_000)},
        fail={"latency_latest"},
        info_answer=RedisInfo(connected_clients=3, maxclients=10_000),
    )
    settings = EnrichmentSettings(
        redis_url=SecretStr("redis://127.0.0.1:6379/0"), timeout_seconds=30
    )
    enriched = enrich_diagnosis(
        result=result_with(), settings=settings, redis=redis, close_probes=True
    )
    assert redis.asked[:2] == ["info", "slowlog"] and "key_sizes" in redis.asked
    assert redis.closed
    assert any(e.source is EvidenceSource.REDIS and "'inventory'" in e.summary
               for e in enriched.evidence)  # fmt: skip
    texts = [r.text for r in enriched.recommendations]
    assert any("hot key 'inventory'" in t for t in texts)
    assert any(t.startswith("Split the HGETALL reads of 'inventory'") for t in texts)
    assert any("LATENCY LATEST" in w or "latency_latest failed" in w for w in enriched.warnings)


def test_unreachable_redis_gives_only_warnings() -> None:
    redis = FakeRedisProbe(fail={"info", "slowlog", "latency_latest"})
    settings = EnrichmentSettings(redis_url=SecretStr("redis://127.0.0.1:1/0"))
    enriched = enrich_diagnosis(result=result_with(), settings=settings, redis=redis)
    assert enriched.evidence == () and enriched.recommendations == ()
    assert sum("refused" in w for w in enriched.warnings) == 3


def test_a_source_that_does_not_answer_in_time_is_left_behind() -> None:
    release = threading.Event()
    redis = FakeRedisProbe(block=release)
    mysql = FakeMySQLAdmin(explain_rows=scan("t"))
    settings = EnrichmentSettings(
        redis_url=SecretStr("redis://127.0.0.1:6379/0"), timeout_seconds=0.2
    )
    try:
        enriched = enrich_diagnosis(
            result=result_with(slow("SELECT * FROM t WHERE a = 1")),
            settings=settings,
            mysql=mysql,
            redis=redis,
        )
    finally:
        release.set()
    assert any("did not finish within 0.2 s" in w for w in enriched.warnings)
    assert any(r.text.startswith("Add an index on t(a)") for r in enriched.recommendations)


def test_mysql_url_parsing() -> None:
    settings = mysql_settings_from_url(url="mysql://diag@db.internal:3307/shop", password="pw")
    assert (settings.host, settings.port, settings.user, settings.database) == (
        "db.internal",
        3307,
        "diag",
        "shop",
    )
    assert settings.password.get_secret_value() == "pw"
    inline = mysql_settings_from_url(url="mysql://u:p%40ss@h/")
    assert inline.password.get_secret_value() == "p@ss" and inline.database is None
    for bad, message in [
        ("postgres://u@h/db", "mysql://"),
        ("mysql://h:3306/db", "user and a host"),
        ("mysql://u@h:99999/db", "port"),
        ("mysql://u@h/db", "no password"),
    ]:
        with pytest.raises(ValueError, match=message):
            mysql_settings_from_url(url=bad)


def test_settings_refuse_other_schemes_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="scheme"):
        EnrichmentSettings(redis_url=SecretStr("http://127.0.0.1:6379"))
    with pytest.raises(ValidationError):
        EnrichmentSettings.model_validate({"redisURL": "redis://x"})
    assert not EnrichmentSettings().configured


def test_run_diagnosis_hands_its_result_to_enrich() -> None:
    from diagnosis_operator.models.signals import Labels, Series
    from diagnosis_operator.models.topology import Component, ComponentKind, Topology
    from diagnosis_operator.service.diagnose import run_diagnosis
    from tests.fakes.logs import FakeLogSource
    from tests.fakes.metrics import FakeSeriesSource

    topology = Topology(components=(Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),))
    seen: list[DiagnosisResult] = []
    stages: list[str] = []
    # A quiet database: a flat ``up`` (without any data the diagnosis has no conclusion).
    stamps = tuple(float(t) for t in range(int(WINDOW.start), int(WINDOW.end) + 1, 60))
    up = Series(
        name="up", labels=Labels({"job": "db"}), timestamps=stamps, values=(1.0,) * len(stamps)
    )

    def enrich(result: DiagnosisResult) -> DiagnosisResult:
        seen.append(result)
        return replace(result, warnings=(*result.warnings, "enriched"))

    def diagnose(step: object = None) -> DiagnosisResult:
        return run_diagnosis(
            topology=topology,
            window=WINDOW,
            symptom=None,
            series=FakeSeriesSource(raw=[up]),
            logs=FakeLogSource(),
            now=WINDOW.end,
            on_stage=stages.append,
            enrich=step,  # type: ignore[arg-type]
        )

    plain = diagnose()
    assert "enriching" not in stages and "enriched" not in plain.warnings
    enriched = diagnose(enrich)
    assert stages[-1] == "enriching"
    assert seen and seen[0].warnings == plain.warnings
    assert enriched.warnings == (*plain.warnings, "enriched")
