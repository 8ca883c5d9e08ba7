"""Hostile input, property-based: CR specs, policies, webhook bodies, bundles, query text.

For every input the outcome is one of two: accepted, or refused with the documented
error (pydantic's ``ValidationError`` for CR specs, an HTTP 4xx naming the field for
webhook bodies, ``BundleError`` starting ``file:line:`` for bundles,
``QueryBuildError`` for what cannot be quoted).  Never another exception, never a
half-applied result (no Diagnosis created from a refused notification).  And text
from input reaches PromQL / LogQL only as a quoted literal that parses back to
itself (the PromQL round trip through a real Prometheus is in
tests/integration/test_hostile_queries.py; SQL through a real MariaDB there too).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from diagnosis_operator.adapters import logql, promql
from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.adapters.bundle.errors import BundleError
from diagnosis_operator.api import DiagnosisPolicySpec, DiagnosisSpec
from diagnosis_operator.catalog.signals import CatalogError, render
from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.core.diagnosis.logs.access import parse_access
from diagnosis_operator.entrypoints.http.webhook import PolicyRouting, TokenSource, build_app
from diagnosis_operator.entrypoints.kopf.inputs import validation_message
from diagnosis_operator.entrypoints.kopf.policy import check_policy
from diagnosis_operator.models.actions import parse_network
from diagnosis_operator.models.querytext import QueryBuildError, label_name, quote
from diagnosis_operator.service.policy_check import render_overrides
from tests.fakes.diagnosis_writer import FakeDiagnosisWriter
from tests.loki_server import logql as loki_parser
from tests.unit.bundle_helpers import INCIDENT, LOGS, METRICS
from tests.unit.test_webhook import NOW, POLICY_OBJECT, TOKEN, notification

# The nastiest pieces of text for query languages, and any text at all.
NASTY = [
    '"',
    "\\",
    '\\"',
    "\n",
    "\r\n",
    "`",
    "'",
    '"} or vector(1) or {a="',
    '} |= "x" or {job=~".+"}',
    "'; DROP TABLE t; -- ",
    "\x00",
    "\u2028",
    "{selector}",
    "{range}",
    "$1",
    "10.0.0.0/8",
    "::1",
    "a\\nb",
    "job\n",  # a label name with a trailing newline
    "\ud800x",  # a lone surrogate: JSON can carry it (as an escape), UTF-8 cannot
]
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

VALID_DIAGNOSIS: dict[str, Any] = {
    "symptom": {"component": "api", "selector": {"job": "api"}, "route": "/orders"},
    "window": {"lookback": "30m"},
    "policyRef": {"name": "shop"},
    "mode": "observe",
}
VALID_POLICY: dict[str, Any] = {
    "components": [
        {"name": "api", "kind": "app", "selector": {"job": "api"}, "dependsOn": ["db"]},
        {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
    ],
    "signalOverrides": [{"name": "calls", "component": "api", "promql": "sum(up{selector})"}],
    "remediation": {
        "drainPod": {"enabled": True, "neverList": ["10.0.0.0/8"]},
    },
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with one value replaced (or one key added) by hostile JSON."""
    changed = copy.deepcopy(document)
    path = draw(st.sampled_from(_paths(changed)[1:]))
    parent: Any = changed
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) and isinstance(parent, dict):
        parent[draw(hostile_text)] = draw(json_values)
    else:
        parent[path[-1]] = draw(json_values)
    return changed


def _judged(model: type[DiagnosisSpec] | type[DiagnosisPolicySpec], spec: Any) -> str | None:
    """None if accepted, else the handler's message (which must name where)."""
    try:
        model.model_validate(spec)
    except ValidationError as error:
        message = validation_message("spec", error)
        assert message.startswith("spec"), message
        locations = [".".join(str(p) for p in item["loc"]) for item in error.errors()[:5]]
        for location in locations:
            assert (f"spec.{location}" if location else "spec") in message
        return message
    return None


@given(spec=st.one_of(json_values, mutated(VALID_DIAGNOSIS)))
@settings(max_examples=150)
def test_any_diagnosis_spec_is_accepted_or_refused_naming_the_field(spec: Any) -> None:
    if _judged(DiagnosisSpec, spec) is None:
        parsed = DiagnosisSpec.model_validate(spec)
        # What was accepted is usable: it describes itself and resolves its window.
        parsed.symptom.describe()
        parsed.window.resolve(now=NOW)


@given(spec=st.one_of(json_values, mutated(VALID_POLICY)))
@settings(max_examples=150)
def test_any_policy_is_accepted_or_refused_naming_the_field_never_half_used(spec: Any) -> None:
    message = _judged(DiagnosisPolicySpec, spec)
    components, problem = check_policy(spec if isinstance(spec, dict) else {})
    if message is not None or not isinstance(spec, dict):
        assert components is None and problem is not None
        return
    assert problem is None and components is not None
    parsed = DiagnosisPolicySpec.model_validate(spec)
    # Overrides render or come back as problems naming them; nothing raises.
    renderings, problems = render_overrides(spec=parsed)
    for found in problems:
        assert found.describe().startswith(f"spec.signalOverrides[{found.index}]")
    for rendering in renderings:
        assert "{selector}" not in rendering.promql or "{selector}" in json.dumps(spec)


