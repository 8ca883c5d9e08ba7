"""Tolerant log reading: categories, slow queries, cache commands, access lines, templates."""

from __future__ import annotations

import json
import re

import pytest

from diagnosis_operator.core.diagnosis.logs import (
    ACCESS_PATTERN,
    FAILED_REQUEST_FILTER,
    SIGNIFICANT_FILTER,
    LogCategory,
    categorize,
    hot_keys,
    mask,
    mine_templates,
    parse_access,
    parse_slow_command,
    parse_slow_query,
    read_event,
    statement_prefix,
)
from diagnosis_operator.core.diagnosis.logs._fields import logfmt_object

SLOW_ENTRY = (
    "# Time: 2031-04-02T11:00:01.000000Z\n# User@Host: web[web] @ host-7 [172.20.1.9]\n"
    "# Query_time: 7.5  Lock_time: 0.0 Rows_sent: 3  Rows_examined: 900000\n"
    "SET timestamp=1;\nSELECT id, total FROM invoices WHERE region = 'eu' AND state='open';"
)


def test_slow_query_entry_gives_statement_time_rows_and_where_columns() -> None:
    slow = parse_slow_query(SLOW_ENTRY)
    assert slow is not None
    assert slow.statement.startswith("SELECT id, total FROM invoices")
    assert slow.query_time == 7.5
    assert slow.rows_examined == 900000 and slow.rows_sent == 3
    assert slow.table == "invoices"
    assert slow.where_columns == ("region", "state")
    assert slow.full_scan_suspected


def test_slow_query_in_json_with_milliseconds() -> None:
    line = json.dumps(
        {
            "level": "warn",
            "msg": "slow query",
            "duration": "2300ms",
            "sql": "UPDATE stock SET n = n - 1 WHERE sku = 'a'",
        }
    )
    slow = parse_slow_query(line)
    assert slow is not None and slow.query_time == pytest.approx(2.3)
    assert slow.table == "stock" and slow.where_columns == ("sku",)


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("ERROR 1213 (40001): Deadlock found when trying to get lock", LogCategory.DEADLOCK),
        ("[Warning] Aborted connection: Too many connections", LogCategory.TOO_MANY_CONNECTIONS),
        (SLOW_ENTRY, LogCategory.SLOW_QUERY),
        ('{"level":"error","msg":"upstream request timeout"}', LogCategory.UPSTREAM_ERROR),
        ("dial tcp 10.9.8.7:6379: connect: connection refused", LogCategory.REFUSED),
        ('{"level":"ERROR","msg":"boom"}', LogCategory.ERROR),
        ("everything is fine", LogCategory.OTHER),
    ],
)
def test_categories(line: str, category: LogCategory) -> None:
    assert categorize(line) is category


@pytest.mark.parametrize(
    "line",
    [
        '10.1.2.3 - - [02/Apr/2031:11:00:00 +0000] "POST /v1/pay HTTP/2.0" 504 0 "-" "okhttp/4" '
        'request_time=3.2 upstream_addr="172.30.0.5:9000"',
        '10.1.2.3 - - [02/Apr/2031:11:00:00 +0000] "POST /v1/pay HTTP/2.0" 504 0 "-" '
        '"okhttp/4" 310 '
        "3.2 [ns-pay-9000] [] 172.30.0.5:9000 0 3.2 504 f00d",
        json.dumps(
            {
                "remote_addr": "10.1.2.3",
                "method": "POST",
                "path": "/v1/pay",
                "status": 504,
                "user_agent": "okhttp/4",
                "upstream_addr": "172.30.0.5:9000",
                "request_time": 3.2,
            }
        ),
    ],
)
def test_access_lines_in_several_formats(line: str) -> None:
    access = parse_access(line)
    assert access is not None
    assert access.client == "10.1.2.3"
    assert access.status == 504
    assert access.path == "/v1/pay"
    assert access.upstream == "172.30.0.5:9000"
    assert re.search(SIGNIFICANT_FILTER, line)
    assert re.search(FAILED_REQUEST_FILTER, line)
    match = re.search(ACCESS_PATTERN, line)
    assert match is not None
    assert "10.1.2.3" in (match.group("client"), match.group("jclient"))


def test_collector_regexes_stay_in_the_re2_subset() -> None:
    for pattern in (SIGNIFICANT_FILTER, FAILED_REQUEST_FILTER, ACCESS_PATTERN):
        assert (
            "(?=" not in pattern
            and "(?!" not in pattern
            and "(?<" not in pattern.replace("(?P<", "")
        )
        assert not re.search(r"\\[1-9]", pattern)


def test_slow_cache_commands_and_hot_keys() -> None:
    lines = [
        'slowlog id=1 duration_us=250000 cmd="ZRANGE board:week 0 -1"',
        "1:M 02 Apr 2031 11:00:00.000 # slow: ZRANGE board:week took 310ms",
        '{"level":"warn","msg":"slow command","command":"HGETALL user:77","duration_ms":120}',
    ]
    events = [
        read_event(component="cache", instance=None, ts=float(i), line=line, query="q")
        for i, line in enumerate(lines)
    ]
    assert all(e.category is LogCategory.SLOW_COMMAND for e in events)
    first = parse_slow_command(lines[0])
    assert first is not None and first.key == "board:week" and first.duration == pytest.approx(0.25)
    assert hot_keys(events) == [("board:week", 2)]


