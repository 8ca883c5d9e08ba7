"""Every LogQL shape the operator emits parses with Grafana's own LogQL grammar.

``tests/grammar`` pins ``@grafana/lezer-logql`` (the grammar Grafana's query
editor uses); ``check-logql.mjs`` reports, per query, whether the parse tree
has error nodes.  A negative control proves the check can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from diagnosis_operator.adapters import logql
from diagnosis_operator.adapters.loki import LokiClient, LokiLogSource

pytestmark = pytest.mark.integration

GRAMMAR_DIR = Path(__file__).resolve().parents[1] / "grammar"

BROKEN = [
    '{job="a"',  # unclosed selector
    'sum by (a (count_over_time({job="a"}[1m]))',  # unclosed grouping
    '{job="a"} |= "unterminated',
    'count_over_time({job="a"} [1m]',  # unclosed call
    '{job="a"} |~ "x\\"',  # the closing quote is escaped away
    'topk(3 sum(count_over_time({job="a"}[1m])))',  # missing comma
    "{job=a}",  # unquoted value
]


def check(queries: list[str]) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Debian's nodejs; scripts/install-deps.sh)")
    if not (GRAMMAR_DIR / "node_modules" / "@grafana" / "lezer-logql").is_dir():
        pytest.fail("tests/grammar has no node_modules: run scripts/install-deps.sh (npm ci)")
    completed = subprocess.run(
        [node, "check-logql.mjs"],
        cwd=GRAMMAR_DIR,
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: list[dict[str, object]] = json.loads(completed.stdout)
    assert [r["query"] for r in results] == queries
    return results


def emitted_queries() -> list[str]:
    source = LokiLogSource(LokiClient("http://127.0.0.1:1"))
    described = [
        source.describe(selector={"job": 'we"ird\\'}, line_filter="(?i)error|`x`\n"),
        source.describe(selector={"job": "a"}, line_filter=None, by=("instance",), step=15),
        source.describe(
            selector={"job": "a"},
            line_filter="5\\d\\d",
            pattern=r"(?P<ip>\S+) ",
            by=("ip",),
            step=60,
        ),
    ]
    return [*logql.ALL_TEMPLATES, *described]


def test_every_emitted_query_parses_without_error_nodes() -> None:
    queries = emitted_queries()
    assert len(queries) > 50
    failures = [(r["query"], r["errors"]) for r in check(queries) if not r["ok"]]
    assert failures == []


def test_negative_control_broken_queries_are_reported() -> None:
    results = check(BROKEN)
    assert [r["query"] for r in results if r["ok"]] == []