def test_a_selector_value_with_a_lone_surrogate_is_refused_naming_the_field() -> None:
    """JSON can carry ``\\ud800``: no UTF-8 form, so no query could select by it.  Once
    accepted it failed later, when an override was rendered; now refused at the field."""
    spec = copy.deepcopy(VALID_POLICY)
    spec["components"][0]["selector"]["job"] = "\ud800x"
    message = _judged(DiagnosisPolicySpec, spec)
    assert message is not None and "spec.components.0.selector" in message
    components, problem = check_policy(spec)
    assert components is None and problem is not None


# --------------------------------------------------------------------------- webhook

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALLOWED = {200, 201, 400, 404, 413, 415, 422}


def _post_all(bodies: list[bytes]) -> tuple[list[tuple[int, dict[str, Any]]], FakeDiagnosisWriter]:
    fake = FakeDiagnosisWriter(policies={("team-a", "shop"): POLICY_OBJECT})
    app = build_app(
        writer=fake,
        routing=PolicyRouting(
            reader=fake, template=AlertRouting(policy="shop", namespace="team-a")
        ),
        token=TokenSource(value=TOKEN),
        clock=lambda: NOW,
        max_body_bytes=64 * 1024,
    )
    answers: list[tuple[int, dict[str, Any]]] = []

    async def main() -> None:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            for body in bodies:
                answer = await client.post(
                    "/alertmanager",
                    data=body,
                    headers={**AUTH, "Content-Type": "application/json"},
                )
                answers.append((answer.status, await answer.json()))

    asyncio.run(main())
    return answers, fake


def _hostile_notification(draw: st.DrawFn) -> dict[str, Any]:
    body = notification()
    labels = draw(st.dictionaries(hostile_text, hostile_text, max_size=4))
    alert = body["alerts"][0]
    alert["labels"] = {**alert["labels"], **labels}
    if draw(st.booleans()):
        alert["annotations"] = draw(st.dictionaries(hostile_text, hostile_text, max_size=3))
    return body


@st.composite
def webhook_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "mutated", "labels", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "labels":
        document: Any = _hostile_notification(draw)
    elif kind == "mutated":
        document = draw(mutated(notification()))
    else:
        document = draw(json_values)
    return json.dumps(document).encode()


@given(bodies=st.lists(webhook_bodies(), min_size=1, max_size=8))
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_any_webhook_body_gets_a_clear_answer_and_creates_only_valid_diagnoses(
    bodies: list[bytes],
) -> None:
    answers, fake = _post_all(bodies)
    created = sum(1 for status, _ in answers if status == 201)
    for status, payload in answers:
        assert status in ALLOWED, (status, payload)
        if status >= 400:
            assert payload["error"], payload
        if status == 422 and "details" in payload:
            assert all(item["field"] for item in payload["details"])
    # Nothing half-applied: one object per 201, each a Diagnosis the CRD accepts.
    assert len(fake.created()) == created
    for body in fake.created():
        DiagnosisSpec.model_validate(body["spec"])
        name = body["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63
        for key, value in (body["metadata"].get("labels") or {}).items():
            assert len(value) <= 63 and re.fullmatch(
                r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]?", value
            ), (key, value)


# --------------------------------------------------------------------------- bundles

FILES = {"incident.yaml": INCIDENT, "metrics.om": METRICS, "logs.jsonl": LOGS}


