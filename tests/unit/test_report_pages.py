"""``GET /reports/{namespace}/{name}``: the HTML report behind the webhook's token.

The operator's HTTP application in-process (aiohttp's test server on loopback), with
a fake report source in place of the apiserver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.entrypoints.http.reports import report_routes
from diagnosis_operator.entrypoints.http.webhook import StaticRouting, TokenSource, build_app
from tests.fakes.diagnosis_writer import FakeDiagnosisWriter
from tests.unit.test_report_samples import HOSTILE, full_incident
from tests.unit.test_webhook import AUTH, TOKEN

Scenario = Callable[[TestClient[Any, Any]], Awaitable[None]]


class FakeReports:
    def __init__(self, saved: dict[tuple[str, str], str]) -> None:
        self.saved = saved
        self.asked: list[tuple[str, str]] = []

    def report_json(self, *, namespace: str, name: str) -> str | None:
        self.asked.append((namespace, name))
        return self.saved.get((namespace, name))


def serve(scenario: Scenario, reports: FakeReports, namespaces: tuple[str, ...] = ()) -> None:
    writer = FakeDiagnosisWriter(policies={})
    app = build_app(
        writer=writer,
        routing=StaticRouting(AlertRouting(policy="p", namespace="shop")),
        token=TokenSource(value=TOKEN),
        routes=report_routes(reports, namespaces=namespaces),
    )

    async def main() -> None:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client)

    asyncio.run(main())


def saved() -> FakeReports:
    return FakeReports({("shop", "checkout-1"): json.dumps(full_incident().to_json())})


def test_the_report_is_served_as_html_with_a_strict_policy() -> None:
    reports = saved()

    async def scenario(client: TestClient[Any, Any]) -> None:
        answer = await client.get("/reports/shop/checkout-1", headers=AUTH)
        assert answer.status == 200, await answer.text()
        assert answer.content_type == "text/html"
        page = await answer.text()
        assert page.lstrip().lower().startswith("<!doctype html>")
        assert "db ran out of connections" in page
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]

    serve(scenario, reports)
    assert reports.asked == [("shop", "checkout-1")]


def test_without_or_with_a_wrong_token_it_is_401_and_nothing_is_read() -> None:
    reports = saved()

    async def scenario(client: TestClient[Any, Any]) -> None:
        missing = await client.get("/reports/shop/checkout-1")
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await client.get(
            "/reports/shop/checkout-1", headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status == 401

    serve(scenario, reports)
    assert reports.asked == []


@pytest.mark.parametrize(
    "path",
    [
        "/reports/shop/unknown",
        "/reports/shop/..",
        "/reports/shop/%2e%2e",
        "/reports/..%2Fkube-system/secret",
        "/reports/shop/checkout-1%2F..%2F..%2Fetc",
        "/reports/Shop/checkout-1",
        "/reports/other/checkout-1",
    ],
)
def test_unknown_invalid_or_unserved_names_are_404(path: str) -> None:
    reports = saved()
    reports.saved[("other", "checkout-1")] = reports.saved[("shop", "checkout-1")]

    async def scenario(client: TestClient[Any, Any]) -> None:
        answer = await client.get(path, headers=AUTH)
        assert answer.status == 404, (path, await answer.text())

    serve(scenario, reports, namespaces=("shop",))
    assert all(asked == ("shop", "unknown") for asked in reports.asked)


def test_hostile_text_in_a_report_is_escaped() -> None:
    result = full_incident()
    payload = result.to_json()
    payload["rootCause"]["summary"] = HOSTILE
    reports = FakeReports({("shop", "x"): json.dumps(payload)})

    async def scenario(client: TestClient[Any, Any]) -> None:
        page = await (await client.get("/reports/shop/x", headers=AUTH)).text()
        assert "<script>alert" not in page
        assert "&lt;script&gt;" in page

    serve(scenario, reports)
