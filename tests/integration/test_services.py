"""The real-service fixtures really work: a query, a SQL round-trip, PING, HTTP."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from tests.services.mariadb import MariaDBServer
from tests.services.nginx import NginxConfigError, NginxFactory
from tests.services.prometheus import PrometheusFactory
from tests.services.redis import RedisServer

pytestmark = pytest.mark.integration

# 2025-12-11T08:30:00Z: older than any default retention window would keep.
START = 1765441800


def _write_openmetrics(path: Path) -> Path:
    lines = ["# TYPE demo_requests counter", "# HELP demo_requests Requests served."]
    lines += [
        f'demo_requests_total{{job="demo",instance="a"}} {i * 3} {START + i * 15}'
        for i in range(40)
    ]
    lines += ["# TYPE demo_temperature gauge"]
    lines += [
        f'demo_temperature{{job="demo"}} {20 + i % 5}.5 {START + i * 15}.25' for i in range(40)
    ]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_prometheus_serves_backfilled_samples(
    prometheus_factory: PrometheusFactory, tmp_path: Path
) -> None:
    server = prometheus_factory(openmetrics=_write_openmetrics(tmp_path / "metrics.om"))

    at = START + 10 * 15
    counter = server.instant('demo_requests_total{job="demo"}', at)
    gauge = server.instant('demo_temperature{job="demo"}', at)

    assert [float(sample["value"][1]) for sample in counter] == [30.0]
    assert counter[0]["metric"]["instance"] == "a"
    # The gauge sample at START+150.25 is after `at`; the one before is 20 + 9 % 5.
    assert [float(sample["value"][1]) for sample in gauge] == [24.5]
    # Nothing before the first sample (no data invented).
    assert server.instant('demo_requests_total{job="demo"}', START - 60) == []


def test_prometheus_reports_a_bad_query(prometheus_factory: PrometheusFactory) -> None:
    server = prometheus_factory()
    answer = server.api("query", query="sum(", time=str(START))
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"


def test_mariadb_round_trip_as_app_user(mariadb_server: MariaDBServer) -> None:
    with mariadb_server.app() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS fixture_probe (id INT PRIMARY KEY, note VARCHAR(40))"
        )
        cursor.execute("REPLACE INTO fixture_probe VALUES (%s, %s)", (1, 'it\'s "quoted"'))
        cursor.execute("SELECT note, CURRENT_USER() FROM fixture_probe WHERE id = %s", (1,))
        note, current_user = cursor.fetchone()
    assert note == 'it\'s "quoted"'
    assert current_user == f"{mariadb_server.app_user}@127.0.0.1"


def test_mariadb_has_real_accounts(mariadb_server: MariaDBServer) -> None:
    wrong = mariadb_server.connect_params(password="not-the-password")
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(**wrong)
    assert refused.value.args[0] == 1045  # access denied: grants are enforced

    with (
        mariadb_server.app() as connection,
        connection.cursor() as cursor,
        pytest.raises(pymysql.err.OperationalError),
    ):
        cursor.execute("SELECT COUNT(*) FROM mysql.user")

    with mariadb_server.root() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@performance_schema, @@slow_query_log")
        assert cursor.fetchone() == (1, 1)


def test_mariadb_create_user_with_grants(mariadb_server: MariaDBServer) -> None:
    params = mariadb_server.create_user(
        name="watcher", password="w-secret", grants=["PROCESS ON *.*"]
    )
    with pymysql.connect(**params) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cursor.fetchall())
    assert "PROCESS" in grants


def test_redis_ping_and_round_trip(redis_db: RedisServer) -> None:
    with redis_db.client() as client:
        assert client.ping() is True
        client.set("fixture:probe", "value")
        assert client.get("fixture:probe") == "value"
        assert client.config_get("save") == {"save": ""}


def test_nginx_serves_and_reloads_an_include(nginx_factory: NginxFactory) -> None:
    # A static file, not `return`: `return` acts in the rewrite phase, before
    # the access phase where deny/allow and limit_req apply.
    server = nginx_factory(
        servers="""
        server {
            listen 127.0.0.1:@PORT@;
            include @CONF@/access.conf;
            root @CONF@/www;
            location / { try_files /hello.txt =404; }
        }
        """,
        files={"access.conf": "# nobody denied yet\n", "www/hello.txt": "hello\n"},
    )
    assert server.request("/", client_ip="127.0.0.7") == (200, "hello\n")

    server.write("access.conf", "deny 127.0.0.7;\n")
    server.reload()

    assert server.request("/", client_ip="127.0.0.7")[0] == 403
    assert server.request("/", client_ip="127.0.0.8") == (200, "hello\n")
    access_log = server.access_log.read_text()
    assert "127.0.0.7 - - " in access_log
    assert '" 403 ' in access_log


def test_nginx_reload_refuses_a_broken_config(nginx_factory: NginxFactory) -> None:
    server = nginx_factory()
    server.write("http.d/broken.conf", "this is not nginx\n")
    with pytest.raises(NginxConfigError):
        server.reload()
    server.path_of("http.d/broken.conf").unlink()
    assert server.request("/") == (200, "ok\n")
