"""``diagnosis-operator diagnose --bundle ... --mysql-url ...`` against a real MariaDB.

The bundle is generated (the db-lock-storm scenario) and its slow statement is
replaced by one of this test's own, on a table of its own that it creates in the
MariaDB fixture without an index on the filtered column.  The command, run as a
user would run it (a subprocess, the password in ``$DIAGNOSIS_MYSQL_PASSWORD``),
EXPLAINs that statement through a read-only account and advises the index, with
the plan it saw; without ``--mysql-url`` the same bundle gets no EXPLAIN.  Bad
flags exit with status 2 and say which flag is wrong, never echoing a password.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from examples.incidents.generate import generate

from tests.services.mariadb import MariaDBServer

pytestmark = pytest.mark.integration

ROWS = 4000
CLI = str(Path(sys.executable).with_name("diagnosis-operator"))
# The scenario's own slow statement, replaced by the test's.
SCENARIO_STATEMENT = "UPDATE ledger_entries SET settled = 1 WHERE batch_id = 20260217"


@pytest.fixture(scope="module")
def parcel_table(mariadb_server: MariaDBServer) -> Generator[str, None, None]:
    """A table of ROWS parcel scans whose ``depot_code`` has no index."""
    table = f"parcel_scans_{secrets.token_hex(3)}"
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE `{table}` (scan_id INT PRIMARY KEY AUTO_INCREMENT, "
            "depot_code CHAR(5) NOT NULL, grams INT NOT NULL) ENGINE=InnoDB"
        )
        cursor.executemany(
            f"INSERT INTO `{table}` (depot_code, grams) VALUES (%s, %s)",
            [(f"d{i % 700:04d}", 100 + i % 911) for i in range(ROWS)],
        )
        cursor.execute(f"ANALYZE TABLE `{table}`")
        cursor.fetchall()
    yield table
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS `{table}`")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, parcel_table: str) -> Path:
    folder = generate("db-lock-storm", tmp_path_factory.mktemp("cli-enrich"))
    logs = folder / "logs.jsonl"
    text = logs.read_text(encoding="utf-8")
    assert SCENARIO_STATEMENT in text, "the scenario's slow statement moved"
    ours = f"UPDATE {parcel_table} SET grams = grams + 1 WHERE depot_code = 'd0042'"
    logs.write_text(
        text.replace(SCENARIO_STATEMENT, ours).replace("ledger_entries", parcel_table),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def reader(mariadb_server: MariaDBServer) -> dict[str, Any]:
    """A read-only account (EXPLAIN needs SELECT on the tables it plans)."""
    return mariadb_server.create_user(
        name=f"diag_{secrets.token_hex(3)}",
        password=secrets.token_hex(12),
        grants=[f"SELECT ON `{mariadb_server.database}`.*"],
    )


def diagnose(*flags: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSIS_")}
    if password is not None:
        env["DIAGNOSIS_MYSQL_PASSWORD"] = password
    return subprocess.run(
        [CLI, "diagnose", *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def mysql_url(account: dict[str, Any], database: str) -> str:
    return f"mysql://{account['user']}@{account['host']}:{account['port']}/{database}"


def test_mysql_url_explains_the_bundle_statement_and_advises_the_index(
    mariadb_server: MariaDBServer, bundle: Path, parcel_table: str, reader: dict[str, Any]
) -> None:
    done = diagnose(
        "--bundle",
        str(bundle),
        "--mysql-url",
        mysql_url(reader, mariadb_server.database),
        "--mysql-component",
        "billing-db",
        "--enrich-timeout",
        "60",
        password=reader["password"],
    )
    assert done.returncode == 0, done.stderr
    assert reader["password"] not in done.stdout + done.stderr
    assert "enrichment: asking mysql" in done.stderr
    result = json.loads(done.stdout)
    assert result["rootCause"]["component"] == "billing-db"
    explained = [e for e in result["evidence"] if e["source"] == "mysql"]
    assert explained, result["evidence"]
    assert all(e["component"] == "billing-db" for e in explained)
    summary = explained[0]["summary"]
    assert summary.startswith(f"EXPLAIN of `update {parcel_table} set grams"), summary
    assert f"full scan of {parcel_table}" in summary and "depot_code" in summary
    assert "key=NULL" in explained[0]["line"]
    advice = [r for r in result["recommendations"] if r["text"].startswith("Add an index on")]
    assert [r["text"].split(":")[0].split(" for ")[0] for r in advice] == [
        f"Add an index on {parcel_table}(depot_code)"
    ]
    assert f"table={parcel_table} type=ALL" in advice[0]["because"]
    assert not any("EXPLAIN" in w for w in result.get("warnings", [])), result["warnings"]

    # The same bundle without --mysql-url: nothing is asked, no plan is quoted.
    plain = diagnose("--bundle", str(bundle), "--quiet")
    assert plain.returncode == 0, plain.stderr
    offline = json.loads(plain.stdout)
    assert not [e for e in offline["evidence"] if e["source"] == "mysql"]
    assert not any("type=ALL" in r["because"] for r in offline["recommendations"])


@pytest.mark.parametrize(
    ("flags", "password", "words"),
    [
        (["--mysql-url", "http://diag@127.0.0.1:3306/app"], "pw", "mysql:// or mariadb://"),
        (["--mysql-url", "mysql://diag@127.0.0.1:99999/app"], "pw", "port is not a number"),
        (["--mysql-url", "mysql://127.0.0.1:3306/app"], "pw", "must name a user and a host"),
        (["--mysql-url", "mysql://diag@127.0.0.1:3306/app"], None, "DIAGNOSIS_MYSQL_PASSWORD"),
        (
            ["--mysql-url", "mysql://diag:Sup3r-s3cret@127.0.0.1/app"],
            None,
            "do not put the password in the URL",
        ),
        (["--redis-url", "http://127.0.0.1:6379"], None, "--redis-url: "),
        (["--redis-url", "redis://:Sup3r-s3cret@127.0.0.1"], None, "DIAGNOSIS_REDIS_PASSWORD"),
        (["--redis-url", "redis://127.0.0.1", "--enrich-timeout", "0"], None, "--enrich-timeout"),
    ],
)
def test_a_bad_enrichment_flag_exits_2_and_names_it(
    bundle: Path, flags: list[str], password: str | None, words: str
) -> None:
    done = diagnose("--bundle", str(bundle), *flags, password=password)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert words in done.stderr, done.stderr
    assert "Sup3r-s3cret" not in done.stderr
    assert "Traceback" not in done.stderr