def test_mask_and_templates_group_lines_that_differ_in_values() -> None:
    lines = [
        (float(i), f"conn {i} from 10.0.0.{i} failed after {i * 3}ms id=0x{i:08x}")
        for i in range(20)
    ]
    lines.append((99.0, "server started"))
    templates = mine_templates(lines=lines)
    assert templates[0].count == 20
    assert "<IP>" in mask("from 10.0.0.1:3306") and "<NUM>" in mask("took 12ms")


def test_statement_prefix_stops_at_the_first_literal() -> None:
    assert statement_prefix("SELECT * FROM t WHERE a='x' AND b=2") == "SELECT * FROM t WHERE a"


def test_envoy_default_access_lines_are_parsed() -> None:
    line = (
        '[2031-05-06T07:08:09.123Z] "POST /v2/carts HTTP/1.1" 502 UF 120 91 37 - '
        '"198.51.100.23, 10.0.0.4" "okhttp/4" "6a1b-22" "shop.example" "10.3.0.8:9000"'
    )
    access = parse_access(line)
    assert access is not None
    assert (access.client, access.method, access.path, access.status) == (
        "198.51.100.23",
        "POST",
        "/v2/carts",
        502,
    )
    assert access.agent == "okhttp/4" and access.upstream == "10.3.0.8:9000"
    assert access.latency == pytest.approx(0.037)
    assert categorize(line) is LogCategory.UPSTREAM_ERROR
    shed = line.replace('"10.3.0.8:9000"', '"-"').replace(" UF ", " UO ")
    shed_access = parse_access(shed)
    assert shed_access is not None and shed_access.upstream is None


def test_an_http_request_named_in_a_slow_line_is_no_cache_command() -> None:
    line = "WARN QuoteController: slow request GET /v1/quote took 2990 ms"
    assert categorize(line) is not LogCategory.SLOW_COMMAND
    assert parse_slow_command(line) is None
    assert categorize("slowlog: GET cart:77 took 12 ms") is LogCategory.SLOW_COMMAND


LOGFMT_503 = (
    'time=2031-04-02T11:00:00Z level=WARN msg="replica too stale for live view" '
    "replica=172.30.9.22:5432 lag_seconds=301 status=503"
)


def test_logfmt_lines_are_read_for_their_level_and_status() -> None:
    assert categorize(LOGFMT_503) is LogCategory.UPSTREAM_ERROR
    assert categorize('ts=1 level=error msg="write failed" err="disk full"') is LogCategory.ERROR
    assert categorize("ts=1 level=info msg=started port=8080") is LogCategory.OTHER
    access = parse_access(LOGFMT_503)
    assert access is not None and access.status == 503
    assert re.search(SIGNIFICANT_FILTER, LOGFMT_503)
    assert re.search(FAILED_REQUEST_FILTER, LOGFMT_503)
    assert not re.search(FAILED_REQUEST_FILTER, LOGFMT_503.replace("503", "200"))


def test_an_access_line_ending_in_a_few_fields_is_not_logfmt() -> None:
    line = (
        '10.1.2.3 - - [02/Apr/2031:11:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" '
        'rt=0.021 uct="-" urt="0.021" ua="172.30.0.5:9000" us="200"'
    )
    assert logfmt_object(line) is None
    access = parse_access(line)
    assert access is not None and access.client == "10.1.2.3" and access.status == 200


NGINX_ALERT = (
    "2031/04/02 11:00:00 [alert] 2302#2302: *1505856 1024 worker_connections are not enough "
    'while connecting to upstream, client: 10.1.2.3, server: a.example, request: "GET / HTTP/1.1"'
)


def test_bracketed_severities_of_text_logs_are_errors_and_are_fetched() -> None:
    assert categorize(NGINX_ALERT) is LogCategory.ERROR
    assert categorize(NGINX_ALERT.replace("[alert]", "[crit]")) is LogCategory.ERROR
    assert categorize(NGINX_ALERT.replace("[alert]", "[notice]")) is not LogCategory.ERROR
    assert re.search(SIGNIFICANT_FILTER, NGINX_ALERT)


def test_a_json_access_line_whose_upstream_is_a_dash_reached_none() -> None:
    line = json.dumps(
        {
            "remote_addr": "10.1.2.3",
            "request": "GET / HTTP/1.1",
            "status": "500",
            "upstream_addr": "-",
        }
    )
    access = parse_access(line)
    assert access is not None and access.upstream is None and access.upstream_field
    plain = parse_access(json.dumps({"remote_addr": "10.1.2.3", "status": "500"}))
    assert plain is not None and not plain.upstream_field