@st.composite
def damaged_bundles(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    files = dict(FILES)
    target = draw(st.sampled_from(sorted(files)))
    lines = files[target].splitlines(keepends=True)
    where = draw(st.integers(min_value=0, max_value=len(lines)))
    piece = draw(hostile_text)
    how = draw(st.sampled_from(["insert", "replace", "splice"]))
    if how == "insert":
        lines.insert(where, piece + "\n")
    elif how == "replace" and where < len(lines):
        lines[where] = piece + "\n"
    else:
        text = "".join(lines)
        at = draw(st.integers(min_value=0, max_value=len(text)))
        lines = [text[:at] + piece + text[at:]]
    files[target] = "".join(lines)
    return target, files


@given(damaged=damaged_bundles())
@settings(max_examples=150)
def test_a_damaged_bundle_loads_or_fails_naming_file_and_line(
    damaged: tuple[str, dict[str, str]],
) -> None:
    _, files = damaged
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "b"
        folder.mkdir()
        for name, text in files.items():
            # A lone surrogate becomes bytes that are not UTF-8: a damaged file, as on disk.
            (folder / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            bundle = load_bundle(folder)
        except BundleError as error:
            assert str(error).startswith(error.file), error
            assert Path(error.file).name in FILES, error
            return
    # Loaded: every selector still is only its labels (no text from the damage became syntax).
    for component in bundle.topology.components:
        for name in component.selector:
            label_name(name)


# --------------------------------------------------------------------------- query text

label_maps = st.dictionaries(
    st.from_regex(LABEL_NAME, fullmatch=True).filter(lambda n: len(n) < 20),
    hostile_text,
    min_size=1,
    max_size=4,
)


@given(names=st.lists(hostile_text, min_size=1, max_size=3))
def test_a_label_name_that_is_not_one_is_refused_before_any_query(names: list[str]) -> None:
    for name in names:
        if LABEL_NAME.fullmatch(name):
            assert label_name(name) == name
            continue
        with pytest.raises(QueryBuildError, match="invalid label name"):
            promql.selector({name: "x"})
        with pytest.raises((QueryBuildError, CatalogError)):
            render("up{selector}", selector={name: "x"})
        with pytest.raises(QueryBuildError):
            logql.log_query(selector={name: "x"})


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@given(value=hostile_text)
def test_quote_gives_one_go_string_literal_or_refuses(value: str) -> None:
    if not _utf8(value):
        with pytest.raises(QueryBuildError, match="UTF-8"):
            quote(value)
        return
    literal = quote(value)
    # One literal: starts and ends with the only unescaped quotes, no raw newline inside.
    assert literal[0] == literal[-1] == '"' and "\n" not in literal
    assert re.fullmatch(r'"(?:[^"\\]|\\.)*"', literal, flags=re.DOTALL)
    assert json.loads(literal) == value


@given(selector=label_maps, line=hostile_text)
@settings(max_examples=100)
def test_logql_selector_and_line_filter_parse_back_as_literals(
    selector: dict[str, str], line: str
) -> None:
    pipeline = logql.LogPipeline(selector=selector, line_filters=(logql.LineFilter("|=", line),))
    if not all(_utf8(v) for v in (*selector.values(), line)) or not any(selector.values()):
        with pytest.raises(QueryBuildError):
            logql.pipeline_query(pipeline)
        return
    query = logql.pipeline_query(pipeline)
    expr = loki_parser.parse(query)
    assert isinstance(expr, loki_parser.LogExpr)
    assert {(m.name, m.op, m.value) for m in expr.matchers} == {
        (name, "=", value) for name, value in selector.items()
    }
    assert expr.stages == (loki_parser.LineFilter("|=", line),)


# --------------------------------------------------------------------------- addresses

ADDRESSES = [
    "203.0.113.7",
    "2001:db8::1",
    "fe80::1%eth0",
    "fe80::1%x; } server { listen 81; #",
    "::1%\n deny all",
    "10.0.0.0/8 ; deny all",
    "10.0.0.0/33",
    "1.2.3.4\n",
]
addresses = st.one_of(
    st.sampled_from(ADDRESSES),
    st.tuples(st.sampled_from(ADDRESSES), hostile_text).map("".join),
)
PLAIN_NETWORK = re.compile(r"[0-9a-f.:]+/\d{1,3}")


@given(text=addresses)
@settings(max_examples=200)
def test_a_client_network_is_a_plain_cidr_or_refused(text: str) -> None:
    try:
        network = parse_network(text)
    except ValueError as error:
        assert repr(text) in str(error)
        return
    # What a rule writes (nginx deny/geo lines, Envoy and Istio CIDRs) is only the CIDR.
    assert PLAIN_NETWORK.fullmatch(str(network)), str(network)


def test_a_zone_index_never_reaches_an_nginx_rule_from_a_forwarded_for_header() -> None:
    hostile = "fe80::1%x; } server { listen 81; #"
    with pytest.raises(ValueError, match="zone index"):
        parse_network(hostile)
    line = f'[2025-01-01T00:00:00Z] "GET / HTTP/1.1" 200 - 0 5 "{hostile}" "curl"'
    record = parse_access(line)
    assert record is not None and record.status == 200
    assert record.client is None  # not an address: never a rule's target
    plain = parse_access(line.replace(hostile, "2001:db8::7, 10.0.0.1"))
    assert plain is not None and plain.client == "2001:db8::7"


@pytest.mark.parametrize("name", sorted(FILES))
def test_bytes_that_are_not_utf8_fail_naming_the_file_and_line(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    for file, text in FILES.items():
        data = text.encode()
        if file == name:
            first, rest = data.split(b"\n", 1)
            data = first + b"\n" + b"\xed\xa0\x80 broken\n" + rest
        (folder / file).write_bytes(data)
    with pytest.raises(BundleError) as caught:
        load_bundle(folder)
    assert Path(caught.value.file).name == name
    assert caught.value.line == 2, str(caught.value)
